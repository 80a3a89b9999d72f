#include "proxy/server/admin_endpoints.h"

#include <nlohmann/json.hpp>

#include "proxy/server/identity_headers.h"

namespace gatehouse::server {
namespace {

LocalResponse Reply(const AdminHead& request, http::status status, std::string_view content_type,
                    std::string body) {
  LocalResponse response{status, request.version()};
  response.set(http::field::content_type, AsBeast(content_type));
  response.set(http::field::cache_control, "no-store");
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

LocalResponse Json(const AdminHead& request, http::status status, const nlohmann::json& body) {
  return Reply(request, status, "application/json",
               body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

std::string_view PathOf(std::string_view target) { return target.substr(0, target.find('?')); }

bool AdminBoundToLoopback(const AdminEndpointOptions& options) {
  StatusOr<policy::IpAddress> bound = policy::ParseIpAddress(options.admin_address);
  return bound.ok() && IsLoopback(*bound);
}

// Ok when this connection may replace the config; the refusal names what is missing.
Status AuthorizePush(const AdminEndpointOptions& options, const ClientInfo& client) {
  if (options.push_auth == PushAuth::kClientCertificate) {
    // Security: the TLS layer already failed any certificate that does not
    // chain to the push CA; a connection without one (a probe, a scraper, an
    // attacker) is refused here.
    if (client.tls && client.client_cert_verified) return Status::Ok();
    return PermissionDeniedError("config pushes need a client certificate issued by the push CA");
  }
  // Security: without mTLS a push travels in plaintext with the fleet's
  // secrets, so it is accepted only where it cannot leave the machine: the
  // admin port bound to loopback, and the peer on loopback too.
  if (!AdminBoundToLoopback(options)) {
    return PermissionDeniedError(
        "config pushes are refused: the admin port is not bound to a loopback address and no "
        "push CA is configured (--push-ca, --push-cert, --push-key)");
  }
  if (!IsLoopback(client.address)) {
    return PermissionDeniedError("config pushes are accepted only from loopback without mTLS");
  }
  return Status::Ok();
}

}  // namespace

bool IsLoopback(const policy::IpAddress& a) {
  if (a.is_v4) return a.bytes[0] == 127;
  static constexpr std::array<uint8_t, 16> kV6Loopback = {0, 0, 0, 0, 0, 0, 0, 0,
                                                          0, 0, 0, 0, 0, 0, 0, 1};
  if (a.bytes == kV6Loopback) return true;
  // IPv4-mapped ::ffff:127.x.y.z
  for (int i = 0; i < 10; ++i) {
    if (a.bytes[i] != 0) return false;
  }
  return a.bytes[10] == 0xff && a.bytes[11] == 0xff && a.bytes[12] == 127;
}

std::string DescribePushAuth(const AdminEndpointOptions& options) {
  if (options.push_auth == PushAuth::kClientCertificate) {
    return "config pushes: mTLS, client certificates issued by the push CA";
  }
  if (AdminBoundToLoopback(options)) {
    return "config pushes: plain HTTP from loopback only (admin bound to " + options.admin_address +
           ", no push CA)";
  }
  return "config pushes: REFUSED (admin bound to " + options.admin_address +
         " without --push-ca/--push-cert/--push-key); the config comes from the bootstrap only";
}

AdminBodyAdmission AdminEndpoints::AdmitBody(const AdminHead& head, const ClientInfo& client) {
  AdminBodyAdmission admission;
  if (head.method() != http::verb::put || PathOf(AsStd(head.target())) != "/v1/config") {
    return admission;  // small bodies only: nothing else needs more
  }
  // Security: decided from the head alone, so a client that may not push
  // cannot make the port buffer a config-sized body to be refused afterwards.
  if (Status allowed = AuthorizePush(options_, client); !allowed.ok()) {
    if (push_hook_) push_hook_(allowed);
    admission.refusal = Json(head, http::status::forbidden, {{"error", allowed.message()}});
    return admission;
  }
  admission.large_body = true;
  return admission;
}

LocalResponse AdminEndpoints::Handle(const AdminRequest& request, const ClientInfo& client) {
  const std::string_view path = PathOf(AsStd(request.target()));
  const http::verb method = request.method();
  const bool read = method == http::verb::get || method == http::verb::head;
  if (path == "/healthz") {
    if (!read) return Reply(request, http::status::method_not_allowed, "text/plain", "");
    return Reply(request, http::status::ok, "text/plain; charset=utf-8", "ok\n");
  }
  if (path == "/readyz") {
    if (!read) return Reply(request, http::status::method_not_allowed, "text/plain", "");
    if (store_.Current() == nullptr) {
      return Reply(request, http::status::service_unavailable, "text/plain; charset=utf-8",
                   "no config loaded\n");
    }
    return Reply(request, http::status::ok, "text/plain; charset=utf-8", "ready\n");
  }
  if (path == "/metrics") {
    if (!read) return Reply(request, http::status::method_not_allowed, "text/plain", "");
    return Reply(request, http::status::ok, "text/plain; version=0.0.4; charset=utf-8",
                 metrics_.Exposition());
  }
  if (path == "/v1/config") {
    if (method == http::verb::put) return PutConfig(request, client);
    if (!read) return Reply(request, http::status::method_not_allowed, "text/plain", "");
    const std::shared_ptr<const FleetSnapshot> current = store_.Current();
    if (current == nullptr) {
      return Json(request, http::status::not_found, {{"error", "no config loaded"}});
    }
    return Json(request, http::status::ok,
                {{"version", current->version}, {"sha256", current->sha256}});
  }
  return Reply(request, http::status::not_found, "text/plain; charset=utf-8", "not found\n");
}

LocalResponse AdminEndpoints::PutConfig(const AdminRequest& request, const ClientInfo& client) {
  // Checked again here: Handle() is also reachable without AdmitBody() (tests, other servers).
  if (Status allowed = AuthorizePush(options_, client); !allowed.ok()) {
    if (push_hook_) push_hook_(allowed);
    return Json(request, http::status::forbidden, {{"error", allowed.message()}});
  }
  StatusOr<ConfigVersion> applied = store_.ApplyFleetConfig(request.body());
  if (push_hook_) push_hook_(applied);
  if (applied.ok()) {
    return Json(request, http::status::ok,
                {{"version", applied->version}, {"sha256", applied->sha256}});
  }
  const http::status status = applied.status().code() == StatusCode::kFailedPrecondition
                                  ? http::status::conflict
                                  : http::status::bad_request;
  nlohmann::json body = {{"error", applied.status().message()}};
  if (const std::shared_ptr<const FleetSnapshot> current = store_.Current()) {
    body["version"] = current->version;
    body["sha256"] = current->sha256;
  }
  return Json(request, status, body);
}

}  // namespace gatehouse::server
