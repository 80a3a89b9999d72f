#include "proxy/server/proxy_server.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <exception>
#include <future>
#include <optional>
#include <thread>

#include "proxy/server/http_session.h"
#include "proxy/server/loop_executor.h"
#include "proxy/server/tls_context.h"

namespace gatehouse::server {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// SO_REUSEPORT: every loop binds the same address; the kernel load-balances accepts.
using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

constexpr std::chrono::milliseconds kAcceptBackoff{50};

}  // namespace

struct ProxyServer::TlsContexts {
  std::unique_ptr<ssl::context> listener;  // null: plain HTTP
  std::unique_ptr<ssl::context> upstream;
};

// Declaration order is destruction order in reverse: the io_context goes
// after the acceptor and pool that use its services, and before the context
// that its pending coroutines (sessions) reference.
struct ProxyServer::Loop {
  Loop(Gate& gate, const NetOptions& options, ssl::context* listener_tls, ssl::context& upstream)
      : context(gate, options, listener_tls, upstream) {}
  LoopContext context;
  // One thread runs each loop and alone touches its sockets and timers (other
  // threads only post to it and stop it): the reactor takes no lock per I/O
  // operation; posting stays thread-safe.
  asio::io_context io{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  std::optional<TcpAcceptor> acceptor;
  std::thread thread;
};

namespace {

Task<void> AcceptLoop(TcpAcceptor& acceptor, LoopContext& context) {
  SteadyTimer backoff(acceptor.get_executor());
  for (;;) {
    error_code ec;
    TcpSocket socket = co_await acceptor.async_accept(asio::redirect_error(kUseTask, ec));
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      // EMFILE and friends: back off instead of spinning; the listener stays up.
      backoff.expires_after(kAcceptBackoff);
      co_await backoff.async_wait(asio::redirect_error(kUseTask, ec));
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto session = std::make_unique<HttpSession>(context, std::move(socket));
    asio::co_spawn(acceptor.get_executor(), HttpSession::Run(std::move(session)),
                   [](std::exception_ptr) {});
  }
}

}  // namespace

ProxyServer::ProxyServer(Gate& gate, NetOptions options)
    : gate_(gate), options_(std::move(options)) {}

ProxyServer::~ProxyServer() { Stop(); }

Status ProxyServer::BindAcceptor(Loop& loop) {
  error_code ec;
  const auto address = asio::ip::make_address(options_.listen_address, ec);
  if (ec)
    return InvalidArgumentError("listen address " + options_.listen_address + ": " + ec.message());
  const tcp::endpoint endpoint(address, port_ ? port_ : options_.listen_port);
  auto& acceptor = loop.acceptor.emplace(loop.io);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(TcpAcceptor::reuse_address(true), ec);
  if (!ec) acceptor.set_option(ReusePort(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return UnavailableError("cannot listen on " + options_.listen_address + ":" +
                            std::to_string(endpoint.port()) + ": " + ec.message());
  }
  port_ = acceptor.local_endpoint().port();
  return Status::Ok();
}

Status ProxyServer::Start() {
  if (started_) return FailedPreconditionError("ProxyServer already started");
  tls_ = std::make_unique<TlsContexts>();
  if (!options_.tls_cert_file.empty() || !options_.tls_key_file.empty()) {
    auto listener = MakeServerTlsContext(options_.tls_cert_file, options_.tls_key_file);
    if (!listener.ok()) return listener.status();
    tls_->listener = std::move(*listener);
  }
  auto upstream = MakeUpstreamTlsContext(options_.upstream_ca_file);
  if (!upstream.ok()) return upstream.status();
  tls_->upstream = std::move(*upstream);

  int threads = options_.threads;
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < threads; ++i) {
    auto loop = std::make_unique<Loop>(gate_, options_, tls_->listener.get(), *tls_->upstream);
    if (Status s = BindAcceptor(*loop); !s.ok()) {
      loops_.clear();
      return s;
    }
    loops_.push_back(std::move(loop));
  }
  for (auto& loop : loops_) {
    asio::co_spawn(loop->io, AcceptLoop(*loop->acceptor, loop->context), [](std::exception_ptr) {});
    loop->thread = std::thread([io = &loop->io] {
      auto guard = asio::make_work_guard(*io);
      io->run();
    });
  }
  started_ = true;
  return Status::Ok();
}

void ProxyServer::StopAccepting() {
  for (auto& loop : loops_) {
    std::promise<void> done;
    asio::post(loop->io, [&loop, &done] {
      error_code ignored;
      if (loop->acceptor) loop->acceptor->close(ignored);
      done.set_value();
    });
    // Returns once no loop accepts any more: a connect after this is refused.
    if (started_) done.get_future().wait();
  }
}

bool ProxyServer::Drain(std::chrono::steady_clock::time_point deadline) {
  if (!started_) return true;
  StopAccepting();
  for (auto& loop : loops_) {
    asio::post(loop->io, [context = &loop->context] {
      context->draining = true;
      context->CloseIdleSessions();
      context->pool.Clear();
    });
  }
  bool drained = false;
  while (!drained) {
    drained = LiveConnections() == 0;
    if (drained || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  Stop();
  return drained;
}

void ProxyServer::Stop() {
  if (!started_) return;
  started_ = false;
  for (auto& loop : loops_) {
    asio::post(loop->io, [loop = loop.get()] {
      error_code ignored;
      if (loop->acceptor) loop->acceptor->close(ignored);
      loop->context.CloseAllSessions();
      loop->context.pool.Clear();
    });
  }
  // Give sessions a moment to observe their closed sockets (Finish is then
  // reported as client_aborted), then stop the loops.
  const auto grace = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
  while (LiveConnections() > 0 && std::chrono::steady_clock::now() < grace) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  for (auto& loop : loops_) loop->io.stop();
  for (auto& loop : loops_) {
    if (loop->thread.joinable()) loop->thread.join();
    // The loop's thread is gone: close pooled sockets while their io_context still exists.
    loop->context.pool.Clear();
    loop->acceptor.reset();
  }
  loops_.clear();
}

int ProxyServer::LiveConnections() const {
  int total = 0;
  for (const auto& loop : loops_)
    total += loop->context.live_sessions.load(std::memory_order_relaxed);
  return total;
}

uint64_t ProxyServer::UpstreamConnects() const {
  uint64_t total = 0;
  for (const auto& loop : loops_) total += loop->context.pool.connects();
  return total;
}

}  // namespace gatehouse::server
