// Cluster mode: informers -> render -> (leader only) bootstrap Secret, push, status.
#include <malloc.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <cstdlib>
#include <thread>

#include "operator/cli/operator_runner.h"
#include "operator/cli/reconcile_shell.h"
#include "operator/kube/informer.h"
#include "operator/kube/kube_writer.h"
#include "operator/kube/leader_elector.h"
#include "operator/kube/status_writer.h"
#include "operator/reconcile/policy_cache.h"
#include "operator/reconcile/policy_status.h"
#include "proxy/core/gzip.h"
#include "proxy/policy/fleet_config.h"
#include "proxy/policy/policy_parser.h"

namespace gatehouse::operator_cli {
namespace {

using nlohmann::json;

constexpr char kBootstrapKey[] = "config.json";
// Status writes in flight at once: enough to hide the API's round trip,
// few enough not to crowd a real API server's priority-and-fairness queue.
constexpr int kConcurrentStatusWrites = 8;

int64_t MillisSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

// Wakes the reconcile loop when any cache changes.
struct Trigger {
  std::mutex mu;
  std::condition_variable cv;
  bool poked = false;
  void Poke() {
    std::lock_guard<std::mutex> lock(mu);
    poked = true;
    cv.notify_one();
  }
  void Wait(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, d, [this] { return poked; });
    poked = false;
  }
};

std::string Identity(const OperatorFlags& flags) {
  if (!flags.identity.empty()) return flags.identity;
  if (const char* pod = std::getenv("POD_NAME"); pod != nullptr && *pod != '\0') return pod;
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  return std::string(host) + "-" + std::to_string(getpid());
}

// Secrets are cut down to what a policy can reference: no labels, no annotations.
json SlimSecret(json secret) {
  json meta = secret.value("metadata", json::object());
  return {{"metadata",
           {{"name", meta.value("name", "")},
            {"namespace", meta.value("namespace", "")},
            {"resourceVersion", meta.value("resourceVersion", "")}}},
          {"data", secret.value("data", json::object())}};
}

// The Secrets policies may reference; `ignored` ("namespace/name", the
// operator's own bootstrap Secret) is never one of them.
policy::SecretStore SecretsFrom(const std::vector<std::shared_ptr<const json>>& secrets,
                                const std::string& ignored) {
  policy::SecretStore store;
  for (const auto& s : secrets) {
    if (s == nullptr || kube::ObjectKey(*s) == ignored) continue;
    json object = *s;
    object["apiVersion"] = "v1";
    object["kind"] = "Secret";
    policy::validation::Issues issues;
    if (auto parsed = policy::ParseSecretObject(object, &issues)) {
      store.Add(parsed->namespace_name, parsed->name, std::move(parsed->data));
    }
  }
  return store;
}

// The stored bootstrap: the envelope gzipped as a stream from its two parts,
// so neither the joined envelope nor a whole-size output buffer is ever held.
std::string GzipEnvelope(const policy::FleetConfig& config) {
  const std::string header = policy::FleetConfigHeader(config);
  z_stream z{};
  deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out;
  std::array<char, 64 * 1024> chunk;
  const std::string_view parts[] = {header, config.content};
  for (size_t i = 0; i < 2; ++i) {
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(parts[i].data()));
    z.avail_in = static_cast<uInt>(parts[i].size());
    const int flush = i == 1 ? Z_FINISH : Z_NO_FLUSH;
    int rc = Z_OK;
    do {
      z.next_out = reinterpret_cast<Bytef*>(chunk.data());
      z.avail_out = static_cast<uInt>(chunk.size());
      rc = deflate(&z, flush);
      out.append(chunk.data(), chunk.size() - z.avail_out);
    } while (rc == Z_OK && (z.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END)));
  }
  deflateEnd(&z);
  return out;
}

struct Cluster {
  kube::KubeClient& client;
  kube::KubeWriter writer;
  kube::StatusWriter statuses;
  kube::Informer policies;
  kube::Informer secrets;
  kube::Informer slices;
};

