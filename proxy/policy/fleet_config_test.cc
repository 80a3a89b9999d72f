// FleetConfig: golden rendering of testdata/*.yaml, Parse(Render(x)) == x,
// byte-identical renders (1,000 times, any input order), the sha256 envelope,
// and rejection of tampered or invalid configs.
//
// Regenerate the golden file after an intended format change:
//   GATEHOUSE_UPDATE_GOLDEN=1 ./fleet_config_test
// then review the diff of proxy/policy/testdata/fleet_config.golden.json.
#include "proxy/policy/fleet_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "proxy/policy/policy_parser.h"

namespace gatehouse::policy {
namespace {

const std::filesystem::path kTestdata = GATEHOUSE_POLICY_TESTDATA;

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<AccessPolicy> TestdataPolicies() {
  std::vector<std::filesystem::path> paths;
  for (const auto& entry : std::filesystem::directory_iterator(kTestdata)) {
    if (entry.path().extension() == ".yaml") paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end());
  std::vector<SourceFile> files;
  for (const auto& path : paths) files.push_back({path.filename().string(), ReadFile(path)});
  ParseResult r = ParsePolicyFiles(files);
  EXPECT_TRUE(r.ok()) << r.errors[0].ToString();
  for (AccessPolicy& p : r.policies) p.source = {};  // not serialized
  return r.policies;
}

// Variants of the testdata policies that exercise every optional branch.
std::vector<AccessPolicy> Variants() {
  std::vector<AccessPolicy> out = TestdataPolicies();
  std::mt19937 rng(12345);  // fixed seed: the same variants every run
  std::vector<AccessPolicy> base = out;
  for (int i = 0; i < 50; ++i) {
    AccessPolicy p = base[rng() % base.size()];
    p.name = "variant-" + std::to_string(i);
    p.generation = static_cast<int64_t>(rng() % 1000);
    if (rng() % 2) p.uid = "uid-" + std::to_string(rng());
    if (rng() % 2)
      p.creation_timestamp = "2024-05-0" + std::to_string(1 + rng() % 9) + "T00:00:00Z";
    if (rng() % 2) p.spec.mode = PolicyMode::kAudit;
    if (rng() % 2) p.spec.identity_headers.forward_token = true;
    if (rng() % 2)
      p.spec.rate_limit = RateLimitSpec{int(1 + rng() % 1000), int(1 + rng() % 50),
                                        rng() % 2 ? RateLimitKey::kIp : RateLimitKey::kIdentity};
    if (rng() % 2) p.spec.upstream.timeout_seconds = int(1 + rng() % 86400);
    if (rng() % 3 == 0) p.spec.hosts.push_back("h" + std::to_string(i) + ".example.com");
    out.push_back(p);
  }
  return out;
}

TEST(FleetConfigTest, GoldenRendering) {
  std::string rendered = RenderFleetConfigContent(TestdataPolicies());
  std::filesystem::path golden = kTestdata / "fleet_config.golden.json";
  if (std::getenv("GATEHOUSE_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(golden, std::ios::binary) << rendered;
  }
  EXPECT_EQ(rendered, ReadFile(golden))
      << "rendering changed; if intended, regenerate with GATEHOUSE_UPDATE_GOLDEN=1";
}

TEST(FleetConfigTest, ParseOfRenderIsIdentity) {
  std::vector<AccessPolicy> policies = Variants();
  StatusOr<std::vector<AccessPolicy>> back =
      ParseFleetConfigContent(RenderFleetConfigContent(policies));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  std::sort(policies.begin(), policies.end(),
            [](const auto& a, const auto& b) { return a.Key() < b.Key(); });
  ASSERT_EQ(back->size(), policies.size());
  for (size_t i = 0; i < policies.size(); ++i) {
    EXPECT_EQ((*back)[i], policies[i]) << policies[i].Key();
  }
}

TEST(FleetConfigTest, RenderIsByteIdenticalAcrossRuns) {
  const std::vector<AccessPolicy> policies = TestdataPolicies();
  const std::string first = RenderFleetConfigContent(policies);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(RenderFleetConfigContent(policies), first) << i;
}

TEST(FleetConfigTest, RenderIsIndependentOfInputOrder) {
  std::vector<AccessPolicy> policies = Variants();
  const std::string first = RenderFleetConfigContent(policies);
  std::mt19937 rng(7);  // fixed seed: the same permutations every run
  for (int i = 0; i < 20; ++i) {
    std::shuffle(policies.begin(), policies.end(), rng);
    ASSERT_EQ(RenderFleetConfigContent(policies), first) << "permutation " << i;
  }
}

TEST(FleetConfigTest, SecretsOnlyInSecretsMap) {
  std::string content = RenderFleetConfigContent(TestdataPolicies());
  EXPECT_EQ(content.find("corp-oidc-client-secret"), std::string::npos);  // never plaintext
  size_t secrets_at = content.find("],\"secrets\":{");
  ASSERT_NE(secrets_at, std::string::npos);
  std::string b64 = EncodeBase64("corp-oidc-client-secret");
  EXPECT_GT(content.find(b64), secrets_at);  // only inside the secrets map
  EXPECT_THAT(content, testing::HasSubstr("\"analytics/corp-oidc/client-secret\":\"" + b64 + "\""));
}

TEST(FleetConfigTest, EnvelopeRoundTripAndTamperDetection) {
  FleetConfig config = MakeFleetConfig(42, TestdataPolicies());
  EXPECT_EQ(config.sha256, Sha256Hex(config.content));
  EXPECT_EQ(config.sha256.size(), 64u);
  std::string wire = SerializeFleetConfig(config);
  StatusOr<FleetConfig> back = ParseFleetConfigEnvelope(wire);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, config);
  StatusOr<std::vector<AccessPolicy>> policies = ParseFleetConfig(wire);
  ASSERT_TRUE(policies.ok()) << policies.status().ToString();
  std::vector<AccessPolicy> expected = TestdataPolicies();
  std::sort(expected.begin(), expected.end(),
            [](const auto& a, const auto& b) { return a.Key() < b.Key(); });
  EXPECT_EQ(*policies, expected);

  FleetConfig tampered = config;
  tampered.content.replace(tampered.content.find("metabase.example.com"), 8, "evilbase");
  StatusOr<FleetConfig> bad = ParseFleetConfigEnvelope(SerializeFleetConfig(tampered));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), testing::HasSubstr("sha256 does not match"));
}

