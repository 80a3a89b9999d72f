// AdminEndpoints: the admin port's AdminHandler (gate.h).
//
//   AdminEndpoints admin(store, metrics, {.push_auth = PushAuth::kClientCertificate});
//   AdminEndpoints local(store, metrics, {.admin_address = "127.0.0.1"});  // no push CA
//   LocalResponse r = admin.Handle(request, client);
//
//   GET  /healthz     200 "ok" while the process runs
//   GET  /readyz      200 with a config loaded, else 503
//   GET  /metrics     Prometheus text exposition (version 0.0.4)
//   GET  /v1/config   {"version":N,"sha256":"..."} (404 before any config)
//   PUT  /v1/config   a fleet config: 200 {"version","sha256"} now in force;
//                     the only request admitted with a large body (AdmitBody),
//                     and only from a client allowed to push;
//                     400 {"error": ...} invalid (the old config stays);
//                     409 older than (or conflicting with) the version in force;
//                     403 when the push is not authenticated (PushAuth below)
//   anything else     404 (405 for a known path with another method)
#pragma once

#include <functional>
#include <string>

#include "proxy/server/config_store.h"
#include "proxy/server/gate.h"
#include "proxy/server/proxy_metrics.h"

namespace gatehouse::server {

// How PUT /v1/config is authenticated (PRODUCT.md section 4). A push
// replaces every policy of the proxy and carries the fleet's secrets, so
// whoever may push owns the proxy.
enum class PushAuth {
  // No push CA: plain-HTTP pushes only when the admin port is bound to a
  // loopback address (nobody off the machine can reach it), and only from a
  // loopback peer. Bound to anything else, every push is refused.
  kLoopback,
  // --push-ca: only connections whose client certificate verified against the
  // push CA (ClientInfo::client_cert_verified, set by AdminServer).
  kClientCertificate,
};

struct AdminEndpointOptions {
  PushAuth push_auth = PushAuth::kLoopback;
  // The IP literal the admin port is bound to ("127.0.0.1", "0.0.0.0", "::1").
  // kLoopback refuses every push unless this is a loopback address; empty or
  // unparsable counts as not loopback (deny by default).
  std::string admin_address;
};

// One line for the start-up log: which pushes this admin port accepts.
std::string DescribePushAuth(const AdminEndpointOptions& options);

class AdminEndpoints final : public AdminHandler {
 public:
  using PushHook = std::function<void(const StatusOr<ConfigVersion>&)>;  // for logging

  AdminEndpoints(ConfigStore& store, ProxyMetrics& metrics, AdminEndpointOptions options = {})
      : store_(store), metrics_(metrics), options_(options) {}

  void SetPushHook(PushHook hook) { push_hook_ = std::move(hook); }

  // Before any body byte is read: PUT /v1/config from a client allowed to
  // push may carry a large body; the same from anyone else gets its 403 now,
  // its body unread; every other request is held to the small body limit.
  AdminBodyAdmission AdmitBody(const AdminHead& head, const ClientInfo& client) override;

  LocalResponse Handle(const AdminRequest& request, const ClientInfo& client) override;

 private:
  LocalResponse PutConfig(const AdminRequest& request, const ClientInfo& client);

  ConfigStore& store_;
  ProxyMetrics& metrics_;
  AdminEndpointOptions options_;
  PushHook push_hook_;
};

// 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104.
bool IsLoopback(const policy::IpAddress& address);

}  // namespace gatehouse::server