std::string Collection(const std::string& prefix, const std::string& ns,
                       const std::string& plural) {
  return kube::ResourcePath(prefix, ns, plural);
}

// Reads the last rendered config (the bootstrap Secret) once per leadership.
void LoadBootstrap(Cluster& c, const OperatorFlags& flags, const std::string& ns,
                   ReconcileShell& shell) {
  auto got = c.writer.Get(kube::ResourcePath("/api/v1", ns, "secrets", flags.config_map));
  if (!got.ok() || !*got) return;
  std::string b64 = (**got).value("data", json::object()).value(kBootstrapKey, "");
  StatusOr<std::string> bytes = policy::DecodeBase64Strict(b64);
  if (bytes.ok()) bytes = GunzipIfCompressed(*bytes, policy::kMaxFleetConfigBytes);
  if (!bytes.ok()) return;
  StatusOr<policy::FleetConfig> config = policy::ParseFleetConfigEnvelope(*bytes);
  if (!config.ok()) return;
  StatusOr<reconcile::RenderState> state = reconcile::RenderStateFromConfig(*config);
  if (!state.ok()) return;
  spdlog::info("continuing from stored fleet config version {}", state->version);
  shell.SetState(std::move(*state));
}

// Where the first reconcile's time goes, logged once ("initial sync: ..."):
// each phase the first time it completes, with the time since the previous
// one. Then the memory the start-up needed is handed back to the system.
class FirstSyncLog {
 public:
  void Mark(const std::string& phase) {
    if (done_ || std::find(seen_.begin(), seen_.end(), phase) != seen_.end()) return;
    seen_.push_back(phase);
    text_ +=
        (text_.empty() ? "" : ", ") + phase + " +" + std::to_string(MillisSince(last_)) + " ms";
    last_ = std::chrono::steady_clock::now();
  }
  void Finish() {
    if (done_) return;
    done_ = true;
    spdlog::info("initial sync in {} ms: {}", MillisSince(start_), text_);
    malloc_trim(0);  // parse pages, render and gzip buffers: freed, now returned
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_ = start_;
  std::vector<std::string> seen_;
  std::string text_;
  bool done_ = false;
};

// Writes the status of every policy whose stored status differs from what it
// should be. The no-op test runs here first, so a round where nothing changed
// sends nothing and starts no thread. The snapshot is let go before the first
// write: each write comes back as a watch event that replaces its object in
// the cache, and a snapshot held through the writes would keep every replaced
// object alive (the whole cache twice by the end of a first sync).
void WriteStatuses(Cluster& c, const reconcile::RenderResult& result,
                   std::vector<std::shared_ptr<const json>> objects,
                   const fleet::FleetTracker& tracker, const kube::LeaderElector& elector) {
  std::map<std::string, const reconcile::PolicyOutcome*> by_key;
  for (const auto& o : result.outcomes) by_key[o.key] = &o;
  const std::vector<reconcile::ProxyView> view = tracker.View();
  const auto now = std::chrono::system_clock::now();
  auto want = [&view, now](const reconcile::PolicyOutcome& outcome,
                           const json& stored) -> std::optional<json> {
    json desired =
        reconcile::PolicyStatusToJson(reconcile::ComputePolicyStatus(outcome, view, stored, now));
    if (!reconcile::StatusNeedsWrite(stored, desired)) return std::nullopt;
    return desired;
  };
  std::vector<kube::StatusTarget> targets;
  std::vector<const reconcile::PolicyOutcome*> outcomes;
  for (const auto& shared : objects) {
    auto it = by_key.find(kube::ObjectKey(*shared));
    if (it == by_key.end()) continue;
    // Edited since the render: the change has poked the loop, which renders
    // it and writes its status next round (observedGeneration never runs ahead).
    if (reconcile::MetaGeneration(*shared) != it->second->generation) continue;
    json stored = reconcile::StoredStatus(*shared);
    if (!want(*it->second, stored)) continue;
    targets.push_back({reconcile::MetaText(*shared, "namespace"),
                       reconcile::MetaText(*shared, "name"),
                       reconcile::MetaText(*shared, "resourceVersion"), std::move(stored)});
    outcomes.push_back(it->second);
  }
  objects.clear();  // the targets hold what the writes need (see above)
  if (targets.empty()) return;
  auto start = std::chrono::steady_clock::now();
  kube::StatusBatchResult r = c.statuses.WriteAll(
      targets, [&](size_t i, const json& stored) { return want(*outcomes[i], stored); },
      kConcurrentStatusWrites, [&elector] { return elector.leading(); });  // lost: stop at once
  for (const std::string& e : r.errors) spdlog::warn("status of {}", e);
  spdlog::info("statuses: {} written, {} unchanged, {} gone, {} failed, {} not attempted ({} ms)",
               r.written, r.unchanged, r.gone, r.errors.size(), r.skipped, MillisSince(start));
}

}  // namespace

