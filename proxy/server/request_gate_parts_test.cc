// The gate's parts around the decision table (request_gate_test.cc): bearer
// credential extraction, request ids, and the per-thread bearer and decision
// memos. Waiting for an issuer's first keys: key_waiter_test.cc.
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "proxy/server/request_gate.h"
#include "proxy/server/request_gate_test_util.h"

namespace gatehouse::server {
namespace {

using testing::GateHarness;

TEST(RequestGateTest, ExtractBearer) {
  struct Case {
    std::string scenario;
    std::vector<std::string> values;
    CredentialKind kind;
    std::string token;
  };
  const std::vector<Case> cases = {
      {"none", {}, CredentialKind::kNone, ""},
      {"bearer", {"Bearer abc.def-_~+/="}, CredentialKind::kBearer, "abc.def-_~+/="},
      {"BEARER, extra spaces", {"BEARER   abc  "}, CredentialKind::kBearer, "abc"},
      {"empty token", {"Bearer "}, CredentialKind::kInvalid, ""},
      {"no space", {"Bearerabc"}, CredentialKind::kInvalid, ""},
      {"two tokens in one header", {"Bearer a b"}, CredentialKind::kInvalid, ""},
      {"comma-joined", {"Bearer a, Bearer b"}, CredentialKind::kInvalid, ""},
      {"two headers", {"Bearer a", "Bearer a"}, CredentialKind::kInvalid, ""},
      {"basic", {"Basic YQ=="}, CredentialKind::kInvalid, ""},
      {"bearer in lowercase", {"bearer abc"}, CredentialKind::kBearer, "abc"},
      {"scheme with a non-ASCII byte", {"Be\xc3\xa4rer abc"}, CredentialKind::kInvalid, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.scenario);
    RequestHead head = GateHarness::Head("GET", "h", "/");
    for (const std::string& v : c.values) head.insert(http::field::authorization, std::string_view(v));
    BearerCredential got = ExtractBearer(head);
    EXPECT_EQ(got.kind, c.kind);
    EXPECT_EQ(got.token, c.token);
  }
}

TEST(RequestGateTest, ExtractBearerFindsABadByteAnywhereInALongToken) {
  // The scan takes 16 bytes per step: a byte outside token68 must be caught
  // at every offset of a block and in the tail, and '=' only at the end.
  const std::string good =
      "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXN0dWZm-_~+/0123456789";
  const std::vector<std::string> bad_bytes = {" ",
                                              "\t",
                                              std::string(1, '\0'),
                                              "\x7f",
                                              "\x80",
                                              "\xff",
                                              ",",
                                              "\"",
                                              "=",
                                              ";",
                                              "\r\n",
                                              "@",
                                              "[",
                                              "`",
                                              "{",
                                              ":",
                                              std::string("/\0", 2)};
  for (size_t at = 0; at < good.size(); ++at) {
    for (const std::string& bad : bad_bytes) {
      std::string token = good;
      token.replace(at, 1, bad);
      SCOPED_TRACE("offset " + std::to_string(at) + ", byte " + std::to_string(bad[0] & 0xff));
      RequestHead head = GateHarness::Head("GET", "h", "/");
      head.insert(http::field::authorization, std::string_view("Bearer " + token));
      const BearerCredential got = ExtractBearer(head);
      // Beast trims the value's trailing whitespace; a space at the very end
      // is therefore gone before the scan, as for any header value.
      // A last '=' is token68 padding; spaces after the scheme are skipped.
      const bool last = at + 1 == good.size();
      const bool still_valid =
          (last && (bad == " " || bad == "\t" || bad == "=")) || (at == 0 && bad == " ");
      EXPECT_EQ(got.kind, still_valid ? CredentialKind::kBearer : CredentialKind::kInvalid);
    }
  }
  RequestHead head = GateHarness::Head("GET", "h", "/");
  head.insert(http::field::authorization, std::string_view("Bearer " + good + "=="));
  EXPECT_EQ(ExtractBearer(head).kind, CredentialKind::kBearer);
  EXPECT_EQ(ExtractBearer(head).token, good + "==");
}

TEST(RequestGateTest, RequestIdsAre32HexDigitsAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    const std::string id = NewRequestId();
    ASSERT_EQ(id.size(), 32u);
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
    EXPECT_TRUE(seen.insert(id).second) << "repeated id " << id;
  }
  // Every hex digit shows up in every position over 10,000 ids (a stuck
  // nibble would be a broken formatter, not bad luck).
  for (size_t pos = 0; pos < 32; ++pos) {
    std::set<char> digits;
    for (const std::string& id : seen) digits.insert(id[pos]);
    EXPECT_EQ(digits.size(), 16u) << pos;
  }
}

TEST(RequestGateTest, ExtractBearerRemembersOnlyByteEqualTokens) {
  // The last token that passed is remembered per thread: a token of the
  // same length one byte apart must still be scanned, and refused.
  struct Ask {
    std::string scenario;
    std::string token;
    CredentialKind kind;
  };
  const std::vector<Ask> asks = {
      {"good", "abc.def", CredentialKind::kBearer},
      {"good again", "abc.def", CredentialKind::kBearer},
      {"same length, a comma", "abc,def", CredentialKind::kInvalid},
      {"same length, a NUL", std::string("abc\0def", 7), CredentialKind::kInvalid},
      {"same length, a quote", "abc\"def", CredentialKind::kInvalid},
      {"good after bad ones", "abc.def", CredentialKind::kBearer},
      {"same length, '=' inside", "abc=def", CredentialKind::kInvalid},
      {"shorter", "abc.de", CredentialKind::kBearer},
  };
  for (const Ask& ask : asks) {
    SCOPED_TRACE(ask.scenario);
    RequestHead head = GateHarness::Head("GET", "h", "/");
    head.insert(http::field::authorization, std::string_view("Bearer " + ask.token));
    const BearerCredential got = ExtractBearer(head);
    EXPECT_EQ(got.kind, ask.kind);
    if (ask.kind == CredentialKind::kBearer) {
      EXPECT_EQ(got.token, ask.token);
    }
  }
}

TEST(RequestGateTest, IsToken68) {
  const std::vector<std::pair<std::string, bool>> cases = {
      {"abc.def-_~+/", true}, {"abc==", true},  {"", false},      {"=", false},
      {"ab=c", false},        {"a b", false},   {"a,b", false},   {std::string("a\0b", 3), false},
      {"a\x80", false},       {"a\r\n", false}, {"a=\x80", false}};
  for (const auto& [token, want] : cases) {
    SCOPED_TRACE(token);
    EXPECT_EQ(IsToken68(token), want);
  }
}

// An identity valid until `expires_at`, told apart by `user`.
std::shared_ptr<const auth::Identity> MemoIdentity(const std::string& user, int64_t expires_at) {
  auto id = std::make_shared<auth::Identity>();
  id->user = user;
  id->expires_at = expires_at;
  return id;
}

TEST(BearerMemoTest, RecallsOnlyTheSameBytesForTheSameAuthenticatorBeforeExp) {
  testing::FakeKeys keys;
  auto authenticator =
      std::make_shared<const auth::TokenAuthenticator>(std::vector{testing::TestIssuer()}, keys);
  auto twin =
      std::make_shared<const auth::TokenAuthenticator>(std::vector{testing::TestIssuer()}, keys);
  const std::string token(700, 'a');
  std::string one_byte_apart = token;
  one_byte_apart[699] = 'b';
  BearerMemo memo;
  const auto identity = MemoIdentity("alice", 1000);
  memo.Remember(token, authenticator, identity);
  struct Ask {
    std::string scenario;
    std::string token;
    std::shared_ptr<const auth::TokenAuthenticator> authenticator;
    int64_t now;
    bool recalled;
  };
  const std::vector<Ask> asks = {
      {"same token, same authenticator", token, authenticator, 999, true},
      {"one byte apart", one_byte_apart, authenticator, 999, false},
      {"first byte apart", "b" + token.substr(1), authenticator, 999, false},
      {"a prefix", token.substr(0, 699), authenticator, 999, false},
      {"longer", token + "a", authenticator, 999, false},
      {"empty", "", authenticator, 999, false},
      {"an equal authenticator of another config", token, twin, 999, false},
      {"no authenticator", token, nullptr, 999, false},
      {"at exp", token, authenticator, 1000, false},
      {"after exp", token, authenticator, 5000, false},
      {"still there for the same token", token, authenticator, 0, true},
  };
  for (const Ask& ask : asks) {
    SCOPED_TRACE(ask.scenario);
    const auto got = memo.Recall(ask.token, ask.authenticator, ask.now);
    EXPECT_EQ(got, ask.recalled ? identity : nullptr);
  }
  // A reload replaces the authenticator: the old answer never serves the new one.
  authenticator.reset();
  auto reloaded =
      std::make_shared<const auth::TokenAuthenticator>(std::vector{testing::TestIssuer()}, keys);
  EXPECT_EQ(memo.Recall(token, reloaded, 999), nullptr);
  // Remembering something that cannot be remembered forgets the old answer.
  memo.Remember(token, twin, identity);
  ASSERT_EQ(memo.Recall(token, twin, 999), identity);
  memo.Remember(std::string(BearerMemo::kMaxBytes + 1, 'a'), twin, identity);
  EXPECT_EQ(memo.Recall(token, twin, 999), nullptr);
  EXPECT_EQ(memo.Recall(std::string(BearerMemo::kMaxBytes + 1, 'a'), twin, 999), nullptr);
  memo.Remember(token, twin, nullptr);
  EXPECT_EQ(memo.Recall(token, twin, 999), nullptr);
}

TEST(BearerMemoTest, AuthenticateBearerRemembersOnlyVerifiedTokens) {
  testing::FakeKeys keys;
  auth::TestSigner idp(auth::JwsAlgorithm::kRS256, "k1");
  keys.Publish(auth::JwksOf({idp.PublicJwk()}));
  const int64_t now = 1700000000;
  const auto mint = [&](const std::string& sub, int64_t exp) {
    return idp.Mint({{"iss", testing::kIssuer},
                     {"aud", "gatehouse"},
                     {"sub", sub},
                     {"iat", now},
                     {"exp", exp}});
  };
  auth::IssuerConfig issuer = testing::TestIssuer();
  issuer.algorithms = {auth::JwsAlgorithm::kRS256};
  auto authenticator = std::make_shared<const auth::TokenAuthenticator>(std::vector{issuer}, keys);
  const std::string good = mint("alice", now + 60);
  std::string forged = good;  // the same length, one signature byte apart
  forged.back() = forged.back() == 'A' ? 'B' : 'A';
  std::string comma = good;  // the same length, not token68
  comma[good.size() / 2] = ',';
  struct Ask {
    std::string scenario;
    std::string token;
    int64_t now;
    std::string user;  // "": refused
  };
  const std::vector<Ask> asks = {
      {"good", good, now, "alice"},
      {"good again (remembered)", good, now, "alice"},
      {"forged signature after the good one", forged, now, ""},
      {"not token68 after the good one", comma, now, ""},
      {"good after the refused ones", good, now + 1, "alice"},
      {"good, long expired", good, now + 3600, ""},
      {"another good token", mint("bob", now + 60), now, "bob"},
  };
  for (const Ask& ask : asks) {
    SCOPED_TRACE(ask.scenario);
    auto got = AuthenticateBearer(authenticator, ask.token, ask.now);
    if (ask.user.empty()) {
      ASSERT_FALSE(got.ok());
      EXPECT_EQ(got.status().code(), StatusCode::kUnauthenticated);
    } else {
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      EXPECT_EQ((*got)->user, ask.user);
    }
  }
}

// The memo must answer exactly what policy::Decide answers, for every
// change of any input it reads, and follow a new config at once.
TEST(DecisionMemoTest, AnswersWhatDecideAnswersForEveryInput) {
  GateHarness h(/*load_config=*/false);
  const auto apply = [&](const std::string& rules) {
    EXPECT_TRUE(h.store()
                    .ApplyPolicies(testing::ParseOrDie(
                        testing::PolicyYaml("app", "app.example.com", "", rules)))
                    .ok());
    return h.store().Current();
  };
  const std::string rules =
      "    - {name: health, action: Allow, paths: [\"/health\"], from: {public: true}}\n"
      "    - {name: no-exports, action: Deny, paths: [\"/export/**\"], from: {groups: "
      "[contractors]}}\n"
      "    - {name: readers, action: Allow, methods: [GET], paths: [\"/api/**\", "
      "\"/export/**\"], from: {groups: [readers], ipBlocks: [10.0.0.0/8]}}\n";
  const auto first = apply(rules);
  const auto identity = [](std::vector<std::string> groups) {
    auto id = std::make_shared<auth::Identity>();
    id->user = "alice";
    id->groups = std::move(groups);
    id->expires_at = 1 << 30;
    return std::shared_ptr<const auth::Identity>(id);
  };
  const auto reader = identity({"readers"});
  const auto reader_again = identity({"readers"});
  const auto contractor = identity({"readers", "contractors"});
  const policy::IpAddress inside = *policy::ParseIpAddress("10.1.2.3");
  const policy::IpAddress outside = *policy::ParseIpAddress("192.168.1.1");
  struct Ask {
    std::string scenario;
    std::string method;
    std::string path;
    std::shared_ptr<const auth::Identity> identity;
    const policy::IpAddress* ip;
    bool bad_credentials;
    bool browser_navigation;
    std::string reason;  // what Decide says (checked too, so the table means something)
  };
  const std::vector<Ask> asks = {
      {"first", "GET", "/api/x", reader, &inside, false, false, "allowed"},
      {"same again", "GET", "/api/x", reader, &inside, false, false, "allowed"},
      {"other method", "POST", "/api/x", reader, &inside, false, false, "no_matching_rule"},
      {"back", "GET", "/api/x", reader, &inside, false, false, "allowed"},
      {"other path", "GET", "/api/y", reader, &inside, false, false, "allowed"},
      {"a path one byte apart", "GET", "/apI/y", reader, &inside, false, false, "no_matching_rule"},
      {"other identity object, same claims", "GET", "/api/x", reader_again, &inside, false, false,
       "allowed"},
      {"another group", "GET", "/export/x", contractor, &inside, false, false, "denied_by_rule"},
      {"same path, a reader", "GET", "/export/x", reader, &inside, false, false, "allowed"},
      {"outside the ip block", "GET", "/export/x", reader, &outside, false, false,
       "no_matching_rule"},
      {"unknown client address", "GET", "/export/x", reader, nullptr, false, false,
       "no_matching_rule"},
      {"no identity", "GET", "/export/x", nullptr, &inside, false, false, "no_credentials"},
      {"no identity, bad credentials", "GET", "/export/x", nullptr, &inside, true, false,
       "invalid_token"},
      {"public route", "GET", "/health", nullptr, &inside, true, true, "allowed"},
      {"public route, lowercase method", "get", "/health", nullptr, &inside, true, true, "allowed"},
      {"readers route, lowercase method", "get", "/api/x", reader, &inside, false, false,
       "no_matching_rule"},
  };
  DecisionMemo memo;
  for (const Ask& ask : asks) {
    SCOPED_TRACE(ask.scenario);
    const policy::CompiledPolicy* routed =
        policy::Route(*first->policies, "app.example.com", ask.path);
    ASSERT_NE(routed, nullptr);
    const policy::RequestFacts facts{.method = ask.method,
                                     .host = "app.example.com",
                                     .path = ask.path,
                                     .client_ip = ask.ip,
                                     .identity = ask.identity.get(),
                                     .bad_credentials = ask.bad_credentials,
                                     .browser_navigation = ask.browser_navigation};
    const policy::Decision want = policy::Decide(*routed, facts);
    const policy::Decision got = memo.Decide(first, *routed, facts, ask.identity);
    EXPECT_EQ(want.ReasonLabel(), ask.reason);
    EXPECT_EQ(got.ReasonLabel(), want.ReasonLabel());
    EXPECT_EQ(got.allow, want.allow);
    EXPECT_EQ(got.rule, want.rule);
    EXPECT_EQ(got.policy, want.policy);
  }
  // A new config: the remembered answer of the old one is never reused.
  const policy::RequestFacts facts{.method = "GET",
                                   .host = "app.example.com",
                                   .path = "/api/x",
                                   .client_ip = &inside,
                                   .identity = reader.get()};
  const policy::CompiledPolicy* old_policy =
      policy::Route(*first->policies, "app.example.com", "/api/x");
  ASSERT_EQ(memo.Decide(first, *old_policy, facts, reader).ReasonLabel(), "allowed");
  const auto second = apply(
      "    - {name: nobody, action: Deny, paths: [\"/api/**\"], from: {groups: [readers]}}\n");
  const policy::CompiledPolicy* new_policy =
      policy::Route(*second->policies, "app.example.com", "/api/x");
  ASSERT_NE(new_policy, nullptr);
  EXPECT_EQ(memo.Decide(second, *new_policy, facts, reader).ReasonLabel(), "denied_by_rule");
  // The identity in the facts must be the one held: otherwise nothing is reused.
  const policy::Decision unheld = memo.Decide(second, *new_policy, facts, reader_again);
  EXPECT_EQ(unheld.ReasonLabel(), "denied_by_rule");
}

}  // namespace
}  // namespace gatehouse::server