TEST(FleetConfigTest, RejectsInvalidContent) {
  std::string valid = RenderFleetConfigContent(TestdataPolicies());
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string s = valid;
    size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  struct Case {
    std::string name;
    std::string content;
    std::string message_part;
  };
  std::vector<Case> cases = {
      {"not json", "{", "not valid JSON"},
      {"not an object", "[]", "must be a JSON object"},
      {"unknown top-level field", "{\"policies\":[],\"extra\":1}", "unknown field 'extra'"},
      {"policies missing", "{\"secrets\":{}}", "policies must be a list"},
      {"deep nesting", std::string(100, '[') + std::string(100, ']'), "nested deeper than 64"},
      {"invalid policy, same validator as YAML",
       replace("\"mode\":\"Enforce\"", "\"mode\":\"enforce\""),
       "(analytics/metabase): spec.mode: must be one of Enforce, Audit"},
      {"unknown policy field", replace("\"pathPrefix\"", "\"pathprefix\""), "unknown field"},
      {"secret missing from map",
       replace("\"analytics/corp-oidc/client-secret\"", "\"analytics/corp-oidc/other\""),
       "Secret analytics/corp-oidc has no key 'client-secret'"},
      {"secret key malformed",
       replace("\"analytics/corp-oidc/client-secret\"", "\"analytics/client-secret\""),
       "key must be ns/name/key"},
      {"secret not base64",
       replace("\"analytics/corp-oidc/client-secret\":\"",
               "\"analytics/corp-oidc/client-secret\":\"%"),
       "must be base64"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    StatusOr<std::vector<AccessPolicy>> got = ParseFleetConfigContent(c.content);
    ASSERT_FALSE(got.ok());
    EXPECT_THAT(got.status().message(), testing::HasSubstr(c.message_part));
  }
}

// Policies are validated while the content is parsed (scale); element
// indexes, non-object elements, a "policies" that is not a list and a
// duplicated "policies" key (the last one counts) behave as a whole parse does.
TEST(FleetConfigTest, StreamedPoliciesKeepIndexesAndLastKeyWins) {
  const std::vector<AccessPolicy> policies = TestdataPolicies();
  const std::string valid = RenderFleetConfigContent(policies);
  const size_t list_end = valid.find("],\"secrets\"");
  ASSERT_NE(list_end, std::string::npos);
  std::string trailing = valid;
  trailing.insert(list_end, ",42");
  struct Case {
    std::string name;
    std::string content;
    std::string message_part;  // "" = accepted
    size_t accepted = 0;
  };
  const std::vector<Case> cases = {
      {"non-object element keeps its index", trailing,
       "policies[" + std::to_string(policies.size()) + "]"},
      {"first element bad", "{\"policies\":[[],{}]}", "policies[0]"},
      {"every element counts", "{\"policies\":[42,\"x\"]}", "policies[1]"},
      {"policies is an object", "{\"policies\":{\"a\":{}}}", "policies must be a list"},
      {"last policies key wins (empty)", "{\"policies\":[1],\"policies\":[]}", "", 0},
      {"last policies key wins (bad)", "{\"policies\":[],\"policies\":[true]}", "policies[0]"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    StatusOr<std::vector<AccessPolicy>> got = ParseFleetConfigContent(c.content);
    if (c.message_part.empty()) {
      ASSERT_TRUE(got.ok()) << got.status().message();
      EXPECT_EQ(got->size(), c.accepted);
    } else {
      ASSERT_FALSE(got.ok());
      EXPECT_THAT(got.status().message(), testing::HasSubstr(c.message_part));
    }
  }
  StatusOr<std::vector<AccessPolicy>> round = ParseFleetConfigContent(valid);
  ASSERT_TRUE(round.ok()) << round.status().message();
  EXPECT_EQ(round->size(), policies.size());
}

TEST(FleetConfigTest, EnvelopeViewChecksLikeTheCopyAndPointsIntoTheBytes) {
  const FleetConfig config = MakeFleetConfig(3, TestdataPolicies());
  const std::string wire = SerializeFleetConfig(config);
  StatusOr<FleetConfigView> view = ParseFleetConfigEnvelopeView(wire);
  ASSERT_TRUE(view.ok()) << view.status().message();
  EXPECT_EQ(view->version, 3);
  EXPECT_EQ(view->sha256, config.sha256);
  EXPECT_EQ(view->content, config.content);
  EXPECT_EQ(view->content.data() + view->content.size(), wire.data() + wire.size());
  std::string tampered = wire;
  tampered.back() = tampered.back() == '}' ? ']' : '}';
  StatusOr<FleetConfigView> bad = ParseFleetConfigEnvelopeView(tampered);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), testing::HasSubstr("sha256 does not match"));
}

