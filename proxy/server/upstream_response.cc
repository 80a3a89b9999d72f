// The response side of UpstreamExchange (upstream_exchange.h): reads the
// upstream's response head (relaying interim 1xx answers), turns it into the
// client's head, and relays the body: a Content-Length body counted straight
// from the upstream's buffer, a chunked or close-delimited one through Beast's
// decoder. A 101 answer leaves the connection to Run's WebSocket tunnel. The
// request side and Run are in upstream_exchange.cc.

// clang-format off
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange
// clang-format on

#include <algorithm>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/read_size.hpp>
#include <cstdint>
#include <limits>
#include <tuple>

#include "proxy/server/head_writer.h"
#include "proxy/server/read_turn.h"
#include "proxy/server/response_head.h"
#include "proxy/server/upstream_exchange.h"
#include "proxy/server/upstream_exchange_internal.h"

namespace gatehouse::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using boost::system::error_code;
using exchange_internal::Compose;
using exchange_internal::kStreamReadBytes;
using exchange_internal::NeedsStreamingRoom;
using exchange_internal::ParseSome;
using exchange_internal::WriteNow;

constexpr std::size_t kMaxResponseHeaderBytes = 64 * 1024;
constexpr std::size_t kIdleUpstreamBufferBytes = 16 * 1024;
// A hostile upstream must not keep an exchange busy with interim answers.
constexpr int kMaxInterimResponses = 16;

std::string_view BufferView(const beast::flat_buffer& buffer) {
  const auto data = buffer.data();
  return {static_cast<const char*>(data.data()), data.size()};
}

}  // namespace

Task<error_code> UpstreamExchange::ReadResponseHead() {
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
          asio::redirect_error(kUseTask, ec));
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
Task<bool> UpstreamExchange::ForwardInterimResponse() {
  if (text_.empty()) co_return true;
  error_code ec;
  client_.stream.tcp().expires_after(resources_.options.idle_timeout);
  co_await asio::async_write(client_.stream, asio::buffer(text_),
                             asio::redirect_error(kUseTask, ec));
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
Task<error_code> UpstreamExchange::NextBodyPiece(const char*& data, std::size_t& n, bool& last) {
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
          asio::redirect_error(kUseTask, ec));
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

Task<void> UpstreamExchange::RelayResponse() {
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
                                 asio::redirect_error(kUseTask, write_error));
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

}  // namespace gatehouse::server
