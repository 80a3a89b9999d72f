#include "proxy/server/upstream_exchange.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/beast/http/write.hpp>
#include <cerrno>
#include <limits>
#include <tuple>

#include "proxy/server/head_writer.h"
#include "proxy/server/hop_by_hop.h"
#include "proxy/server/read_turn.h"
#include "proxy/server/response_head.h"
#include "proxy/server/websocket_tunnel.h"

namespace gatehouse::server {

// One gather write: [head and/or chunk-size line] [body bytes] [framing tail].
struct WriteParts {
  std::array<boost::asio::const_buffer, 3> buffers;
};

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

constexpr std::size_t kMaxResponseHeaderBytes = 64 * 1024;
constexpr std::size_t kMaxFreeChunks = 256;
constexpr std::size_t kStreamReadBytes = 64 * 1024;
constexpr std::size_t kIdleUpstreamBufferBytes = 16 * 1024;
constexpr std::size_t kMaxFreeTexts = 256;
constexpr std::size_t kMaxIdleTextBytes = 8 * 1024;
// A hostile upstream must not keep an exchange busy with interim answers.
constexpr int kMaxInterimResponses = 16;
// What follows the body bytes of one write: the chunk's CRLF and, with the
// last bytes, the last-chunk (no trailers: the relay forwards none).
constexpr std::string_view kChunkEndThenLast = "\r\n0\r\n\r\n";

bool IsIdempotent(http::verb method) {
  switch (method) {
    case http::verb::get:
    case http::verb::head:
    case http::verb::options:
    case http::verb::trace:
    case http::verb::put:
    case http::verb::delete_:
      return true;
    default:
      return false;
  }
}

bool IsParseError(const error_code& ec) {
  return ec.category() == beast::http::make_error_code(http::error::bad_chunk).category() ||
         ec == http::error::buffer_overflow;
}

// Feeds the bytes already buffered to the parser and reads from `stream`
// only when they do not make progress: a response head and a small body that
// arrived together cost one read, and no composed operation runs. Returns
// success once the parser moved (head complete, body bytes in the body
// buffer, or message done); end_of_stream when the peer closed before any
// byte; put_eof() ends a close-delimited body, as Beast's own read does.
// The caller sets the stream's deadline.
template <bool kIsRequest>
asio::awaitable<error_code> ParseSome(NetStream& stream, beast::flat_buffer& buffer,
                                      http::basic_parser<kIsRequest>& parser) {
  for (;;) {
    error_code ec;
    if (buffer.size() > 0) {
      const std::size_t used = parser.put(buffer.data(), ec);
      buffer.consume(used);
      if (ec == http::error::need_buffer) co_return error_code{};
      if (ec && ec != http::error::need_more) co_return ec;
      if (used > 0 || parser.is_done()) co_return error_code{};
    }
    const std::size_t room = beast::read_size(buffer, kStreamReadBytes);
    if (room == 0) co_return http::error::buffer_overflow;
    const std::size_t n = co_await stream.async_read_some(
        buffer.prepare(room), asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::eof) {
      if (!parser.got_some()) co_return http::error::end_of_stream;
      parser.put_eof(ec);
      co_return ec;
    }
    if (ec) co_return ec;
    buffer.commit(n);
  }
}

// A body that is not already buffered whole is streamed: Beast reads at most
// the buffer's free capacity per call, so the buffer gets room for large
// reads (given back when the connection goes idle). A small body that came
// with the head needs none: no 64 KiB allocation per request.
template <bool kIsRequest>
bool NeedsStreamingRoom(const http::basic_parser<kIsRequest>& parser,
                        const beast::flat_buffer& buffer) {
  if (parser.is_done()) return false;
  const auto remaining = parser.content_length_remaining();
  return !remaining || *remaining > buffer.size();
}

std::string_view BufferView(const beast::flat_buffer& buffer) {
  const auto data = buffer.data();
  return {static_cast<const char*>(data.data()), data.size()};
}

WriteParts Compose(const std::string& text, const char* data, std::size_t n, bool chunked,
                   bool last) {
  std::string_view tail;
  if (chunked) {
    if (n > 0) {
      tail = last ? kChunkEndThenLast : kChunkEnd;
    } else if (last) {
      tail = kLastChunk;
    }
  }
  return {{asio::const_buffer(text.data(), text.size()), asio::const_buffer(data, n),
           asio::const_buffer(tail.data(), tail.size())}};
}

// Plain TCP: hands the parts to the kernel at once, in one sendmsg, without
// suspending the coroutine (an ordinary head and body fit the socket
// buffer). True when all of it went; otherwise `parts` is advanced past what
// went and the caller's async write does the rest (and reports any error:
// a failed send here writes nothing). TLS always takes the async write.
bool WriteNow(NetStream& stream, WriteParts& parts) {
  if (stream.is_tls()) return false;
  std::array<iovec, 3> iov;
  std::size_t count = 0;
  for (const auto& part : parts.buffers) {
    if (part.size() == 0) continue;
    iov[count].iov_base = const_cast<void*>(part.data());
    iov[count].iov_len = part.size();
    ++count;
  }
  if (count == 0) return true;
  msghdr message{};
  message.msg_iov = iov.data();
  message.msg_iovlen = count;
  const ssize_t sent =
      ::sendmsg(stream.tcp().socket().native_handle(), &message, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (sent <= 0) return false;
  std::size_t left = static_cast<std::size_t>(sent);
  for (auto& part : parts.buffers) {
    const std::size_t taken = std::min(left, part.size());
    part += taken;
    left -= taken;
  }
  return asio::buffer_size(parts.buffers) == 0;
}

}  // namespace

std::unique_ptr<char[]> BodyChunkPool::Take() {
  if (free_.empty()) return std::make_unique<char[]>(chunk_bytes_);
  auto chunk = std::move(free_.back());
  free_.pop_back();
  return chunk;
}

void BodyChunkPool::Give(std::unique_ptr<char[]> chunk) {
  if (free_.size() < kMaxFreeChunks) free_.push_back(std::move(chunk));
}

std::string TextBufferPool::Take() {
  if (free_.empty()) return {};
  std::string text = std::move(free_.back());
  free_.pop_back();
  return text;
}

void TextBufferPool::Give(std::string text) {
  // An unusually large head does not pin its memory in the pool.
  if (free_.size() >= kMaxFreeTexts || text.capacity() > kMaxIdleTextBytes) return;
  text.clear();
  free_.push_back(std::move(text));
}

UpstreamExchange::UpstreamExchange(ExchangeResources& resources, ClientSide& client,
                                   const UpstreamTarget& target, std::string_view request_target,
                                   const AddedFields& added)
    : resources_(resources),
      client_(client),
      target_(target),
      added_(added),
      text_(resources.texts.Take()) {
  head_request_ = client.head.method() == http::verb::head;
  client_http11_ = client.head.version() >= 11;
  request_has_body_ = client.body && !client.body->is_done();
  result_.client_keep_alive = client.keep_alive;
  // The body is re-framed, never passed through byte for byte: whatever
  // ambiguity the client tried, the upstream sees one clean framing (the
  // client's Transfer-Encoding went with the hop-by-hop fields).
  request_line_ = UpstreamRequestLine{request_target, target.host_header, client.chunked};
}

UpstreamExchange::~UpstreamExchange() {
  StopClientWatch();
  if (chunk_) resources_.chunks.Give(std::move(chunk_));
  resources_.texts.Give(std::move(text_));
}

bool UpstreamExchange::Retryable() const {
  // Only a request whose every byte we still have can be sent twice, and only
  // if sending it twice means nothing more than sending it once.
  return !request_has_body_ && IsIdempotent(client_.head.method());
}

asio::awaitable<ExchangeResult> UpstreamExchange::Run() {
  const auto started = Clock::now();
  for (int attempt = 0;; ++attempt) {
    // A pooled connection needs no suspension; only a new one is awaited.
    AcquiredUpstream acquired{resources_.pool.TakeIdle(target_.pool_key)};
    if (!acquired.connection) acquired = co_await resources_.pool.Connect(target_);
    if (acquired.error) {
      co_await WriteError(acquired.timed_out ? http::status::gateway_timeout
                                             : http::status::bad_gateway);
      co_return result_;
    }
    upstream_ = std::move(acquired.connection);
    const bool may_retry = upstream_->reused && attempt == 0 && Retryable();
    SendResult sent = SendResult::kSent;
    WriteParts rest;
    if (request_has_body_) {
      sent = co_await SendRequest();
    } else if (SendHeadNow(rest, sent)) {  // what the socket did not take at once
      error_code ec;
      upstream_->stream.tcp().expires_after(target_.timeout);
      co_await asio::async_write(upstream_->stream, rest.buffers,
                                 asio::redirect_error(asio::use_awaitable, ec));
      sent = FinishHead(ec);
    }
    if (sent == SendResult::kUpstreamFailed && may_retry) {
      CloseUpstream();
      continue;
    }
    if (sent != SendResult::kSent) {
      CloseUpstream();
      if (sent == SendResult::kClientFailed) {
        result_.client_aborted = true;
        result_.client_keep_alive = false;
      } else {
        co_await WriteError(sent == SendResult::kBadBody ? http::status::bad_request
                                                         : http::status::bad_gateway);
      }
      co_return result_;
    }
    const error_code ec = co_await ReadResponseHead();
    if (!ec) break;
    const bool nothing_received = !response_started_;
    CloseUpstream();
    if (result_.client_aborted) {
      result_.client_keep_alive = false;
      co_return result_;
    }
    if (may_retry && nothing_received && ec != beast::error::timeout) continue;
    co_await WriteError(ec == beast::error::timeout ? http::status::gateway_timeout
                                                    : http::status::bad_gateway);
    co_return result_;
  }
  co_await RelayResponse();
  if (upstream_ && result_.status == 101 && client_.websocket && !result_.client_aborted) {
    TunnelResult tunnel =
        co_await RunWebSocketTunnel(client_.stream, client_.buffer, upstream_->stream,
                                    upstream_->buffer, resources_.options.idle_timeout);
    result_.response_bytes += tunnel.bytes_to_client;
    result_.client_keep_alive = false;
    CloseUpstream();
  }
  result_.upstream_time =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
  co_return result_;
}

// A request without a body is its head alone: written here, most often
// whole in one sendmsg, without another coroutine. True when bytes remain
// for an async write (in `rest`; FinishHead then settles `sent`).
bool UpstreamExchange::SendHeadNow(WriteParts& rest, SendResult& sent) {
  text_.clear();
  // As in SendRequest: a field that cannot be written safely is never sent.
  if (!AppendRequestHead(text_, client_.head, request_line_, added_)) {
    sent = SendResult::kBadBody;
    return false;
  }
  rest = Compose(text_, nullptr, 0, false, true);
  if (!WriteNow(upstream_->stream, rest)) return true;
  sent = FinishHead({});
  return false;
}

UpstreamExchange::SendResult UpstreamExchange::FinishHead(const error_code& ec) {
  text_.clear();
  if (ec) return SendResult::kUpstreamFailed;
  request_sent_ = true;
  return SendResult::kSent;
}

asio::awaitable<UpstreamExchange::SendResult> UpstreamExchange::SendRequest() {
  const auto& request = client_.head;
  error_code ec;
  const auto& options = resources_.options;
  if (client_.expect_continue && request_has_body_) {
    // Expect was stripped from the upstream request; we ask for the body ourselves.
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    client_.stream.tcp().expires_after(options.idle_timeout);
    co_await asio::async_write(client_.stream, asio::buffer(kContinue.data(), kContinue.size()),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return SendResult::kClientFailed;
  }
  text_.clear();
  // A field that cannot be written safely (a control byte in a value the gate
  // set from a claim) is never sent: the request is refused, not repaired.
  if (!AppendRequestHead(text_, request, request_line_, added_)) co_return SendResult::kBadBody;
  if (request_has_body_ && !chunk_) {
    chunk_ = resources_.chunks.Take();
    if (NeedsStreamingRoom(*client_.body, client_.buffer)) {
      client_.buffer.reserve(std::min(kStreamReadBytes, client_.buffer.max_size()));
    }
  }
  // The body is re-framed (see the constructor): chunked stays chunked with
  // our own chunk sizes, a Content-Length body goes as its bytes.
  const bool chunked = client_.chunked;
  const std::size_t capacity = resources_.chunks.chunk_bytes();
  RequestParser* const body = request_has_body_ ? client_.body : nullptr;
  for (;;) {
    std::size_t n = 0;
    if (body && !body->is_done()) {
      auto& chunk = body->get().body();
      chunk.data = chunk_.get();
      chunk.size = capacity;
      client_.stream.tcp().expires_after(options.idle_timeout);
      ec = co_await ParseSome(client_.stream, client_.buffer, *body);
      if (ec) co_return IsParseError(ec) ? SendResult::kBadBody : SendResult::kClientFailed;
      n = capacity - chunk.size;
      if (n == 0 && !body->is_done()) continue;
    }
    const bool last = !body || body->is_done();
    if (chunked && n > 0) AppendChunkSize(text_, n);
    WriteParts parts = Compose(text_, chunk_.get(), n, chunked, last);
    if (!WriteNow(upstream_->stream, parts)) {
      upstream_->stream.tcp().expires_after(target_.timeout);
      co_await asio::async_write(upstream_->stream, parts.buffers,
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return SendResult::kUpstreamFailed;
    }
    text_.clear();
    if (last) break;
  }
  request_sent_ = true;
  co_return SendResult::kSent;
}

asio::awaitable<error_code> UpstreamExchange::ReadResponseHead() {
  for (int interim = 0;; ++interim) {
    upstream_->stream.tcp().expires_after(target_.timeout);
    StartClientWatch();
    error_code ec;
    std::size_t checked = 0;
    for (;;) {  // read until a whole head is in (in this frame: no coroutine per read)
      const HeadStatus got = TryTakeUpstreamHead(checked);
      if (got != HeadStatus::kIncomplete) {
        if (got == HeadStatus::kRefused) ec = http::error::bad_value;
        break;
      }
      auto& buffer = upstream_->buffer;
      if (ReadAfterOthers(resources_.requests_in_flight, 1)) {
        upstream_->stream.tcp().read_after_turn();
      }
      const std::size_t n = co_await upstream_->stream.async_read_some(
          buffer.prepare(beast::read_size(buffer, kStreamReadBytes)),
          asio::redirect_error(asio::use_awaitable, ec));
      if (ec == asio::error::eof) {
        ec = response_started_ ? http::error::partial_message : http::error::end_of_stream;
      }
      if (ec) break;
      buffer.commit(n);
      response_started_ = true;
    }
    const bool client_gone = client_.watch->client_gone;
    StopClientWatch();
    if (client_gone) {
      result_.client_aborted = true;
      co_return asio::error::connection_aborted;
    }
    if (ec) co_return ec;
    const unsigned status = response_status_;
    if (status >= 100 && status < 200 && status != 101) {
      if (interim >= kMaxInterimResponses) co_return http::error::bad_status;
      if (!co_await ForwardInterimResponse()) {
        result_.client_aborted = true;
        co_return asio::error::connection_aborted;
      }
      continue;  // the final answer follows
    }
    // 101 only answers an upgrade we forwarded; anything else is a broken upstream.
    if (status == 101 && !client_.websocket) co_return http::error::bad_version;
    co_return error_code{};
  }
}

// Parses the upstream's buffered bytes once they may hold a whole head
// (each new byte is looked at once while a head trickles in: `checked`),
// and takes a complete head at once (TakeResponseHead), without a
// suspension in between: the parsed head is views into the buffer and the
// loop's shared field list.
HeadStatus UpstreamExchange::TryTakeUpstreamHead(std::size_t& checked) {
  const std::string_view bytes = BufferView(upstream_->buffer);
  const bool parse =
      !bytes.empty() && (checked == 0 || bytes.size() >= kMaxResponseHeaderBytes ||
                         bytes.find("\r\n\r\n", checked >= 3 ? checked - 3 : 0) != bytes.npos);
  checked = bytes.size();
  if (!parse) return HeadStatus::kIncomplete;
  const HeadStatus parsed =
      ParseResponseHead(bytes, kMaxResponseHeaderBytes, resources_.response_fields, response_head_);
  if (parsed == HeadStatus::kComplete) TakeResponseHead();
  return parsed;
}

// The head just parsed becomes the client's (RFC 9110 7.6.1 fields dropped,
// framing and X-Request-Id the relay's own) and leaves the upstream's buffer.
void UpstreamExchange::TakeResponseHead() {
  const ResponseHead& head = response_head_;
  const auto& fields = resources_.response_fields;
  const unsigned status = head.status;
  response_status_ = status;
  text_.clear();
  if (status >= 100 && status < 200 && status != 101) {
    // 1xx: see ForwardInterimResponse. One that cannot be relayed safely is dropped.
    if (status == 100 || !client_http11_ || !AppendRelayedResponseHead(text_, head, fields, {})) {
      text_.clear();
    }
    upstream_->buffer.consume(head.head_bytes);
    return;
  }
  const bool switching = status == 101;
  const bool no_body = head_request_ || status == 204 || status == 304 || switching;
  if (no_body) {
    body_ = BodyFraming::kNone;
  } else if (head.content_length) {
    body_ = BodyFraming::kLength;
    body_remaining_ = *head.content_length;
  } else {
    body_ = head.chunked ? BodyFraming::kChunked : BodyFraming::kUntilClose;
  }
  upstream_keep_alive_ = head.keep_alive && body_ != BodyFraming::kUntilClose;
  // Chunked or close-delimited upstream body: chunked to an HTTP/1.1 client
  // (the connection survives), close-delimited to an HTTP/1.0 one.
  RelayedHeadOptions options;
  if (!no_body && !head.content_length) {
    if (client_http11_) {
      options.chunked = true;
    } else {
      result_.client_keep_alive = false;
    }
  }
  if (resources_.draining) result_.client_keep_alive = false;
  options.close = !switching && !result_.client_keep_alive;
  options.websocket = switching;
  // The gate stamped the request with its X-Request-Id; the client gets the
  // same one (not the upstream's), so a user can quote it against the audit log.
  options.request_id = added_.Find("X-Request-Id").value_or(std::string_view());
  chunked_to_client_ = options.chunked;
  // A field that would break the client's framing cannot get here (the
  // parser refused it); the request id is checked by the writer.
  unsafe_head_ = !AppendRelayedResponseHead(text_, head, fields, options);
  result_.status = static_cast<int>(status);
  upstream_->buffer.consume(head.head_bytes);
}

// 1xx answers other than 101 (RFC 9110 15.2). 103 Early Hints (and any other
// informational code) goes to the client, hop-by-hop fields stripped, so a
// browser can start preloading while the upstream works. Two are dropped
// (TakeResponseHead leaves text_ empty):
// - 100 Continue: Expect is never forwarded (the proxy answers it itself,
//   before it reads the body: SendRequest), so the upstream's 100 is either
//   unsolicited or a duplicate of the one the client already has;
// - any 1xx to an HTTP/1.0 client, which cannot parse one (RFC 9110 15.2).
// Returns false when the client could not be written to.
asio::awaitable<bool> UpstreamExchange::ForwardInterimResponse() {
  if (text_.empty()) co_return true;
  error_code ec;
  client_.stream.tcp().expires_after(resources_.options.idle_timeout);
  co_await asio::async_write(client_.stream, asio::buffer(text_),
                             asio::redirect_error(asio::use_awaitable, ec));
  text_.clear();
  co_return !ec;
}

// A chunked or close-delimited body goes through Beast's decoder, given a
// framing head of our own; a Content-Length body is counted here and
// written to the client straight from the upstream's buffer.
void UpstreamExchange::StartBodyDecoder() {
  response_body_.emplace(std::piecewise_construct, std::make_tuple(),
                         std::make_tuple(client_.head.get_allocator()));
  response_body_->body_limit(std::numeric_limits<std::uint64_t>::max());
  static constexpr std::string_view kChunked =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  static constexpr std::string_view kUntilClose = "HTTP/1.1 200 OK\r\n\r\n";
  const std::string_view head = body_ == BodyFraming::kChunked ? kChunked : kUntilClose;
  error_code ec;
  response_body_->put(asio::buffer(head.data(), head.size()), ec);
}

// The next piece of a body that needs no read: none at all, or buffered
// bytes of a Content-Length body (a small answer comes with its head).
bool UpstreamExchange::BodyPieceAtHand(const char*& data, std::size_t& n, bool& last) {
  n = 0;
  last = true;
  if (body_ == BodyFraming::kNone) return true;
  const auto& buffer = upstream_->buffer;
  if (body_ != BodyFraming::kLength || (body_remaining_ > 0 && buffer.size() == 0)) return false;
  n = static_cast<std::size_t>(std::min<uint64_t>(body_remaining_, buffer.size()));
  data = static_cast<const char*>(buffer.data().data());
  last = body_remaining_ == n;
  return true;
}

// The next piece of the body into (data, n); `last` once the body is over.
asio::awaitable<error_code> UpstreamExchange::NextBodyPiece(const char*& data, std::size_t& n,
                                                            bool& last) {
  auto& buffer = upstream_->buffer;
  n = 0;
  last = true;
  if (body_ == BodyFraming::kNone) co_return error_code{};
  if (body_ == BodyFraming::kLength) {
    if (body_remaining_ > 0 && buffer.size() == 0) {
      if (body_remaining_ > buffer.capacity()) buffer.reserve(kStreamReadBytes);
      error_code ec;
      upstream_->stream.tcp().expires_after(target_.timeout);
      const std::size_t got = co_await upstream_->stream.async_read_some(
          buffer.prepare(beast::read_size(buffer, kStreamReadBytes)),
          asio::redirect_error(asio::use_awaitable, ec));
      if (ec == asio::error::eof) co_return http::error::partial_message;
      if (ec) co_return ec;
      buffer.commit(got);
    }
    n = static_cast<std::size_t>(std::min<uint64_t>(body_remaining_, buffer.size()));
    data = static_cast<const char*>(buffer.data().data());
    last = body_remaining_ == n;
    co_return error_code{};
  }
  const std::size_t capacity = resources_.chunks.chunk_bytes();
  if (!chunk_) chunk_ = resources_.chunks.Take();
  for (;;) {
    if (response_body_->is_done()) co_return error_code{};
    auto& piece = response_body_->get().body();
    piece.data = chunk_.get();
    piece.size = capacity;
    upstream_->stream.tcp().expires_after(target_.timeout);
    const error_code ec = co_await ParseSome(upstream_->stream, buffer, *response_body_);
    if (ec) co_return ec;
    n = capacity - piece.size;
    last = response_body_->is_done();
    data = chunk_.get();
    if (n > 0 || last) co_return error_code{};
  }
}

asio::awaitable<void> UpstreamExchange::RelayResponse() {
  if (unsafe_head_) {
    CloseUpstream();
    co_await WriteError(http::status::bad_gateway);
    co_return;
  }
  if (body_ == BodyFraming::kChunked || body_ == BodyFraming::kUntilClose) {
    StartBodyDecoder();
    if (NeedsStreamingRoom(*response_body_, upstream_->buffer))
      upstream_->buffer.reserve(kStreamReadBytes);
  }
  bool body_done = false;
  for (;;) {
    const char* data = nullptr;
    std::size_t n = 0;
    bool last = true;
    error_code ec;
    if (!BodyPieceAtHand(data, n, last)) ec = co_await NextBodyPiece(data, n, last);
    if (ec) {
      // The upstream failed mid-body. Before the head went out the client
      // can still get a clean 502/504; after it, only a close tells it the
      // body is incomplete (never a silent truncation on a kept-alive connection).
      const bool timed_out = ec == beast::error::timeout;
      CloseUpstream();
      if (!head_written_) {
        co_await WriteError(timed_out ? http::status::gateway_timeout : http::status::bad_gateway);
      } else {
        result_.client_keep_alive = false;
        client_.stream.Close();
      }
      co_return;
    }
    if (chunked_to_client_ && n > 0) AppendChunkSize(text_, n);
    // The head goes out with the first body bytes (a small answer: one write).
    error_code write_error;
    WriteParts parts = Compose(text_, data, n, chunked_to_client_, last);
    if (!WriteNow(client_.stream, parts)) {
      client_.stream.tcp().expires_after(resources_.options.idle_timeout);
      co_await asio::async_write(client_.stream, parts.buffers,
                                 asio::redirect_error(asio::use_awaitable, write_error));
    }
    if (write_error) {
      // The client went away (or stopped reading): stop the upstream at once.
      result_.client_aborted = true;
      result_.client_keep_alive = false;
      CloseUpstream();
      co_return;
    }
    if (body_ == BodyFraming::kLength) {
      upstream_->buffer.consume(n);
      body_remaining_ -= n;
    }
    text_.clear();
    head_written_ = true;
    result_.response_bytes += n;
    if (last) {
      body_done = true;
      break;
    }
  }
  if (result_.status == 101) co_return;  // the tunnel takes the connection over
  if (upstream_keep_alive_ && request_sent_ && body_done) {
    if (upstream_->buffer.capacity() > kIdleUpstreamBufferBytes) upstream_->buffer.shrink_to_fit();
    resources_.pool.Release(std::move(upstream_));
  } else {
    CloseUpstream();
  }
}

template <class Fields>
void UpstreamExchange::CopyRequestId(Fields& response) const {
  // As in TakeResponseHead: the client gets the gate's X-Request-Id.
  const std::optional<std::string_view> id = added_.Find("X-Request-Id");
  if (id) response.set("X-Request-Id", boost::beast::string_view(id->data(), id->size()));
}

asio::awaitable<void> UpstreamExchange::WriteError(http::status status) {
  result_.status = static_cast<int>(status);
  result_.client_keep_alive = false;
  if (head_written_) {
    client_.stream.Close();
    co_return;
  }
  http::response<http::string_body> response{status, 11};
  response.set(http::field::content_type, "text/plain");
  response.body() = std::string(http::obsolete_reason(status)) + "\n";
  response.keep_alive(false);
  CopyRequestId(response);
  if (head_request_) {
    response.content_length(response.body().size());
    response.body().clear();
  } else {
    response.prepare_payload();
  }
  error_code ec;
  client_.stream.tcp().expires_after(resources_.options.idle_timeout);
  co_await http::async_write(client_.stream, response,
                             asio::redirect_error(asio::use_awaitable, ec));
  if (ec) result_.client_aborted = true;
  head_written_ = true;
}

void UpstreamExchange::StartClientWatch() {
  auto& watch = client_.watch;
  if (!watch) {
    watch = std::make_shared<ClientWatch>();
    watch->client = &client_.stream;
  }
  watch->exchange_active = true;
  watch->client_gone = false;
  watch->upstream = upstream_.get();
  watching_ = true;
  // A wait left armed by an earlier exchange serves this one too. Otherwise
  // the wait is armed only if the upstream takes longer than a sweep period:
  // most answers come first, and arming costs a system call per request.
  if (!watch->armed) resources_.watches.Enlist(*watch);
}

// Leaves the wait armed for the next exchange: no cancel per request. Its
// handler ignores wakeups between exchanges (the session's own read sees the
// next request or the end of the stream).
void UpstreamExchange::StopClientWatch() {
  if (!watching_) return;
  watching_ = false;
  resources_.watches.Delist(*client_.watch);
  client_.watch->exchange_active = false;
  client_.watch->upstream = nullptr;
}

void UpstreamExchange::CloseUpstream() {
  if (!upstream_) return;
  upstream_->stream.Close();
  upstream_.reset();
}

}  // namespace gatehouse::server