TEST(FleetConfigTest, RejectsDuplicatePoliciesAndBadEnvelopes) {
  std::vector<AccessPolicy> twice = TestdataPolicies();
  twice.push_back(twice[0]);
  StatusOr<std::vector<AccessPolicy>> dup =
      ParseFleetConfigContent(RenderFleetConfigContent(twice));
  ASSERT_FALSE(dup.ok());
  EXPECT_THAT(dup.status().message(), testing::HasSubstr("duplicate policy"));

  const std::string empty_sha = Sha256Hex("");
  struct Case {
    std::string name;
    std::string bytes;
  };
  std::vector<Case> bad = {
      {"no header line", "{}"},
      {"version 0", "{\"sha256\":\"" + empty_sha + "\",\"version\":0}\n"},
      {"version missing", "{\"sha256\":\"" + empty_sha + "\"}\n"},
      {"sha missing", "{\"version\":1}\n"},
      {"unknown header field", "{\"sha256\":\"" + empty_sha + "\",\"version\":1,\"x\":1}\n"},
      {"header not json", "version 1\n"},
  };
  for (const Case& c : bad) EXPECT_FALSE(ParseFleetConfigEnvelope(c.bytes).ok()) << c.name;
  EXPECT_TRUE(ParseFleetConfigEnvelope("{\"sha256\":\"" + empty_sha + "\",\"version\":1}\n").ok());
}

