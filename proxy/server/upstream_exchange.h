// UpstreamExchange: forwards one allowed request to its upstream and relays
// the response, streaming bodies both ways through bounded buffers.
//
//   UpstreamExchange exchange(resources, client_side, *verdict.upstream,
//                             verdict.upstream_target, verdict.added_fields);
//   ExchangeResult result = co_await exchange.Run();
//   // result.status: what the client got (502/504 written here on upstream failure)
//   // result.client_keep_alive: false when the client connection must now close
//
// What it does, in order: takes a pooled connection for the upstream's
// pool_key (retrying an idempotent, bodiless request once when a reused
// connection fails before any response byte), rewrites the request line to
// the verdict's target, sets Host, re-frames the body (chunked or
// Content-Length), answers Expect: 100-continue itself, streams the body up,
// waits for the response head within UpstreamTarget::timeout while watching
// the client socket (a client that goes away closes the upstream at once:
// Metabase cancels the query when its socket closes), strips hop-by-hop
// response headers and streams the response down. A 101 answer to a
// WebSocket upgrade turns the exchange into a byte tunnel.
//
// Interim (1xx) answers: 103 Early Hints and other informational codes are
// relayed to HTTP/1.1 clients (hop-by-hop fields stripped, at most 16 per
// exchange); an HTTP/1.0 client gets none (it cannot parse them). 100
// Continue is the proxy's own: Expect is stripped before the gate, and the
// proxy sends "100 Continue" itself just before it reads the body, since only
// then, after the gate allowed the request, is the body wanted. Forwarding
// the upstream's 100 instead would need Expect sent upstream and the body
// held back until it answers, with a fallback for upstreams that never
// answer (HTTP/1.0, many frameworks): the upstream's 100 is therefore dropped.
//
// Heads are written by hand into a pooled string and go out with the first
// body bytes in one gather write: the request's by head_writer.h, the
// response's straight from the upstream's bytes (response_head.h: parsed as
// views, hop-by-hop fields dropped on the way). Bytes already buffered are
// parsed without another read. A Content-Length response body is counted
// here and written from the upstream's read buffer; chunked and
// close-delimited bodies go through Beast's decoder.
#pragma once

// clang-format off
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange
// clang-format on

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/server/client_watch.h"
#include "proxy/server/gate.h"
#include "proxy/server/head_writer.h"
#include "proxy/server/hop_by_hop.h"
#include "proxy/server/loop_executor.h"
#include "proxy/server/net_options.h"
#include "proxy/server/response_head.h"
#include "proxy/server/tls_context.h"
#include "proxy/server/upstream_pool.h"

namespace gatehouse::server {

// Both keep their fields in the client connection's HeaderArena (the
// response parser takes the request head's allocator). The request parser
// only decodes a body: the head is ParseRequestHead's (request_head_parser.h).
using RequestParser = http::request_parser<http::buffer_body, HeaderAllocator<char>>;
using ResponseParser = http::response_parser<http::buffer_body, HeaderAllocator<char>>;

// Reusable body buffers of one event loop, so streaming allocates nothing per request.
class BodyChunkPool {
 public:
  explicit BodyChunkPool(std::size_t chunk_bytes) : chunk_bytes_(chunk_bytes) {}
  std::unique_ptr<char[]> Take();
  void Give(std::unique_ptr<char[]> chunk);
  std::size_t chunk_bytes() const { return chunk_bytes_; }

 private:
  std::size_t chunk_bytes_;
  std::vector<std::unique_ptr<char[]>> free_;
};

// Reusable strings for the heads an exchange writes (the upstream request,
// the response, interim answers), so writing a head allocates nothing per request.
class TextBufferPool {
 public:
  std::string Take();
  void Give(std::string text);