int RunCluster(const OperatorFlags& flags) {
  StatusOr<kube::KubeConfig> config = flags.kubeconfig.empty()
                                          ? kube::LoadInClusterConfig()
                                          : kube::LoadKubeconfigFile(flags.kubeconfig);
  if (!config.ok()) {
    spdlog::error("{}", config.status().message());
    return 2;
  }
  std::string proxy_ns =
      flags.proxy_namespace.empty() ? config->namespace_name : flags.proxy_namespace;
  kube::KubeClient client(*config);
  const std::string bootstrap = proxy_ns + "/" + flags.config_map;  // our own Secret
  fleet::FleetPusher pusher({.ca_file = flags.push_ca,
                             .cert_file = flags.push_cert,
                             .key_file = flags.push_key,
                             .server_name = flags.push_server_name.empty()
                                                ? flags.proxy_service + "." + proxy_ns + ".svc"
                                                : flags.push_server_name});
  Trigger trigger;
  Cluster c{
      client,
      kube::KubeWriter(client),
      kube::StatusWriter(client, kube::kAccessPolicyPath, "accesspolicies"),
      kube::Informer(client, {.path = Collection(kube::kAccessPolicyPath, flags.namespace_name,
                                                 "accesspolicies"),
                              .transform = reconcile::CompactPolicyObject}),
      kube::Informer(client, {.path = Collection("/api/v1", flags.namespace_name, "secrets"),
                              .transform =
                                  [bootstrap](json s) {
                                    // Its data is the whole config: never cached twice.
                                    json slim = SlimSecret(std::move(s));
                                    if (kube::ObjectKey(slim) == bootstrap)
                                      slim["data"] = json::object();
                                    return slim;
                                  }}),
      kube::Informer(client,
                     {.path = Collection("/apis/discovery.k8s.io/v1", proxy_ns, "endpointslices"),
                      .label_selector = "kubernetes.io/service-name=" + flags.proxy_service})};
  std::atomic<uint64_t> changes{0};
  for (kube::Informer* i : {&c.policies, &c.secrets, &c.slices}) {
    i->SetOnChange([&trigger, &changes] {
      ++changes;
      trigger.Poke();
    });
  }
  SystemTimeSource time;
  kube::LeaderElector elector(
      client, {.ns = proxy_ns, .name = flags.lease_name, .identity = Identity(flags)}, time);
  OperatorMetrics metrics;
  ReconcileShell shell(metrics, pusher);
  auto synced = [&c] { return c.policies.synced() && c.secrets.synced() && c.slices.synced(); };
  AdminServer admin(metrics, synced);
  if (Status s = admin.Start(flags.admin); !s.ok()) {
    spdlog::error("{}", s.message());
    return 2;
  }
  InstallStopHandlers();
  std::vector<std::thread> threads;
  for (kube::Informer* i : {&c.policies, &c.secrets, &c.slices}) {
    threads.emplace_back([i] { i->Run(); });
  }
  threads.emplace_back([&] {
    elector.Run([&](bool leading) {
      spdlog::info(leading ? "became leader" : "lost leadership: standing by");
      trigger.Poke();
    });
  });
  spdlog::info("cluster mode: {} policies namespace(s), fleet {}/{}",
               flags.namespace_name.empty() ? "all" : flags.namespace_name, proxy_ns,
               flags.proxy_service);
  bool was_leading = false;
  std::string bootstrap_sha;  // the config the bootstrap Secret holds ("": unknown)
  std::string status_sha;     // the config statuses were last written for
  uint64_t seen_changes = ~uint64_t{0};
  reconcile::PolicyCache policy_cache;  // parses a policy once per generation
  reconcile::SecretsEpoch secrets_epoch_of(bootstrap);
  auto next_bootstrap_attempt = std::chrono::steady_clock::time_point{};
  FirstSyncLog sync_log;
  while (!StopRequested()) {
    trigger.Wait(std::chrono::milliseconds(100));
    if (!synced()) continue;
    sync_log.Mark("caches synced");
    bool leading = elector.leading();
    if (leading && !was_leading) {
      LoadBootstrap(c, flags, proxy_ns, shell);  // another leader may have moved on
      bootstrap_sha.clear();
    }
    bool became_leader = leading && !was_leading;
    was_leading = leading;
    bool inputs_changed = changes.load() != seen_changes;
    if (inputs_changed) {
      // Parse only when a cache changed; ticks in between only push and retry.
      // Status writes come back as MODIFIED events with the same generation:
      // the cache re-uses those parses, so they cost no re-parse of the fleet.
      seen_changes = changes.load();
      // The epoch comes from the same Secrets snapshot the parse uses, and
      // ignores our own bootstrap Secret: writing it re-parses nothing.
      std::vector<std::shared_ptr<const json>> secrets = c.secrets.SharedSnapshot();
      uint64_t secrets_epoch = secrets_epoch_of.Update(secrets);
      shell.SetCandidates(policy_cache.Candidates(c.policies.SharedSnapshot(),
                                                  SecretsFrom(secrets, bootstrap), secrets_epoch));
      sync_log.Mark("parsed");
    }
    const reconcile::RenderResult* result = shell.Render();
    sync_log.Mark("rendered");
    if (result == nullptr || !leading) continue;
    sync_log.Mark("leading");
    std::vector<std::string> urls =
        fleet::ProxiesFromEndpointSlices(c.slices.Snapshot(), pusher.scheme());
    shell.tracker().SetMembers(urls);
    if (!elector.leading()) continue;
    // Push first: the running fleet is the latency that matters. The bootstrap
    // only serves proxies that start while no operator runs; if it lags behind
    // a crash, a restarted operator still goes above the proxies' version.
    bool fleet_moved = shell.Push();
    sync_log.Mark("pushed");
    if (result->config.sha256 != bootstrap_sha &&
        std::chrono::steady_clock::now() >= next_bootstrap_attempt) {
      // The bootstrap holds secrets: a Secret, never a ConfigMap (see README).
      auto w = c.writer.ApplySecret(proxy_ns, flags.config_map,
                                    {{kBootstrapKey, GzipEnvelope(result->config)}});
      if (w.ok()) bootstrap_sha = result->config.sha256;
      if (!w.ok()) {
        // Not again on every tick: a Secret the API refuses (e.g. over its
        // 1 MiB limit) would otherwise be re-sent ten times a second.
        next_bootstrap_attempt = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        spdlog::warn("bootstrap Secret: {}", w.status().message());
      }
      sync_log.Mark("bootstrap Secret");
    }
    // Render() hands back its last result between changes, so "changed" is
    // judged against the config the statuses were last written for.
    if (inputs_changed || fleet_moved || became_leader || result->config.sha256 != status_sha) {
      // A fresh snapshot (shared with the cache, not copied): the statuses our
      // last writes stored are in it (fewer 409s), and none is held between
      // rounds, so the cache is never kept twice while watch events replace it.
      WriteStatuses(c, *result, c.policies.SharedSnapshot(), shell.tracker(), elector);
      status_sha = result->config.sha256;
      sync_log.Mark("statuses");
      sync_log.Finish();
    }
  }
  spdlog::info("stopping");
  elector.Release();
  spdlog::default_logger()->flush();
  std::_Exit(0);  // informer threads sit in blocking watches; nothing left to flush
}

}  // namespace gatehouse::operator_cli
