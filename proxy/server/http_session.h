// HttpSession: one client connection of the proxy, served by one coroutine
// on its event loop. LoopContext: what every session of one event loop
// shares (gate, options, upstream pool, body buffers, the drain flag and the
// list of live sessions) without any lock: a loop's sessions run on its thread only.
//
//   LoopContext loop(gate, options, listener_tls_or_null, upstream_tls);
//   auto session = std::make_unique<HttpSession>(loop, std::move(accepted_socket));
//   co_spawn(executor, HttpSession::Run(std::move(session)), detached);
//   ...
//   loop.draining = true; loop.CloseIdleSessions();   // drain, on the loop's thread
//
// Per request: read the head (bounded bytes and time), refuse anything that
// cannot be framed safely (400/431 + close, the gate never sees it), strip
// hop-by-hop headers, ask the gate, then answer locally or forward through
// UpstreamExchange, and report the outcome to Gate::Finish exactly once.
#pragma once

// clang-format off
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange
// clang-format on

#include <atomic>
#include <boost/beast/core/flat_buffer.hpp>
#include <cstddef>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "proxy/server/gate.h"
#include "proxy/server/loop_executor.h"
#include "proxy/server/net_options.h"
#include "proxy/server/request_head_parser.h"
#include "proxy/server/tls_context.h"
#include "proxy/server/upstream_exchange.h"
#include "proxy/server/upstream_pool.h"

namespace gatehouse::server {

class HttpSession;

struct LoopContext {
  // `listener_tls` is null for a plain-HTTP listener. All references outlive the loop.
  LoopContext(Gate& gate, const NetOptions& options, ssl::context* listener_tls,
              ssl::context& upstream_tls)
      : gate(gate),
        options(options),
        listener_tls(listener_tls),
        pool(upstream_tls, options),
        chunks(options.body_chunk_bytes),
        resources{pool,     chunks,  texts,           options,
                  draining, watches, response_fields, requests_in_flight} {}

  void CloseIdleSessions();  // keep-alive connections with no request in flight
  void CloseAllSessions();

  // Read buffers of this loop's sessions: an idle connection holds none; the
  // next request takes a spare one (no allocation per request).
  void ReleaseReadBuffer(boost::beast::flat_buffer& buffer);
  void TakeReadBuffer(boost::beast::flat_buffer& buffer);

  Gate& gate;
  const NetOptions& options;
  ssl::context* listener_tls;
  UpstreamPool pool;
  BodyChunkPool chunks;
  TextBufferPool texts;
  ClientWatchSweep watches;
  // Blocks for the sessions' HeaderArenas: only connections with a request
  // in flight hold one.
  HeaderBlockPool header_blocks;
  std::vector<ResponseField> response_fields;
  ExchangeResources resources;
  bool draining = false;  // set on the loop's thread
  std::vector<boost::beast::flat_buffer> spare_read_buffers;
  int buffered_waits = 0;             // sessions waiting for a request with a read buffer
  int requests_in_flight = 0;         // from the head's parse to the last response byte
  HttpSession* sessions = nullptr;    // intrusive list of live sessions
  std::atomic<int> live_sessions{0};  // read by Drain() from another thread
};

class HttpSession {
 public:
  HttpSession(LoopContext& loop, TcpSocket socket);
  ~HttpSession();
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;

  // The session's coroutine; it owns the session until the connection ends.
  static Task<void> Run(std::unique_ptr<HttpSession> session);

  bool idle() const { return idle_; }
  void Close() { stream_.Close(); }
  HttpSession* next() const { return next_; }

 private:
  Task<void> Serve();
  Task<bool> WaitForRequest();
  RequestHeadResult ParseBufferedHead();
  Task<bool> ReadHead();
  void StartBody();
  bool BodyDone() const { return !body_ || body_->is_done(); }
  Task<bool> ServeRequest();
  void AskGate(RequestHead& head);
  Task<void> WaitForVerdict();
  Task<ExchangeOutcome> AnswerLocally(LocalResponse& response, bool keep_alive);
  Task<void> Refuse(http::status status);
  Task<void> LingeringClose();

  LoopContext& loop_;
  NetStream stream_;
  ClientInfo client_;
  boost::beast::flat_buffer buffer_;
  // Holds the fields of the request head and of the upstream's response
  // head while a request is in flight; nothing while idle. Declared before
  // the heads, which must go first.
  HeaderArena header_arena_;
  std::optional<RequestHead> head_;  // parsed by ParseRequestHead
  RequestFraming framing_;
  // Decodes the request body; only a request with one has it.
  std::optional<RequestParser> body_;
  std::shared_ptr<ClientWatch> client_watch_;  // disconnect watch, armed across requests
  SteadyTimer gate_wakeup_;
  std::optional<GateVerdict> pending_verdict_;
  bool waiting_for_gate_ = false;
  std::thread::id loop_thread_;  // the event loop's thread, to recognise a late gate answer
  bool idle_ = true;
  bool keep_alive_ = false;  // the current response leaves the connection open
  HttpSession* prev_ = nullptr;
  HttpSession* next_ = nullptr;
};

}  // namespace gatehouse::server