// Hostile and unusual strings in every kind of field, and every optional branch.
std::vector<AccessPolicy> OddPolicies() {
  std::vector<AccessPolicy> out = Variants();
  const std::vector<std::string> odd = {"q\"uote",
                                        "back\\slash",
                                        "ctl\x01\x1f\x7f",
                                        "tab\tnl\n",
                                        "caf\xc3\xa9 \xe2\x82\xac",
                                        "bad\xff\xfe utf8\xc3",
                                        ""};
  AccessPolicy base = out.front();
  for (size_t i = 0; i < odd.size(); ++i) {
    AccessPolicy p = base;
    p.name = "odd-" + std::to_string(i);
    p.uid = odd[i];
    p.spec.hosts.push_back(odd[i]);
    p.spec.path_prefix = odd[i];
    p.spec.upstream.service =
        i % 2 ? std::optional<ServiceRef>(ServiceRef{odd[i], 8080}) : std::nullopt;
    p.spec.upstream.url = odd[i];
    RuleSpec rule;
    rule.name = odd[i];
    rule.action = i % 2 ? RuleAction::kDeny : RuleAction::kAllow;
    rule.methods = {odd[i], "GET"};
    rule.paths = {odd[i]};
    rule.from.claims = {{odd[i], {odd[i], "x"}}, {"a", {}}, {"zz", {"1"}}};
    rule.from.groups = {odd[i]};
    rule.from.ip_blocks = {"10.0.0.0/8"};
    p.spec.rules.push_back(rule);
    p.spec.identity_headers.user = odd[i];
    p.spec.authentication.login =
        LoginSpec{odd[i], odd[i], SecretRef{"s" + std::to_string(i), odd[i]}, {odd[i]}, odd[i]};
    p.spec.metabase = MetabaseSpec{SecretRef{"m", "k" + std::to_string(i)}, odd[i]};
    out.push_back(p);
  }
  // Two policies with one name (invalid, hand-built): still one order of bytes.
  AccessPolicy twin = base;
  twin.generation = base.generation + 1;
  out.push_back(twin);
  return out;
}

TEST(FleetConfigTest, DirectWriterBytesAreNlohmannCanonical) {
  // The writer writes keys in sorted order by hand: parsing its output and
  // dumping it canonically must give the very same bytes.
  const std::string rendered = RenderFleetConfigContent(OddPolicies());
  nlohmann::json tree = nlohmann::json::parse(rendered, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(tree.is_discarded());
  EXPECT_EQ(tree.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), rendered);
  EXPECT_EQ(tree["policies"].size(), OddPolicies().size());
}

TEST(FleetConfigTest, SharedOverloadRendersTheSameBytesInAnyOrder) {
  std::vector<AccessPolicy> policies = OddPolicies();
  const std::string expected = RenderFleetConfigContent(policies);
  std::vector<std::shared_ptr<const AccessPolicy>> shared;
  for (const AccessPolicy& p : policies) shared.push_back(std::make_shared<AccessPolicy>(p));
  shared.push_back(nullptr);  // skipped
  std::mt19937 rng(11);       // fixed seed: the same permutations every run
  for (int i = 0; i < 10; ++i) {
    std::shuffle(shared.begin(), shared.end(), rng);
    ASSERT_EQ(RenderFleetConfigContent(shared), expected) << "permutation " << i;
  }
  EXPECT_EQ(RenderFleetConfigContent(std::vector<std::shared_ptr<const AccessPolicy>>{}),
            "{\"policies\":[],\"secrets\":{}}");
}

TEST(FleetConfigTest, HeaderPlusContentIsTheEnvelope) {
  FleetConfig config = MakeFleetConfig(7, TestdataPolicies());
  EXPECT_EQ(FleetConfigHeader(config) + config.content, SerializeFleetConfig(config));
  EXPECT_EQ(FleetConfigHeader(config).back(), '\n');
}

}  // namespace
}  // namespace gatehouse::policy
