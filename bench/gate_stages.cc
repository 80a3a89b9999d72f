// gate_stages: runs the proxy's decision path (RequestGate::Check + Finish)
// on one prepared request, in a loop, with no sockets, so that a profiler can
// split its cost by stage. Made to run under callgrind:
//
//   valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*RunMeasured*'
//       build/bench/gate_stages --alg RS256 --policies 1000 --requests 2000 >/dev/null
//   bench/lib/ir-stages.mjs callgrind.out.PID 2000     # Ir per request per stage
//
// Only RunMeasured() is collected: set-up (key generation, token minting,
// policy compilation) and the warm-up requests are not. The clock is a
// FakeTimeSource, so every run executes the same instructions: the thread's
// bearer memo, its decision memo and its assertion cache hit after the
// warm-up, as they do for a client that keeps its token (with fresh tokens
// only the assertion cache does). The audit log is the production
// asynchronous logger (AuditLog::Stdout): redirect stdout to /dev/null.
//
// Flags: --alg RS256|ES256|EdDSA (default RS256), --policies N (default 1000;
// the request hits the first, the rest are fillers on other hosts),
// --requests N (default 2000), --warmup N (default 50), --fresh-tokens 1
// (every measured request carries a token not seen before, same user and
// claims but its own jti, as bench/lib/rotate-tokens.lua sends: the token
// cache misses and the signature is verified each time; the tokens are
// minted during set-up).
// Prints one line to stderr: the decision of the last request, so a run that
// stopped allowing (a broken set-up) is visible; exit 1 if it was not allowed.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/auth/json_web_key.h"
#include "proxy/auth/key_provider.h"
#include "proxy/auth/test_signer.h"
#include "proxy/core/time_source.h"
#include "proxy/policy/policy_parser.h"
#include "proxy/server/assertion_signer.h"
#include "proxy/server/audit_log.h"
#include "proxy/server/config_store.h"
#include "proxy/server/identity_headers.h"
#include "proxy/server/proxy_metrics.h"
#include "proxy/server/request_gate.h"

namespace gatehouse::bench {
namespace {

constexpr char kIssuer[] = "https://idp.bench.test";
constexpr char kHost[] = "app.bench.test";

struct Options {
  auth::JwsAlgorithm alg = auth::JwsAlgorithm::kRS256;
  int policies = 1000;
  int requests = 2000;
  int warmup = 50;
  bool fresh_tokens = false;
};

// Keys are there from the start: the benchmark never waits for a fetch.
class StaticKeys final : public auth::KeyProvider {
 public:
  explicit StaticKeys(std::shared_ptr<const auth::JsonWebKeySet> keys) : keys_(std::move(keys)) {}
  std::shared_ptr<const auth::JsonWebKeySet> Keys(const auth::IssuerConfig&) override {
    return keys_;
  }
  void KeyIdNotFound(const auth::IssuerConfig&) override {}

 private:
  std::shared_ptr<const auth::JsonWebKeySet> keys_;
};

// The same shape as bench/lib/gen-policies.mjs: the policy the request hits
// plus fillers on other hosts, rules on groups, email domains and IP blocks.
std::string PolicyYaml(const std::string& name, const std::string& host) {
  return "apiVersion: gatehouse.dev/v1alpha1\nkind: AccessPolicy\n"
         "metadata: {name: " +
         name + ", namespace: bench}\nspec:\n  hosts: [\"" + host +
         "\"]\n  upstream: {url: \"http://127.0.0.1:9000\"}\n"
         "  authentication:\n    issuers:\n      - issuer: " +
         kIssuer +
         "\n        audiences: [gatehouse]\n  rules:\n"
         "    - {name: health, action: Allow, methods: [GET, HEAD], paths: [\"/healthz\"], "
         "from: {public: true}}\n"
         "    - {name: no-contractor-exports, action: Deny, paths: [\"/api/dataset/csv\", "
         "\"/api/card/*/query/*\"], from: {groups: [contractors]}}\n"
         "    - {name: analysts-read, action: Allow, methods: [GET, HEAD], paths: [\"/\", "
         "\"/api/**\", \"/dashboard/**\"], from: {groups: [analysts], emailDomains: "
         "[example.com], ipBlocks: [127.0.0.0/8, 10.0.0.0/8]}}\n"
         "    - {name: admins, action: Allow, from: {groups: [admins], ipBlocks: "
         "[10.0.0.0/8]}}\n---\n";
}

std::vector<policy::AccessPolicy> BenchPolicies(int count) {
  // One file per policy, as in a policy folder (a file holds at most 1,000 documents).
  std::vector<policy::SourceFile> files;
  files.push_back({"bench.yaml", PolicyYaml("bench", kHost)});
  for (int i = 1; i < count; ++i) {
    const std::string id = std::to_string(i);
    files.push_back(
        {"filler-" + id + ".yaml", PolicyYaml("filler-" + id, "svc-" + id + ".filler.bench.test")});
  }
  policy::ParseResult parsed = policy::ParsePolicyFiles(files);
  for (const auto& e : parsed.errors) std::cerr << "gate_stages: " << e.ToString() << "\n";
  if (!parsed.ok()) std::exit(1);
  return parsed.policies;
}

bool ParseOptions(int argc, char** argv, Options* options) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--alg") {
      if (!auth::ParseJwsAlgorithm(value, &options->alg)) return false;
    } else if (flag == "--policies") {
      options->policies = std::atoi(value.c_str());
    } else if (flag == "--requests") {
      options->requests = std::atoi(value.c_str());
    } else if (flag == "--warmup") {
      options->warmup = std::atoi(value.c_str());
    } else if (flag == "--fresh-tokens") {
      options->fresh_tokens = value == "1";
    } else {
      return false;
    }
  }
  return argc % 2 == 1 && options->policies >= 1 && options->requests >= 1 && options->warmup >= 1;
}

