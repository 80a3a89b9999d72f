// Informer: a local cache of one kind of Kubernetes object, kept current by
// list + watch (the client-go pattern). The reconciler reads snapshots; it
// never talks to the API itself.
//
//   Informer policies(client, {.path = "/apis/gatehouse.dev/v1alpha1/accesspolicies"});
//   policies.SetOnChange([&] { reconciler.Poke(); });
//   std::thread t([&] { policies.Run(stop); });
//   if (policies.synced()) Render(policies.Snapshot());
//
// Lists, then watches from the list's resourceVersion with bookmarks; resumes
// a dropped watch from the last resourceVersion seen (events and bookmarks);
// relists on 410 Gone (HTTP or an ERROR event); backs off with jitter on
// errors and on watches that end without delivering anything, never hot-loops.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "operator/kube/backoff.h"
#include "operator/kube/kube_client.h"

namespace gatehouse::kube {

struct InformerOptions {
  std::string path;            // collection path, e.g. /api/v1/namespaces/ns/secrets
  std::string label_selector;  // optional
  std::string field_selector;  // optional
  int watch_timeout_seconds = 300;
  // Objects per list request (limit/continue); 0 lists in one request. Each
  // response is parsed as a stream, an item at a time, so a large page costs
  // no memory; few pages matter more: an API server (and our test server
  // even more) assembles each page from the whole collection.
  int page_size = 10000;
  // Keeps only what the operator needs of each object (memory, and least
  // exposure: e.g. Secrets are reduced to their data). Identity when unset.
  std::function<nlohmann::json(nlohmann::json)> transform;
  Backoff backoff;
};

class Informer {
 public:
  // `sleep` and `random01` are seams for tests; defaults sleep for real
  // (interruptibly, see Stop) and use a seeded engine.
  Informer(KubeTransport& transport, InformerOptions options,
           std::function<void(std::chrono::milliseconds)> sleep = nullptr,
           std::function<double()> random01 = nullptr);

  // Loops until Stop(): list when needed, watch, back off on failures.
  void Run();
  void Stop();
  // One list (when needed) and one watch; for tests. A failed step returns
  // the error and leaves the backoff to Run().
  Status Step();

  std::vector<nlohmann::json> Snapshot() const;  // sorted by namespace/name
  // The same without copying the objects (thousands of policies): the cache
  // swaps in new objects on change, so a snapshot stays valid and immutable.
  std::vector<std::shared_ptr<const nlohmann::json>> SharedSnapshot() const;
  bool synced() const { return synced_.load(); }
  std::string resource_version() const;
  void SetOnChange(std::function<void()> on_change) { on_change_ = std::move(on_change); }
  int64_t lists() const { return lists_.load(); }

 private:
  Status List();
  // One page of a list into `objects`; sets *next_continue and *resource_version.
  Status ListPage(const std::string& continue_token,
                  std::map<std::string, std::shared_ptr<const nlohmann::json>>* objects,
                  std::string* next_continue, std::string* resource_version);
  Status WatchOnce();
  // Applies one watch line; false ends the watch (410: relist; bad event).
  bool ApplyEvent(std::string_view line, Status* outcome, int* delivered);
  std::string Query(bool watch) const;
  void Notify();
  void SleepFor(std::chrono::milliseconds d);

  KubeTransport& transport_;
  InformerOptions options_;
  std::function<void(std::chrono::milliseconds)> sleep_;
  std::function<double()> random01_;
  std::function<void()> on_change_;

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const nlohmann::json>> objects_;  // by namespace/name
  std::string resource_version_;                                          // "" -> list next
  std::atomic<bool> synced_{false};
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> lists_{0};
  std::mutex sleep_mu_;
  std::condition_variable sleep_cv_;
};

// "namespace/name" of an object ("" parts when absent).
std::string ObjectKey(const nlohmann::json& object);

}  // namespace gatehouse::kube
