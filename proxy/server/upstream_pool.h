// UpstreamPool: the keep-alive connections of one event loop to its
// upstreams, keyed by UpstreamTarget::pool_key. Not thread-safe by design:
// each event loop owns one, so the hot path takes no lock.
//
//   UpstreamPool pool(upstream_tls_context, options);
//   AcquiredUpstream got{pool.TakeIdle(target.pool_key)};   // no suspension
//   if (!got.connection) got = co_await pool.Connect(target);
//   // or in one step: AcquiredUpstream got = co_await pool.Acquire(target);
//   if (got.error) ...                        // 502 (refused, TLS) or 504 (connect timeout)
//   ... exchange on got.connection->stream ...
//   if (response allowed keep-alive) pool.Release(std::move(got.connection));
//
// Idle connections are reused newest first and only if a non-blocking peek
// shows the upstream has not closed them; at most `max_idle` are kept per key.
#pragma once

// clang-format off
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange
// clang-format on

#include <atomic>
#include <boost/beast/core/flat_buffer.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "proxy/server/gate.h"
#include "proxy/server/loop_executor.h"
#include "proxy/server/net_options.h"
#include "proxy/server/tls_context.h"

namespace gatehouse::server {

struct UpstreamConnection {
  UpstreamConnection(NetStream s, std::string key)
      : stream(std::move(s)), pool_key(std::move(key)) {}
  NetStream stream;
  boost::beast::flat_buffer buffer;  // read buffer; empty between exchanges
  std::string pool_key;
  bool reused = false;  // served an earlier exchange (a failure may be a stale keep-alive)
};

struct AcquiredUpstream {
  std::unique_ptr<UpstreamConnection> connection;
  boost::system::error_code error;  // set when no connection could be made
  bool timed_out = false;           // the connect or TLS handshake hit the deadline
};

class UpstreamPool {
 public:
  // `tls_context` verifies HTTPS upstreams; it must outlive the pool.
  UpstreamPool(ssl::context& tls_context, const NetOptions& options)
      : tls_context_(tls_context), options_(options) {}
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  Task<AcquiredUpstream> Acquire(const UpstreamTarget& target);
  // An idle connection for `pool_key` that still looks alive, or null.
  std::unique_ptr<UpstreamConnection> TakeIdle(const std::string& pool_key);
  // A new connection (TCP, and TLS for https).
  Task<AcquiredUpstream> Connect(const UpstreamTarget& target);
  // Keeps a connection whose last response allowed keep-alive and was read whole.
  void Release(std::unique_ptr<UpstreamConnection> connection);
  // Closes every idle connection (drain, shutdown).
  void Clear() { idle_.clear(); }

  std::size_t IdleCount() const;
  uint64_t connects() const { return connects_.load(std::memory_order_relaxed); }  // made so far

 private:
  ssl::context& tls_context_;
  const NetOptions& options_;
  std::unordered_map<std::string, std::vector<std::unique_ptr<UpstreamConnection>>> idle_;
  std::atomic<uint64_t> connects_{0};  // written by the loop, read by tests and metrics
};

}  // namespace gatehouse::server
