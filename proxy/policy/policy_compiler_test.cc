#include "proxy/policy/policy_compiler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

namespace gatehouse::policy {
namespace {

AccessPolicy Base(std::string ns = "team", std::string name = "app",
                  std::string created = "2024-01-01T00:00:00Z") {
  AccessPolicy policy;
  policy.namespace_name = std::move(ns);
  policy.name = std::move(name);
  policy.creation_timestamp = std::move(created);
  policy.spec.hosts = {"app.example.com"};
  RuleSpec rule;
  rule.name = "r";
  rule.paths = {"/api/**"};
  rule.methods = {"GET"};
  rule.from.groups = {"g"};
  policy.spec.rules = {rule};
  return policy;
}

struct InvalidScenario {
  std::string name;
  std::function<void(AccessPolicy&)> mutate;
  std::string field;         // expected PolicyError.field
  std::string message_part;  // expected within the message
};

void CheckInvalid(const InvalidScenario& s) {
  SCOPED_TRACE(s.name);
  AccessPolicy policy = Base();
  s.mutate(policy);
  CompileResult result = CompilePolicies({policy});
  ASSERT_EQ(result.errors.size(), 1u);
  const PolicyError& error = result.errors[0];
  EXPECT_EQ(error.reason, PolicyErrorReason::kInvalid);
  EXPECT_EQ(error.policy, "team/app");
  EXPECT_EQ(error.field, s.field);
  EXPECT_NE(error.message.find(s.message_part), std::string::npos) << error.message;
  // Left out whole: nothing routes to it.
  EXPECT_TRUE(result.set->policies().empty());
  EXPECT_EQ(result.set->routes().Find("app.example.com", "/api/x"), nullptr);
}

TEST(PolicyCompilerTest, InvalidPoliciesAreLeftOutWithField) {
  const std::vector<InvalidScenario> scenarios = {
      {"no hosts", [](AccessPolicy& p) { p.spec.hosts.clear(); }, "spec.hosts", "at least one"},
      {"host with port", [](AccessPolicy& p) { p.spec.hosts = {"a.com:80"}; }, "spec.hosts[0]",
       "without port"},
      {"host inner star", [](AccessPolicy& p) { p.spec.hosts = {"a.*.com"}; }, "spec.hosts[0]",
       "'*'"},
      {"host bare star", [](AccessPolicy& p) { p.spec.hosts = {"*"}; }, "spec.hosts[0]", "'*'"},
      {"bad prefix", [](AccessPolicy& p) { p.spec.path_prefix = "/api/"; }, "spec.pathPrefix",
       "must not end with '/'"},
      {"bad path",
       [](AccessPolicy& p) {
         p.spec.rules[0].paths = {"/ok", "/a/**/b"};
       },
       "spec.rules[0].paths[1]", "'**' must be the last segment"},
      {"lowercase method", [](AccessPolicy& p) { p.spec.rules[0].methods = {"get"}; },
       "spec.rules[0].methods[0]", "uppercase"},
      {"bad cidr", [](AccessPolicy& p) { p.spec.rules[0].from.ip_blocks = {"10.0.0.1/8"}; },
       "spec.rules[0].from.ipBlocks[0]", "did you mean 10.0.0.0/8?"},
      {"public plus groups", [](AccessPolicy& p) { p.spec.rules[0].from.is_public = true; },
       "spec.rules[0].from", "only be combined with ipBlocks"},
      {"empty group", [](AccessPolicy& p) { p.spec.rules[0].from.groups = {""}; },
       "spec.rules[0].from.groups[0]", "must not be empty"},
      {"domain with at", [](AccessPolicy& p) { p.spec.rules[0].from.email_domains = {"@x.com"}; },
       "spec.rules[0].from.emailDomains[0]", "without '@'"},
      {"claim without values",
       [](AccessPolicy& p) {
         p.spec.rules[0].from.claims = {{"dept", {}}};
       },
       "spec.rules[0].from.claims.dept", "at least one value"},
  };
  for (const InvalidScenario& s : scenarios) CheckInvalid(s);
}

TEST(PolicyCompilerTest, CompiledForm) {
  AccessPolicy policy = Base();
  policy.spec.hosts = {"App.Example.COM.", "*.Example.com", "app.example.com"};
  policy.spec.mode = PolicyMode::kAudit;
  policy.spec.authentication.login = LoginSpec{};
  policy.spec.rules[0].methods = {"GET", "HEAD", "PROPFIND"};
  policy.spec.rules[0].from.emails = {"Ann@Example.COM"};
  policy.spec.rules[0].from.email_domains = {"Example.COM"};
  CompileResult result = CompilePolicies({policy});
  ASSERT_TRUE(result.errors.empty()) << result.errors[0].ToString();
  const CompiledPolicy* compiled = result.set->FindByKey("team/app");
  ASSERT_NE(compiled, nullptr);
  EXPECT_EQ(compiled->hosts, (std::vector<std::string>{"app.example.com", "*.example.com"}));
  EXPECT_TRUE(compiled->audit);
  EXPECT_TRUE(compiled->has_login);
  const CompiledRule& rule = compiled->rules.at(0);
  EXPECT_FALSE(rule.any_method);
  EXPECT_EQ(rule.method_bits, kMethodGet | kMethodHead);
  EXPECT_EQ(rule.extra_methods, std::vector<std::string>{"PROPFIND"});
  EXPECT_EQ(rule.emails, std::vector<std::string>{"ann@example.com"});
  EXPECT_EQ(rule.email_domains, std::vector<std::string>{"example.com"});
  EXPECT_EQ(compiled->source.spec.rules[0].from.emails[0], "Ann@Example.COM");
  EXPECT_EQ(result.set->routes().Find("x.example.com", "/"), compiled);
  EXPECT_EQ(result.set->FindByKey("team/other"), nullptr);
}

// Runs CompilePolicies over every permutation of `policies` and checks that
// the admitted keys and the errors never change.
void CheckOrderIndependent(std::vector<AccessPolicy> policies,
                           const std::vector<std::string>& admitted,
                           const std::vector<std::string>& error_messages) {
  std::vector<size_t> order(policies.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  int permutations = 0;
  do {
    std::vector<AccessPolicy> input;
    for (size_t i : order) input.push_back(policies[i]);
    CompileResult result = CompilePolicies(input);
    std::vector<std::string> keys;
    for (const auto& p : result.set->policies()) keys.push_back(p->key);
    EXPECT_EQ(keys, admitted) << "permutation " << permutations;
    std::vector<std::string> messages;
    for (const PolicyError& e : result.errors) {
      EXPECT_EQ(e.reason, PolicyErrorReason::kConflict);
      messages.push_back(e.policy + ": " + e.message);
    }
    EXPECT_EQ(messages, error_messages) << "permutation " << permutations;
    ++permutations;
  } while (std::next_permutation(order.begin(), order.end()));
  EXPECT_GT(permutations, 1);
}

TEST(PolicyCompilerTest, ConflictOlderWinsInAnyOrder) {
  AccessPolicy old_one = Base("a", "old", "2023-05-01T00:00:00Z");
  AccessPolicy new_one = Base("a", "new", "2024-05-01T00:00:00Z");
  AccessPolicy unknown = Base("a", "aaa-unknown", "");
  AccessPolicy other_prefix = Base("b", "api", "2025-01-01T00:00:00Z");
  other_prefix.spec.path_prefix = "/api";
  CheckOrderIndependent(
      {old_one, new_one, unknown, other_prefix}, {"a/old", "b/api"},
      {"a/aaa-unknown: host app.example.com with pathPrefix / is already claimed by the older "
       "policy a/old",
       "a/new: host app.example.com with pathPrefix / is already claimed by the older policy "
       "a/old"});
}

TEST(PolicyCompilerTest, ConflictTieBrokenByName) {
  AccessPolicy b = Base("ns", "b");
  AccessPolicy a = Base("ns", "a");
  AccessPolicy c = Base("other", "c", "2024-01-01T00:00:00Z");
  c.spec.hosts = {"c.example.com", "app.example.com"};  // loses on its second host
  CheckOrderIndependent(
      {b, a, c}, {"ns/a"},
      {"ns/b: host app.example.com with pathPrefix / is already claimed by the older policy ns/a",
       "other/c: host app.example.com with pathPrefix / is already claimed by the older policy "
       "ns/a"});
}

TEST(PolicyCompilerTest, LoserIsLeftOutWhole) {
  AccessPolicy winner = Base("ns", "winner", "2020-01-01T00:00:00Z");
  AccessPolicy loser = Base("ns", "loser", "2021-01-01T00:00:00Z");
  loser.spec.hosts = {"only-loser.example.com", "app.example.com"};
  CompileResult result = CompilePolicies({loser, winner});
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].ReasonName(), std::string("Conflict"));
  // Its other, unclaimed host is not served either.
  EXPECT_EQ(result.set->routes().Find("only-loser.example.com", "/"), nullptr);
  EXPECT_EQ(result.set->routes().Find("app.example.com", "/")->key, "ns/winner");
}

TEST(PolicyCompilerTest, WildcardAndExactDoNotConflict) {
  AccessPolicy exact = Base("ns", "exact");
  AccessPolicy wildcard = Base("ns", "wild");
  wildcard.spec.hosts = {"*.example.com"};
  CheckOrderIndependent({exact, wildcard}, {"ns/exact", "ns/wild"}, {});
}

TEST(PolicyCompilerTest, DuplicateKeyKeepsOne) {
  AccessPolicy first = Base("ns", "dup", "2020-01-01T00:00:00Z");
  AccessPolicy second = Base("ns", "dup", "2021-01-01T00:00:00Z");
  second.spec.hosts = {"second.example.com"};
  for (bool swap : {false, true}) {
    CompileResult result =
        swap ? CompilePolicies({second, first}) : CompilePolicies({first, second});
    ASSERT_EQ(result.set->policies().size(), 1u);
    EXPECT_EQ(result.set->routes().Find("second.example.com", "/"), nullptr);
    ASSERT_EQ(result.errors.size(), 1u);
    EXPECT_NE(result.errors[0].message.find("already defines ns/dup"), std::string::npos);
  }
}

TEST(PolicyCompilerTest, SnapshotIsImmutable) {
  static_assert(!std::is_copy_constructible_v<CompiledPolicySet>);
  static_assert(!std::is_copy_assignable_v<CompiledPolicySet>);
  static_assert(
      std::is_same_v<decltype(CompileResult::set), std::shared_ptr<const CompiledPolicySet>>);
  CompileResult empty = CompilePolicies({});
  ASSERT_NE(empty.set, nullptr);
  EXPECT_TRUE(empty.set->policies().empty());
  EXPECT_TRUE(empty.errors.empty());
}

TEST(PolicyCompilerTest, MethodBitFor) {
  const std::vector<std::pair<std::string, uint32_t>> cases = {
      {"GET", kMethodGet},
      {"HEAD", kMethodHead},
      {"POST", kMethodPost},
      {"PUT", kMethodPut},
      {"DELETE", kMethodDelete},
      {"PATCH", kMethodPatch},
      {"OPTIONS", kMethodOptions},
      {"CONNECT", kMethodConnect},
      {"TRACE", kMethodTrace},
      // Methods are case-sensitive; near misses of every length have no bit.
      {"get", 0},
      {"Get", 0},
      {"GE", 0},
      {"GETS", 0},
      {"PUTS", 0},
      {"HEAX", 0},
      {"PATCHX", 0},
      {"DELETX", 0},
      {"OPTIONZ", 0},
      {"CONNECTS", 0},
      {"", 0},
      {"PROPFIND", 0},
      {std::string("GET\0", 4), 0}};
  for (const auto& [method, bit] : cases) {
    SCOPED_TRACE(method);
    EXPECT_EQ(MethodBitFor(method), bit);
  }
}

}  // namespace
}  // namespace gatehouse::policy
