// Cluster mode: informers -> render -> (leader only) bootstrap Secret, push, status.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <thread>

#include "operator/cli/operator_runner.h"
#include "operator/cli/reconcile_shell.h"
#include "operator/kube/informer.h"
#include "operator/kube/kube_writer.h"
#include "operator/kube/leader_elector.h"
#include "operator/reconcile/policy_cache.h"
#include "operator/reconcile/policy_status.h"
#include "proxy/core/gzip.h"
#include "proxy/policy/fleet_config.h"
#include "proxy/policy/policy_parser.h"

namespace gatehouse::operator_cli {
namespace {

using nlohmann::json;

constexpr char kBootstrapKey[] = "config.json";

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

policy::SecretStore SecretsFrom(const std::vector<json>& secrets) {
  policy::SecretStore store;
  for (const json& s : secrets) {
    json object = s;
    object["apiVersion"] = "v1";
    object["kind"] = "Secret";
    policy::validation::Issues issues;
    if (auto parsed = policy::ParseSecretObject(object, &issues)) {
      store.Add(parsed->namespace_name, parsed->name, std::move(parsed->data));
    }
  }
  return store;
}

struct Cluster {
  kube::KubeClient& client;
  kube::KubeWriter writer;
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

void WriteStatuses(Cluster& c, const reconcile::RenderResult& result,
                   const std::vector<std::shared_ptr<const json>>& objects,
                   const fleet::FleetTracker& tracker, const kube::LeaderElector& elector) {
  std::map<std::string, const reconcile::PolicyOutcome*> by_key;
  for (const auto& o : result.outcomes) by_key[o.key] = &o;
  std::vector<reconcile::ProxyView> view = tracker.View();
  auto now = std::chrono::system_clock::now();
  for (const auto& shared : objects) {
    if (!elector.leading()) return;  // lost the lease: stop writing at once
    const json& object = *shared;
    auto it = by_key.find(kube::ObjectKey(object));
    if (it == by_key.end()) continue;
    const reconcile::PolicyOutcome& outcome = *it->second;
    auto desired = [&](const json& fresh) -> std::optional<json> {
      json stored = fresh.value("status", json());
      json want =
          reconcile::PolicyStatusToJson(reconcile::ComputePolicyStatus(outcome, view, stored, now));
      if (!reconcile::StatusNeedsWrite(stored, want)) return std::nullopt;
      return want;
    };
    // The cache holds policies compact; the write sends the whole object back.
    auto written = c.writer.WriteStatus(reconcile::ExpandPolicyObject(object), desired);
    if (!written.ok()) spdlog::warn("status of {}: {}", outcome.key, written.status().message());
  }
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
  fleet::FleetPusher pusher({.ca_file = flags.push_ca,
                             .cert_file = flags.push_cert,
                             .key_file = flags.push_key,
                             .server_name = flags.push_server_name.empty()
                                                ? flags.proxy_service + "." + proxy_ns + ".svc"
                                                : flags.push_server_name});
  Trigger trigger;
  Cluster c{
      client, kube::KubeWriter(client),
      kube::Informer(client, {.path = Collection(kube::kAccessPolicyPath, flags.namespace_name,
                                                 "accesspolicies"),
                              .transform = reconcile::CompactPolicyObject}),
      kube::Informer(client, {.path = Collection("/api/v1", flags.namespace_name, "secrets"),
                              .transform = SlimSecret}),
      kube::Informer(client,
                     {.path = Collection("/apis/discovery.k8s.io/v1", proxy_ns, "endpointslices"),
                      .label_selector = "kubernetes.io/service-name=" + flags.proxy_service})};
  std::atomic<uint64_t> changes{0};
  std::atomic<uint64_t> secret_changes{0};  // the Secrets epoch of the policy cache
  for (kube::Informer* i : {&c.policies, &c.secrets, &c.slices}) {
    std::atomic<uint64_t>* extra = i == &c.secrets ? &secret_changes : nullptr;
    i->SetOnChange([&trigger, &changes, extra] {
      if (extra != nullptr) ++*extra;
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
  std::vector<std::shared_ptr<const json>> objects;  // shared with the cache, never copied
  reconcile::PolicyCache policy_cache;               // parses a policy once per generation
  auto next_bootstrap_attempt = std::chrono::steady_clock::time_point{};
  while (!StopRequested()) {
    trigger.Wait(std::chrono::milliseconds(100));
    if (!synced()) continue;
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
      uint64_t secrets_epoch = secret_changes.load();  // before the snapshot: never stale
      objects = c.policies.SharedSnapshot();
      shell.SetCandidates(
          policy_cache.Candidates(objects, SecretsFrom(c.secrets.Snapshot()), secrets_epoch));
    }
    const reconcile::RenderResult* result = shell.Render();
    if (result == nullptr || !leading) continue;
    std::vector<std::string> urls =
        fleet::ProxiesFromEndpointSlices(c.slices.Snapshot(), pusher.scheme());
    shell.tracker().SetMembers(urls);
    if (!elector.leading()) continue;
    // Push first: the running fleet is the latency that matters. The bootstrap
    // only serves proxies that start while no operator runs; if it lags behind
    // a crash, a restarted operator still goes above the proxies' version.
    bool fleet_moved = shell.Push();
    if (result->config.sha256 != bootstrap_sha &&
        std::chrono::steady_clock::now() >= next_bootstrap_attempt) {
      // The bootstrap holds secrets: a Secret, never a ConfigMap (see README).
      auto w = c.writer.ApplySecret(
          proxy_ns, flags.config_map,
          {{kBootstrapKey, Gzip(policy::SerializeFleetConfig(result->config))}});
      if (w.ok()) bootstrap_sha = result->config.sha256;
      if (!w.ok()) {
        // Not again on every tick: a Secret the API refuses (e.g. over its
        // 1 MiB limit) would otherwise be re-sent ten times a second.
        next_bootstrap_attempt = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        spdlog::warn("bootstrap Secret: {}", w.status().message());
      }
    }
    // Render() hands back its last result between changes, so "changed" is
    // judged against the config the statuses were last written for.
    if (inputs_changed || fleet_moved || became_leader || result->config.sha256 != status_sha) {
      WriteStatuses(c, *result, objects, shell.tracker(), elector);
      status_sha = result->config.sha256;
    }
  }
  spdlog::info("stopping");
  elector.Release();
  spdlog::default_logger()->flush();
  std::_Exit(0);  // informer threads sit in blocking watches; nothing left to flush
}

}  // namespace gatehouse::operator_cli
