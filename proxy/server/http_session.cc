#include "proxy/server/http_session.h"

#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/write.hpp>
#include <cstdio>
#include <limits>
#include <string_view>
#include <tuple>

#include "proxy/server/read_turn.h"
#include "proxy/server/request_framing.h"

namespace gatehouse::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

constexpr std::size_t kReadChunk = 8 * 1024;
constexpr std::size_t kIdleReadBytes = 2 * 1024;  // first read of a request: most heads fit
constexpr std::chrono::milliseconds kLingerLimit{1000};
constexpr std::size_t kPooledReadBufferBytes = 16 * 1024;
constexpr std::size_t kMaxSpareReadBuffers = 256;
// Connections per loop that wait for their next request with a read buffer
// (at most 16 KiB each: 4 MiB per loop).
constexpr int kMaxBufferedWaits = 256;

// Counts a request in flight on its loop for as long as it lives (read_turn.h).
class InFlight {
 public:
  explicit InFlight(int& count) : count_(count) { ++count_; }
  ~InFlight() { --count_; }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  int& count_;
};

std::chrono::microseconds Since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
}

ClientInfo MakeClientInfo(const TcpSocket& socket, bool tls) {
  ClientInfo info;
  info.tls = tls;
  error_code ec;
  const auto endpoint = socket.remote_endpoint(ec);
  if (ec) return info;
  const auto address = endpoint.address();
  if (address.is_v4()) {
    info.address.is_v4 = true;
    const auto bytes = address.to_v4().to_bytes();
    std::copy(bytes.begin(), bytes.end(), info.address.bytes.begin());
  } else {
    const auto bytes = address.to_v6().to_bytes();
    std::copy(bytes.begin(), bytes.end(), info.address.bytes.begin());
  }
  info.address_text = address.to_string();
  return info;
}

NetStream MakeStream(TcpSocket socket, ssl::context* tls) {
  DeadlineStream tcp(std::move(socket));
  if (tls) return NetStream(std::move(tcp), *tls);
  return NetStream(std::move(tcp));
}

std::string_view BufferView(const beast::flat_buffer& buffer) {
  const auto data = buffer.data();
  return {static_cast<const char*>(data.data()), data.size()};
}

}  // namespace

void LoopContext::CloseIdleSessions() {
  for (HttpSession* s = sessions; s; s = s->next()) {
    if (s->idle()) s->Close();
  }
}

void LoopContext::ReleaseReadBuffer(beast::flat_buffer& buffer) {
  // Only an empty buffer of ordinary size is kept; one grown for a large head
  // or a streamed body gives its memory back.
  if (buffer.size() == 0 && buffer.capacity() <= kPooledReadBufferBytes &&
      spare_read_buffers.size() < kMaxSpareReadBuffers) {
    spare_read_buffers.push_back(std::move(buffer));
  }
  buffer.clear();
  buffer.shrink_to_fit();
}

void LoopContext::TakeReadBuffer(beast::flat_buffer& buffer) {
  if (spare_read_buffers.empty() || buffer.capacity() > 0) return;
  buffer = std::move(spare_read_buffers.back());
  spare_read_buffers.pop_back();
}

void LoopContext::CloseAllSessions() {
  for (HttpSession* s = sessions; s; s = s->next()) s->Close();
}

HttpSession::HttpSession(LoopContext& loop, TcpSocket socket)
    : loop_(loop),
      stream_(MakeStream(std::move(socket), loop.listener_tls)),
      client_(MakeClientInfo(stream_.tcp().socket(), loop.listener_tls != nullptr)),
      buffer_(loop.options.max_header_bytes + kReadChunk),
      header_arena_(loop.header_blocks),
      gate_wakeup_(stream_.get_executor()) {
  next_ = loop_.sessions;
  if (next_) next_->prev_ = this;
  loop_.sessions = this;
  loop_.live_sessions.fetch_add(1, std::memory_order_relaxed);
}

HttpSession::~HttpSession() {
  if (prev_) prev_->next_ = next_;
  if (next_) next_->prev_ = prev_;
  if (loop_.sessions == this) loop_.sessions = next_;
  loop_.live_sessions.fetch_sub(1, std::memory_order_relaxed);
}

Task<void> HttpSession::Run(std::unique_ptr<HttpSession> session) { co_await session->Serve(); }

Task<void> HttpSession::Serve() {
  error_code ec;
  if (stream_.is_tls()) {
    stream_.tcp().expires_after(loop_.options.header_timeout);
    co_await stream_.tls()->async_handshake(ssl::stream_base::server,
                                            asio::redirect_error(kUseTask, ec));
    if (ec) co_return;
  }
  while (co_await WaitForRequest()) {
    if (!co_await ServeRequest()) break;
  }
  co_await LingeringClose();
}

