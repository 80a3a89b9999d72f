#include "proxy/auth/jwt_verifier.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>

#include "proxy/auth/base64url.h"
#include "proxy/auth/test_signer.h"

namespace gatehouse::auth {
namespace {

using Json = nlohmann::json;

constexpr int64_t kNow = 1700000000;
constexpr const char* kIssuer = "https://idp.example.com";

IssuerConfig Config() {
  IssuerConfig c;
  c.issuer = kIssuer;
  c.audiences = {"gatehouse", "other-app"};
  c.algorithms = AllJwsAlgorithms();
  return c;
}

Json Claims() {
  return {{"iss", kIssuer},
          {"aud", "gatehouse"},
          {"sub", "user-1"},
          {"exp", kNow + 300},
          {"iat", kNow - 10},
          {"nbf", kNow - 10},
          {"email", "a@example.com"},
          {"groups", {"analysts", "admins"}},
          {"jti", "tok-1"}};
}

class JwtVerifierTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    for (JwsAlgorithm alg : AllJwsAlgorithms()) {
      signers_->emplace(alg, std::make_unique<TestSigner>(alg, std::string(JwsAlgorithmName(alg))));
    }
    std::vector<Json> jwks;
    for (auto& [alg, signer] : *signers_) jwks.push_back(signer->PublicJwk());
    keys_ = new std::shared_ptr<const JsonWebKeySet>(*JsonWebKeySet::Parse(JwksOf(jwks)));
  }
  static void TearDownTestSuite() {
    signers_->clear();
    delete keys_;
  }
  static const TestSigner& Signer(JwsAlgorithm alg) { return *signers_->at(alg); }
  static inline auto* signers_ = new std::map<JwsAlgorithm, std::unique_ptr<TestSigner>>();
  static inline std::shared_ptr<const JsonWebKeySet>* keys_ = nullptr;
};

struct Case {
  const char* name;
  std::function<std::string()> token;
  const char* reason;  // empty: must verify
  std::function<IssuerConfig()> config = Config;
};

void Check(const Case& c, const JsonWebKeySet& keys) {
  SCOPED_TRACE(c.name);
  const std::string token = c.token();
  StatusOr<std::shared_ptr<const Identity>> got = VerifyJwt(token, c.config(), keys, kNow);
  if (std::string(c.reason).empty()) {
    ASSERT_TRUE(got.ok()) << got.status().message();
    EXPECT_EQ((*got)->user, "user-1");
    return;
  }
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(got.status().message().find(c.reason), std::string::npos) << got.status().message();
  // Security: the reason never carries the token or any part of it.
  for (size_t part = 0; part + 16 <= token.size(); part += 16) {
    EXPECT_EQ(got.status().message().find(token.substr(part, 16)), std::string::npos);
  }
}

// Replaces segment `index` (0, 1, 2) of a token.
std::string ReplaceSegment(const std::string& token, int index, const std::string& segment) {
  const size_t a = token.find('.'), b = token.find('.', a + 1);
  std::string parts[3] = {token.substr(0, a), token.substr(a + 1, b - a - 1), token.substr(b + 1)};
  parts[index] = segment;
  return parts[0] + "." + parts[1] + "." + parts[2];
}

TEST_F(JwtVerifierTest, EveryAlgorithmVerifies) {
  for (JwsAlgorithm alg : AllJwsAlgorithms()) {
    Check({JwsAlgorithmName(alg).data(), [&] { return Signer(alg).Mint(Claims()); }, ""}, **keys_);
  }
}

