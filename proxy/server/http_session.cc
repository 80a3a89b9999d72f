#include "proxy/server/http_session.h"

#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/write.hpp>
#include <limits>
#include <string_view>
#include <tuple>

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

std::chrono::microseconds Since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
}

ClientInfo MakeClientInfo(const asio::ip::tcp::socket& socket, bool tls) {
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

NetStream MakeStream(asio::ip::tcp::socket socket, ssl::context* tls) {
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

HttpSession::HttpSession(LoopContext& loop, asio::ip::tcp::socket socket)
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

asio::awaitable<void> HttpSession::Run(std::unique_ptr<HttpSession> session) {
  co_await session->Serve();
}

asio::awaitable<void> HttpSession::Serve() {
  error_code ec;
  if (stream_.is_tls()) {
    stream_.tcp().expires_after(loop_.options.header_timeout);
    co_await stream_.tls()->async_handshake(ssl::stream_base::server,
                                            asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
  }
  while (co_await WaitForRequest()) {
    if (!co_await ServeRequest()) break;
  }
  co_await LingeringClose();
}

asio::awaitable<bool> HttpSession::WaitForRequest() {
  if (buffer_.size() > 0) co_return true;  // a pipelined request is already here
  // A draining server takes no new request on a kept-alive connection.
  if (loop_.draining) co_return false;
  parser_.reset();  // the last request's header fields go
  idle_ = true;
  stream_.tcp().expires_after(loop_.options.idle_timeout);
  // A busy connection waits with a read buffer and reads its next request in
  // one system call. Only kMaxBufferedWaits connections per loop do so: the
  // others wait cheaply (below).
  if (loop_.buffered_waits < kMaxBufferedWaits) co_return co_await WaitWithBuffer();
  // An idle keep-alive connection keeps as little as it can: the read buffer
  // goes back to the loop's spares (the next request on any connection takes
  // it: no allocation per request) and the wait reads one byte into the
  // session itself, so that 10,000 idle clients cost little more than their
  // sockets and coroutine frames.
  loop_.ReleaseReadBuffer(buffer_);
  error_code ec;
  char first = 0;
  const std::size_t n = co_await stream_.async_read_some(
      asio::mutable_buffer(&first, 1), asio::redirect_error(asio::use_awaitable, ec));
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
    const std::size_t more =
        co_await stream_.async_read_some(buffer_.prepare(std::min(waiting, kReadChunk)),
                                         asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return false;
    buffer_.commit(more);
  }
  co_return true;
}

asio::awaitable<bool> HttpSession::WaitWithBuffer() {
  ++loop_.buffered_waits;
  // Through the loop's spares, so that a buffer grown for a large head or a
  // streamed body gives its memory back; an ordinary one comes straight back.
  loop_.ReleaseReadBuffer(buffer_);
  loop_.TakeReadBuffer(buffer_);
  error_code ec;
  const std::size_t n = co_await stream_.async_read_some(
      buffer_.prepare(kReadChunk), asio::redirect_error(asio::use_awaitable, ec));
  --loop_.buffered_waits;
  idle_ = false;
  if (ec || n == 0) co_return false;
  buffer_.commit(n);
  co_return true;
}

// Reads until the blank line that ends the head, checking raw bytes as they
// arrive, then parses the complete head without further I/O. The deadline is
// for the whole head: a client trickling bytes gains nothing.
asio::awaitable<bool> HttpSession::ReadHead() {
  const auto& options = loop_.options;
  // The head's fields go to this connection's arena (header_arena.h);
  // emplace destroys the last request's parser first, freeing its block.
  parser_.emplace(std::piecewise_construct, std::make_tuple(),
                  std::make_tuple(HeaderAllocator<char>(&header_arena_)));
  parser_->header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
  parser_->body_limit(std::numeric_limits<std::uint64_t>::max());  // streamed, never held
  stream_.tcp().expires_after(options.header_timeout);
  std::size_t checked = 0;
  std::size_t head_size = 0;
  for (;;) {
    const std::string_view bytes = BufferView(buffer_);
    const std::size_t end = bytes.find("\r\n\r\n", checked >= 3 ? checked - 3 : 0);
    head_size = end == std::string_view::npos ? 0 : end + 4;
    const std::string_view head = head_size ? bytes.substr(0, head_size) : bytes;
    if (auto refusal = CheckRawRequestHead(head, checked ? checked - 1 : 0)) {
      co_await Refuse(refusal->status);
      co_return false;
    }
    checked = head.size();
    if (head.size() > options.max_header_bytes) {
      co_await Refuse(http::status::request_header_fields_too_large);
      co_return false;
    }
    if (head_size) break;
    error_code ec;
    const std::size_t n = co_await stream_.async_read_some(
        buffer_.prepare(std::min(kReadChunk, buffer_.max_size() - buffer_.size())),
        asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return false;  // timeout (slowloris) or gone: close without a word
    buffer_.commit(n);
  }
  error_code ec;
  const std::size_t used = parser_->put(asio::buffer(buffer_.data().data(), head_size), ec);
  if (ec || !parser_->is_header_done()) {
    co_await Refuse(ec == http::error::header_limit ? http::status::request_header_fields_too_large
                                                    : http::status::bad_request);
    co_return false;
  }
  buffer_.consume(used);
  co_return true;
}

asio::awaitable<bool> HttpSession::ServeRequest() {
  if (!co_await ReadHead()) co_return false;
  RequestHead& head = parser_->get();
  if (auto refusal = CheckRequestHead(head, loop_.options.max_header_count)) {
    co_await Refuse(refusal->status);
    co_return false;
  }
  if (parser_->chunked() && !ValidateChunkedPrefix(BufferView(buffer_))) {
    co_await Refuse(http::status::bad_request);
    co_return false;
  }
  // Facts the hop-by-hop headers carry, taken before they are stripped.
  ClientSide side{stream_, buffer_, *parser_, client_watch_};
  side.keep_alive = parser_->keep_alive() && !loop_.draining;
  side.websocket = IsWebSocketUpgrade(head);
  side.expect_continue = beast::iequals(head[http::field::expect], "100-continue");
  StripHopByHopHeaders(head, side.websocket);
  head.erase(http::field::expect);

  const auto started = Clock::now();
  GateVerdict verdict = co_await AskGate(head);
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
  co_return keep_alive_;
}

asio::awaitable<GateVerdict> HttpSession::AskGate(RequestHead& head) {
  pending_verdict_.reset();
  waiting_for_gate_ = false;
  loop_thread_ = std::this_thread::get_id();
  // Captures only `this`: fits std::function's inline storage, no allocation.
  loop_.gate.Check(head, client_, [this](GateVerdict verdict) {
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
  while (!pending_verdict_) {
    waiting_for_gate_ = true;
    gate_wakeup_.expires_at(asio::steady_timer::time_point::max());
    error_code ec;
    co_await gate_wakeup_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    waiting_for_gate_ = false;
  }
  GateVerdict verdict = std::move(*pending_verdict_);
  pending_verdict_.reset();
  co_return verdict;
}

asio::awaitable<ExchangeOutcome> HttpSession::AnswerLocally(LocalResponse& response,
                                                            bool keep_alive) {
  // An unread request body would be parsed as the next request: close instead.
  keep_alive_ = keep_alive && parser_->is_done() && !loop_.draining;
  ExchangeOutcome outcome;
  outcome.status = response.result_int();
  response.version(11);
  response.keep_alive(keep_alive_);
  response.prepare_payload();
  outcome.response_bytes = response.body().size();
  if (parser_->get().method() == http::verb::head) {
    response.body().clear();  // Content-Length stays: it describes the GET answer
    outcome.response_bytes = 0;
  }
  error_code ec;
  stream_.tcp().expires_after(loop_.options.idle_timeout);
  co_await http::async_write(stream_, response, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    outcome.client_aborted = true;
    keep_alive_ = false;
  }
  co_return outcome;
}

asio::awaitable<void> HttpSession::Refuse(http::status status) {
  keep_alive_ = false;
  http::response<http::string_body> response{status, 11};
  response.set(http::field::content_type, "text/plain");
  response.body() = std::string(http::obsolete_reason(status)) + "\n";
  response.keep_alive(false);
  response.prepare_payload();
  error_code ec;
  stream_.tcp().expires_after(loop_.options.header_timeout);
  co_await http::async_write(stream_, response, asio::redirect_error(asio::use_awaitable, ec));
}

// Half-close, then read and discard for a moment, so that unread request
// bytes do not turn our close into a reset that destroys the response in flight.
asio::awaitable<void> HttpSession::LingeringClose() {
  if (!stream_.is_tls()) {
    error_code ec;
    stream_.tcp().socket().shutdown(asio::socket_base::shutdown_send, ec);
    if (!ec) {
      stream_.tcp().expires_after(std::min(kLingerLimit, loop_.options.header_timeout));
      char sink[4096];
      for (int i = 0; i < 16 && !ec; ++i) {
        co_await stream_.async_read_some(asio::buffer(sink),
                                         asio::redirect_error(asio::use_awaitable, ec));
      }
    }
  }
  stream_.Close();
}

}  // namespace gatehouse::server