Task<bool> HttpSession::WaitForRequest() {
  if (buffer_.size() > 0) co_return true;  // a pipelined request is already here
  // A draining server takes no new request on a kept-alive connection.
  if (loop_.draining) co_return false;
  body_.reset();  // the last request's header fields go
  head_.reset();
  idle_ = true;
  stream_.tcp().expires_after(loop_.options.idle_timeout);
  // A busy connection waits with a read buffer and reads its next request in
  // one system call. Only kMaxBufferedWaits connections per loop do so: the
  // others wait cheaply (below).
  if (loop_.buffered_waits < kMaxBufferedWaits) {
    ++loop_.buffered_waits;
    // Through the loop's spares, so that a buffer grown for a large head or a
    // streamed body gives its memory back; an ordinary one comes straight back.
    loop_.ReleaseReadBuffer(buffer_);
    loop_.TakeReadBuffer(buffer_);
    error_code ec;
    if (ReadAfterOthers(loop_.requests_in_flight, 0)) stream_.tcp().read_after_turn();
    const std::size_t n = co_await stream_.async_read_some(buffer_.prepare(kReadChunk),
                                                           asio::redirect_error(kUseTask, ec));
    --loop_.buffered_waits;
    idle_ = false;
    if (ec || n == 0) co_return false;
    buffer_.commit(n);
    co_return true;
  }
  // An idle keep-alive connection keeps as little as it can: the read buffer
  // goes back to the loop's spares (the next request on any connection takes
  // it: no allocation per request) and the wait reads one byte into the
  // session itself, so that 10,000 idle clients cost little more than their
  // sockets and coroutine frames.
  loop_.ReleaseReadBuffer(buffer_);
  error_code ec;
  char first = 0;
  if (ReadAfterOthers(loop_.requests_in_flight, 0)) stream_.tcp().read_after_turn();
  const std::size_t n = co_await stream_.async_read_some(asio::mutable_buffer(&first, 1),
                                                         asio::redirect_error(kUseTask, ec));
  idle_ = false;
  if (ec || n != 1) co_return false;
  loop_.TakeReadBuffer(buffer_);
  // The head's bytes then go to a real buffer. What else has already arrived
  // (the rest of the head, a body prefix) is read at once, up to kReadChunk,
  // exactly as one large read would have: the checks before the gate then see
  // the same bytes whatever the idle read size.
  if (!stream_.is_tls()) {
    // Plain TCP: one non-blocking read takes what is there (usually the whole
    // head) without a second wait, a second suspension or an ioctl.
    const auto room = buffer_.prepare(kReadChunk + 1);
    auto* bytes = static_cast<char*>(room.data());
    bytes[0] = first;
    const ssize_t more =
        ::recv(stream_.tcp().socket().native_handle(), bytes + 1, kReadChunk, MSG_DONTWAIT);
    buffer_.commit(1 + (more > 0 ? static_cast<std::size_t>(more) : 0));
    // EAGAIN: the rest is still on its way (ReadHead waits for it); EOF or
    // an error surfaces there too, on the next read.
    co_return true;
  }
  auto room = buffer_.prepare(kIdleReadBytes);
  static_cast<char*>(room.data())[0] = first;
  buffer_.commit(1);
  const std::size_t waiting = stream_.tcp().socket().available(ec);
  if (!ec && waiting > 0) {
    const std::size_t more = co_await stream_.async_read_some(
        buffer_.prepare(std::min(waiting, kReadChunk)), asio::redirect_error(kUseTask, ec));
    if (ec) co_return false;
    buffer_.commit(more);
  }
  co_return true;
}