TEST_F(JwtVerifierTest, HeaderAndStructureTable) {
  const TestSigner& rs = Signer(JwsAlgorithm::kRS256);
  const TestSigner& es = Signer(JwsAlgorithm::kES256);
  auto mint_header = [&](Json header) {
    return [&rs, header] { return rs.MintRaw(header.dump(), Claims().dump()); };
  };
  const Json base = {{"alg", "RS256"}, {"kid", "RS256"}};
  auto with = [&](const char* k, Json v) {
    Json h = base;
    h[k] = std::move(v);
    return h;
  };
  const Case cases[] = {
      {"no kid tries every key", mint_header(Json{{"alg", "RS256"}}), ""},
      {"typ at+jwt", mint_header(with("typ", "at+jwt")), ""},
      {"typ application/AT+JWT", mint_header(with("typ", "application/AT+JWT")), ""},
      {"typ jwt lowercase", mint_header(with("typ", "jwt")), ""},
      {"typ JOSE rejected", mint_header(with("typ", "JOSE")), "typ"},
      {"typ number rejected", mint_header(with("typ", 1)), "typ"},
      {"crit rejected", mint_header(with("crit", Json::array({"exp"}))), "crit"},
      {"b64 false via crit", mint_header(with("crit", Json::array({"b64"}))), "crit"},
      {"alg none",
       [&] {
         return Base64UrlEncode(R"({"alg":"none"})") + "." + Base64UrlEncode(Claims().dump()) +
                ".c2ln";
       },
       "alg"},
      {"alg HS256", mint_header(with("alg", "HS256")), "alg"},
      {"alg lowercase rs256", mint_header(with("alg", "rs256")), "alg"},
      {"alg missing", mint_header(Json{{"kid", "RS256"}}), "alg"},
      {"alg not allowlisted", [&] { return rs.Mint(Claims()); }, "not allowed",
       [] {
         IssuerConfig c = Config();
         c.algorithms = {JwsAlgorithm::kES256};
         return c;
       }},
      {"empty allowlist denies", [&] { return rs.Mint(Claims()); }, "not allowed",
       [] {
         IssuerConfig c = Config();
         c.algorithms.clear();
         return c;
       }},
      {"ES256 header with RSA kid",
       [&] {
         return es.MintRaw(Json{{"alg", "ES256"}, {"kid", "RS256"}}.dump(), Claims().dump());
       },
       "no signing key"},
      {"unknown kid", mint_header(with("kid", "nope")), "no signing key"},
      {"kid number", mint_header(with("kid", 5)), "kid"},
      {"jku ignored, signature still checked",
       [&] {
         const TestSigner& other = Signer(JwsAlgorithm::kPS256);  // RSA key not named RS256
         return other.MintRaw(with("jku", "https://evil/jwks").dump(), Claims().dump());
       },
       "signature invalid"},
      {"embedded jwk ignored",
       [&] {
         Json h = with("jwk", Signer(JwsAlgorithm::kPS256).PublicJwk());
         return Signer(JwsAlgorithm::kPS256).MintRaw(h.dump(), Claims().dump());
       },
       "signature invalid"},
      {"duplicate alg in header",
       [&] { return rs.MintRaw(R"({"alg":"RS256","alg":"none","kid":"RS256"})", Claims().dump()); },
       "header not a JSON object"},
      {"header is array", [&] { return rs.MintRaw("[1]", Claims().dump()); },
       "header not a JSON object"},
      {"payload is string", [&] { return rs.MintRaw(base.dump(), "\"x\""); },
       "payload not a JSON object"},
      {"two segments", [&] { return rs.Mint(Claims()).substr(0, rs.Mint(Claims()).rfind('.')); },
       "malformed"},
      {"four segments", [&] { return rs.Mint(Claims()) + ".x"; }, "malformed"},
      {"empty signature",
       [&] {
         std::string t = rs.Mint(Claims());
         return t.substr(0, t.rfind('.') + 1);
       },
       "malformed"},
      {"padding in signature", [&] { return rs.Mint(Claims()) + "="; }, "base64url"},
      {"whitespace in payload",
       [&] {
         std::string t = rs.Mint(Claims());
         t.insert(t.find('.') + 3, " ");
         return t;
       },
       "base64url"},
      {"plus in header",
       [&] {
         std::string t = rs.Mint(Claims());
         t[1] = '+';
         return t;
       },
       "base64url"},
      {"too large",
       [&] {
         Json p = Claims();
         p["pad"] = std::string(17000, 'x');
         return rs.Mint(p);
       },
       "too large"},
      {"tampered payload",
       [&] {
         Json p = Claims();
         p["sub"] = "admin";
         return ReplaceSegment(rs.Mint(Claims()), 1, Base64UrlEncode(p.dump()));
       },
       "signature invalid"},
      {"tampered header",
       [&] {
         return ReplaceSegment(rs.Mint(Claims()), 0,
                               Base64UrlEncode(with("typ", "JWT").dump() + " "));
       },
       "signature invalid"},
      {"tampered signature",
       [&] {
         std::string t = rs.Mint(Claims());
         t[t.size() - 5] = t[t.size() - 5] == 'A' ? 'B' : 'A';
         return t;
       },
       "signature invalid"},
      {"ES256 DER signature rejected",
       [&] {
         std::string t = es.Mint(Claims());
         std::string raw = *Base64UrlDecode(t.substr(t.rfind('.') + 1));
         return t.substr(0, t.rfind('.') + 1) + Base64UrlEncode(raw + std::string(8, '\0'));
       },
       "signature invalid"},
  };
  for (const Case& c : cases) Check(c, **keys_);
}

