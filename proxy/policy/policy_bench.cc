// Benchmarks of the policy engine's hot path (route + decide), of
// CompilePolicies, and of loading a pushed fleet config (parse + validate +
// compile, what a proxy does on every push), at 1 to 10,000 policies.
// Part of the gatehouse_core_bench binary (bench/CMakeLists.txt).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "proxy/policy/fleet_config.h"
#include "proxy/policy/policy_engine.h"

namespace gatehouse::policy {
namespace {

RuleSpec MakeRule(std::string name, RuleAction action, std::vector<std::string> paths,
                  FromSpec from, std::vector<std::string> methods = {}) {
  RuleSpec rule;
  rule.name = std::move(name);
  rule.action = action;
  rule.paths = std::move(paths);
  rule.from = std::move(from);
  rule.methods = std::move(methods);
  return rule;
}

// A Metabase-like policy: health check, an export ban, analysts by group +
// domain + office network, admins by email, finance by claim.
AccessPolicy MetabaseLike(int index, std::string host, std::string prefix) {
  AccessPolicy policy;
  policy.namespace_name = "ns" + std::to_string(index % 50);
  policy.name = "policy-" + std::to_string(index);
  policy.creation_timestamp = "2024-01-01T00:00:00Z";
  policy.spec.hosts = {std::move(host)};
  policy.spec.path_prefix = std::move(prefix);
  FromSpec pub, contractors, analysts, admins, finance;
  pub.is_public = true;
  contractors.groups = {"contractors", "vendors"};
  analysts.groups = {"analysts", "data-eng", "bi"};
  analysts.email_domains = {"example.com", "example.org"};
  analysts.ip_blocks = {"10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32"};
  admins.emails = {"root@example.com", "ops@example.com"};
  finance.claims = {{"department", {"finance", "accounting"}}};
  policy.spec.rules = {
      MakeRule("health", RuleAction::kAllow, {"/api/health"}, pub),
      MakeRule("no-contractor-exports", RuleAction::kDeny,
               {"/api/dataset/csv", "/api/card/*/query/*"}, contractors),
      MakeRule("analysts-read", RuleAction::kAllow, {"/api/card/*", "/dashboard/**", "/api/**"},
               analysts, {"GET", "HEAD"}),
      MakeRule("finance", RuleAction::kAllow, {"/api/dataset/**"}, finance),
      MakeRule("admins", RuleAction::kAllow, {}, admins),
      MakeRule("analysts-write", RuleAction::kAllow, {"/api/card", "/api/dashboard/*"}, analysts,
               {"POST", "PUT"}),
  };
  return policy;
}

// n policies: mostly distinct hosts; every 10th shares the previous host
// under a longer prefix.
std::vector<AccessPolicy> Fleet(int n) {
  std::vector<AccessPolicy> policies;
  policies.reserve(n);
  for (int i = 0; i < n; ++i) {
    bool shares = i % 10 == 9;
    int host_index = shares ? i - 1 : i;
    policies.push_back(MetabaseLike(i, "mb" + std::to_string(host_index) + ".example.com",
                                    shares ? "/api/v" + std::to_string(i) : "/"));
  }
  return policies;
}

void BM_Decision(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  CompileResult compiled = CompilePolicies(Fleet(n));
  auth::Identity identity;
  identity.subject = "user-1";
  identity.email = "ann@example.com";
  identity.groups = {"employees", "analysts"};
  identity.claims = {{"sub", "user-1"}, {"department", "sales"}};
  IpAddress ip = *ParseIpAddress("10.1.2.3");
  // Rotate over hosts across the fleet so lookups are not one cached entry.
  std::vector<std::string> hosts;
  for (int i = 0; i < 64; ++i)
    hosts.push_back("MB" + std::to_string((i * 7919) % n / 10 * 10) + ".example.com:443");
  RequestFacts facts;
  facts.method = "GET";
  facts.path = "/api/card/42";
  facts.client_ip = &ip;
  facts.identity = &identity;
  size_t i = 0;
  int64_t allowed = 0;
  for (auto _ : state) {
    facts.host = hosts[i++ & 63];
    Decision d = Evaluate(*compiled.set, facts);
    allowed += d.allow;
    benchmark::DoNotOptimize(d);
  }
  if (allowed != static_cast<int64_t>(state.iterations())) state.SkipWithError("unexpected deny");
}
BENCHMARK(BM_Decision)->Arg(1)->Arg(100)->Arg(10000);

void BM_Compile(benchmark::State& state) {
  std::vector<AccessPolicy> fleet = Fleet(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<AccessPolicy> input = fleet;
    state.ResumeTiming();
    CompileResult result = CompilePolicies(std::move(input));
    if (!result.errors.empty()) state.SkipWithError("compile errors");
    benchmark::DoNotOptimize(result);
  }
}
BENCHMARK(BM_Compile)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

// The same fleet as a proxy receives it: complete, valid documents (upstream,
// issuer) serialized by the operator's renderer.
std::string RenderedFleet(int n) {
  std::vector<AccessPolicy> policies = Fleet(n);
  for (AccessPolicy& p : policies) {
    p.spec.upstream.url = "http://metabase.analytics.svc:3000";
    auth::IssuerConfig issuer;
    issuer.issuer = "https://idp.example.com";
    issuer.audiences = {"gatehouse"};
    issuer.algorithms = auth::AllJwsAlgorithms();
    p.spec.authentication.issuers = {issuer};
  }
  return SerializeFleetConfig(MakeFleetConfig(1, policies));
}

void BM_LoadFleetConfig(benchmark::State& state) {
  const std::string wire = RenderedFleet(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    StatusOr<std::vector<AccessPolicy>> policies = ParseFleetConfig(wire);
    if (!policies.ok()) {
      state.SkipWithError(policies.status().message().c_str());
      break;
    }
    CompileResult result = CompilePolicies(std::move(*policies));
    if (!result.errors.empty()) state.SkipWithError("compile errors");
    benchmark::DoNotOptimize(result);
  }
  state.counters["bytes"] = static_cast<double>(wire.size());
}
BENCHMARK(BM_LoadFleetConfig)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace gatehouse::policy