// Parses the head as soon as its bytes are in (usually the first read holds
// all of it: one pass, no further I/O). A head that trickles in is checked as
// its bytes arrive and parsed once its blank line is there, so a client
// sending one byte at a time costs one scan of each byte, not one parse per
// byte. The deadline is for the whole head: a client trickling bytes gains nothing.
Task<bool> HttpSession::ReadHead() {
  const auto& options = loop_.options;
  const RequestHeadLimits limits{options.max_header_bytes, options.max_header_count};
  stream_.tcp().expires_after(options.header_timeout);
  std::size_t checked = 0;  // bytes already seen without a complete head
  for (;;) {
    const std::string_view bytes = BufferView(buffer_);
    const bool parse = checked == 0 || bytes.size() >= limits.max_bytes ||
                       bytes.find("\r\n\r\n", checked >= 3 ? checked - 3 : 0) != bytes.npos;
    if (parse) {
      // emplace destroys the last request's (or attempt's) head first, and
      // its fields give their arena space back.
      head_.emplace(HeaderAllocator<char>(&header_arena_));
      const RequestHeadResult parsed = ParseRequestHead(bytes, limits, *head_);
      if (parsed.status == HeadStatus::kComplete) {
        framing_ = parsed.framing;
        buffer_.consume(framing_.head_bytes);
        co_return true;
      }
      if (parsed.status == HeadStatus::kRefused) {
        co_await Refuse(parsed.refusal.status);
        co_return false;
      }
    } else if (auto refusal = CheckRawRequestHead(bytes, checked - 1)) {
      co_await Refuse(refusal->status);
      co_return false;
    }
    checked = bytes.size();
    error_code ec;
    const std::size_t n = co_await stream_.async_read_some(
        buffer_.prepare(std::min(kReadChunk, buffer_.max_size() - buffer_.size())),
        asio::redirect_error(kUseTask, ec));
    if (ec) co_return false;  // timeout (slowloris) or gone: close without a word
    buffer_.commit(n);
  }
}