TEST_F(JwtVerifierTest, ClaimsTable) {
  const TestSigner& rs = Signer(JwsAlgorithm::kEdDSA);
  auto mint = [&](std::function<void(Json&)> edit) {
    return [&rs, edit] {
      Json p = Claims();
      edit(p);
      return rs.Mint(p);
    };
  };
  const Case cases[] = {
      {"aud array", mint([](Json& p) {
         p["aud"] = {"x", "other-app"};
       }),
       ""},
      {"aud wrong", mint([](Json& p) { p["aud"] = "someone-else"; }), "audience"},
      {"aud array wrong", mint([](Json& p) {
         p["aud"] = {"x", "y"};
       }),
       "audience"},
      {"aud array with number", mint([](Json& p) {
         p["aud"] = {"gatehouse", 1};
       }),
       "aud"},
      {"aud missing", mint([](Json& p) { p.erase("aud"); }), "aud"},
      {"iss wrong", mint([](Json& p) { p["iss"] = "https://evil.example.com"; }), "issuer"},
      {"iss trailing slash", mint([](Json& p) { p["iss"] = std::string(kIssuer) + "/"; }),
       "issuer"},
      {"iss missing", mint([](Json& p) { p.erase("iss"); }), "issuer"},
      {"exp missing", mint([](Json& p) { p.erase("exp"); }), "no exp"},
      {"exp string", mint([](Json& p) { p["exp"] = std::to_string(kNow + 300); }), "exp is not"},
      {"exp float ok", mint([](Json& p) { p["exp"] = kNow + 300.5; }), ""},
      {"expired beyond skew", mint([](Json& p) { p["exp"] = kNow - 60; }), "expired"},
      {"expired within skew", mint([](Json& p) { p["exp"] = kNow - 59; }), ""},
      {"exp huge", mint([](Json& p) { p["exp"] = 1e300; }), ""},
      {"nbf future beyond skew", mint([](Json& p) { p["nbf"] = kNow + 61; }), "not yet"},
      {"nbf future within skew", mint([](Json& p) { p["nbf"] = kNow + 60; }), ""},
      {"nbf string", mint([](Json& p) { p["nbf"] = "0"; }), "nbf"},
      {"iat future beyond skew", mint([](Json& p) { p["iat"] = kNow + 61; }), "future"},
      {"iat future within skew", mint([](Json& p) { p["iat"] = kNow + 60; }), ""},
      {"iat bool", mint([](Json& p) { p["iat"] = true; }), "iat"},
      {"sub missing", mint([](Json& p) { p.erase("sub"); }), "user claim"},
      {"sub empty", mint([](Json& p) { p["sub"] = ""; }), "user claim"},
      {"sub number", mint([](Json& p) { p["sub"] = 42; }), "user claim"},
      {"user claim email", mint([](Json& p) {
         p.erase("sub");
         p["user"] = "user-1";
       }),
       "",
       [] {
         IssuerConfig c = Config();
         c.user_claim = "user";
         return c;
       }},
  };
  for (const Case& c : cases) Check(c, **keys_);
}

struct IdentityCase {
  const char* name;
  std::function<void(Json&)> edit;
  std::string email;
  std::vector<std::string> groups;
};

