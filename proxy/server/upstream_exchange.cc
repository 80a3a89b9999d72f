#include "proxy/server/upstream_exchange.h"

#include <sys/socket.h>

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
#include "proxy/server/websocket_tunnel.h"

namespace gatehouse::server {
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

// One gather write: [head and/or chunk-size line] [body bytes] [framing tail].
struct WriteParts {
  std::array<asio::const_buffer, 3> buffers;
};

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
  // Taken before PrepareRequestHead rewrites the version for the upstream.
  client_http11_ = client.head.version() >= 11;
  request_has_body_ = client.body && !client.body->is_done();
  result_.client_keep_alive = client.keep_alive;
  PrepareRequestHead(request_target);
}

UpstreamExchange::~UpstreamExchange() {
  StopClientWatch();
  if (chunk_) resources_.chunks.Give(std::move(chunk_));
  resources_.texts.Give(std::move(text_));
}

void UpstreamExchange::PrepareRequestHead(std::string_view request_target) {
  auto& request = client_.head;
  request.target({request_target.data(), request_target.size()});
  request.version(11);
  request.set(http::field::host, target_.host_header);
  // The body is re-framed, never passed through byte for byte: whatever
  // ambiguity the client tried, the upstream sees one clean framing (the
  // client's Transfer-Encoding went with the hop-by-hop fields).
  if (client_.chunked) request.set(http::field::transfer_encoding, "chunked");
}

bool UpstreamExchange::Retryable() const {
  // Only a request whose every byte we still have can be sent twice, and only
  // if sending it twice means nothing more than sending it once.
  return !request_has_body_ && IsIdempotent(client_.head.method());
}

