#include "proxy/server/websocket_tunnel.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/write.hpp>
#include <exception>
#include <memory>

namespace gatehouse::server {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kTunnelChunk = 16 * 1024;

struct TunnelState {
  NetStream& client;
  NetStream& upstream;
  Clock::time_point last_activity = Clock::now();
  int running = 0;
  SteadyTimer* wakeup = nullptr;

  void CloseBoth() {
    client.Close();
    upstream.Close();
  }
};

Task<void> Pump(TunnelState& state, NetStream& from, NetStream& to, uint64_t& count) {
  auto buffer = std::make_unique<char[]>(kTunnelChunk);
  boost::system::error_code ec;
  for (;;) {
    const std::size_t n = co_await from.async_read_some(asio::buffer(buffer.get(), kTunnelChunk),
                                                        asio::redirect_error(kUseTask, ec));
    if (ec) break;
    state.last_activity = Clock::now();
    co_await asio::async_write(to, asio::buffer(buffer.get(), n),
                               asio::redirect_error(kUseTask, ec));
    if (ec) break;
    count += n;
  }
  // One side ended: the tunnel is over for both (a half-open WebSocket is useless).
  state.CloseBoth();
}

Task<bool> Flush(NetStream& to, boost::beast::flat_buffer& pending, uint64_t& count) {
  if (pending.size() == 0) co_return true;
  boost::system::error_code ec;
  const std::size_t n =
      co_await asio::async_write(to, pending.data(), asio::redirect_error(kUseTask, ec));
  pending.consume(pending.size());
  count += n;
  co_return !ec;
}

}  // namespace

Task<TunnelResult> RunWebSocketTunnel(NetStream& client, boost::beast::flat_buffer& client_leftover,
                                      NetStream& upstream,
                                      boost::beast::flat_buffer& upstream_leftover,
                                      std::chrono::milliseconds idle_timeout) {
  TunnelResult result;
  client.tcp().expires_never();
  upstream.tcp().expires_never();
  if (!co_await Flush(upstream, client_leftover, result.bytes_to_upstream) ||
      !co_await Flush(client, upstream_leftover, result.bytes_to_client)) {
    client.Close();
    upstream.Close();
    co_return result;
  }
  auto executor = co_await asio::this_coro::executor;
  SteadyTimer wakeup(executor);
  TunnelState state{client, upstream};
  state.wakeup = &wakeup;
  auto on_pump_done = [&state](std::exception_ptr) {
    --state.running;
    state.wakeup->cancel();
  };
  state.running = 2;
  asio::co_spawn(executor, Pump(state, upstream, client, result.bytes_to_client), on_pump_done);
  asio::co_spawn(executor, Pump(state, client, upstream, result.bytes_to_upstream), on_pump_done);
  // Watchdog: the pumps own the reads; this frame outlives them (it waits for
  // both), so their references to `state` and `result` stay valid.
  while (state.running > 0) {
    wakeup.expires_at(state.last_activity + idle_timeout);
    boost::system::error_code ec;
    co_await wakeup.async_wait(asio::redirect_error(kUseTask, ec));
    if (state.running > 0 && Clock::now() - state.last_activity >= idle_timeout) {
      state.CloseBoth();
    }
  }
  co_return result;
}

}  // namespace gatehouse::server