// Beast decodes the body (chunk sizes, extensions, trailers, Content-Length
// counting). Its parser is given a head of our own that states only the
// framing ParseRequestHead accepted, so it never sees the client's head.
void HttpSession::StartBody() {
  body_.reset();
  if (!framing_.has_body()) return;
  body_.emplace(std::piecewise_construct, std::make_tuple(),
                std::make_tuple(HeaderAllocator<char>(&header_arena_)));
  body_->body_limit(std::numeric_limits<std::uint64_t>::max());  // streamed, never held
  char framing_head[96];
  const int length = framing_.chunked
                         ? std::snprintf(framing_head, sizeof(framing_head),
                                         "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
                         : std::snprintf(framing_head, sizeof(framing_head),
                                         "POST / HTTP/1.1\r\nContent-Length: %llu\r\n\r\n",
                                         static_cast<unsigned long long>(*framing_.content_length));
  error_code ec;
  body_->put(asio::buffer(framing_head, static_cast<std::size_t>(length)), ec);
}

// The head as buffered, when it is all there (the usual case): parsed
// without entering ReadHead's read loop.
RequestHeadResult HttpSession::ParseBufferedHead() {
  const auto& options = loop_.options;
  head_.emplace(HeaderAllocator<char>(&header_arena_));
  RequestHeadResult parsed = ParseRequestHead(
      BufferView(buffer_), {options.max_header_bytes, options.max_header_count}, *head_);
  if (parsed.status == HeadStatus::kComplete) {
    framing_ = parsed.framing;
    buffer_.consume(framing_.head_bytes);
  }
  return parsed;
}

Task<bool> HttpSession::ServeRequest() {
  const RequestHeadResult parsed = ParseBufferedHead();
  if (parsed.status == HeadStatus::kRefused) {
    co_await Refuse(parsed.refusal.status);
    co_return false;
  }
  if (parsed.status == HeadStatus::kIncomplete && !co_await ReadHead()) co_return false;
  const InFlight in_flight(loop_.requests_in_flight);
  RequestHead& head = *head_;
  if (framing_.chunked && !ValidateChunkedPrefix(BufferView(buffer_))) {
    co_await Refuse(http::status::bad_request);
    co_return false;
  }
  StartBody();
  if (body_ && !body_->is_header_done()) {  // cannot happen: the framing head is ours
    co_await Refuse(http::status::bad_request);
    co_return false;
  }
  // Facts the hop-by-hop headers carry, taken before they are stripped.
  ClientSide side{stream_, buffer_, head, body_ ? &*body_ : nullptr, client_watch_};
  side.chunked = framing_.chunked;
  side.keep_alive = framing_.keep_alive && !loop_.draining;
  side.expect_continue = framing_.expect_continue;
  // Most requests carry no hop-by-hop field at all: nothing to look up.
  if (framing_.hop_by_hop) {
    side.websocket = IsWebSocketUpgrade(head);
    StripHopByHopHeaders(head, side.websocket);
  }
  if (framing_.expect) head.erase(http::field::expect);

  const auto started = Clock::now();
  AskGate(head);
  if (!pending_verdict_) co_await WaitForVerdict();
  GateVerdict& verdict = *pending_verdict_;
  const auto gate_time = Since(started);
  ExchangeOutcome outcome;
  if (verdict.local_response) {
    outcome = co_await AnswerLocally(*verdict.local_response, side.keep_alive);
  } else if (verdict.upstream) {
    UpstreamExchange exchange(loop_.resources, side, *verdict.upstream, verdict.upstream_target,
                              verdict.added_fields);
    const ExchangeResult result = co_await exchange.Run();
    outcome.status = result.status;
    outcome.upstream_time = result.upstream_time;
    outcome.client_aborted = result.client_aborted;
    outcome.response_bytes = result.response_bytes;
    keep_alive_ = result.client_keep_alive && !result.client_aborted;
  } else {
    // A verdict with neither answer nor upstream breaks the gate's contract:
    // deny rather than guess.
    LocalResponse error{http::status::internal_server_error, 11};
    outcome = co_await AnswerLocally(error, false);
  }
  outcome.gate_time = gate_time;
  loop_.gate.Finish(verdict, outcome);
  pending_verdict_.reset();
  co_return keep_alive_;
}

// Asks the gate; its verdict lands in pending_verdict_ and is used there (no
// copy, no move). Most verdicts come before Check returns: no suspension.
void HttpSession::AskGate(RequestHead& head) {
  pending_verdict_.reset();
  waiting_for_gate_ = false;
  loop_thread_ = std::this_thread::get_id();
  // Captures only `this`: fits std::function's inline storage, no allocation.
  loop_.gate.Check(head, client_, [this](GateVerdict&& verdict) {
    if (std::this_thread::get_id() == loop_thread_) {
      pending_verdict_.emplace(std::move(verdict));
      if (waiting_for_gate_) gate_wakeup_.cancel();
      return;
    }
    // A late answer (e.g. after an issuer's first keys arrived) comes from
    // another thread: hand it to this session's event loop, which alone
    // touches the session's state.
    asio::post(gate_wakeup_.get_executor(), [this, v = std::move(verdict)]() mutable {
      pending_verdict_.emplace(std::move(v));
      if (waiting_for_gate_) gate_wakeup_.cancel();
    });
  });
}

// The gate answers later (an issuer's first keys are being fetched): wait
// for the answer on this loop.
Task<void> HttpSession::WaitForVerdict() {
  while (!pending_verdict_) {
    waiting_for_gate_ = true;
    gate_wakeup_.expires_at(SteadyTimer::time_point::max());
    error_code ec;
    co_await gate_wakeup_.async_wait(asio::redirect_error(kUseTask, ec));
    waiting_for_gate_ = false;
  }
}

Task<ExchangeOutcome> HttpSession::AnswerLocally(LocalResponse& response, bool keep_alive) {
  // An unread request body would be parsed as the next request: close instead.
  keep_alive_ = keep_alive && BodyDone() && !loop_.draining;
  ExchangeOutcome outcome;
  outcome.status = response.result_int();
  response.version(11);
  response.keep_alive(keep_alive_);
  response.prepare_payload();
  outcome.response_bytes = response.body().size();
  if (head_->method() == http::verb::head) {
    response.body().clear();  // Content-Length stays: it describes the GET answer
    outcome.response_bytes = 0;
  }
  error_code ec;
  stream_.tcp().expires_after(loop_.options.idle_timeout);
  co_await http::async_write(stream_, response, asio::redirect_error(kUseTask, ec));
  if (ec) {
    outcome.client_aborted = true;
    keep_alive_ = false;
  }
  co_return outcome;
}

Task<void> HttpSession::Refuse(http::status status) {
  keep_alive_ = false;
  http::response<http::string_body> response{status, 11};
  response.set(http::field::content_type, "text/plain");
  response.body() = std::string(http::obsolete_reason(status)) + "\n";
  response.keep_alive(false);
  response.prepare_payload();
  error_code ec;
  stream_.tcp().expires_after(loop_.options.header_timeout);
  co_await http::async_write(stream_, response, asio::redirect_error(kUseTask, ec));
}

// Half-close, then read and discard for a moment, so that unread request
// bytes do not turn our close into a reset that destroys the response in flight.
Task<void> HttpSession::LingeringClose() {
  if (!stream_.is_tls()) {
    error_code ec;
    stream_.tcp().socket().shutdown(asio::socket_base::shutdown_send, ec);
    if (!ec) {
      stream_.tcp().expires_after(std::min(kLingerLimit, loop_.options.header_timeout));
      char sink[4096];
      for (int i = 0; i < 16 && !ec; ++i) {
        co_await stream_.async_read_some(asio::buffer(sink), asio::redirect_error(kUseTask, ec));
      }
    }
  }
  stream_.Close();
}

}  // namespace gatehouse::server
