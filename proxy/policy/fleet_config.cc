#include "proxy/policy/fleet_config.h"

#include <openssl/evp.h>

#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>
#include <vector>

#include "proxy/policy/policy_parser.h"
#include "proxy/policy/policy_validator.h"
#include "proxy/policy/policy_validator_syntax.h"
#include "proxy/policy/secret_store.h"

namespace gatehouse::policy {
namespace {

using nlohmann::json;

constexpr int kMaxJsonDepth = 64;
constexpr size_t kMaxReportedErrors = 20;

// Canonical bytes: nlohmann objects are std::map-ordered (sorted keys), no
// indentation, integers printed exactly. Invalid UTF-8 (only possible in a
// hand-built model; both parsers reject it) is replaced rather than thrown.
std::string Canonical(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// nlohmann parses iteratively but dumps and compares recursively: refuse
// hostile nesting before building a DOM at all. Strings are skipped exactly.
Status CheckJsonNesting(std::string_view bytes) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < bytes.size(); ++i) {
    char c = bytes[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) {
        return InvalidArgumentError("fleet config is nested deeper than " +
                                    std::to_string(kMaxJsonDepth) + " levels");
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return Status::Ok();
}

StatusOr<json> ParseJsonDocument(std::string_view bytes, std::string_view what) {
  if (bytes.size() > kMaxFleetConfigBytes) {
    return ResourceExhaustedError(std::string(what) + " is larger than " +
                                  std::to_string(kMaxFleetConfigBytes) + " bytes");
  }
  Status nesting = CheckJsonNesting(bytes);
  if (!nesting.ok()) return nesting;
  json value = json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return InvalidArgumentError(std::string(what) + " is not valid JSON");
  if (!value.is_object()) return InvalidArgumentError(std::string(what) + " must be a JSON object");
  return value;
}

// "ns/name/key" -> base64 value, into a SecretStore (one Secret per ns/name).
Status ReadSecretsMap(const json& secrets, SecretStore* store) {
  if (!secrets.is_object()) return InvalidArgumentError("secrets: must be an object");
  std::map<std::pair<std::string, std::string>, SecretData> grouped;
  for (const auto& [id, value] : secrets.items()) {
    size_t first = id.find('/');
    size_t second = first == std::string::npos ? first : id.find('/', first + 1);
    std::string where = "secrets[" + validation::Quote(id) + "]";
    if (second == std::string::npos)
      return InvalidArgumentError(where + ": key must be ns/name/key");
    std::string ns = id.substr(0, first);
    std::string name = id.substr(first + 1, second - first - 1);
    std::string key = id.substr(second + 1);
    if (!validation::CheckDns1123Label(ns).empty() ||
        !validation::CheckDns1123Subdomain(name).empty() ||
        !validation::CheckSecretKey(key).empty()) {
      return InvalidArgumentError(where + ": key must be ns/name/key with valid names");
    }
    if (!value.is_string()) return InvalidArgumentError(where + ": must be a base64 string");
    StatusOr<std::string> bytes = DecodeBase64Strict(value.get_ref<const std::string&>());
    if (!bytes.ok()) return InvalidArgumentError(where + ": " + bytes.status().message());
    grouped[{ns, name}][key] = std::move(*bytes);
  }
  for (auto& [id, data] : grouped) store->Add(id.first, id.second, std::move(data));
  return Status::Ok();
}

}  // namespace

std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

FleetConfig MakeFleetConfig(int64_t version, const std::vector<AccessPolicy>& policies) {
  FleetConfig config;
  config.version = version;
  config.content = RenderFleetConfigContent(policies);
  config.sha256 = Sha256Hex(config.content);
  return config;
}

std::string SerializeFleetConfig(const FleetConfig& config) {
  // Header line + raw content: the content bytes travel verbatim (no JSON
  // string escaping to undo), so the digest is checked over exactly what was
  // rendered and a 20 MB config costs one scan, not a second JSON parse.
  return FleetConfigHeader(config) + config.content;
}

std::string FleetConfigHeader(const FleetConfig& config) {
  return Canonical({{"version", config.version}, {"sha256", config.sha256}}) + "\n";
}

StatusOr<FleetConfigView> ParseFleetConfigEnvelopeView(std::string_view bytes) {
  constexpr size_t kMaxHeaderBytes = 1024;
  size_t newline = bytes.substr(0, kMaxHeaderBytes).find('\n');
  if (newline == std::string_view::npos) {
    return InvalidArgumentError("fleet config envelope: missing header line");
  }
  StatusOr<json> header = ParseJsonDocument(bytes.substr(0, newline), "fleet config header");
  if (!header.ok()) return header.status();
  for (const auto& [key, value] : header->items()) {
    if (key != "version" && key != "sha256") {
      return InvalidArgumentError("fleet config header: unknown field " + validation::Quote(key));
    }
  }
  auto version = header->find("version");
  auto sha = header->find("sha256");
  if (version == header->end() || !version->is_number_integer() || version->get<int64_t>() < 1) {
    return InvalidArgumentError("fleet config header: version must be an integer >= 1");
  }
  if (sha == header->end() || !sha->is_string()) {
    return InvalidArgumentError("fleet config header: sha256 must be a string");
  }
  FleetConfigView config;
  config.version = version->get<int64_t>();
  config.sha256 = sha->get<std::string>();
  config.content = bytes.substr(newline + 1);
  // A truncated or altered push must never half-apply: the digest covers every byte.
  if (Sha256Hex(config.content) != config.sha256) {
    return InvalidArgumentError("fleet config envelope: sha256 does not match the content");
  }
  return config;
}

StatusOr<FleetConfig> ParseFleetConfigEnvelope(std::string_view bytes) {
  StatusOr<FleetConfigView> view = ParseFleetConfigEnvelopeView(bytes);
  if (!view.ok()) return view.status();
  return FleetConfig{view->version, std::move(view->sha256), std::string(view->content)};
}

namespace {

// One element of "policies", in order: validated while parsing when it needs
// no Secret, otherwise kept as JSON until the Secrets (after it) are read.
struct StreamedPolicy {
  std::optional<AccessPolicy> parsed;
  json object;  // meaningful when `parsed` is empty
};

// Parses the content with every element of the top-level "policies" array
// taken out of the tree as soon as it is complete (see ParseFleetConfigContent).
StatusOr<json> ParseContentStreamingPolicies(std::string_view content,
                                             std::vector<StreamedPolicy>* out) {
  if (content.size() > kMaxFleetConfigBytes) {
    return ResourceExhaustedError("fleet config is larger than " +
                                  std::to_string(kMaxFleetConfigBytes) + " bytes");
  }
  Status nesting = CheckJsonNesting(content);
  if (!nesting.ok()) return nesting;
  const SecretStore no_secrets;
  std::string top_key;
  bool in_policies = false;
  using Event = json::parse_event_t;
  auto take = [&](int depth, Event event, json& value) -> bool {
    if (depth == 1 && event == Event::key) {
      top_key = value.get<std::string>();
      // Duplicate keys: the last "policies" wins, as in the plain parse.
      if (top_key == "policies") out->clear();
      return true;
    }
    if (depth == 1 && (event == Event::array_start || event == Event::array_end)) {
      in_policies = event == Event::array_start && top_key == "policies";
      return true;
    }
    const bool element_done =
        event == Event::value || event == Event::object_end || event == Event::array_end;
    if (!in_policies || depth != 2 || !element_done) return true;
    StreamedPolicy element;
    PolicyObjectResult early = ParsePolicyObject(value, no_secrets);
    if (early.policy) {
      element.parsed = std::move(early.policy);
    } else {
      element.object = std::move(value);
    }
    out->push_back(std::move(element));
    return false;  // dropped from the tree: `out` holds it
  };
  json value = json::parse(content, take, /*allow_exceptions=*/false);
  if (value.is_discarded()) return InvalidArgumentError("fleet config is not valid JSON");
  if (!value.is_object()) return InvalidArgumentError("fleet config must be a JSON object");
  return value;
}

}  // namespace

// Scale: a 10,000-policy config is ~15 MB of JSON; as one nlohmann tree it
// costs several times that. Each policy is therefore validated as soon as its
// element is parsed, against no Secrets (they come after the policies), and
// its JSON dropped; only policies that reference a Secret (or are invalid)
// wait as JSON for the second pass. The result is the same as validating
// after the Secrets: validation only looks Secrets up, and a policy that
// validates without any looked none up.
StatusOr<std::vector<AccessPolicy>> ParseFleetConfigContent(std::string_view content) {
  std::vector<StreamedPolicy> elements;
  StatusOr<json> doc = ParseContentStreamingPolicies(content, &elements);
  if (!doc.ok()) return doc.status();
  for (const auto& [key, value] : doc->items()) {
    if (key != "policies" && key != "secrets") {
      return InvalidArgumentError("fleet config: unknown field " + validation::Quote(key));
    }
  }
  SecretStore secrets;
  if (auto it = doc->find("secrets"); it != doc->end()) {
    Status status = ReadSecretsMap(*it, &secrets);
    if (!status.ok()) return status;
  }
  auto list = doc->find("policies");
  if (list == doc->end() || !list->is_array()) {
    return InvalidArgumentError("fleet config: policies must be a list");
  }
  std::vector<AccessPolicy> policies;
  policies.reserve(elements.size());
  std::vector<std::string> problems;
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < elements.size(); ++i) {
    std::string where = "policies[" + std::to_string(i) + "]";
    PolicyObjectResult parsed;
    if (elements[i].parsed) {
      parsed.policy = std::move(elements[i].parsed);
    } else {
      parsed = ParsePolicyObject(elements[i].object, secrets);
      elements[i].object = nullptr;
    }
    for (const PolicyError& error : parsed.errors) {
      std::string who = error.policy.empty() ? "" : " (" + error.policy + ")";
      problems.push_back(where + who + ": " + error.FieldMessage());
    }
    if (!parsed.policy) continue;
    if (!seen.emplace(parsed.policy->Key(), i).second) {
      problems.push_back(where + ": duplicate policy " + parsed.policy->Key());
      continue;
    }
    policies.push_back(std::move(*parsed.policy));
  }
  if (!problems.empty()) {
    std::string message = "fleet config rejected: ";
    for (size_t i = 0; i < problems.size() && i < kMaxReportedErrors; ++i) {
      message += (i > 0 ? "; " : "") + problems[i];
    }
    if (problems.size() > kMaxReportedErrors) {
      message += "; and " + std::to_string(problems.size() - kMaxReportedErrors) + " more";
    }
    return InvalidArgumentError(message);
  }
  return policies;
}

StatusOr<std::vector<AccessPolicy>> ParseFleetConfig(std::string_view bytes) {
  StatusOr<FleetConfig> config = ParseFleetConfigEnvelope(bytes);
  if (!config.ok()) return config.status();
  return ParseFleetConfigContent(config->content);
}

}  // namespace gatehouse::policy
