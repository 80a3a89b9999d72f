// FleetRenderer: golden render of testdata/cluster_objects.json, 1,000
// identical renders in shuffled orders, the version rule, and the keep-last-
// accepted rule for invalid and conflicting generations.
//
// Regenerate the golden file after an intended change:
//   GATEHOUSE_UPDATE_GOLDEN=1 ./fleet_renderer_test
// then review the diff of operator/reconcile/testdata/render.golden.json.
#include "operator/reconcile/fleet_renderer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>

#include "operator/reconcile/policy_status.h"
#include "proxy/policy/policy_parser.h"

namespace gatehouse::reconcile {
namespace {

using nlohmann::json;

const std::filesystem::path kTestdata = GATEHOUSE_RECONCILE_TESTDATA;

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

struct ClusterObjects {
  std::vector<json> policies;
  policy::SecretStore secrets;
};

ClusterObjects LoadObjects() {
  json doc = json::parse(ReadFile(kTestdata / "cluster_objects.json"));
  ClusterObjects out;
  for (const json& p : doc["policies"]) out.policies.push_back(p);
  for (const json& s : doc["secrets"]) {
    policy::validation::Issues issues;
    auto parsed = policy::ParseSecretObject(s, &issues);
    EXPECT_TRUE(parsed.has_value());
    if (parsed) out.secrets.Add(parsed->namespace_name, parsed->name, parsed->data);
  }
  return out;
}

// A minimal valid AccessPolicy object as the API would serve it.
json PolicyObject(const std::string& ns, const std::string& name, int64_t generation,
                  const std::string& host, const std::string& created = "2024-01-01T00:00:00Z") {
  return {{"apiVersion", "gatehouse.dev/v1alpha1"},
          {"kind", "AccessPolicy"},
          {"metadata",
           {{"namespace", ns},
            {"name", name},
            {"generation", generation},
            {"creationTimestamp", created}}},
          {"spec",
           {{"hosts", {host}},
            {"upstream", {{"url", "http://127.0.0.1:9000"}}},
            {"rules", {{{"name", "public"}, {"action", "Allow"}, {"from", {{"public", true}}}}}}}}};
}

json MakeInvalid(json object) {
  object["spec"]["rules"][0]["paths"] = {"/a/**/b"};
  return object;
}

RenderResult Render(const std::vector<json>& objects, const RenderState& previous = {},
                    int64_t floor = 0) {
  return RenderFleet(ParsePolicyCandidates(objects, policy::SecretStore()), previous, floor);
}

const PolicyOutcome& OutcomeOf(const RenderResult& r, const std::string& key) {
  for (const PolicyOutcome& o : r.outcomes) {
    if (o.key == key) return o;
  }
  static const PolicyOutcome kNone;
  ADD_FAILURE() << "no outcome for " << key;
  return kNone;
}

// The generations of every policy the config carries, by key.
std::map<std::string, int64_t> CarriedGenerations(const RenderResult& r) {
  auto policies = policy::ParseFleetConfigContent(r.config.content);
  EXPECT_TRUE(policies.ok()) << policies.status().ToString();
  std::map<std::string, int64_t> out;
  if (policies.ok()) {
    for (const auto& p : *policies) out[p.Key()] = p.generation;
  }
  return out;
}

json GoldenDocument(const RenderResult& r) {
  json outcomes = json::array();
  json statuses = json::object();
  std::vector<ProxyView> fleet = {{r.config.version, true}, {r.config.version, true}, {0, false}};
  auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1714564800));
  for (const PolicyOutcome& o : r.outcomes) {
    outcomes.push_back({{"key", o.key},
                        {"generation", o.generation},
                        {"accepted", o.accepted},
                        {"reason", o.reason},
                        {"message", o.message},
                        {"enforcedGeneration", o.enforced_generation},
                        {"enforcedSinceVersion", o.enforced_since_version}});
    statuses[o.key] = PolicyStatusToJson(ComputePolicyStatus(o, fleet, json(), now));
  }
  // The envelope's fields, with the content shown as the JSON document it is.
  json envelope = {{"version", r.config.version},
                   {"sha256", r.config.sha256},
                   {"content", json::parse(r.config.content)}};
  return {{"envelope", envelope}, {"outcomes", outcomes}, {"statuses", statuses}};
}

