// AccessPolicy validation rules, one named scenario each. The document as a whole: defaults,
// apiVersion/kind/metadata, every error of one document reported, hostile keys quoted and the issue
// list capped.
#include <gtest/gtest.h>

#include "proxy/policy/policy_validator_test_util.h"

namespace gatehouse::policy::validator_test {
namespace {

TEST(PolicyValidatorTest, BasePolicyIsValidAndDefaultsApplied) {
  PolicyValidation v = ValidateAccessPolicy(BasePolicy(), BaseSecrets());
  ASSERT_TRUE(v.issues.empty()) << v.issues.list()[0].field << ": " << v.issues.list()[0].message;
  const AccessPolicySpec& spec = v.policy.spec;
  EXPECT_EQ(v.policy.Key(), "analytics/metabase");
  EXPECT_EQ(spec.path_prefix, "/");
  EXPECT_EQ(spec.upstream.timeout_seconds, 600);
  EXPECT_EQ(spec.upstream.service, (ServiceRef{"metabase", 3000}));
  EXPECT_EQ(spec.authentication.issuers[0].groups_claim, "groups");
  EXPECT_EQ(spec.authentication.issuers[0].email_claim, "email");
  EXPECT_EQ(spec.authentication.issuers[0].user_claim, "sub");
  EXPECT_EQ(spec.authentication.issuers[0].jwks_uri, "");
  EXPECT_EQ(spec.authentication.issuers[0].algorithms, auth::AllJwsAlgorithms());
  EXPECT_EQ(spec.authentication.login->scopes,
            (std::vector<std::string>{"openid", "email", "profile"}));
  EXPECT_EQ(spec.authentication.login->client_secret, "s3cr3t-client");
  EXPECT_EQ(spec.metabase->shared_secret, std::string(64, 'a'));
  EXPECT_EQ(spec.identity_headers, IdentityHeadersSpec{});
  EXPECT_FALSE(spec.rate_limit.has_value());
  EXPECT_EQ(spec.mode, PolicyMode::kEnforce);
  EXPECT_TRUE(spec.rules[0].from.is_public);
  EXPECT_EQ(spec.rules[1].action, RuleAction::kAllow);
  EXPECT_TRUE(spec.rules[1].methods.empty());
}

TEST(PolicyValidatorTest, DocumentAndMetadata) {
  std::vector<Scenario> scenarios = {
      {"wrong apiVersion",
       [](json& d) { d["apiVersion"] = "gatehouse.dev/v1"; },
       {{"apiVersion", "must be gatehouse.dev/v1alpha1"}}},
      {"missing apiVersion",
       [](json& d) { d.erase("apiVersion"); },
       {{"apiVersion", "is required"}}},
      {"unknown top-level field",
       [](json& d) { d["specs"] = json::object(); },
       {{"specs", "unknown field"}}},
      {"status is ignored",
       [](json& d) {
         d["status"] = {{"x", 1}};
       },
       {}},
      {"missing name",
       [](json& d) { d["metadata"].erase("name"); },
       {{"metadata.name", "is required"}}},
      {"uppercase name",
       [](json& d) { d["metadata"]["name"] = "Metabase"; },
       {{"metadata.name", "DNS-1123 subdomain"}}},
      {"name too long",
       [](json& d) { d["metadata"]["name"] = std::string(254, 'a'); },
       {{"metadata.name", "at most 253"}}},
      {"namespace with dot",
       [](json& d) { d["metadata"]["namespace"] = "a.b"; },
       {{"metadata.namespace", "DNS-1123 label"}}},
      {"namespace too long",
       [](json& d) { d["metadata"]["namespace"] = std::string(64, 'a'); },
       {{"metadata.namespace", "at most 63"}}},
      {"api server metadata accepted",
       [](json& d) {
         d["metadata"]["resourceVersion"] = "12";
         d["metadata"]["labels"] = {{"a", "b"}};
         d["metadata"]["generation"] = 3;
         d["metadata"]["uid"] = "0b7c";
         d["metadata"]["creationTimestamp"] = "2024-05-01T12:00:00Z";
       },
       {}},
      {"unknown metadata field",
       [](json& d) { d["metadata"]["nmae"] = "x"; },
       {{"metadata.nmae", "unknown field"}}},
      {"negative generation",
       [](json& d) { d["metadata"]["generation"] = -1; },
       {{"metadata.generation", "must be between 0"}}},
      {"missing spec", [](json& d) { d.erase("spec"); }, {{"spec", "is required"}}},
      {"spec not an object",
       [](json& d) { d["spec"] = json::array(); },
       {{"spec", "must be an object"}}},
  };
  for (const Scenario& s : scenarios) CheckScenario(s);
}

TEST(PolicyValidatorTest, EveryErrorInOneDocumentIsReported) {
  CheckScenario({"many at once",
                 [](json& d) {
                   Spec(d)["hosts"][0] = "UPPER.example.com";
                   Spec(d)["upstream"]["service"]["port"] = "3000";
                   Rule(d, 1)["action"] = "Permit";
                   Rule(d, 1)["form"] = json::object();
                   Spec(d)["mode"] = "Strict";
                 },
                 {{"spec.hosts[0]", "must be lowercase"},
                  {"spec.upstream.service.port", "must be an integer"},
                  {"spec.rules[1].form", "unknown field"},
                  {"spec.rules[1].action", "must be one of Allow, Deny"},
                  {"spec.mode", "must be one of"}}});
}

TEST(PolicyValidatorTest, HostileKeysAreQuotedAndIssuesCapped) {
  json doc = BasePolicy();
  Spec(doc)["bad\nkey\x01"] = 1;
  for (int i = 0; i < 300; ++i) Spec(doc)["x" + std::to_string(i)] = 1;
  PolicyValidation v = ValidateAccessPolicy(doc, BaseSecrets());
  EXPECT_EQ(v.issues.size(), validation::Issues::kMaxIssues);
  EXPECT_EQ(v.issues.list().back().message, "too many errors; the rest are not reported");
  for (const auto& issue : v.issues.list()) {
    EXPECT_EQ(issue.field.find('\n'), std::string::npos) << issue.field;
  }
}

}  // namespace
}  // namespace gatehouse::policy::validator_test
