// ClientWatch and ClientWatchSweep: how an exchange notices that its client
// went away while it waits for the upstream (Metabase cancels a query when its
// socket closes, so the proxy must close the upstream connection at once).
//
//   ClientWatchSweep sweep;                   // one per event loop
//   // in an exchange, when the request is sent and the answer awaited:
//   if (!watch->armed) sweep.Enlist(*watch);  // armed later if the wait is long
//   ... read the upstream's answer ...
//   sweep.Delist(*watch);                     // answered: nothing was armed
#pragma once

// clang-format off
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange
// clang-format on

#include <chrono>
#include <cstdint>
#include <memory>

#include "proxy/server/loop_executor.h"
#include "proxy/server/tls_context.h"

namespace gatehouse::server {

struct UpstreamConnection;
class ClientWatchSweep;

// Watches a client socket for a disconnect while an exchange waits for the
// upstream. One per client connection (the session keeps it, the exchange
// creates it on first use); once armed, its socket wait stays armed across
// requests, so a warm connection costs no wait and no cancel per request.
// Shared with the completion handler of the client-socket wait, which may run
// after the exchange (or the whole session) is gone: with `exchange_active`
// false, or an aborted wait, nothing but `armed` is touched.
struct ClientWatch : std::enable_shared_from_this<ClientWatch> {
  bool armed = false;            // a wait on the client socket is outstanding
  bool exchange_active = false;  // an exchange is waiting for its upstream
  bool client_gone = false;
  NetStream* client = nullptr;
  UpstreamConnection* upstream = nullptr;
  // Enlisted with the loop's ClientWatchSweep while the exchange waits unwatched.
  ClientWatchSweep* sweep = nullptr;
  ClientWatch* prev = nullptr;
  ClientWatch* next = nullptr;
  uint64_t enlisted_at = 0;  // the sweep's generation when it was enlisted
};

// Arms the disconnect watch of an exchange only once it has waited for its
// upstream between one and two periods: an upstream that answers sooner (most
// do) costs no socket wait, which is an epoll_ctl system call per request; a
// slow one (a Metabase query) is watched from then on, so a client that left
// still cancels it within two periods. One per event loop, used by that loop
// only; its timer runs only while some exchange waits unwatched.
class ClientWatchSweep {
 public:
  static constexpr std::chrono::milliseconds kDefaultPeriod{50};
  explicit ClientWatchSweep(std::chrono::milliseconds period = kDefaultPeriod) : period_(period) {}
  ClientWatchSweep(const ClientWatchSweep&) = delete;
  ClientWatchSweep& operator=(const ClientWatchSweep&) = delete;

  void Enlist(ClientWatch& watch);
  void Delist(ClientWatch& watch);  // no-op unless enlisted here

 private:
  Task<void> Run();

  std::chrono::milliseconds period_;
  ClientWatch* head_ = nullptr;  // intrusive list of enlisted watches
  uint64_t generation_ = 0;      // ticks so far
  bool running_ = false;
};

// Starts a wait on the watch's client socket (an epoll_ctl): a disconnect
// while `exchange_active` closes `upstream` and sets `client_gone`.
void ArmClientWatch(const std::shared_ptr<ClientWatch>& watch);

}  // namespace gatehouse::server
