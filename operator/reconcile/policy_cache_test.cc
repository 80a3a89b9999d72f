// PolicyCache: compact objects round-trip, parses are re-used only while
// uid, generation and the Secrets epoch hold, and a re-used parse is never
// served for a changed policy.
#include "operator/reconcile/policy_cache.h"

#include <gtest/gtest.h>

#include "proxy/policy/policy_parser.h"

namespace gatehouse::reconcile {
namespace {

using nlohmann::json;
using Objects = std::vector<std::shared_ptr<const json>>;

json PolicyObject(const std::string& name, int64_t generation, const std::string& host,
                  const std::string& uid = "u-1") {
  return {{"apiVersion", "gatehouse.dev/v1alpha1"},
          {"kind", "AccessPolicy"},
          {"metadata",
           {{"namespace", "ns"},
            {"name", name},
            {"uid", uid},
            {"generation", generation},
            {"resourceVersion", "7"},
            {"creationTimestamp", "2024-01-01T00:00:00Z"},
            {"labels", {{"team", "a"}}},
            {"annotations", {{"kubectl.kubernetes.io/last-applied-configuration", "{...}"}}},
            {"managedFields", json::array({{{"manager", "kubectl"}}})}}},
          {"spec",
           {{"hosts", {host}},
            {"upstream", {{"url", "http://127.0.0.1:9000"}}},
            {"rules", {{{"name", "public"}, {"action", "Allow"}, {"from", {{"public", true}}}}}}}},
          {"status", {{"observedGeneration", generation}}}};
}

// A policy whose login needs the Secret ns/oidc.
json WithSecretRef(json object) {
  object["spec"]["authentication"] = {
      {"issuers", {{{"issuer", "https://idp.example.com"}, {"audiences", {"gatehouse"}}}}},
      {"login",
       {{"issuer", "https://idp.example.com"},
        {"clientID", "gatehouse"},
        {"clientSecretRef", {{"name", "oidc"}, {"key", "client-secret"}}}}}};
  return object;
}

std::shared_ptr<const json> Compact(const json& object) {
  return std::make_shared<const json>(CompactPolicyObject(object));
}

std::string HostOf(const PolicyCandidate& c) {
  return c.policy && !c.policy->spec.hosts.empty() ? c.policy->spec.hosts[0] : "";
}

TEST(CompactPolicyObjectTest, RoundTripsWhatRenderAndStatusUseAndDropsTheRest) {
  json full = PolicyObject("p", 2, "a.example.com");
  json compact = CompactPolicyObject(full);
  EXPECT_FALSE(compact.contains("spec"));
  EXPECT_FALSE(compact.contains("status"));
  EXPECT_TRUE(compact["compact"].is_string());
  EXPECT_FALSE(compact["metadata"].contains("labels"));
  EXPECT_FALSE(compact["metadata"].contains("annotations"));
  EXPECT_FALSE(compact["metadata"].contains("managedFields"));

  json expanded = ExpandPolicyObject(compact);
  EXPECT_EQ(expanded["spec"], full["spec"]);
  EXPECT_EQ(expanded["status"], full["status"]);
  EXPECT_EQ(expanded["metadata"]["resourceVersion"], "7");
  EXPECT_EQ(expanded["metadata"]["uid"], "u-1");
  EXPECT_FALSE(expanded.contains("compact"));
  EXPECT_FALSE(expanded.contains("compactStatus"));
  // What only the parse reads travels in the string, and comes back whole.
  for (const char* field : {"apiVersion", "kind"}) {
    EXPECT_FALSE(compact.contains(field)) << field;
    EXPECT_EQ(expanded[field], full[field]) << field;
  }
  EXPECT_FALSE(compact["metadata"].contains("creationTimestamp"));
  EXPECT_EQ(expanded["metadata"]["creationTimestamp"], full["metadata"]["creationTimestamp"]);
  EXPECT_EQ(expanded["metadata"]["name"], "p");
  EXPECT_EQ(expanded["metadata"]["generation"], 2);
}

TEST(CompactPolicyObjectTest, TheStringNeverReplacesIdentity) {
  // A compact string that names other identity fields (it never does: we
  // write it) cannot move the object to another name or generation.
  json compact = CompactPolicyObject(PolicyObject("p", 2, "a.example.com"));
  json forged = json::parse(compact["compact"].get<std::string>());
  forged["metadata"]["name"] = "other";
  forged["metadata"]["generation"] = 9;
  compact["compact"] = forged.dump();
  json expanded = ExpandPolicyObject(compact);
  EXPECT_EQ(expanded["metadata"]["name"], "p");
  EXPECT_EQ(expanded["metadata"]["generation"], 2);
  EXPECT_EQ(expanded["metadata"]["creationTimestamp"], "2024-01-01T00:00:00Z");
}

TEST(CompactPolicyObjectTest, StoredStatusWithoutTheSpec) {
  json full = PolicyObject("p", 2, "a.example.com");
  ASSERT_TRUE(full.contains("status"));
  json no_status = full;
  no_status.erase("status");
  json unreadable = CompactPolicyObject(full);
  unreadable["compactStatus"] = "{broken";
  struct Case {
    std::string name;
    json object;
    json want;
  };
  const std::vector<Case> cases = {
      {"compact with status", CompactPolicyObject(full), full["status"]},
      {"compact without status", CompactPolicyObject(no_status), json()},
      {"full object", full, full["status"]},
      {"full object without status", no_status, json()},
      {"unreadable compact status: none (so it is rewritten)", unreadable, json()},
      {"not an object", json::array(), json()},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(StoredStatus(c.object), c.want);
  }
  // The spec is not in the status string: reading a status never touches it.
  EXPECT_EQ(CompactPolicyObject(full)["compactStatus"].get<std::string>().find("a.example.com"),
            std::string::npos);
}

TEST(CompactPolicyObjectTest, EdgeInputs) {
  struct Case {
    std::string name;
    json input;
  };
  const std::vector<Case> cases = {
      {"not an object", json::array({1, 2})},
      {"no spec nor status", {{"metadata", {{"name", "x"}}}}},
      {"no metadata", {{"spec", {{"hosts", {"h"}}}}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    json expanded = ExpandPolicyObject(CompactPolicyObject(c.input));
    if (!c.input.is_object()) {
      EXPECT_EQ(expanded, c.input);
      continue;
    }
    EXPECT_EQ(expanded.value("spec", json()), c.input.value("spec", json()));
    EXPECT_EQ(expanded.value("metadata", json::object()).value("name", ""),
              c.input.value("metadata", json::object()).value("name", ""));
  }
  // A full (non-compact) object expands to itself.
  json full = PolicyObject("p", 1, "a.example.com");
  EXPECT_EQ(ExpandPolicyObject(full), full);
  // A corrupted compact field yields no spec: the parser refuses it (deny by default).
  json broken = CompactPolicyObject(full);
  broken["compact"] = "{not json";
  PolicyCache cache;
  auto candidates = cache.Candidates({std::make_shared<const json>(broken)}, {}, 0);
  ASSERT_EQ(candidates.size(), 1u);
  EXPECT_EQ(candidates[0].policy, nullptr);
  EXPECT_TRUE(candidates[0].error.has_value());
}

TEST(PolicyCacheTest, SameAsParsePolicyCandidates) {
  std::vector<json> full = {PolicyObject("b", 1, "b.example.com", "u-b"),
                            PolicyObject("a", 3, "a.example.com", "u-a")};
  full[0]["spec"]["rules"][0]["paths"] = {"/a/**/b"};  // invalid
  Objects compact = {Compact(full[0]), Compact(full[1])};
  PolicyCache cache;
  auto got = cache.Candidates(compact, {}, 0);
  auto want = ParsePolicyCandidates(full, {});
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    SCOPED_TRACE(want[i].key);
    EXPECT_EQ(got[i].key, want[i].key);
    EXPECT_EQ(got[i].generation, want[i].generation);
    EXPECT_EQ(got[i].policy == nullptr, want[i].policy == nullptr);
    if (got[i].policy && want[i].policy) {
      EXPECT_EQ(got[i].policy->spec, want[i].policy->spec);
    }
    EXPECT_EQ(got[i].error.has_value(), want[i].error.has_value());
    if (got[i].error && want[i].error) {
      EXPECT_EQ(got[i].error->FieldMessage(), want[i].error->FieldMessage());
    }
  }
}

TEST(PolicyCacheTest, ReusesOnlyWhileUidGenerationAndSecretsHold) {
  struct Case {
    std::string name;
    json second;            // the object in the second round
    uint64_t second_epoch;  // the Secrets epoch in the second round
    bool reparsed;
    std::string host;  // host of the second round's candidate
  };
  const json first = PolicyObject("p", 2, "old.example.com");
  json status_only = first;
  status_only["status"]["observedGeneration"] = 99;
  status_only["metadata"]["resourceVersion"] = "8";
  const std::vector<Case> cases = {
      {"status write (same generation)", status_only, 1, false, "old.example.com"},
      {"spec edit bumps generation", PolicyObject("p", 3, "new.example.com"), 1, true,
       "new.example.com"},
      {"deleted and recreated (new uid, same generation)",
       PolicyObject("p", 2, "new.example.com", "u-2"), 1, true, "new.example.com"},
      {"Secrets changed", PolicyObject("p", 2, "new.example.com"), 2, true, "new.example.com"},
      {"no generation: never re-used", PolicyObject("p", 0, "new.example.com"), 1, true,
       "new.example.com"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    PolicyCache cache;
    json start =
        c.name.rfind("no generation", 0) == 0 ? PolicyObject("p", 0, "old.example.com") : first;
    auto one = cache.Candidates({Compact(start)}, {}, 1);
    ASSERT_EQ(one.size(), 1u);
    EXPECT_EQ(HostOf(one[0]), "old.example.com");
    EXPECT_EQ(cache.parses(), 1);
    auto two = cache.Candidates({Compact(c.second)}, {}, c.second_epoch);
    ASSERT_EQ(two.size(), 1u);
    EXPECT_EQ(cache.parses(), c.reparsed ? 2 : 1);
    EXPECT_EQ(HostOf(two[0]), c.host);
    if (!c.reparsed) {
      EXPECT_EQ(two[0].policy, one[0].policy);  // the model is shared
    }
  }
}

TEST(PolicyCacheTest, SecretArrivingLaterIsPickedUpWithANewEpoch) {
  json object = WithSecretRef(PolicyObject("p", 1, "a.example.com"));
  PolicyCache cache;
  auto before = cache.Candidates({Compact(object)}, {}, 1);
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0].policy, nullptr);  // the referenced Secret is missing: refused

  policy::SecretStore secrets;
  secrets.Add("ns", "oidc", {{"client-secret", "s3cr3t"}});
  auto same_epoch = cache.Candidates({Compact(object)}, secrets, 1);
  EXPECT_EQ(same_epoch[0].policy, nullptr);  // nothing told the cache: still the old parse
  auto after = cache.Candidates({Compact(object)}, secrets, 2);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_NE(after[0].policy, nullptr);
}

TEST(PolicyCacheTest, DeletedPoliciesLeaveAndOutputIsSortedByKey) {
  PolicyCache cache;
  auto three = cache.Candidates({Compact(PolicyObject("c", 1, "c.example.com", "u-c")),
                                 Compact(PolicyObject("a", 1, "a.example.com", "u-a")),
                                 Compact(PolicyObject("b", 1, "b.example.com", "u-b"))},
                                {}, 0);
  ASSERT_EQ(three.size(), 3u);
  EXPECT_EQ(three[0].key, "ns/a");
  EXPECT_EQ(three[1].key, "ns/b");
  EXPECT_EQ(three[2].key, "ns/c");
  auto one = cache.Candidates({Compact(PolicyObject("b", 1, "b.example.com", "u-b"))}, {}, 0);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].key, "ns/b");
  EXPECT_EQ(cache.parses(), 3);
  // "a" comes back with the same uid and generation: it was forgotten, so parsed again.
  auto back = cache.Candidates({Compact(PolicyObject("a", 1, "a.example.com", "u-a"))}, {}, 0);
  EXPECT_EQ(cache.parses(), 4);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(HostOf(back[0]), "a.example.com");
}

