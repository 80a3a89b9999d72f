// ParsePolicyFiles end to end from YAML text: happy paths with defaults,
// YAML typing traps, kinds and apiVersions, Secrets across files, duplicates,
// and where each error is reported (file, document, policy, field).
#include "proxy/policy/policy_parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace gatehouse::policy {
namespace {

// A valid policy document with `extra_spec` lines appended under spec
// (indented by two spaces) and `rule_from` as the single rule's from.
std::string Policy(const std::string& name, const std::string& rule_from = "{groups: [a]}",
                   const std::string& extra_spec = "", const std::string& ns = "apps") {
  return "apiVersion: gatehouse.dev/v1alpha1\nkind: AccessPolicy\nmetadata: {name: " + name +
         ", namespace: " + ns + "}\nspec:\n  hosts: [" + name +
         ".example.com]\n  upstream: {service: {name: web, port: 80}}\n"
         "  authentication: {issuers: [{issuer: 'https://idp.example.com', audiences: [x]}]}\n"
         "  rules:\n    - name: r\n      action: Allow\n      from: " +
         rule_from + "\n" + extra_spec;
}

struct ErrorExpectation {
  std::string file;
  int document;
  std::string policy;
  std::string field;
  std::string message_part;
};

struct ParserScenario {
  std::string name;
  std::vector<SourceFile> files;
  std::vector<std::string> accepted;  // keys, in order
  std::vector<ErrorExpectation> errors;
};

void CheckParse(const ParserScenario& s) {
  SCOPED_TRACE(s.name);
  ParseResult r = ParsePolicyFiles(s.files);
  std::vector<std::string> keys;
  for (const AccessPolicy& p : r.policies) keys.push_back(p.Key());
  std::string dump;
  for (const PolicyError& e : r.errors) dump += "  " + e.ToString() + "\n";
  EXPECT_EQ(keys, s.accepted) << dump;
  ASSERT_EQ(r.errors.size(), s.errors.size()) << dump;
  for (size_t i = 0; i < s.errors.size(); ++i) {
    EXPECT_EQ(r.errors[i].source.file, s.errors[i].file) << dump;
    EXPECT_EQ(r.errors[i].source.document, s.errors[i].document) << dump;
    EXPECT_EQ(r.errors[i].policy, s.errors[i].policy) << dump;
    EXPECT_EQ(r.errors[i].field, s.errors[i].field) << dump;
    EXPECT_THAT(r.errors[i].message, testing::HasSubstr(s.errors[i].message_part)) << dump;
  }
}

TEST(PolicyParserTest, Scenarios) {
  const std::string secret =
      "apiVersion: v1\nkind: Secret\nmetadata: {name: mb, namespace: apps}\n"
      "stringData: {secret: 0123456789abcdef0123456789abcdef}\n";
  const std::string metabase = "  metabase: {sharedSecretRef: {name: mb, key: secret}}\n";
  std::vector<ParserScenario> scenarios = {
      {"two documents, one file",
       {{"a.yaml", Policy("one") + "---\n" + Policy("two")}},
       {"apps/one", "apps/two"},
       {}},
      {"empty documents skipped",
       {{"a.yaml", "---\n---\n# nothing\n---\n" + Policy("one") + "---\n"}},
       {"apps/one"},
       {}},
      {"empty file", {{"a.yaml", ""}}, {}, {}},
      {"public: yes is a string",
       {{"a.yaml", Policy("one", "{public: yes}")}},
       {},
       {{"a.yaml", 1, "apps/one", "spec.rules[0].from.public", "must be a boolean"}}},
      {"quoted port is a string",
       {{"a.yaml",
         Policy("one", "{groups: [a]}", "  rateLimit: {requestsPerMinute: '60', burst: 1}\n")}},
       {},
       {{"a.yaml", 1, "apps/one", "spec.rateLimit.requestsPerMinute", "must be an integer"}}},
      {"numeric group name is not a string",
       {{"a.yaml", Policy("one", "{groups: [42]}")}},
       {},
       {{"a.yaml", 1, "apps/one", "spec.rules[0].from.groups[0]", "must be a string"}}},
      {"wrong apiVersion",
       {{"a.yaml",
         "apiVersion: gatehouse.dev/v1beta1\nkind: AccessPolicy\nmetadata: {name: x}\n"
         "spec: {}\n"}},
       {},
       {{"a.yaml", 1, "default/x", "apiVersion", "must be gatehouse.dev/v1alpha1"},
        {"a.yaml", 1, "default/x", "spec.hosts", "is required"},
        {"a.yaml", 1, "default/x", "spec.upstream", "is required"},
        {"a.yaml", 1, "default/x", "spec.rules", "is required"}}},
      {"unknown kind",
       {{"a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"}},
       {},
       {{"a.yaml", 1, "", "kind", "must be AccessPolicy or Secret (got 'ConfigMap')"}}},
      {"missing kind",
       {{"a.yaml", "apiVersion: v1\nmetadata: {name: x}\n"}},
       {},
       {{"a.yaml", 1, "", "kind", "is required"}}},
      {"document is a list",
       {{"a.yaml", "- a\n- b\n"}},
       {},
       {{"a.yaml", 1, "", "", "must be a mapping"}}},
      {"yaml syntax error names the file",
       {{"bad.yaml", "a: [\n"}, {"b.yaml", Policy("ok")}},
       {"apps/ok"},
       {{"bad.yaml", 0, "", "", "YAML syntax error"}}},
      {"secret in another file, any order",
       {{"p.yaml", Policy("one", "{groups: [a]}", metabase)}, {"s.yaml", secret}},
       {"apps/one"},
       {}},
      {"secret before the policy, other file",
       {{"s.yaml", secret}, {"p.yaml", Policy("one", "{groups: [a]}", metabase)}},
       {"apps/one"},
       {}},
      {"policies resolved early and late keep input order",
       {{"p.yaml", Policy("late", "{groups: [a]}", metabase) + "---\n" + Policy("early")},
        {"s.yaml", secret}},
       {"apps/late", "apps/early"},
       {}},
      {"yaml errors come before document errors",
       {{"a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"},
        {"bad.yaml", "a: [\n"}},
       {},
       {{"bad.yaml", 0, "", "", "YAML syntax error"},
        {"a.yaml", 1, "", "kind", "must be AccessPolicy or Secret"}}},
      {"secret missing",
       {{"p.yaml", Policy("one", "{groups: [a]}", metabase)}},
       {},
       {{"p.yaml", 1, "apps/one", "spec.metabase.sharedSecretRef", "Secret apps/mb not found"}}},
      {"secret in wrong namespace",
       {{"p.yaml", Policy("one", "{groups: [a]}", metabase, "web")}, {"s.yaml", secret}},
       {},
       {{"p.yaml", 1, "web/one", "spec.metabase.sharedSecretRef", "Secret web/mb not found"}}},
      {"secret with bad base64",
       {{"s.yaml",
         "apiVersion: v1\nkind: Secret\nmetadata: {name: mb, namespace: apps}\n"
         "data: {secret: '!!!!'}\n"},
        {"p.yaml", Policy("one", "{groups: [a]}", metabase)}},
       {},
       {{"s.yaml", 1, "", "data[secret]", "must be base64"},
        {"p.yaml", 1, "apps/one", "spec.metabase.sharedSecretRef", "Secret apps/mb not found"}}},
      {"duplicate secret",
       {{"s.yaml", secret + "---\n" + secret}},
       {},
       {{"s.yaml", 2, "", "metadata.name", "Secret apps/mb is defined more than once"}}},
      {"duplicate policy across files",
       {{"a.yaml", Policy("one")}, {"b.yaml", "# again\n" + Policy("one")}},
       {"apps/one"},
       {{"b.yaml", 1, "apps/one", "metadata.name", "already defined in a.yaml: document 1"}}},
      {"duplicate of an invalid policy is still a duplicate",
       {{"a.yaml", Policy("one", "{public: yes}")}, {"b.yaml", Policy("one")}},
       {},
       {{"a.yaml", 1, "apps/one", "spec.rules[0].from.public", "must be a boolean"},
        {"b.yaml", 1, "apps/one", "metadata.name", "already defined"}}},
      {"same name in two namespaces is fine",
       {{"a.yaml", Policy("one") + "---\n" + Policy("one", "{groups: [a]}", "", "web")}},
       {"apps/one", "web/one"},
       {}},
      {"one bad document does not stop the others",
       {{"a.yaml", Policy("one", "{groups: [a]}", "  mode: enforce\n") + "---\n" + Policy("two")}},
       {"apps/two"},
       {{"a.yaml", 1, "apps/one", "spec.mode", "must be one of Enforce, Audit"}}},
  };
  for (const ParserScenario& s : scenarios) CheckParse(s);
}

// A policy validated before a later duplicate Secret keeps the first value,
// exactly as when every Secret is read before any policy.
TEST(PolicyParserTest, EarlyResolvedSecretIsTheFirstDefinition) {
  const std::string first =
      "apiVersion: v1\nkind: Secret\nmetadata: {name: mb, namespace: apps}\n"
      "stringData: {secret: first-0123456789abcdef0123456789}\n";
  const std::string second =
      "apiVersion: v1\nkind: Secret\nmetadata: {name: mb, namespace: apps}\n"
      "stringData: {secret: second-0123456789abcdef012345678}\n";
  const std::string metabase = "  metabase: {sharedSecretRef: {name: mb, key: secret}}\n";
  for (bool policy_between : {true, false}) {
    SCOPED_TRACE(policy_between ? "policy between the Secrets" : "policy after both");
    std::vector<SourceFile> files = {{"s1.yaml", first},
                                     {"p.yaml", Policy("one", "{groups: [a]}", metabase)},
                                     {"s2.yaml", second}};
    if (!policy_between) std::swap(files[1], files[2]);
    ParseResult r = ParsePolicyFiles(files);
    ASSERT_EQ(r.policies.size(), 1u);
    ASSERT_TRUE(r.policies[0].spec.metabase.has_value());
    EXPECT_EQ(r.policies[0].spec.metabase->shared_secret, "first-0123456789abcdef0123456789");
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_THAT(r.errors[0].message, testing::HasSubstr("defined more than once"));
  }
}

TEST(PolicyParserTest, DefaultsAndSourceAreFilled) {
  ParseResult r = ParsePolicyFiles({{"dir/a.yaml", "---\n" + Policy("one")}});
  ASSERT_TRUE(r.ok()) << r.errors[0].ToString();
  ASSERT_EQ(r.policies.size(), 1u);
  const AccessPolicy& p = r.policies[0];
  EXPECT_EQ(p.source, (SourceLocation{"dir/a.yaml", 1}));
  EXPECT_EQ(p.spec.path_prefix, "/");
  EXPECT_EQ(p.spec.upstream.timeout_seconds, 600);
  EXPECT_EQ(p.spec.mode, PolicyMode::kEnforce);
  EXPECT_EQ(p.spec.identity_headers, IdentityHeadersSpec{});
  EXPECT_EQ(p.spec.authentication.issuers[0].algorithms, auth::AllJwsAlgorithms());
  EXPECT_EQ(p.spec.rules[0].from.groups, std::vector<std::string>{"a"});
}

TEST(PolicyParserTest, NamespaceDefaultsToDefault) {
  ParseResult r = ParsePolicyFiles(
      {{"a.yaml",
        "apiVersion: gatehouse.dev/v1alpha1\nkind: AccessPolicy\nmetadata: {name: x}\nspec:\n"
        "  hosts: [x.example.com]\n  upstream: {url: 'http://127.0.0.1:3000'}\n"
        "  rules: [{name: all, action: Allow, from: {public: true}}]\n"}});
  ASSERT_TRUE(r.ok()) << r.errors[0].ToString();
  EXPECT_EQ(r.policies[0].Key(), "default/x");
  EXPECT_TRUE(r.policies[0].spec.authentication.issuers.empty());
}

TEST(PolicyParserTest, ParsePolicyJsonJoinsErrors) {
  nlohmann::json object = {{"apiVersion", "gatehouse.dev/v1alpha1"},
                           {"kind", "AccessPolicy"},
                           {"metadata",
                            {{"name", "x"},
                             {"namespace", "n"},
                             {"generation", 4},
                             {"uid", "u-1"},
                             {"creationTimestamp", "2024-01-02T03:04:05Z"}}},
                           {"spec", {{"hosts", {"X.example.com"}}}}};
  StatusOr<AccessPolicy> bad = ParsePolicyJson(object, SecretStore{});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(
      bad.status().message(),
      "spec.hosts[0]: must be lowercase; spec.upstream: is required; spec.rules: is required");
  object["spec"] = {
      {"hosts", {"x.example.com"}},
      {"upstream", {{"url", "http://10.0.0.1"}}},
      {"rules", {{{"name", "p"}, {"action", "Allow"}, {"from", {{"public", true}}}}}}};
  StatusOr<AccessPolicy> good = ParsePolicyJson(object, SecretStore{});
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ(good->generation, 4);
  EXPECT_EQ(good->uid, "u-1");
  EXPECT_EQ(good->creation_timestamp, "2024-01-02T03:04:05Z");
}

}  // namespace
}  // namespace gatehouse::policy
