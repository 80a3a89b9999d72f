#include "operator/reconcile/policy_cache.h"

#include <algorithm>
#include <utility>

namespace gatehouse::reconcile {
namespace {

using nlohmann::json;

constexpr char kCompactField[] = "compact";
constexpr char kCompactStatusField[] = "compactStatus";

// The serialized form, held at its exact size: dump() grows its string by
// doubling, and thousands of these stay in the cache (about 40% slack each).
// The input came through the JSON parser, which refuses invalid UTF-8, so
// `replace` never fires; it only keeps dump() from throwing on the request path.
std::string Text(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  text.shrink_to_fit();
  return text;
}

}  // namespace

std::string MetaText(const json& object, const char* field) {
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return "";
  auto it = meta->find(field);
  return it != meta->end() && it->is_string() ? it->get<std::string>() : "";
}

int64_t MetaGeneration(const json& object) {
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return 0;
  auto it = meta->find("generation");
  return it != meta->end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

json CompactPolicyObject(json policy) {
  if (!policy.is_object()) return policy;
  // What only the parse reads (apiVersion, kind, creationTimestamp, the spec)
  // goes into one string; a tree node costs about 100 bytes, and the cache
  // holds thousands of objects.
  json parse_only = json::object();
  for (const char* field : {"apiVersion", "kind", "spec"}) {
    if (auto it = policy.find(field); it != policy.end()) parse_only[field] = std::move(*it);
  }
  json slim = json::object();
  if (auto meta = policy.find("metadata"); meta != policy.end() && meta->is_object()) {
    json& out = slim["metadata"] = json::object();
    for (const char* field : {"name", "namespace", "uid", "generation", "resourceVersion"}) {
      if (auto it = meta->find(field); it != meta->end()) out[field] = std::move(*it);
    }
    if (auto it = meta->find("creationTimestamp"); it != meta->end()) {
      parse_only["metadata"] = {{"creationTimestamp", std::move(*it)}};
    }
  }
  slim[kCompactField] = Text(parse_only);
  // The status apart: status writes read it for every policy, the spec they never need.
  if (auto it = policy.find("status"); it != policy.end()) slim[kCompactStatusField] = Text(*it);
  return slim;
}

json ExpandPolicyObject(const json& object) {
  if (!object.is_object()) return object;
  auto compact = object.find(kCompactField);
  if (compact == object.end() || !compact->is_string()) return object;
  json full = object;
  full.erase(kCompactField);
  full.erase(kCompactStatusField);
  json rest = json::parse(compact->get_ref<const std::string&>(), nullptr, false);
  // Our own serialization always parses; if it ever did not, the object goes
  // without a spec and is refused by the parser (deny by default).
  if (rest.is_object()) {
    for (auto& [field, value] : rest.items()) {
      if (field == "metadata" && value.is_object() && full.contains("metadata") &&
          full["metadata"].is_object()) {
        // Merged in; the identity fields of the tree are never replaced.
        for (auto& [key, item] : value.items()) {
          if (!full["metadata"].contains(key)) full["metadata"][key] = std::move(item);
        }
      } else {
        full[field] = std::move(value);
      }
    }
  }
  json status = StoredStatus(object);
  if (!status.is_null()) full["status"] = std::move(status);
  return full;
}

json StoredStatus(const json& object) {
  if (!object.is_object()) return json();
  if (auto compact = object.find(kCompactStatusField);
      compact != object.end() && compact->is_string()) {
    json status = json::parse(compact->get_ref<const std::string&>(), nullptr, false);
    return status.is_discarded() ? json() : status;  // unreadable: as if none (rewritten)
  }
  if (object.contains(kCompactField)) return json();  // compact without a status
  auto status = object.find("status");
  return status != object.end() ? *status : json();
}

std::vector<PolicyCandidate> PolicyCache::Candidates(
    const std::vector<std::shared_ptr<const json>>& objects, const policy::SecretStore& secrets,
    uint64_t secrets_epoch) {
  // Secrets feed the parse (references are resolved there): a new epoch drops every entry.
  if (secrets_epoch != secrets_epoch_) by_key_.clear();
  secrets_epoch_ = secrets_epoch;
  std::map<std::string, Entry> next;
  for (const auto& object : objects) {
    if (object == nullptr) continue;
    std::string uid = MetaText(*object, "uid");
    int64_t generation = MetaGeneration(*object);
    std::string key = MetaText(*object, "namespace") + "/" + MetaText(*object, "name");
    auto old = by_key_.find(key);
    if (generation > 0 && old != by_key_.end() && old->second.uid == uid &&
        old->second.generation == generation) {
      next[key] = std::move(old->second);
      continue;
    }
    std::optional<PolicyCandidate> candidate =
        ParsePolicyCandidate(ExpandPolicyObject(*object), secrets);
    ++parses_;
    if (!candidate) continue;                 // no namespace/name: the API never serves those
    std::string parsed_key = candidate->key;  // not in the same expression as the move
    next[parsed_key] = Entry{std::move(uid), generation, std::move(*candidate)};
  }
  by_key_ = std::move(next);
  std::vector<PolicyCandidate> out;
  out.reserve(by_key_.size());
  for (const auto& [key, entry] : by_key_) out.push_back(entry.candidate);  // models shared
  return out;
}

uint64_t SecretsEpoch::Update(const std::vector<std::shared_ptr<const nlohmann::json>>& secrets) {
  std::string fingerprint;
  for (const auto& secret : secrets) {
    if (secret == nullptr || !secret->is_object()) continue;
    auto meta = secret->find("metadata");
    if (meta == secret->end() || !meta->is_object()) continue;
    auto text = [&](const char* field) -> std::string {
      auto it = meta->find(field);
      return it != meta->end() && it->is_string() ? it->get<std::string>() : "";
    };
    std::string key = text("namespace") + "/" + text("name");
    if (key == ignored_) continue;
    // An object without a resourceVersion (never served by the API) cannot
    // be told apart from its edits: count it as changed every time.
    std::string version = text("resourceVersion");
    if (version.empty()) version = "?" + std::to_string(epoch_);
    fingerprint += key + "@" + version + "\n";
  }
  if (fingerprint != fingerprint_ || epoch_ == 0) {
    fingerprint_ = std::move(fingerprint);
    ++epoch_;
  }
  return epoch_;
}

}  // namespace gatehouse::reconcile
