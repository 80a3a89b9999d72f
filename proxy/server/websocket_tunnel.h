// WebSocket pass-through: after the upstream answered 101 Switching
// Protocols, bytes are copied both ways unchanged until either side closes or
// nothing moved in either direction for `idle_timeout`.
//
//   TunnelResult r = co_await RunWebSocketTunnel(client, client_leftover,
//                                                upstream, upstream_leftover, idle);
//
// Leftover bytes (read past the HTTP heads) are delivered first. Both streams
// are closed when the tunnel ends; neither is reusable afterwards.
#pragma once

// clang-format off
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange
// clang-format on

#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <cstdint>

#include "proxy/server/loop_executor.h"
#include "proxy/server/tls_context.h"

namespace gatehouse::server {

struct TunnelResult {
  uint64_t bytes_to_client = 0;
  uint64_t bytes_to_upstream = 0;
};

Task<TunnelResult> RunWebSocketTunnel(NetStream& client, boost::beast::flat_buffer& client_leftover,
                                      NetStream& upstream,
                                      boost::beast::flat_buffer& upstream_leftover,
                                      std::chrono::milliseconds idle_timeout);

}  // namespace gatehouse::server