TEST_F(JwtVerifierTest, IdentityTable) {
  const TestSigner& signer = Signer(JwsAlgorithm::kES384);
  const IdentityCase cases[] = {
      {"full", [](Json&) {}, "a@example.com", {"analysts", "admins"}},
      {"email_verified true",
       [](Json& p) { p["email_verified"] = true; },
       "a@example.com",
       {"analysts", "admins"}},
      {"email_verified false drops email",
       [](Json& p) { p["email_verified"] = false; },
       "",
       {"analysts", "admins"}},
      {"email_verified \"false\" drops email",
       [](Json& p) { p["email_verified"] = "false"; },
       "",
       {"analysts", "admins"}},
      {"email number ignored", [](Json& p) { p["email"] = 3; }, "", {"analysts", "admins"}},
      {"groups string", [](Json& p) { p["groups"] = "solo"; }, "a@example.com", {"solo"}},
      {"groups with non-strings",
       [](Json& p) {
         p["groups"] = {"a", 1, nullptr, "b"};
       },
       "a@example.com",
       {"a", "b"}},
      {"groups object ignored",
       [](Json& p) {
         p["groups"] = {{"a", 1}};
       },
       "a@example.com",
       {}},
  };
  for (const IdentityCase& c : cases) {
    SCOPED_TRACE(c.name);
    Json p = Claims();
    c.edit(p);
    StatusOr<std::shared_ptr<const Identity>> id =
        VerifyJwt(signer.Mint(p), Config(), **keys_, kNow);
    ASSERT_TRUE(id.ok()) << id.status().message();
    EXPECT_EQ((*id)->email, c.email);
    EXPECT_EQ((*id)->groups, c.groups);
    EXPECT_EQ((*id)->issuer, kIssuer);
    EXPECT_EQ((*id)->subject, "user-1");
    EXPECT_EQ((*id)->token_id, "tok-1");
    EXPECT_EQ((*id)->expires_at, kNow + 300);
    EXPECT_EQ((*id)->claims["sub"], "user-1");
  }
}

TEST_F(JwtVerifierTest, DuplicateKidTriesEachKey) {
  // Two keys share a kid: the token signed by the second must still verify,
  // and a token signed by neither must not.
  TestSigner first(JwsAlgorithm::kES256, "shared");
  TestSigner second(JwsAlgorithm::kES256, "shared");
  TestSigner stranger(JwsAlgorithm::kES256, "shared");
  auto keys = *JsonWebKeySet::Parse(JwksOf({first.PublicJwk(), second.PublicJwk()}));
  EXPECT_TRUE(VerifyJwt(second.Mint(Claims()), Config(), *keys, kNow).ok());
  EXPECT_FALSE(VerifyJwt(stranger.Mint(Claims()), Config(), *keys, kNow).ok());
}

TEST_F(JwtVerifierTest, KeyAlgMustMatchHeaderAlg) {
  // An RSA key published for PS256 only must not verify an RS256 token.
  TestSigner rs(JwsAlgorithm::kRS256, "k");
  Json jwk = rs.PublicJwk();
  jwk["alg"] = "PS256";
  auto keys = *JsonWebKeySet::Parse(JwksOf({jwk}));
  StatusOr<std::shared_ptr<const Identity>> got =
      VerifyJwt(rs.Mint(Claims()), Config(), *keys, kNow);
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find("no signing key"), std::string::npos);
}

TEST_F(JwtVerifierTest, PeekIssuerAndKeyId) {
  const std::string token = Signer(JwsAlgorithm::kRS256).Mint(Claims());
  EXPECT_EQ(*PeekIssuer(token), kIssuer);
  EXPECT_EQ(*PeekKeyId(token), "RS256");
  const std::string no_kid =
      Signer(JwsAlgorithm::kRS256).MintRaw(R"({"alg":"RS256"})", R"({"sub":"x"})");
  EXPECT_EQ(*PeekKeyId(no_kid), "");
  EXPECT_FALSE(PeekIssuer(no_kid).ok());
  EXPECT_FALSE(PeekIssuer("garbage").ok());
  EXPECT_FALSE(PeekKeyId("a.b").ok());
  EXPECT_FALSE(PeekIssuer(Signer(JwsAlgorithm::kRS256).MintRaw("{}", R"({"iss":5})")).ok());
}

}  // namespace
}  // namespace gatehouse::auth
