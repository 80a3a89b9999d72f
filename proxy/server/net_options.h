// NetOptions and AdminOptions: the knobs of the proxy's data path and admin
// port, filled from command-line flags by the binary and from short values by
// tests.
//
//   NetOptions options;
//   options.listen_address = "127.0.0.1";
//   options.listen_port = 0;              // 0: pick a free port (tests)
//   options.header_timeout = std::chrono::milliseconds(500);
//   ProxyServer server(gate, options);
//
// Defaults are the production values. Every limit exists to bound the memory
// or the time one hostile client can take from everyone else.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace gatehouse::server {

struct NetOptions {
  std::string listen_address = "0.0.0.0";
  uint16_t listen_port = 8080;
  int threads = 0;  // event loops; 0 = one per core

  // HTTPS on the listener when both are set (PEM files).
  std::string tls_cert_file;
  std::string tls_key_file;

  // Request head limits: beyond either the client gets 431 and is closed.
  std::size_t max_header_bytes = 64 * 1024;
  std::size_t max_header_count = 100;
  // Size of the bounded buffers bodies stream through, in each direction.
  std::size_t body_chunk_bytes = 64 * 1024;

  // The whole request head must arrive within this (slowloris).
  std::chrono::milliseconds header_timeout{10'000};
  // A keep-alive connection with no request in flight is closed after this;
  // also bounds each write to a client that stopped reading and each idle
  // gap of a WebSocket tunnel.
  std::chrono::milliseconds idle_timeout{60'000};
  // Connecting (and the TLS handshake) to an upstream.
  std::chrono::milliseconds upstream_connect_timeout{10'000};

  // Idle upstream connections kept per upstream (pool_key) per event loop.
  std::size_t max_idle_upstream_connections = 64;
  // Extra CA bundle for HTTPS upstreams; empty: the system store only.
  std::string upstream_ca_file;
};

struct AdminOptions {
  std::string listen_address = "0.0.0.0";
  uint16_t listen_port = 9901;
  std::string tls_cert_file;  // HTTPS when both are set
  std::string tls_key_file;
  // 413 beyond. A fleet config is ~1.5 KB per policy (15.5 MB for 10,000): 64 MiB
  // leaves 3x headroom at that scale; the body is read whole by the admin port only,
  // and only for a request the handler admits as large (a push from a client
  // allowed to push, AdminHandler::AdmitBody), one at a time.
  std::size_t max_body_bytes = 64 * 1024 * 1024;
  // Every other request: 413 beyond this, decided from the head before any
  // body byte is read, so a client that may not push cannot make the port
  // buffer more than this per connection.
  std::size_t max_small_body_bytes = 64 * 1024;
  // Large bodies being read or applied at once; another gets 503 + Retry-After
  // before its body is read (the operator retries with backoff).
  std::size_t max_concurrent_large_bodies = 1;
  std::size_t max_header_bytes = 64 * 1024;  // 431 beyond
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds idle_timeout{60'000};
};

}  // namespace gatehouse::server
