// Test-only helpers for the gate's unit tests: a fake KeyProvider, a policy
// set in YAML, and a harness that runs RequestGate::Check synchronously.
#pragma once

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "proxy/auth/issuer_config.h"
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

namespace gatehouse::server::testing {

inline constexpr char kIssuer[] = "https://idp.example.com";

// Keys appear only when Publish() is called; thread-safe.
// The test IdP's issuer, for tests that build authenticators themselves.
inline auth::IssuerConfig TestIssuer() {
  auth::IssuerConfig config;
  config.issuer = kIssuer;
  config.audiences = {"gatehouse"};
  return config;
}

class FakeKeys final : public auth::KeyProvider {
 public:
  void Publish(const std::string& jwks) {
    auto parsed = auth::JsonWebKeySet::Parse(jwks);
    EXPECT_TRUE(parsed.ok());
    std::lock_guard<std::mutex> lock(mu_);
    keys_ = *parsed;
  }
  std::shared_ptr<const auth::JsonWebKeySet> Keys(const auth::IssuerConfig&) override {
    std::lock_guard<std::mutex> lock(mu_);
    return keys_;
  }
  void KeyIdNotFound(const auth::IssuerConfig&) override {}

 private:
  std::mutex mu_;
  std::shared_ptr<const auth::JsonWebKeySet> keys_;
};

inline std::string PolicyYaml(const std::string& name, const std::string& host,
                              const std::string& extra_spec, const std::string& rules) {
  return "apiVersion: gatehouse.dev/v1alpha1\nkind: AccessPolicy\n"
         "metadata: {name: " +
         name +
         ", namespace: team}\n"
         "spec:\n"
         "  hosts: [\"" +
         host +
         "\"]\n"
         "  upstream: {url: \"http://127.0.0.1:9000/base\"}\n"
         "  authentication:\n"
         "    issuers:\n"
         "      - issuer: https://idp.example.com\n"
         "        audiences: [gatehouse]\n" +
         extra_spec + "  rules:\n" + rules + "---\n";
}

// The decision-table fixture: app (Enforce), audit (Audit), login (login
// configured), limited (rateLimit 60/min burst 2).
inline std::string StandardPolicies() {
  const std::string app_rules =
      "    - {name: health, action: Allow, paths: [\"/health\"], from: {public: true}}\n"
      "    - {name: no-exports, action: Deny, paths: [\"/export/**\"], from: {groups: "
      "[contractors]}}\n"
      "    - {name: readers, action: Allow, methods: [GET, HEAD], paths: [\"/api/**\", "
      "\"/export/**\"], from: {groups: [readers]}}\n";
  const std::string login =
      "    login: {issuer: \"https://idp.example.com\", clientID: gatehouse, clientSecretRef: "
      "{name: oidc, key: secret}}\n";
  return PolicyYaml("app", "app.example.com", "", app_rules) +
         PolicyYaml("audit", "audit.example.com", "  mode: Audit\n",
                    "    - {name: admins, action: Allow, from: {groups: [admins]}}\n") +
         PolicyYaml("login", "login.example.com", login,
                    "    - {name: readers, action: Allow, from: {groups: [readers]}}\n") +
         PolicyYaml("limited", "limited.example.com",
                    "  rateLimit: {requestsPerMinute: 60, burst: 2, key: identity}\n",
                    "    - {name: anyone, action: Allow, from: {}}\n"
                    "    - {name: open, action: Allow, paths: [\"/open\"], from: {public: "
                    "true}}\n") +
         "apiVersion: v1\nkind: Secret\nmetadata: {name: oidc, namespace: team}\n"
         "stringData: {secret: s3cret-value}\n";
}

inline std::vector<policy::AccessPolicy> ParseOrDie(const std::string& yaml) {
  policy::ParseResult r = policy::ParsePolicyFiles({{"test.yaml", yaml}});
  for (const auto& e : r.errors) ADD_FAILURE() << e.ToString();
  return r.policies;
}

// The value the gate added under `name` for the upstream (gate.h
// GateVerdict::added_fields), "" when none.
inline std::string Added(const GateVerdict& verdict, std::string_view name) {
  return std::string(verdict.added_fields.Find(name).value_or(""));
}

struct GateResult {
  bool called = false;
  GateVerdict verdict;
  nlohmann::json audit;  // the audit line written by Finish
};

class GateHarness {
 public:
  explicit GateHarness(bool load_config = true, bool with_waiter = false)
      : idp_(auth::JwsAlgorithm::kRS256, "idp-key"), store_(keys_, &metrics_) {
    signer_ = std::move(*AssertionSigner::Generate());
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(audit_out_);
    auto logger = std::make_shared<spdlog::logger>("gate-test", sink);
    logger->set_pattern("%v");
    audit_ = std::make_unique<AuditLog>(logger, nullptr);
    if (with_waiter) waiter_ = std::make_unique<KeyWaiter>(keys_, time_);
    gate_ = std::make_unique<RequestGate>(RequestGateDeps{.store = store_,
                                                          .signer = *signer_,
                                                          .audit = audit_.get(),
                                                          .metrics = metrics_,
                                                          .time = time_,
                                                          .waiter = waiter_.get()});
    if (load_config) {
      keys_.Publish(auth::JwksOf({idp_.PublicJwk()}));
      EXPECT_TRUE(store_.ApplyPolicies(ParseOrDie(StandardPolicies())).ok());
    }
  }