std::shared_ptr<const json> SecretObject(const std::string& ns, const std::string& name,
                                         const std::string& version) {
  json meta = {{"namespace", ns}, {"name", name}};
  if (!version.empty()) meta["resourceVersion"] = version;
  return std::make_shared<const json>(json{{"metadata", meta}, {"data", json::object()}});
}

TEST(SecretsEpochTest, MovesOnlyForSecretsOtherThanTheIgnoredOne) {
  using Snapshot = std::vector<std::shared_ptr<const json>>;
  const Snapshot base = {SecretObject("sys", "fleet", "1"), SecretObject("team", "oidc", "5")};
  struct Case {
    std::string name;
    Snapshot next;
    bool moves;
  };
  const std::vector<Case> cases = {
      {"same snapshot", base, false},
      {"bootstrap Secret rewritten", {SecretObject("sys", "fleet", "2"), base[1]}, false},
      {"bootstrap Secret deleted", {base[1]}, false},
      {"referenced Secret edited", {base[0], SecretObject("team", "oidc", "6")}, true},
      {"Secret added", {base[0], base[1], SecretObject("team", "new", "7")}, true},
      {"Secret deleted", {base[0]}, true},
      {"same name in another namespace",
       {base[0], base[1], SecretObject("other", "fleet", "8")},
       true},
      {"no resourceVersion", {base[0], base[1], SecretObject("team", "x", "")}, true},
  };
  for (const Case& c : cases) {
    SecretsEpoch epoch("sys/fleet");
    uint64_t first = epoch.Update(base);
    EXPECT_GT(first, 0u) << c.name;
    EXPECT_EQ(epoch.Update(base), first) << c.name;
    uint64_t next = epoch.Update(c.next);
    EXPECT_EQ(next != first, c.moves) << c.name;
    EXPECT_EQ(epoch.epoch(), next) << c.name;
  }
}

TEST(SecretsEpochTest, BootstrapWriteKeepsEveryParse) {
  // The scenario behind SecretsEpoch: the operator's own bootstrap write comes
  // back through the Secrets informer; the policies must not be parsed again.
  PolicyCache cache;
  SecretsEpoch epoch("sys/fleet");
  auto policy = Compact(PolicyObject("p1", 3, "a.example.com"));
  cache.Candidates({policy}, {}, epoch.Update({SecretObject("team", "oidc", "1")}));
  ASSERT_EQ(cache.parses(), 1);
  cache.Candidates(
      {policy}, {},
      epoch.Update({SecretObject("sys", "fleet", "9"), SecretObject("team", "oidc", "1")}));
  EXPECT_EQ(cache.parses(), 1);
  cache.Candidates({policy}, {}, epoch.Update({SecretObject("team", "oidc", "2")}));
  EXPECT_EQ(cache.parses(), 2);
}

}  // namespace
}  // namespace gatehouse::reconcile
