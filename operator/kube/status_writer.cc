#include "operator/kube/status_writer.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

namespace gatehouse::kube {
namespace {

using nlohmann::json;

constexpr int kMaxConflictRetries = 4;

// What a re-read object says: its resourceVersion and stored status.
struct Fresh {
  std::string resource_version;
  json status;
};

Fresh FreshFrom(const json& object) {
  Fresh out;
  if (auto meta = object.find("metadata"); meta != object.end() && meta->is_object()) {
    auto rv = meta->find("resourceVersion");
    if (rv != meta->end() && rv->is_string()) out.resource_version = rv->get<std::string>();
  }
  if (auto status = object.find("status"); status != object.end()) out.status = *status;
  return out;
}

}  // namespace

json CreateMergePatch(const json& from, const json& to) {
  if (!from.is_object() || !to.is_object()) return to;
  json patch = json::object();
  for (const auto& [key, value] : from.items()) {
    if (!to.contains(key)) patch[key] = nullptr;  // a removed field
  }
  for (const auto& [key, value] : to.items()) {
    auto old = from.find(key);
    if (old == from.end()) {
      patch[key] = value;
    } else if (old->is_object() && value.is_object()) {
      json nested = CreateMergePatch(*old, value);
      if (!nested.empty()) patch[key] = std::move(nested);
    } else if (*old != value) {
      patch[key] = value;
    }
  }
  return patch;
}

StatusOr<WriteResult> StatusWriter::Write(const StatusTarget& target, const Desired& desired) {
  std::string path = ResourcePath(prefix_, target.ns, plural_, target.name);
  Fresh current{target.resource_version, target.stored_status};
  for (int attempt = 0; attempt < kMaxConflictRetries; ++attempt) {
    std::optional<json> status = desired(current.status);
    if (!status) return WriteResult::kUnchanged;
    json patch = CreateMergePatch(current.status, *status);
    if (patch.is_object() && patch.empty()) return WriteResult::kUnchanged;
    // The resourceVersion makes the patch conditional: a stale view gets 409,
    // never a write over a status (or an object) we have not seen.
    json body = {{"metadata", {{"resourceVersion", current.resource_version}}},
                 {"status", std::move(patch)}};
    StatusOr<KubeResponse> r = transport_.Send(
        "PATCH", path + "/status", body.dump(-1, ' ', false, json::error_handler_t::replace));
    if (!r.ok()) return r.status();
    if (r->status == 200 || r->status == 201) return WriteResult::kWritten;
    if (r->status == 404) return WriteResult::kGone;
    if (r->status != 409) {
      return UnavailableError("PATCH " + path + "/status: HTTP " + std::to_string(r->status));
    }
    // Someone else wrote in between: start again from what is stored now.
    StatusOr<KubeResponse> got = transport_.Send("GET", path, "");
    if (!got.ok()) return got.status();
    if (got->status == 404) return WriteResult::kGone;
    json object = json::parse(got->body, nullptr, false);
    if (got->status != 200 || object.is_discarded() || !object.is_object()) {
      return UnavailableError("GET " + path + ": HTTP " + std::to_string(got->status));
    }
    current = FreshFrom(object);
  }
  return UnavailableError("PATCH " + path + "/status: still conflicting after retries");
}

StatusBatchResult StatusWriter::WriteAll(const std::vector<StatusTarget>& targets,
                                         const DesiredAt& desired, int concurrency,
                                         const std::function<bool()>& keep_going) {
  StatusBatchResult result;
  std::mutex mu;
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < targets.size();) {
      const StatusTarget& target = targets[i];
      if (keep_going && !keep_going()) {
        std::lock_guard<std::mutex> lock(mu);
        ++result.skipped;
        continue;
      }
      StatusOr<WriteResult> written =
          Write(target, [&desired, i](const json& stored) { return desired(i, stored); });
      std::lock_guard<std::mutex> lock(mu);
      if (!written.ok()) {
        result.errors.push_back(target.ns + "/" + target.name + ": " +
                                std::string(written.status().message()));
      } else if (*written == WriteResult::kWritten) {
        ++result.written;
      } else if (*written == WriteResult::kGone) {
        ++result.gone;
      } else {
        ++result.unchanged;
      }
    }
  };
  size_t threads = std::min<size_t>(std::max(concurrency, 1), targets.size());
  std::vector<std::thread> helpers;
  for (size_t t = 1; t < threads; ++t) helpers.emplace_back(worker);
  worker();  // the calling thread works too
  for (std::thread& t : helpers) t.join();
  return result;
}

}  // namespace gatehouse::kube