// One request as the data path hands it over: a fresh head each time,
// because the gate rewrites its headers. With several prototypes (fresh
// tokens), request i uses prototype i.
struct Bench {
  server::RequestGate& gate;
  const std::vector<server::RequestHead>& prototypes;
  const server::ClientInfo& client;
};

int OneRequest(const Bench& bench, size_t index) {
  server::RequestHead head = bench.prototypes[index % bench.prototypes.size()];
  server::GateVerdict verdict;
  bench.gate.Check(head, bench.client, [&](server::GateVerdict&& v) { verdict = std::move(v); });
  server::ExchangeOutcome outcome;
  outcome.status = verdict.local_response ? verdict.local_response->result_int() : 200;
  outcome.gate_time = std::chrono::microseconds(20);
  outcome.upstream_time = std::chrono::microseconds(500);
  outcome.response_bytes = 100;
  bench.gate.Finish(verdict, outcome);
  return outcome.status;
}

// The only function callgrind collects (--toggle-collect='*RunMeasured*').
__attribute__((noinline)) int RunMeasured(const Bench& bench, int first, int requests) {
  int last = 0;
  for (int i = 0; i < requests; ++i) last = OneRequest(bench, static_cast<size_t>(first + i));
  return last;
}

// GET /api/bench on the benchmark host with a token every rule accepts.
server::RequestHead PrototypeRequest(const auth::TestSigner& idp, int64_t now, int serial) {
  const std::string token = idp.Mint({{"iss", kIssuer},
                                      {"aud", "gatehouse"},
                                      {"sub", "bench-user"},
                                      {"email", "bench-user@example.com"},
                                      {"groups", {"analysts", "bench"}},
                                      {"jti", "bench-token-" + std::to_string(serial)},
                                      {"iat", now},
                                      {"exp", now + 24 * 3600}});
  server::RequestHead head;
  head.method(server::http::verb::get);
  head.target("/api/bench");
  head.version(11);
  head.set(server::http::field::host, kHost);
  head.set(server::http::field::authorization, "Bearer " + token);
  head.set(server::http::field::user_agent, "wrk");
  return head;
}

int Main(int argc, char** argv) {
  Options options;
  if (!ParseOptions(argc, argv, &options)) {
    std::cerr << "usage: gate_stages [--alg RS256|ES256|EdDSA] [--policies N] [--requests N]"
                 " [--warmup N] [--fresh-tokens 0|1]\n";
    return 2;
  }
  FakeTimeSource time;
  auth::TestSigner idp(options.alg, "bench-key");
  auto jwks = auth::JsonWebKeySet::Parse(auth::JwksOf({idp.PublicJwk()}));
  if (!jwks.ok()) return 1;
  StaticKeys keys(*jwks);
  server::ProxyMetrics metrics;
  server::ConfigStore store(keys, &metrics);
  if (!store.ApplyPolicies(BenchPolicies(options.policies)).ok()) {
    std::cerr << "gate_stages: the policies did not apply\n";
    return 1;
  }
  auto signer = server::AssertionSigner::Generate();
  if (!signer.ok()) return 1;
  std::unique_ptr<server::AuditLog> audit = server::AuditLog::Stdout();
  server::RequestGate gate({.store = store,
                            .signer = **signer,
                            .audit = audit.get(),
                            .metrics = metrics,
                            .time = time,
                            .waiter = nullptr});

  // Cached: one token for every request. Fresh: one per request, warm-up included.
  std::vector<server::RequestHead> prototypes;
  const int tokens = options.fresh_tokens ? options.warmup + options.requests : 1;
  for (int i = 0; i < tokens; ++i)
    prototypes.push_back(PrototypeRequest(idp, time.NowSeconds(), i));
  server::ClientInfo client;
  client.address = *policy::ParseIpAddress("127.0.0.1");
  client.address_text = "127.0.0.1";

  const Bench bench{gate, prototypes, client};
  for (int i = 0; i < options.warmup; ++i) OneRequest(bench, static_cast<size_t>(i));
  const int status = RunMeasured(bench, options.warmup, options.requests);
  audit->Flush();
  std::cerr << "gate_stages: alg " << auth::JwsAlgorithmName(options.alg) << ", "
            << options.policies << " policies, " << options.requests << " requests"
            << (options.fresh_tokens ? " (fresh tokens)" : "") << ", last status " << status
            << "\n";
  return status == 200 ? 0 : 1;
}

}  // namespace
}  // namespace gatehouse::bench

int main(int argc, char** argv) { return gatehouse::bench::Main(argc, argv); }