 private:
  std::vector<std::string> free_;
};

struct ExchangeResources {
  UpstreamPool& pool;
  BodyChunkPool& chunks;
  TextBufferPool& texts;
  const NetOptions& options;
  const bool& draining;  // the loop is draining: answers close their connection
  ClientWatchSweep& watches;
  // The fields of the response head being relayed: the loop's scratch,
  // refilled by each parse and used before the next suspension.
  std::vector<ResponseField>& response_fields;
  const int& requests_in_flight;  // on the loop, this exchange's included (read_turn.h)
};

// The client half: its stream, read buffer, the request head (already
// checked and passed by the gate), the body's decoder (null for a request
// without a body), the connection's disconnect watch and facts taken before
// the hop-by-hop headers were stripped.
struct ClientSide {
  NetStream& stream;
  boost::beast::flat_buffer& buffer;
  RequestHead& head;
  RequestParser* body;
  std::shared_ptr<ClientWatch>& watch;
  bool chunked = false;  // the body is chunked (else it has a Content-Length)
  bool keep_alive = true;
  bool expect_continue = false;
  bool websocket = false;
};

struct ExchangeResult {
  int status = 0;
  bool client_keep_alive = false;
  bool client_aborted = false;
  uint64_t response_bytes = 0;
  std::chrono::microseconds upstream_time{0};
};

struct WriteParts;  // the buffers of one gather write (upstream_exchange_internal.h)

class UpstreamExchange {
 public:
  UpstreamExchange(ExchangeResources& resources, ClientSide& client, const UpstreamTarget& target,
                   std::string_view request_target, const AddedFields& added);
  ~UpstreamExchange();
  UpstreamExchange(const UpstreamExchange&) = delete;
  UpstreamExchange& operator=(const UpstreamExchange&) = delete;

  Task<ExchangeResult> Run();

 private:
  enum class SendResult { kSent, kUpstreamFailed, kClientFailed, kBadBody };

  template <class Fields>
  void CopyRequestId(Fields& response) const;
  bool Retryable() const;
  Task<SendResult> SendRequest();
  bool SendHeadNow(WriteParts& rest, SendResult& sent);
  SendResult FinishHead(const boost::system::error_code& ec);
  enum class BodyFraming { kNone, kLength, kChunked, kUntilClose };

  Task<boost::system::error_code> ReadResponseHead();
  HeadStatus TryTakeUpstreamHead(std::size_t& checked);
  void TakeResponseHead();
  Task<bool> ForwardInterimResponse();
  void StartBodyDecoder();
  bool BodyPieceAtHand(const char*& data, std::size_t& n, bool& last);
  Task<boost::system::error_code> NextBodyPiece(const char*& data, std::size_t& n, bool& last);
  Task<void> RelayResponse();
  Task<void> WriteError(http::status status);
  void StartClientWatch();
  void StopClientWatch();
  void CloseUpstream();

  ExchangeResources& resources_;
  ClientSide& client_;
  const UpstreamTarget& target_;
  // The gate's fields (added_fields.h), sent after the request's own on every
  // head this exchange writes (a retry and a WebSocket upgrade included).
  const AddedFields& added_;
  UpstreamRequestLine request_line_;  // target, Host and framing for the upstream
  std::unique_ptr<UpstreamConnection> upstream_;
  ResponseHead response_head_;  // views into upstream_->buffer until TakeResponseHead
  unsigned response_status_ = 0;
  BodyFraming body_ = BodyFraming::kNone;
  uint64_t body_remaining_ = 0;                  // kLength: bytes still to relay
  std::optional<ResponseParser> response_body_;  // kChunked and kUntilClose only
  std::unique_ptr<char[]> chunk_;
  std::string text_;       // the head (and chunk-size line) of the next write
  bool watching_ = false;  // this exchange registered with client_.watch
  ExchangeResult result_;
  bool head_request_ = false;
  bool client_http11_ = true;  // the client spoke HTTP/1.1 (1xx and chunked allowed)
  bool request_has_body_ = false;
  bool request_sent_ = false;
  bool upstream_keep_alive_ = false;
  bool head_written_ = false;
  bool response_started_ = false;  // a byte of the response arrived
  bool chunked_to_client_ = false;
  bool unsafe_head_ = false;  // the client's head could not be written safely: 502
};

}  // namespace gatehouse::server