asio::awaitable<ExchangeResult> UpstreamExchange::Run() {
  const auto started = Clock::now();
  for (int attempt = 0;; ++attempt) {
    AcquiredUpstream acquired = co_await resources_.pool.Acquire(target_);
    if (acquired.error) {
      co_await WriteError(acquired.timed_out ? http::status::gateway_timeout
                                             : http::status::bad_gateway);
      co_return result_;
    }
    upstream_ = std::move(acquired.connection);
    const bool may_retry = upstream_->reused && attempt == 0 && Retryable();
    const SendResult sent = co_await SendRequest();
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
    const bool nothing_received = !response_->got_some();
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
  PrepareResponseHead();
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
  if (!AppendRequestHead(text_, request, added_)) co_return SendResult::kBadBody;
  if (request_has_body_ && !chunk_) {
    chunk_ = resources_.chunks.Take();
    if (NeedsStreamingRoom(*client_.body, client_.buffer)) {
      client_.buffer.reserve(std::min(kStreamReadBytes, client_.buffer.max_size()));
    }
  }
  // The body is re-framed (see PrepareRequestHead): chunked stays chunked with
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
    upstream_->stream.tcp().expires_after(target_.timeout);
    co_await asio::async_write(upstream_->stream,
                               Compose(text_, chunk_.get(), n, chunked, last).buffers,
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return SendResult::kUpstreamFailed;
    text_.clear();
    if (last) break;
  }
  request_sent_ = true;
  co_return SendResult::kSent;
}

asio::awaitable<error_code> UpstreamExchange::ReadResponseHead() {
  for (int interim = 0;; ++interim) {
    // The response head shares the request head's arena: the two die
    // together with the exchange, and the block then goes back whole.
    response_.emplace(std::piecewise_construct, std::make_tuple(),
                      std::make_tuple(client_.head.get_allocator()));
    response_->header_limit(kMaxResponseHeaderBytes);
    response_->body_limit(std::numeric_limits<std::uint64_t>::max());
    if (head_request_) response_->skip(true);
    upstream_->stream.tcp().expires_after(target_.timeout);
    StartClientWatch();
    error_code ec;
    while (!ec && !response_->is_header_done()) {
      ec = co_await ParseSome(upstream_->stream, upstream_->buffer, *response_);
    }
    const bool client_gone = client_.watch->client_gone;
    StopClientWatch();
    if (client_gone) {
      result_.client_aborted = true;
      co_return asio::error::connection_aborted;
    }
    if (ec) co_return ec;
    const int status = response_->get().result_int();
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

// 1xx answers other than 101 (RFC 9110 15.2). 103 Early Hints (and any other
// informational code) goes to the client, hop-by-hop fields stripped, so a
// browser can start preloading while the upstream works. Two are dropped:
// - 100 Continue: Expect is never forwarded (the proxy answers it itself,
//   before it reads the body: SendRequest), so the upstream's 100 is either
//   unsolicited or a duplicate of the one the client already has;
// - any 1xx to an HTTP/1.0 client, which cannot parse one (RFC 9110 15.2).
// Returns false when the client could not be written to.
asio::awaitable<bool> UpstreamExchange::ForwardInterimResponse() {
  auto& interim = response_->get();
  if (interim.result_int() == 100 || !client_http11_) co_return true;
  StripHopByHopHeaders(interim, false);
  text_.clear();
  if (!AppendResponseHead(text_, interim)) co_return true;  // unsafe to relay: dropped
  error_code ec;
  client_.stream.tcp().expires_after(resources_.options.idle_timeout);
  co_await asio::async_write(client_.stream, asio::buffer(text_),
                             asio::redirect_error(asio::use_awaitable, ec));
  text_.clear();
  co_return !ec;
}

void UpstreamExchange::PrepareResponseHead() {
  auto& response = response_->get();
  upstream_keep_alive_ = response_->keep_alive();
  const bool has_length = response_->content_length().has_value();
  const int status = response.result_int();
  const bool switching = status == 101;
  StripHopByHopHeaders(response, switching);
  response.version(11);
  const bool no_body = head_request_ || status == 204 || status == 304 || status < 200;
  if (!no_body && !has_length) {
    // Chunked or close-delimited upstream body: chunked to an HTTP/1.1 client
    // (the connection survives), close-delimited to an HTTP/1.0 one.
    if (client_http11_) {
      response.chunked(true);
    } else {
      result_.client_keep_alive = false;
    }
  }
  if (resources_.draining) result_.client_keep_alive = false;
  if (!switching) response.keep_alive(result_.client_keep_alive);
  CopyRequestId(response);
  result_.status = status;
}

template <class Fields>
void UpstreamExchange::CopyRequestId(Fields& response) const {
  // The gate stamped the request with its X-Request-Id; the client gets the
  // same one (not the upstream's), so a user can quote it against the audit log.
  const std::optional<std::string_view> id = added_.Find("X-Request-Id");
  if (id) response.set("X-Request-Id", boost::beast::string_view(id->data(), id->size()));
}

asio::awaitable<void> UpstreamExchange::RelayResponse() {
  auto& response = response_->get();
  text_.clear();
  if (!AppendResponseHead(text_, response)) {
    // An upstream (or copied) field that would break the client's framing.
    CloseUpstream();
    co_await WriteError(http::status::bad_gateway);
    co_return;
  }
  // Set by PrepareResponseHead only when the client gets a chunked body.
  const bool chunked = response.chunked();
  if (!chunk_) chunk_ = resources_.chunks.Take();
  const std::size_t capacity = resources_.chunks.chunk_bytes();
  if (NeedsStreamingRoom(*response_, upstream_->buffer))
    upstream_->buffer.reserve(kStreamReadBytes);
  error_code ec;
  for (;;) {
    std::size_t n = 0;
    if (!response_->is_done()) {
      response.body().data = chunk_.get();
      response.body().size = capacity;
      upstream_->stream.tcp().expires_after(target_.timeout);
      ec = co_await ParseSome(upstream_->stream, upstream_->buffer, *response_);
      if (ec) {
        // The upstream failed mid-body. Before the head went out the client
        // can still get a clean 502/504; after it, only a close tells it the
        // body is incomplete (never a silent truncation on a kept-alive connection).
        const bool timed_out = ec == beast::error::timeout;
        CloseUpstream();
        if (!head_written_) {
          co_await WriteError(timed_out ? http::status::gateway_timeout
                                        : http::status::bad_gateway);
        } else {
          result_.client_keep_alive = false;
          client_.stream.Close();
        }
        co_return;
      }
      n = capacity - response.body().size;
      if (n == 0 && !response_->is_done()) continue;
    }
    const bool last = response_->is_done();
    if (chunked && n > 0) AppendChunkSize(text_, n);
    client_.stream.tcp().expires_after(resources_.options.idle_timeout);
    // The head goes out with the first body bytes (a small answer: one write).
    co_await asio::async_write(client_.stream,
                               Compose(text_, chunk_.get(), n, chunked, last).buffers,
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      // The client went away (or stopped reading): stop the upstream at once.
      result_.client_aborted = true;
      result_.client_keep_alive = false;
      CloseUpstream();
      co_return;
    }
    text_.clear();
    head_written_ = true;
    result_.response_bytes += n;
    if (last) break;
  }
  if (result_.status == 101) co_return;  // the tunnel takes the connection over
  if (upstream_keep_alive_ && request_sent_ && response_->is_done()) {
    if (upstream_->buffer.capacity() > kIdleUpstreamBufferBytes) upstream_->buffer.shrink_to_fit();
    resources_.pool.Release(std::move(upstream_));
  } else {
    CloseUpstream();
  }
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