  std::string Token(const std::vector<std::string>& groups, const std::string& sub = "alice",
                    int64_t lifetime = 300) const {
    return idp_.Mint({{"iss", kIssuer},
                      {"aud", "gatehouse"},
                      {"sub", sub},
                      {"email", sub + "@example.com"},
                      {"groups", groups},
                      {"jti", "jti-" + sub},
                      {"iat", time_.NowSeconds()},
                      {"exp", time_.NowSeconds() + lifetime}});
  }

  static RequestHead Head(const std::string& method, const std::string& host,
                          const std::string& target) {
    RequestHead head;
    head.method_string(std::string_view(method));
    head.target(std::string_view(target));
    head.version(11);
    head.set(http::field::host, std::string_view(host));
    return head;
  }

  static ClientInfo Client(const std::string& ip = "10.1.2.3") {
    ClientInfo c;
    c.address = *policy::ParseIpAddress(ip);
    c.address_text = ip;
    return c;
  }

  // Check + Finish, synchronously; `status` as the data path would report it.
  GateResult Run(RequestHead& head, const ClientInfo& client = Client()) {
    GateResult result;
    gate_->Check(head, client, [&](GateVerdict v) {
      result.called = true;
      result.verdict = std::move(v);
    });
    if (result.called) FinishAndReadAudit(result);
    return result;
  }

  void FinishAndReadAudit(GateResult& result) {
    ExchangeOutcome outcome;
    outcome.status = result.verdict.local_response
                         ? static_cast<int>(result.verdict.local_response->result_int())
                         : 200;
    outcome.gate_time = std::chrono::microseconds(25);
    if (!result.verdict.local_response) outcome.upstream_time = std::chrono::milliseconds(3);
    const size_t before = audit_out_.str().size();
    gate_->Finish(result.verdict, outcome);
    audit_->Flush();
    const std::string line = audit_out_.str().substr(before);
    result.audit = nlohmann::json::parse(line, nullptr, false);
  }

  std::string AllAudit() const { return audit_out_.str(); }

  FakeTimeSource& time() { return time_; }
  FakeKeys& keys() { return keys_; }
  ConfigStore& store() { return store_; }
  ProxyMetrics& metrics() { return metrics_; }
  RequestGate& gate() { return *gate_; }
  const AssertionSigner& signer() const { return *signer_; }
  const auth::TestSigner& idp() const { return idp_; }

 private:
  FakeTimeSource time_;
  FakeKeys keys_;
  auth::TestSigner idp_;
  ProxyMetrics metrics_;
  ConfigStore store_;
  std::unique_ptr<AssertionSigner> signer_;
  std::ostringstream audit_out_;
  std::unique_ptr<AuditLog> audit_;
  std::unique_ptr<KeyWaiter> waiter_;
  std::unique_ptr<RequestGate> gate_;
};

}  // namespace gatehouse::server::testing
