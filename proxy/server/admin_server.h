// AdminServer: the admin port (health, readiness, metrics, config push). One
// event loop on its own thread. Each request's head is read first (up to
// max_header_bytes, 431 beyond) and shown to AdminHandler::AdmitBody before
// any body byte is read: a refusal is answered at once, the body unread; a
// body admitted as large may reach max_body_bytes, any other
// max_small_body_bytes (413 beyond, from Content-Length before reading, or as
// a chunked body arrives). Large bodies are read one at a time
// (max_concurrent_large_bodies; 503 + Retry-After for another). Expect:
// 100-continue is honoured. The whole request then goes to Handle(), whose
// answer is written back.
//
//   AdminServer admin(handler, admin_options);
//   if (Status s = admin.Start(); !s.ok()) ...
//   admin.port();
//   admin.Stop();
//
// HTTPS when AdminOptions has a certificate and key (tls_context.h). With a
// `client_ca_file` as well (the push CA) the port asks every client for a
// certificate: one that verifies sets ClientInfo::client_cert_verified for
// the handler (which allows pushes only then); one that does not verify fails
// the handshake; none at all is served (probes and scrapes carry none).
//
//   AdminServer admin(handler, admin_options, "/etc/gatehouse/push/ca.crt");
#pragma once

// clang-format off
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange
// clang-format on

#include <cstdint>
#include <memory>
#include <string>

#include "proxy/core/status.h"
#include "proxy/server/gate.h"
#include "proxy/server/net_options.h"

namespace gatehouse::server {

class AdminServer {
 public:
  AdminServer(AdminHandler& handler, AdminOptions options, std::string client_ca_file = "");
  ~AdminServer();  // Stop()
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  Status Start();
  uint16_t port() const { return port_; }
  void Stop();

 private:
  struct State;
  AdminHandler& handler_;
  AdminOptions options_;
  std::string client_ca_file_;
  uint16_t port_ = 0;
  std::unique_ptr<State> state_;
};

}  // namespace gatehouse::server
