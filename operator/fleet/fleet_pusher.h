// FleetPusher: the I/O half of the fleet — finds proxies in EndpointSlices,
// asks each which config it runs (GET /v1/config) and pushes the current one
// (PUT /v1/config) to those that differ, all due proxies at once (up to
// `max_parallel` in flight). A proxy known to run another config is pushed
// without asking first (FleetTracker::NeedsQuery). FleetTracker holds the
// state; this only talks.
//
//   FleetPusher pusher({.ca_file = ..., .cert_file = ..., .key_file = ...});
//   tracker.SetMembers(ProxiesFromEndpointSlices(slices, pusher.scheme()));
//   pusher.Sync(config, &tracker);       // blocks until this round is done
//
// Security: the pushed body carries the policies' secrets. With mTLS options
// the operator presents its client certificate and verifies the proxy's
// server certificate against the push CA; without them only loopback
// addresses are allowed (CheckPushTarget), so secrets never cross a network
// in plaintext.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "operator/fleet/fleet_tracker.h"
#include "proxy/core/status.h"
#include "proxy/policy/fleet_config.h"

namespace gatehouse::fleet {

struct PushTls {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // The name the proxies' admin certificates carry (checked, and sent as SNI
  // and Host). Pods come and go with new IPs, so in a cluster the certificate
  // names the admin Service ("gatehouse-proxy-admin.gatehouse.svc") rather
  // than each pod. Empty: the URL's host is checked.
  std::string server_name;
  bool enabled() const { return !ca_file.empty(); }
};

// OK for https:// with TLS configured, or http:// to 127.0.0.0/8, [::1] or
// localhost; PermissionDenied naming the URL otherwise.
Status CheckPushTarget(const std::string& url, bool tls);

// Admin URLs of every endpoint (ready or not: a proxy without config is not
// ready yet) of the slices, from the port named "admin" ("<scheme>://ip:port").
std::vector<std::string> ProxiesFromEndpointSlices(const std::vector<nlohmann::json>& slices,
                                                   const std::string& scheme);

struct PushRound {
  int checked = 0;
  int pushed = 0;
  int failed = 0;
  std::vector<std::string> errors;  // "url: what" (never bodies)
};

// Keeps one HTTP(S) client per proxy, so a change travels over a live
// keep-alive connection instead of a new TLS handshake per push; a client that
// failed is dropped and the next attempt connects afresh.
//
// A round runs every due proxy's exchange on its own worker thread (at most
// `max_parallel`, the caller's thread being one of them), so a change reaches
// the fleet in about one exchange time rather than one per batch; the round
// returns when the slowest has answered or timed out (5 s).
class FleetPusher {
 public:
  static constexpr int kDefaultMaxParallel = 64;
  explicit FleetPusher(PushTls tls, int max_parallel = kDefaultMaxParallel);
  ~FleetPusher();
  std::string scheme() const { return tls_.enabled() ? "https" : "http"; }
  Status Validate(const std::vector<std::string>& urls) const;
  // One round over the tracker's due proxies.
  PushRound Sync(const policy::FleetConfig& config, FleetTracker* tracker);
  // Observes each push's duration in seconds.
  void SetPushObserver(std::function<void(double)> observe) { observe_ = std::move(observe); }

 private:
  struct Answer {
    bool reached = false;
    int64_t version = 0;
    std::string sha256;
    bool pushed = false;
    double push_seconds = 0;  // the PUT's duration when one was sent
    std::string error;
  };
  // `query_first`: GET /v1/config before deciding to PUT (see NeedsQuery).
  // `header`: the envelope's header line (FleetConfigHeader), sent before the content.
  Answer CheckAndPush(const std::string& url, bool query_first, const policy::FleetConfig& config,
                      const std::string& header);
  std::vector<Answer> RunAll(const std::vector<std::pair<std::string, bool>>& jobs,
                             const policy::FleetConfig& config, const std::string& header);

  struct Clients;  // url -> cpprestsdk client (fleet_pusher.cc)

  PushTls tls_;
  int max_parallel_;
  std::unique_ptr<Clients> clients_;
  std::function<void(double)> observe_;
};

}  // namespace gatehouse::fleet
