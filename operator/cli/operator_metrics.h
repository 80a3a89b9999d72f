// OperatorMetrics: every metric the operator exports (PRODUCT.md section 6),
// declared in this one place, and the /healthz /readyz /metrics admin server.
//
//   OperatorMetrics metrics;
//   metrics.reconciles_ok.Increment();
//   AdminServer admin("0.0.0.0:8081", metrics, [&] { return caches_synced; });
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <functional>
#include <memory>
#include <string>

#include "proxy/core/status.h"

namespace gatehouse::operator_cli {

struct OperatorMetrics {
  OperatorMetrics();
  std::string Exposition() const;  // Prometheus text format

  std::shared_ptr<prometheus::Registry> registry;
  prometheus::Counter& reconciles_ok;
  prometheus::Counter& reconciles_error;
  prometheus::Histogram& reconcile_duration;
  prometheus::Gauge& policies_accepted;
  prometheus::Gauge& policies_rejected;
  prometheus::Histogram& push_duration;
  prometheus::Gauge& proxies_in_sync;
  prometheus::Gauge& proxies_stale;
  prometheus::Gauge& proxies_unreachable;
  prometheus::Gauge& config_version;
};

// A tiny HTTP server (cpprest listener) for health and metrics.
//   AdminServer admin(metrics, ready);
//   admin.Start("127.0.0.1:0");  // then admin.port()
class AdminServer {
 public:
  AdminServer(const OperatorMetrics& metrics, std::function<bool()> ready);
  ~AdminServer();
  // "HOST:PORT"; PORT 0 binds a free port. Logs "admin on HOST:PORT" with
  // the port bound (what tests and scripts read to find it).
  Status Start(const std::string& address);
  int port() const { return port_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace gatehouse::operator_cli
