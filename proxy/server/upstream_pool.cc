#include "proxy/server/upstream_pool.h"

#include <sys/socket.h>

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <cerrno>

namespace gatehouse::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

// An idle keep-alive connection is usable only if the upstream has not
// closed it (peek returns 0) or failed it. Unsolicited bytes on a plain
// connection mean the framing is off: drop it. On TLS they may be a
// post-handshake message (TLS 1.3 session ticket), so only EOF/errors count.
bool LooksAlive(UpstreamConnection& connection) {
  char byte;
  const ssize_t n =
      ::recv(connection.stream.tcp().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
  if (n == 0) return false;
  return connection.stream.is_tls();
}

}  // namespace

std::size_t UpstreamPool::IdleCount() const {
  std::size_t count = 0;
  for (const auto& [key, connections] : idle_) count += connections.size();
  return count;
}

std::unique_ptr<UpstreamConnection> UpstreamPool::TakeIdle(const std::string& pool_key) {
  auto it = idle_.find(pool_key);
  if (it == idle_.end()) return nullptr;
  auto& connections = it->second;
  while (!connections.empty()) {
    std::unique_ptr<UpstreamConnection> connection = std::move(connections.back());
    connections.pop_back();
    if (LooksAlive(*connection)) {
      connection->reused = true;
      return connection;
    }
  }
  return nullptr;
}

void UpstreamPool::Release(std::unique_ptr<UpstreamConnection> connection) {
  if (!connection || connection->buffer.size() != 0) return;  // leftover bytes: framing is off
  auto& connections = idle_[connection->pool_key];
  if (connections.size() >= options_.max_idle_upstream_connections) return;  // closed by dtor
  connection->stream.tcp().expires_never();
  connections.push_back(std::move(connection));
}

Task<AcquiredUpstream> UpstreamPool::Acquire(const UpstreamTarget& target) {
  if (auto idle = TakeIdle(target.pool_key)) co_return AcquiredUpstream{std::move(idle), {}, false};
  co_return co_await Connect(target);
}

Task<AcquiredUpstream> UpstreamPool::Connect(const UpstreamTarget& target) {
  AcquiredUpstream result;
  auto executor = co_await asio::this_coro::executor;
  const bool use_tls = target.scheme == "https";
  if (!use_tls && target.scheme != "http") {
    result.error = asio::error::operation_not_supported;
    co_return result;
  }
  DeadlineStream tcp_stream(executor);
  tcp_stream.expires_after(options_.upstream_connect_timeout);
  beast::error_code ec;
  auto address = asio::ip::make_address(target.host, ec);
  if (!ec) {
    const std::array<tcp::endpoint, 1> endpoint{tcp::endpoint(address, target.port)};
    co_await tcp_stream.async_connect(endpoint, asio::redirect_error(kUseTask, ec));
  } else {
    TcpResolver resolver(executor);
    auto endpoints = co_await resolver.async_resolve(target.host, std::to_string(target.port),
                                                     asio::redirect_error(kUseTask, ec));
    if (!ec) {
      co_await tcp_stream.async_connect(endpoints, asio::redirect_error(kUseTask, ec));
    }
  }
  if (ec) {
    result.error = ec;
    result.timed_out = ec == beast::error::timeout;
    co_return result;
  }
  tcp_stream.socket().set_option(tcp::no_delay(true), ec);
  connects_.fetch_add(1, std::memory_order_relaxed);
  if (!use_tls) {
    tcp_stream.expires_never();
    result.connection =
        std::make_unique<UpstreamConnection>(NetStream(std::move(tcp_stream)), target.pool_key);
    co_return result;
  }
  auto connection = std::make_unique<UpstreamConnection>(
      NetStream(std::move(tcp_stream), tls_context_), target.pool_key);
  if (!SetClientTlsPeer(*connection->stream.tls(), target.host).ok()) {
    result.error = asio::error::invalid_argument;
    co_return result;
  }
  co_await connection->stream.tls()->async_handshake(ssl::stream_base::client,
                                                     asio::redirect_error(kUseTask, ec));
  if (ec) {
    result.error = ec;
    result.timed_out = ec == beast::error::timeout;
    co_return result;
  }
  connection->stream.tcp().expires_never();
  result.connection = std::move(connection);
  co_return result;
}

}  // namespace gatehouse::server
