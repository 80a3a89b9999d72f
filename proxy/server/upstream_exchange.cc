// The request side of UpstreamExchange (upstream_exchange.h) and Run, which
// drives one exchange: take a pooled connection (retrying once when that is
// safe), write the request head and stream the body up, then hand over to the
// response side (upstream_response.cc) and, after a 101, to the WebSocket
// tunnel. Also the per-loop buffer pools and the error answers (502/504).
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
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/beast/http/write.hpp>
#include <cerrno>

#include "proxy/server/head_writer.h"
#include "proxy/server/hop_by_hop.h"
#include "proxy/server/upstream_exchange_internal.h"
#include "proxy/server/websocket_tunnel.h"

namespace gatehouse::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;
using exchange_internal::Compose;
using exchange_internal::kStreamReadBytes;
using exchange_internal::NeedsStreamingRoom;
using exchange_internal::ParseSome;
using exchange_internal::WriteNow;

constexpr std::size_t kMaxFreeChunks = 256;
constexpr std::size_t kMaxFreeTexts = 256;
constexpr std::size_t kMaxIdleTextBytes = 8 * 1024;

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

}  // namespace

namespace exchange_internal {

// Declared (and described) in upstream_exchange_internal.h.
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

}  // namespace exchange_internal

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

Task<ExchangeResult> UpstreamExchange::Run() {
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
                                 asio::redirect_error(kUseTask, ec));
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

Task<UpstreamExchange::SendResult> UpstreamExchange::SendRequest() {
  const auto& request = client_.head;
  error_code ec;
  const auto& options = resources_.options;
  if (client_.expect_continue && request_has_body_) {
    // Expect was stripped from the upstream request; we ask for the body ourselves.
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    client_.stream.tcp().expires_after(options.idle_timeout);
    co_await asio::async_write(client_.stream, asio::buffer(kContinue.data(), kContinue.size()),
                               asio::redirect_error(kUseTask, ec));
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
                                 asio::redirect_error(kUseTask, ec));
      if (ec) co_return SendResult::kUpstreamFailed;
    }
    text_.clear();
    if (last) break;
  }
  request_sent_ = true;
  co_return SendResult::kSent;
}

template <class Fields>
void UpstreamExchange::CopyRequestId(Fields& response) const {
  // As in TakeResponseHead: the client gets the gate's X-Request-Id.
  const std::optional<std::string_view> id = added_.Find("X-Request-Id");
  if (id) response.set("X-Request-Id", boost::beast::string_view(id->data(), id->size()));
}

Task<void> UpstreamExchange::WriteError(http::status status) {
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
  co_await http::async_write(client_.stream, response, asio::redirect_error(kUseTask, ec));
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
