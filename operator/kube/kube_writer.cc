#include "operator/kube/kube_writer.h"

#include "proxy/policy/secret_store.h"

namespace gatehouse::kube {
namespace {

using nlohmann::json;

constexpr int kMaxConflictRetries = 4;

Status HttpError(const std::string& what, const KubeResponse& r) {
  return UnavailableError(what + ": HTTP " + std::to_string(r.status));
}

}  // namespace

std::string ResourcePath(const std::string& group_version_prefix, const std::string& ns,
                         const std::string& plural, const std::string& name) {
  std::string path = group_version_prefix;
  if (!ns.empty()) path += "/namespaces/" + UrlEncode(ns);
  path += "/" + plural;
  if (!name.empty()) path += "/" + UrlEncode(name);
  return path;
}

StatusOr<std::optional<json>> KubeWriter::Get(const std::string& path) {
  StatusOr<KubeResponse> r = transport_.Send("GET", path, "");
  if (!r.ok()) return r.status();
  if (r->status == 404) return std::optional<json>();
  if (r->status != 200) return HttpError("GET " + path, *r);
  json object = json::parse(r->body, nullptr, false);
  if (object.is_discarded() || !object.is_object()) {
    return UnavailableError("GET " + path + ": not JSON");
  }
  return std::optional<json>(std::move(object));
}

StatusOr<WriteResult> KubeWriter::ApplyConfigMap(const std::string& ns, const std::string& name,
                                                 const std::map<std::string, std::string>& data) {
  return ApplyData("ConfigMap", "configmaps", ns, name, json(data));
}

StatusOr<WriteResult> KubeWriter::ApplySecret(const std::string& ns, const std::string& name,
                                              const std::map<std::string, std::string>& data) {
  json encoded = json::object();
  for (const auto& [key, value] : data) encoded[key] = policy::EncodeBase64(value);
  return ApplyData("Secret", "secrets", ns, name, encoded);
}

StatusOr<WriteResult> KubeWriter::ApplyData(const std::string& kind, const std::string& plural,
                                            const std::string& ns, const std::string& name,
                                            const json& wanted_data) {
  std::string collection = ResourcePath("/api/v1", ns, plural);
  std::string path = collection + "/" + UrlEncode(name);
  for (int attempt = 0; attempt < kMaxConflictRetries; ++attempt) {
    StatusOr<std::optional<json>> existing = Get(path);
    if (!existing.ok()) return existing.status();
    StatusOr<KubeResponse> r = UnavailableError("unreachable");
    if (!*existing) {
      json body = {{"apiVersion", "v1"},
                   {"kind", kind},
                   {"metadata",
                    {{"name", name},
                     {"namespace", ns},
                     {"labels", {{"app.kubernetes.io/managed-by", "gatehouse-operator"}}}}},
                   {"data", wanted_data}};
      r = transport_.Send("POST", collection, body.dump());
    } else {
      json& current = **existing;
      if (current.value("data", json::object()) == wanted_data) return WriteResult::kUnchanged;
      current["data"] = wanted_data;  // keeps metadata.resourceVersion: a stale write gets 409
      r = transport_.Send("PUT", path, current.dump());
    }
    if (!r.ok()) return r.status();
    if (r->status == 200 || r->status == 201) return WriteResult::kWritten;
    if (r->status != 409) return HttpError("write " + kind + " " + ns + "/" + name, *r);
  }
  return UnavailableError("write " + kind + " " + ns + "/" + name + ": still conflicting");
}

}  // namespace gatehouse::kube
