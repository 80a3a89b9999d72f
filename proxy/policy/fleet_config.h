// FleetConfig: the one canonical document the operator renders from every
// accepted AccessPolicy, pushes to each proxy, and keeps in a ConfigMap; and
// the way back from those bytes to AccessPolicies, through the same validator
// the YAML path uses (what the operator accepts is exactly what a proxy loads).
//
//   FleetConfig config = MakeFleetConfig(/*version=*/42, accepted_policies);
//   std::string wire = SerializeFleetConfig(config);          // PUT /v1/config body
//   ...
//   StatusOr<FleetConfig> got = ParseFleetConfigEnvelope(wire); // checks sha256
//   StatusOr<std::vector<AccessPolicy>> policies = ParseFleetConfigContent(got->content);
//
// Content (canonical JSON, same inputs -> same bytes in any input order):
//   {"policies":[<AccessPolicy objects sorted by namespace/name>],
//    "secrets":{"<namespace>/<secret name>/<key>":"<base64 of the value>",...}}
// Every spec field is written explicitly, defaults included; object keys are
// sorted; no whitespace; integers only. Policies carry secret *refs*; the
// resolved values live only in "secrets" (base64, so any bytes survive).
// The envelope (what is pushed and stored) is one header line, then the
// content bytes verbatim:
//   {"sha256":"<hex of the content bytes>","version":N}\n<content>
// Parse(Render(x)) == x for every validated x (AccessPolicy::source is not
// serialized and comes back empty).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/core/status.h"
#include "proxy/policy/access_policy.h"

namespace gatehouse::policy {

struct FleetConfig {
  int64_t version = 0;  // monotonic, assigned by the operator; proxies refuse older ones
  std::string sha256;   // lowercase hex SHA-256 of `content`
  std::string content;  // RenderFleetConfigContent bytes
  friend bool operator==(const FleetConfig&, const FleetConfig&) = default;
};

inline constexpr size_t kMaxFleetConfigBytes = 256 * 1024 * 1024;

std::string RenderFleetConfigContent(const std::vector<AccessPolicy>& policies);
// The same bytes from shared models (the operator's, not copied; null entries
// are skipped), written straight into one string sized from the first policy.
std::string RenderFleetConfigContent(
    const std::vector<std::shared_ptr<const AccessPolicy>>& policies);
// The envelope's header line, "\n" included: SerializeFleetConfig(c) is
// FleetConfigHeader(c) + c.content (for writers that stream the two parts).
std::string FleetConfigHeader(const FleetConfig& config);
FleetConfig MakeFleetConfig(int64_t version, const std::vector<AccessPolicy>& policies);
std::string SerializeFleetConfig(const FleetConfig& config);

// The envelope: version >= 1, sha256 well-formed and matching the content.
StatusOr<FleetConfig> ParseFleetConfigEnvelope(std::string_view bytes);
// The same checks without copying the content (a 10,000-policy config is
// ~15 MB): `content` views into `bytes`, which must outlive the result.
struct FleetConfigView {
  int64_t version = 0;
  std::string sha256;
  std::string_view content;
};
StatusOr<FleetConfigView> ParseFleetConfigEnvelopeView(std::string_view bytes);
// The content: every policy validated as if it came from YAML; any invalid
// policy, bad secret entry or duplicate rejects the whole config (a proxy keeps
// its previous one). The message lists the problems ("policies[3] (ns/name): ...").
StatusOr<std::vector<AccessPolicy>> ParseFleetConfigContent(std::string_view content);
// Envelope and content in one step.
StatusOr<std::vector<AccessPolicy>> ParseFleetConfig(std::string_view bytes);

std::string Sha256Hex(std::string_view bytes);

}  // namespace gatehouse::policy
