// CompileCheck gives exactly CompilePolicies' refusals: generated fleets with
// shared, case-folded, wildcard and duplicate claims, conflict chains,
// invalid policies and timestamp ties, each compared with the real compile.
#include "operator/reconcile/compile_check.h"

#include <gtest/gtest.h>

#include <random>

#include "proxy/policy/policy_compiler.h"

namespace gatehouse::reconcile {
namespace {

using nlohmann::json;
using policy::PolicyError;

json PolicyObject(const std::string& name, std::vector<std::string> hosts,
                  const std::string& prefix, const std::string& created, bool invalid = false) {
  json rule = {{"name", "r"}, {"action", "Allow"}, {"from", {{"public", true}}}};
  if (invalid) rule["paths"] = {"/a/**/b"};
  json spec = {
      {"hosts", hosts}, {"upstream", {{"url", "http://127.0.0.1:9000"}}}, {"rules", {rule}}};
  if (!prefix.empty()) spec["pathPrefix"] = prefix;
  json meta = {{"namespace", "ns"}, {"name", name}, {"generation", 1}};
  if (!created.empty()) meta["creationTimestamp"] = created;
  return {{"apiVersion", "gatehouse.dev/v1alpha1"},
          {"kind", "AccessPolicy"},
          {"metadata", meta},
          {"spec", spec}};
}

std::vector<SharedPolicy> Models(const std::vector<json>& objects) {
  std::vector<SharedPolicy> out;
  for (const PolicyCandidate& c : ParsePolicyCandidates(objects, policy::SecretStore())) {
    EXPECT_NE(c.policy, nullptr) << c.key << ": " << (c.error ? c.error->FieldMessage() : "");
    if (c.policy) out.push_back(c.policy);
  }
  return out;
}

// The compiler sees models, not YAML: give a model hosts the parser would
// have refused (upper case, duplicates) to cover the compiler's own folding.
SharedPolicy WithRawHosts(const SharedPolicy& model, std::vector<std::string> hosts) {
  auto copy = std::make_shared<policy::AccessPolicy>(*model);
  copy->spec.hosts = std::move(hosts);
  return copy;
}

std::map<std::string, PolicyError> Reference(const std::vector<SharedPolicy>& models) {
  std::vector<policy::AccessPolicy> copies;
  for (const SharedPolicy& m : models) copies.push_back(*m);
  std::map<std::string, PolicyError> out;
  for (const PolicyError& e : policy::CompilePolicies(std::move(copies)).errors) {
    out.emplace(e.policy, e);
  }
  return out;
}

TEST(CompileCheckTest, NamedScenariosMatchCompilePolicies) {
  struct Case {
    std::string name;
    std::vector<json> objects;
    std::vector<std::string> want_refused;
    std::map<size_t, std::vector<std::string>> raw_hosts = {};
  };
  const std::string t1 = "2024-01-01T00:00:00Z";
  const std::string t2 = "2024-02-01T00:00:00Z";
  const std::string t3 = "2024-03-01T00:00:00Z";
  const std::vector<Case> cases = {
      {"no shared claims",
       {PolicyObject("a", {"a.x.com"}, "", t1), PolicyObject("b", {"b.x.com"}, "", t1)},
       {}},
      {"same host, other prefix: no conflict",
       {PolicyObject("a", {"a.x.com"}, "/api", t1), PolicyObject("b", {"a.x.com"}, "/web", t1)},
       {}},
      {"same host and prefix: the newer loses",
       {PolicyObject("a", {"a.x.com"}, "", t2), PolicyObject("b", {"a.x.com"}, "", t1)},
       {"ns/a"}},
      {"the compiler folds host case: one claim",
       {PolicyObject("a", {"a.x.com"}, "", t1), PolicyObject("b", {"a.x.com"}, "", t2)},
       {"ns/b"},
       {{0, {"A.X.com"}}}},
      {"wildcards claim their own key",
       {PolicyObject("a", {"*.x.com"}, "", t1), PolicyObject("b", {"a.x.com"}, "", t2),
        PolicyObject("c", {"*.x.com"}, "", t3)},
       {"ns/c"}},
      {"a chain: the loser's other host stays free",
       {PolicyObject("a", {"h1.x.com"}, "", t1),
        PolicyObject("b", {"h1.x.com", "h2.x.com"}, "", t2),
        PolicyObject("c", {"h2.x.com"}, "", t3)},
       {"ns/b"}},
      {"no timestamp counts as newest",
       {PolicyObject("a", {"a.x.com"}, "", ""), PolicyObject("b", {"a.x.com"}, "", t3)},
       {"ns/a"}},
      {"timestamp tie: the smaller key wins",
       {PolicyObject("b", {"a.x.com"}, "", t1), PolicyObject("a", {"a.x.com"}, "", t1)},
       {"ns/b"}},
      {"one policy listing a host twice (as a model) against another",
       {PolicyObject("a", {"a.x.com"}, "", t1), PolicyObject("b", {"a.x.com"}, "", t2)},
       {"ns/b"},
       {{0, {"a.x.com", "a.x.com"}}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<SharedPolicy> models = Models(c.objects);
    for (const auto& [i, hosts] : c.raw_hosts) models[i] = WithRawHosts(models[i], hosts);
    CompileCheck check;
    std::map<std::string, PolicyError> got = check.Refused(models);
    EXPECT_EQ(got, Reference(models));
    std::vector<std::string> keys;
    for (const auto& [key, error] : got) keys.push_back(key);
    EXPECT_EQ(keys, c.want_refused);
  }
}

TEST(CompileCheckTest, InvalidPoliciesAreRefusedAloneAndClaimNothing) {
  // "a" is invalid (bad path pattern in a rule): it is refused for that and,
  // as in CompilePolicies, claims nothing, so the newer "b" keeps the host.
  std::vector<json> objects = {PolicyObject("a", {"a.x.com"}, "", "2024-01-01T00:00:00Z", true),
                               PolicyObject("b", {"a.x.com"}, "", "2024-02-01T00:00:00Z")};
  // The parser refuses that pattern already; build the model with a bad prefix instead.
  std::vector<SharedPolicy> models = Models({objects[1]});
  auto bad = std::make_shared<policy::AccessPolicy>(*models[0]);
  bad->name = "a";
  bad->creation_timestamp = "2024-01-01T00:00:00Z";
  bad->spec.hosts = {"BAD HOST"};
  models.insert(models.begin(), bad);
  CompileCheck check;
  std::map<std::string, PolicyError> got = check.Refused(models);
  EXPECT_EQ(got, Reference(models));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got.begin()->first, "ns/a");
}

// Random fleets drawn from a small pool of hosts and prefixes (so conflicts,
// chains and ties are frequent), each compared with CompilePolicies; the
// check object is re-used across rounds as RenderFleet re-uses it.
TEST(CompileCheckTest, GeneratedFleetsMatchCompilePolicies) {
  std::mt19937 rng(20241122);  // fixed: the same fleets on every run
  const std::vector<std::string> hosts = {"a.x.com", "A.x.com", "b.x.com", "*.x.com", "c.y.com"};
  const std::vector<std::string> prefixes = {"", "/api", "/web"};
  const std::vector<std::string> times = {"", "2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z"};
  int conflicts_seen = 0;
  CompileCheck check;
  for (int round = 0; round < 200; ++round) {
    std::vector<json> objects;
    std::vector<std::vector<std::string>> raw;
    int n = 1 + static_cast<int>(rng() % 8);
    for (int i = 0; i < n; ++i) {
      std::vector<std::string> hs;
      for (int k = 0, m = 1 + static_cast<int>(rng() % 2); k < m; ++k) {
        hs.push_back(hosts[rng() % hosts.size()]);
      }
      raw.push_back(hs);
      objects.push_back(PolicyObject("p" + std::to_string(i), {"placeholder.example.com"},
                                     prefixes[rng() % prefixes.size()],
                                     times[rng() % times.size()]));
    }
    std::vector<SharedPolicy> models = Models(objects);
    ASSERT_EQ(models.size(), raw.size());
    for (size_t i = 0; i < models.size(); ++i) models[i] = WithRawHosts(models[i], raw[i]);
    std::map<std::string, PolicyError> want = Reference(models);
    conflicts_seen += static_cast<int>(want.size());
    SCOPED_TRACE("round " + std::to_string(round));
    EXPECT_EQ(check.Refused(models), want);
  }
  EXPECT_GT(conflicts_seen, 50);  // the generator does produce conflicts
}

}  // namespace
}  // namespace gatehouse::reconcile
