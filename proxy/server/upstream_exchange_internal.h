// Internal to UpstreamExchange (upstream_exchange.cc: the request side and
// Run; upstream_response.cc: the response side): the streaming helpers both
// directions share. Parse what is buffered before reading (ParseSome), give
// a buffer room for a streamed body (NeedsStreamingRoom), and write a head,
// body bytes and their chunk framing in one gather write (Compose, then
// WriteNow, then an async write for whatever the socket did not take).
#pragma once

// clang-format off
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange
// clang-format on

#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/beast/core/read_size.hpp>
#include <cstddef>
#include <string>
#include <string_view>

#include "proxy/server/head_writer.h"
#include "proxy/server/loop_executor.h"
#include "proxy/server/upstream_exchange.h"

namespace gatehouse::server {

// One gather write: [head and/or chunk-size line] [body bytes] [framing tail].
struct WriteParts {
  std::array<boost::asio::const_buffer, 3> buffers;
};

namespace exchange_internal {

namespace asio = boost::asio;
namespace beast = boost::beast;
using boost::system::error_code;

inline constexpr std::size_t kStreamReadBytes = 64 * 1024;
// What follows the body bytes of one write: the chunk's CRLF and, with the
// last bytes, the last-chunk (no trailers: the relay forwards none).
inline constexpr std::string_view kChunkEndThenLast = "\r\n0\r\n\r\n";

// Feeds the bytes already buffered to the parser and reads from `stream`
// only when they do not make progress: a response head and a small body that
// arrived together cost one read, and no composed operation runs. Returns
// success once the parser moved (head complete, body bytes in the body
// buffer, or message done); end_of_stream when the peer closed before any
// byte; put_eof() ends a close-delimited body, as Beast's own read does.
// The caller sets the stream's deadline.
template <bool kIsRequest>
Task<error_code> ParseSome(NetStream& stream, beast::flat_buffer& buffer,
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
    const std::size_t n =
        co_await stream.async_read_some(buffer.prepare(room), asio::redirect_error(kUseTask, ec));
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

inline WriteParts Compose(const std::string& text, const char* data, std::size_t n, bool chunked,
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
// Defined in upstream_exchange.cc.
bool WriteNow(NetStream& stream, WriteParts& parts);

}  // namespace exchange_internal
}  // namespace gatehouse::server
