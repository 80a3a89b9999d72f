// ProxyServer: the proxy's listener. N event loops, each an io_context on its
// own thread with its own SO_REUSEPORT acceptor on the listen address, its
// own upstream pool and body buffers: the kernel spreads connections across
// loops and nothing is shared (or locked) on the hot path.
//
//   ProxyServer server(gate, options);          // options: net_options.h
//   if (Status s = server.Start(); !s.ok()) ... // binds now: errors are immediate
//   server.port();                              // the bound port (listen_port 0 in tests)
//   ...
//   server.Drain(std::chrono::steady_clock::now() + 25s);   // SIGTERM: finish in-flight, then stop
//   // or server.Stop();                                    // abrupt
//
// Drain: stop accepting (new connections are refused), close idle keep-alive
// connections at once, let in-flight requests finish (their connections then
// close) until the deadline, then Stop(). The gate must outlive the server.
#pragma once

// clang-format off
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange
// clang-format on

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "proxy/core/status.h"
#include "proxy/server/gate.h"
#include "proxy/server/net_options.h"

namespace gatehouse::server {

class ProxyServer {
 public:
  ProxyServer(Gate& gate, NetOptions options);
  ~ProxyServer();  // Stop()
  ProxyServer(const ProxyServer&) = delete;
  ProxyServer& operator=(const ProxyServer&) = delete;

  // Loads TLS material, binds one acceptor per loop and starts the threads.
  Status Start();
  uint16_t port() const { return port_; }
  int threads() const { return static_cast<int>(loops_.size()); }

  void StopAccepting();
  // Returns true when every connection finished before the deadline.
  bool Drain(std::chrono::steady_clock::time_point deadline);
  void Stop();

  // Live client connections across loops (approximate while traffic flows).
  int LiveConnections() const;
  // New upstream connections made so far, across loops (tests: keep-alive reuse).
  uint64_t UpstreamConnects() const;

 private:
  struct Loop;

  Status BindAcceptor(Loop& loop);

  Gate& gate_;
  NetOptions options_;
  uint16_t port_ = 0;
  bool started_ = false;
  struct TlsContexts;
  std::unique_ptr<TlsContexts> tls_;
  std::vector<std::unique_ptr<Loop>> loops_;
};

}  // namespace gatehouse::server
