#include "proxy/server/client_watch.h"

#include <sys/socket.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <cerrno>

#include "proxy/server/upstream_pool.h"

namespace gatehouse::server {

namespace asio = boost::asio;
using boost::system::error_code;

void ArmClientWatch(const std::shared_ptr<ClientWatch>& watch) {
  watch->armed = true;
  watch->client->tcp().socket().async_wait(
      asio::socket_base::wait_read, [watch](const error_code& ec) {
        watch->armed = false;
        if (ec == asio::error::operation_aborted || !watch->exchange_active) return;
        if (!ec) {
          // Readable while the exchange waits. The wakeup may be stale (armed
          // by an earlier exchange, its bytes already read), so peek: bytes
          // are a pipelined request (not a disconnect: stop watching this
          // exchange), nothing yet is a stale wakeup (watch again), and only
          // end of stream or a socket error means the client is gone.
          char byte = 0;
          const ssize_t n = ::recv(watch->client->tcp().socket().native_handle(), &byte, 1,
                                   MSG_PEEK | MSG_DONTWAIT);
          if (n > 0) return;
          if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            ArmClientWatch(watch);
            return;
          }
        }
        watch->client_gone = true;
        watch->upstream->stream.Close();
      });
}

void ClientWatchSweep::Enlist(ClientWatch& watch) {
  watch.sweep = this;
  watch.enlisted_at = generation_;
  watch.prev = nullptr;
  watch.next = head_;
  if (head_) head_->prev = &watch;
  head_ = &watch;
  if (!running_) {
    running_ = true;
    asio::co_spawn(watch.client->get_executor(), Run(), asio::detached);
  }
}

void ClientWatchSweep::Delist(ClientWatch& watch) {
  if (watch.sweep != this) return;
  if (watch.prev) watch.prev->next = watch.next;
  if (watch.next) watch.next->prev = watch.prev;
  if (head_ == &watch) head_ = watch.next;
  watch.sweep = nullptr;
  watch.prev = watch.next = nullptr;
}

// Runs while some exchange waits unwatched; ends when none does (an idle loop
// keeps no timer). An exchange enlisted before the previous tick has waited at
// least one period: its wait is armed now (an epoll_ctl), and it leaves the list.
Task<void> ClientWatchSweep::Run() {
  SteadyTimer timer(co_await asio::this_coro::executor);
  while (head_) {
    timer.expires_after(period_);
    error_code ec;
    co_await timer.async_wait(asio::redirect_error(kUseTask, ec));
    if (ec) break;
    ++generation_;
    for (ClientWatch* watch = head_; watch;) {
      ClientWatch* next = watch->next;
      if (watch->enlisted_at + 1 < generation_) {
        Delist(*watch);
        if (!watch->armed) ArmClientWatch(watch->shared_from_this());
      }
      watch = next;
    }
  }
  running_ = false;
}

}  // namespace gatehouse::server
