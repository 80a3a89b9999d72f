// AdminEndpoints: the admin port's AdminHandler (gate.h).
//
//   AdminEndpoints admin(store, metrics, {.push_loopback_only = true});
//   LocalResponse r = admin.Handle(request, client);
//
//   GET  /healthz     200 "ok" while the process runs
//   GET  /readyz      200 with a config loaded, else 503
//   GET  /metrics     Prometheus text exposition (version 0.0.4)
//   GET  /v1/config   {"version":N,"sha256":"..."} (404 before any config)
//   PUT  /v1/config   a fleet config: 200 {"version","sha256"} now in force;
//                     400 {"error": ...} invalid (the old config stays);
//                     409 older than (or conflicting with) the version in force;
//                     403 from a non-loopback client when pushes are loopback-only
//   anything else     404 (405 for a known path with another method)
#pragma once

#include <functional>
#include <string>

#include "proxy/server/config_store.h"
#include "proxy/server/gate.h"
#include "proxy/server/proxy_metrics.h"

namespace gatehouse::server {

struct AdminEndpointOptions {
  // Without mTLS (a later issue) a push is accepted only from a loopback
  // peer, so nobody else on the network can replace the policies.
  bool push_loopback_only = true;
};

class AdminEndpoints final : public AdminHandler {
 public:
  using PushHook = std::function<void(const StatusOr<ConfigVersion>&)>;  // for logging

  AdminEndpoints(ConfigStore& store, ProxyMetrics& metrics, AdminEndpointOptions options = {})
      : store_(store), metrics_(metrics), options_(options) {}

  void SetPushHook(PushHook hook) { push_hook_ = std::move(hook); }

  LocalResponse Handle(const http::request<http::string_body>& request,
                       const ClientInfo& client) override;

 private:
  LocalResponse PutConfig(const http::request<http::string_body>& request,
                          const ClientInfo& client);

  ConfigStore& store_;
  ProxyMetrics& metrics_;
  AdminEndpointOptions options_;
  PushHook push_hook_;
};

// 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104.
bool IsLoopback(const policy::IpAddress& address);

}  // namespace gatehouse::server
