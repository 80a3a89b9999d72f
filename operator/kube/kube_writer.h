// KubeWriter: the operator's writes to the API, each one idempotent.
//
//   KubeWriter writer(client);
//   writer.ApplySecret("gatehouse", "gatehouse-fleet-config", {{"config.json", bytes}});
//
// Apply* read the object, write only when its data differs (no-op writes
// skipped) and, on 409 Conflict, read again and retry a bounded number of
// times. Status writes live in status_writer.h.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "operator/kube/kube_client.h"

namespace gatehouse::kube {

inline constexpr char kAccessPolicyPath[] = "/apis/gatehouse.dev/v1alpha1";

// The collection or object path of a namespaced resource ("" namespace: all).
std::string ResourcePath(const std::string& group_version_prefix, const std::string& ns,
                         const std::string& plural, const std::string& name = "");

enum class WriteResult { kUnchanged, kWritten, kGone };

class KubeWriter {
 public:
  explicit KubeWriter(KubeTransport& transport) : transport_(transport) {}

  // Creates or updates a ConfigMap's data (only when it differs).
  StatusOr<WriteResult> ApplyConfigMap(const std::string& ns, const std::string& name,
                                       const std::map<std::string, std::string>& data);
  // The same for a Secret (values stored base64 in `data`, as the API wants).
  StatusOr<WriteResult> ApplySecret(const std::string& ns, const std::string& name,
                                    const std::map<std::string, std::string>& data);

  // GET of one object; nullopt on 404.
  StatusOr<std::optional<nlohmann::json>> Get(const std::string& path);

 private:
  StatusOr<WriteResult> ApplyData(const std::string& kind, const std::string& plural,
                                  const std::string& ns, const std::string& name,
                                  const nlohmann::json& data);
  KubeTransport& transport_;
};

}  // namespace gatehouse::kube
