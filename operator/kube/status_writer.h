// StatusWriter: writes the `status` subresource of custom objects, one merge
// patch per object, many objects at a time.
//
//   StatusWriter writer(client, kAccessPolicyPath, "accesspolicies");
//   std::vector<StatusTarget> targets = {{"team-a", "app", "412", stored_status}};
//   StatusBatchResult r = writer.WriteAll(
//       targets, [&](size_t i, const json& stored) { return Desired(i, stored); },
//       /*concurrency=*/8, [&] { return elector.leading(); });
//
// Each write is a PATCH (application/merge-patch+json) of .../status whose
// body is {"metadata":{"resourceVersion":RV},"status":<merge patch from the
// stored status to the desired one>}: only the difference travels, never the
// whole object, and the resourceVersion keeps optimistic concurrency (the API
// answers 409 when the object moved on). On 409 the object is read again and
// the desired status recomputed from what is stored now, a bounded number of
// times. `desired` returns nullopt when nothing should be written (no-op
// writes are skipped). WriteAll runs up to `concurrency` writes at once (the
// transport must be thread-safe, as KubeClient is; `desired` is called from
// those threads) and starts no new write once `keep_going` returns false.
#pragma once

#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "operator/kube/kube_client.h"
#include "operator/kube/kube_writer.h"

namespace gatehouse::kube {

// One object whose status may need writing, as the cache holds it.
struct StatusTarget {
  std::string ns;
  std::string name;
  std::string resource_version;  // of the cached object; the patch is conditional on it
  nlohmann::json stored_status;  // null when the object has none
};

struct StatusBatchResult {
  int written = 0;
  int unchanged = 0;
  int gone = 0;
  int skipped = 0;                  // not attempted: keep_going turned false
  std::vector<std::string> errors;  // "ns/name: message" (no object content)
};

// RFC 7386: the merge patch that turns `from` into `to`. Keys of `from` that
// `to` lacks become null; nested objects are diffed; anything else (arrays,
// scalars) is replaced whole. `to` must hold no null values (statuses never do).
nlohmann::json CreateMergePatch(const nlohmann::json& from, const nlohmann::json& to);

class StatusWriter {
 public:
  using Desired = std::function<std::optional<nlohmann::json>(const nlohmann::json& stored)>;
  using DesiredAt =
      std::function<std::optional<nlohmann::json>(size_t index, const nlohmann::json& stored)>;

  StatusWriter(KubeTransport& transport, std::string group_version_prefix, std::string plural)
      : transport_(transport),
        prefix_(std::move(group_version_prefix)),
        plural_(std::move(plural)) {}

  StatusOr<WriteResult> Write(const StatusTarget& target, const Desired& desired);
  StatusBatchResult WriteAll(const std::vector<StatusTarget>& targets, const DesiredAt& desired,
                             int concurrency, const std::function<bool()>& keep_going);

 private:
  KubeTransport& transport_;
  std::string prefix_;
  std::string plural_;
};

}  // namespace gatehouse::kube