TEST(FleetRendererTest, GoldenRender) {
  ClusterObjects objects = LoadObjects();
  RenderResult r = RenderFleet(ParsePolicyCandidates(objects.policies, objects.secrets), {});
  std::string rendered = GoldenDocument(r).dump(2) + "\n";
  std::filesystem::path golden = kTestdata / "render.golden.json";
  if (std::getenv("GATEHOUSE_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(golden, std::ios::binary) << rendered;
  }
  EXPECT_EQ(rendered, ReadFile(golden))
      << "render changed; if intended, regenerate with GATEHOUSE_UPDATE_GOLDEN=1";
  // The secret value travels only in the config's "secrets" map, never in a status.
  EXPECT_NE(r.config.content.find("czNjcjN0LXZhbHVl"), std::string::npos);
  EXPECT_EQ(rendered.find("s3cr3t-value"), std::string::npos);
}

TEST(FleetRendererTest, ThousandRendersInAnyOrderGiveIdenticalBytes) {
  ClusterObjects objects = LoadObjects();
  std::string first = policy::SerializeFleetConfig(
      RenderFleet(ParsePolicyCandidates(objects.policies, objects.secrets), {}).config);
  std::mt19937 rng(7);  // fixed seed
  for (int i = 0; i < 1000; ++i) {
    std::vector<json> shuffled = objects.policies;
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    RenderResult r = RenderFleet(ParsePolicyCandidates(shuffled, objects.secrets), {});
    ASSERT_EQ(policy::SerializeFleetConfig(r.config), first) << "render " << i;
  }
}

struct VersionCase {
  std::string name;
  std::vector<json> before;
  std::vector<json> after;
  int64_t floor;
  int64_t want_version;  // the first render is always version 1
  bool want_changed;
};

class VersionRuleTest : public testing::TestWithParam<VersionCase> {};

TEST_P(VersionRuleTest, VersionMovesOnlyWithTheBytes) {
  const VersionCase& c = GetParam();
  RenderResult first = Render(c.before);
  ASSERT_EQ(first.config.version, 1);
  RenderResult second = Render(c.after, first.state, c.floor);
  EXPECT_EQ(second.config.version, c.want_version);
  EXPECT_EQ(second.changed, c.want_changed);
  EXPECT_EQ(second.config.sha256, policy::Sha256Hex(second.config.content));
}

json Resourced(json o) {
  o["metadata"]["resourceVersion"] = "999";  // not part of the model
  o["status"] = {{"observedGeneration", 1}};
  return o;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, VersionRuleTest,
    testing::Values(VersionCase{"SameInputs",
                                {PolicyObject("a", "p", 1, "a.example.com")},
                                {PolicyObject("a", "p", 1, "a.example.com")},
                                0,
                                1,
                                false},
                    VersionCase{"ResourceVersionAndStatusDoNotCount",
                                {PolicyObject("a", "p", 1, "a.example.com")},
                                {Resourced(PolicyObject("a", "p", 1, "a.example.com"))},
                                0,
                                1,
                                false},
                    VersionCase{"SpecEdit",
                                {PolicyObject("a", "p", 1, "a.example.com")},
                                {PolicyObject("a", "p", 2, "b.example.com")},
                                0,
                                2,
                                true},
                    VersionCase{"NewPolicy",
                                {PolicyObject("a", "p", 1, "a.example.com")},
                                {PolicyObject("a", "p", 1, "a.example.com"),
                                 PolicyObject("a", "q", 1, "q.example.com")},
                                0,
                                2,
                                true},
                    VersionCase{
                        "Deletion", {PolicyObject("a", "p", 1, "a.example.com")}, {}, 0, 2, true},
                    VersionCase{"InvalidEditKeepsBytes",
                                {PolicyObject("a", "p", 1, "a.example.com")},
                                {MakeInvalid(PolicyObject("a", "p", 2, "a.example.com"))},
                                0,
                                1,
                                false},
                    VersionCase{"FloorAboveLifts",
                                {PolicyObject("a", "p", 1, "a.example.com")},
                                {PolicyObject("a", "p", 1, "a.example.com")},
                                8,
                                8,
                                true},
                    VersionCase{"FloorBelowIgnored",
                                {PolicyObject("a", "p", 1, "a.example.com")},
                                {PolicyObject("a", "p", 2, "z.example.com")},
                                1,
                                2,
                                true}),
    [](const testing::TestParamInfo<VersionCase>& info) { return info.param.name; });

TEST(FleetRendererTest, InvalidEditKeepsTheLastAcceptedVersionOfThatPolicy) {
  RenderResult v1 = Render(
      {PolicyObject("a", "p", 1, "p.example.com"), PolicyObject("b", "q", 1, "q.example.com")});
  RenderResult v2 = Render({MakeInvalid(PolicyObject("a", "p", 2, "p.example.com")),
                            PolicyObject("b", "q", 2, "q2.example.com")},
                           v1.state);
  EXPECT_EQ(v2.config.version, 2);
  EXPECT_EQ(CarriedGenerations(v2), (std::map<std::string, int64_t>{{"a/p", 1}, {"b/q", 2}}));
  const PolicyOutcome& p = OutcomeOf(v2, "a/p");
  EXPECT_FALSE(p.accepted);
  EXPECT_EQ(p.reason, "Invalid");
  EXPECT_EQ(p.generation, 2);
  EXPECT_EQ(p.message.rfind("spec.rules[0].paths[0]: ", 0), 0u) << p.message;
  EXPECT_EQ(p.enforced_generation, 1);
  EXPECT_EQ(p.enforced_since_version, 1);
  EXPECT_EQ(OutcomeOf(v2, "b/q").enforced_since_version, 2);
  // A valid generation replaces the kept one.
  RenderResult v3 = Render(
      {PolicyObject("a", "p", 3, "p.example.com"), PolicyObject("b", "q", 2, "q2.example.com")},
      v2.state);
  EXPECT_TRUE(OutcomeOf(v3, "a/p").accepted);
  EXPECT_EQ(CarriedGenerations(v3)["a/p"], 3);
  EXPECT_EQ(OutcomeOf(v3, "a/p").enforced_since_version, 3);
  EXPECT_EQ(OutcomeOf(v3, "b/q").enforced_since_version, 2);
}

TEST(FleetRendererTest, InvalidWithoutHistoryIsLeftOutAndOthersStay) {
  RenderResult r = Render({MakeInvalid(PolicyObject("a", "p", 1, "p.example.com")),
                           PolicyObject("b", "q", 1, "q.example.com")});
  EXPECT_EQ(CarriedGenerations(r), (std::map<std::string, int64_t>{{"b/q", 1}}));
  EXPECT_FALSE(OutcomeOf(r, "a/p").accepted);
  EXPECT_EQ(OutcomeOf(r, "a/p").enforced_since_version, 0);
  EXPECT_TRUE(OutcomeOf(r, "b/q").accepted);
}

TEST(FleetRendererTest, ConflictGoesToTheNewerAndKeepsItsPreviousHost) {
  json older = PolicyObject("a", "old", 1, "shared.example.com", "2024-01-01T00:00:00Z");
  json newer = PolicyObject("b", "new", 1, "mine.example.com", "2024-02-01T00:00:00Z");
  RenderResult v1 = Render({older, newer});
  // The newer one now claims the older one's host: refused, its old host stays served.
  RenderResult v2 = Render(
      {older, PolicyObject("b", "new", 2, "shared.example.com", "2024-02-01T00:00:00Z")}, v1.state);
  const PolicyOutcome& n = OutcomeOf(v2, "b/new");
  EXPECT_FALSE(n.accepted);
  EXPECT_EQ(n.reason, "Conflict");
  EXPECT_NE(n.message.find("a/old"), std::string::npos) << n.message;
  EXPECT_EQ(n.enforced_generation, 1);
  EXPECT_TRUE(OutcomeOf(v2, "a/old").accepted);
  EXPECT_EQ(CarriedGenerations(v2), (std::map<std::string, int64_t>{{"a/old", 1}, {"b/new", 1}}));
  EXPECT_EQ(v2.config.version, 1);  // nothing that proxies enforce changed
}

TEST(FleetRendererTest, StateFromConfigContinuesWithoutABump) {
  ClusterObjects objects = LoadObjects();
  auto candidates = ParsePolicyCandidates(objects.policies, objects.secrets);
  RenderResult first = RenderFleet(candidates, {}, 41);
  ASSERT_EQ(first.config.version, 41);
  StatusOr<RenderState> restored = RenderStateFromConfig(first.config);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  RenderResult again = RenderFleet(candidates, *restored);
  EXPECT_FALSE(again.changed);
  EXPECT_EQ(again.config, first.config);
  EXPECT_FALSE(RenderStateFromConfig({1, "x", "not json"}).ok());
}

TEST(FleetRendererTest, LocalModeCandidatesKeepErrorsPerPolicy) {
  policy::ParseResult parsed = policy::ParsePolicyFiles(
      {{"a.yaml",
        "apiVersion: gatehouse.dev/v1alpha1\nkind: AccessPolicy\n"
        "metadata: {name: ok, namespace: a}\n"
        "spec: {hosts: [ok.example.com], upstream: {url: 'http://127.0.0.1:1'},\n"
        "  rules: [{name: r, action: Allow, from: {public: true}}]}\n"
        "---\n"
        "apiVersion: gatehouse.dev/v1alpha1\nkind: AccessPolicy\n"
        "metadata: {name: bad, namespace: a}\n"
        "spec: {hosts: [BAD], upstream: {url: 'http://127.0.0.1:1'},\n"
        "  rules: [{name: r, action: Allow, from: {public: true}}]}\n"},
       {"b.yaml", "{not yaml: ["}});
  std::vector<policy::PolicyError> unattributed;
  auto candidates = CandidatesFromParse(parsed.policies, parsed.errors, &unattributed);
  ASSERT_EQ(candidates.size(), 2u);
  EXPECT_EQ(candidates[0].key, "a/bad");
  EXPECT_TRUE(candidates[0].error.has_value());
  EXPECT_EQ(candidates[0].policy, nullptr);
  EXPECT_EQ(candidates[1].key, "a/ok");
  EXPECT_NE(candidates[1].policy, nullptr);
  EXPECT_EQ(unattributed.size(), 1u);
  RenderResult r = RenderFleet(candidates, {});
  EXPECT_EQ(CarriedGenerations(r).count("a/ok"), 1u);
  EXPECT_EQ(CarriedGenerations(r).count("a/bad"), 0u);
}

TEST(FleetRendererTest, SameCandidatesOnlyWhenTheRenderCannotDiffer) {
  std::vector<PolicyCandidate> base =
      ParsePolicyCandidates({PolicyObject("a", "p", 1, "p.example.com"),
                             MakeInvalid(PolicyObject("a", "q", 2, "q.example.com"))},
                            policy::SecretStore());
  ASSERT_EQ(base.size(), 2u);
  ASSERT_NE(base[0].policy, nullptr);
  ASSERT_TRUE(base[1].error.has_value());
  struct Case {
    std::string name;
    std::function<void(std::vector<PolicyCandidate>&)> change;
    bool want_same;
  };
  const std::vector<Case> cases = {
      {"a copy (models shared)", [](auto&) {}, true},
      {"one more policy", [](auto& c) { c.push_back(c[0]), c.back().key = "a/r"; }, false},
      {"one policy less", [](auto& c) { c.pop_back(); }, false},
      {"another generation", [](auto& c) { c[0].generation = 2; }, false},
      {"an equal model parsed again (new object)",
       [](auto& c) { c[0].policy = std::make_shared<const policy::AccessPolicy>(*c[0].policy); },
       false},
      {"another error message", [](auto& c) { c[1].error->message = "other"; }, false},
      {"more errors", [](auto& c) { c[1].more_errors += 1; }, false},
      {"another key", [](auto& c) { c[0].key = "a/z"; }, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<PolicyCandidate> changed = base;
    c.change(changed);
    EXPECT_EQ(SameCandidates(base, changed), c.want_same);
    EXPECT_EQ(SameCandidates(changed, base), c.want_same);
    if (c.want_same) {
      // What "same" promises: the render gives the same bytes and outcomes.
      RenderResult x = RenderFleet(base, {});
      RenderResult y = RenderFleet(changed, {});
      EXPECT_EQ(x.config, y.config);
      EXPECT_EQ(x.outcomes, y.outcomes);
    }
  }
}

}  // namespace
}  // namespace gatehouse::reconcile
