#include "operator/cli/operator_metrics.h"

#include <cpprest/http_listener.h>
#include <netinet/in.h>
#include <prometheus/text_serializer.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <exception>
#include <filesystem>
#include <map>
#include <system_error>

namespace gatehouse::operator_cli {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

const prometheus::Histogram::BucketBoundaries kSeconds = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                          0.25,  0.5,   1,    2.5,   5,    10};

prometheus::Family<prometheus::Counter>& ReconcilesFamily(prometheus::Registry& r) {
  return BuildCounter()
      .Name("gatehouse_operator_reconciles_total")
      .Help("Reconcile passes by result.")
      .Register(r);
}
prometheus::Family<prometheus::Gauge>& PoliciesFamily(prometheus::Registry& r) {
  return BuildGauge()
      .Name("gatehouse_operator_policies")
      .Help("AccessPolicies by state.")
      .Register(r);
}
prometheus::Family<prometheus::Gauge>& ProxiesFamily(prometheus::Registry& r) {
  return BuildGauge()
      .Name("gatehouse_operator_proxies")
      .Help("Proxies of the fleet by state.")
      .Register(r);
}

// Listening TCP sockets of this process: fd -> local port. The cpprest
// listener does not tell which port it bound ("HOST:0" picks one), so Start
// reads it back from the socket that opening the listener added.
std::map<int, int> ListeningPorts() {
  std::map<int, int> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    int fd = -1;
    try {
      fd = std::stoi(entry.path().filename().string());
    } catch (const std::exception&) {
      continue;
    }
    struct stat st {};
    int accepting = 0;
    socklen_t length = sizeof(accepting);
    if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode) ||
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length) != 0 || accepting == 0) {
      continue;
    }
    sockaddr_storage address{};
    socklen_t address_length = sizeof(address);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &address_length) != 0) continue;
    if (address.ss_family == AF_INET) {
      out[fd] = ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
    } else if (address.ss_family == AF_INET6) {
      out[fd] = ntohs(reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port);
    }
  }
  return out;
}

}  // namespace

OperatorMetrics::OperatorMetrics()
    : registry(std::make_shared<prometheus::Registry>()),
      reconciles_ok(ReconcilesFamily(*registry).Add({{"result", "ok"}})),
      reconciles_error(ReconcilesFamily(*registry).Add({{"result", "error"}})),
      reconcile_duration(BuildHistogram()
                             .Name("gatehouse_operator_reconcile_duration_seconds")
                             .Help("Time to gather, render and apply one reconcile pass.")
                             .Register(*registry)
                             .Add({}, kSeconds)),
      policies_accepted(PoliciesFamily(*registry).Add({{"state", "accepted"}})),
      policies_rejected(PoliciesFamily(*registry).Add({{"state", "rejected"}})),
      push_duration(BuildHistogram()
                        .Name("gatehouse_operator_push_duration_seconds")
                        .Help("Time of one config push to one proxy.")
                        .Register(*registry)
                        .Add({}, kSeconds)),
      proxies_in_sync(ProxiesFamily(*registry).Add({{"state", "in_sync"}})),
      proxies_stale(ProxiesFamily(*registry).Add({{"state", "stale"}})),
      proxies_unreachable(ProxiesFamily(*registry).Add({{"state", "unreachable"}})),
      config_version(BuildGauge()
                         .Name("gatehouse_operator_config_version")
                         .Help("Version of the fleet config the operator renders.")
                         .Register(*registry)
                         .Add({})) {}

std::string OperatorMetrics::Exposition() const {
  return prometheus::TextSerializer().Serialize(registry->Collect());
}

struct AdminServer::Impl {
  const OperatorMetrics& metrics;
  std::function<bool()> ready;
  std::unique_ptr<web::http::experimental::listener::http_listener> listener;
};

AdminServer::AdminServer(const OperatorMetrics& metrics, std::function<bool()> ready)
    : impl_(std::make_unique<Impl>(Impl{metrics, std::move(ready), nullptr})) {}

AdminServer::~AdminServer() {
  try {
    if (impl_->listener) impl_->listener->close().wait();
  } catch (const std::exception&) {
  }
}

Status AdminServer::Start(const std::string& address) {
  namespace http = web::http;
  try {
    impl_->listener =
        std::make_unique<http::experimental::listener::http_listener>("http://" + address);
    Impl* impl = impl_.get();
    impl_->listener->support(http::methods::GET, [impl](http::http_request request) {
      std::string path = request.relative_uri().path();
      if (path == "/healthz") {
        request.reply(http::status_codes::OK, "ok\n", "text/plain");
      } else if (path == "/readyz") {
        bool ready = impl->ready();
        request.reply(ready ? http::status_codes::OK : http::status_codes::ServiceUnavailable,
                      ready ? "ok\n" : "caches not synced\n", "text/plain");
      } else if (path == "/metrics") {
        request.reply(http::status_codes::OK, impl->metrics.Exposition(),
                      "text/plain; version=0.0.4");
      } else {
        request.reply(http::status_codes::NotFound, "not found\n", "text/plain");
      }
    });
    const std::map<int, int> before = ListeningPorts();
    impl_->listener->open().wait();
    // The port actually bound: the one asked for, or the new listening socket's.
    const size_t colon = address.rfind(':');
    const std::string host = colon == std::string::npos ? address : address.substr(0, colon);
    port_ = impl_->listener->uri().port();
    for (const auto& [fd, port] : ListeningPorts()) {
      auto it = before.find(fd);
      if (it == before.end() || it->second != port) port_ = port;
    }
    spdlog::info("admin on {}:{}", host, port_);
    return Status::Ok();
  } catch (const std::exception& e) {
    return UnavailableError("cannot listen on " + address + ": " + e.what());
  }
}

}  // namespace gatehouse::operator_cli
