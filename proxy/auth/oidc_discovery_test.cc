#include "proxy/auth/oidc_discovery.h"

#include <gtest/gtest.h>

#include <string>

namespace gatehouse::auth {
namespace {

TEST(DiscoveryUrlTest, TrailingSlashHandledPerSection4) {
  EXPECT_EQ(DiscoveryUrl("https://idp.example.com"),
            "https://idp.example.com/.well-known/openid-configuration");
  EXPECT_EQ(DiscoveryUrl("https://idp.example.com/"),
            "https://idp.example.com/.well-known/openid-configuration");
  EXPECT_EQ(DiscoveryUrl("https://idp.example.com/realms/x"),
            "https://idp.example.com/realms/x/.well-known/openid-configuration");
}

struct UrlCase {
  const char* name;
  const char* url;
  const char* issuer;
  bool ok;
};

TEST(CheckFetchUrlTest, Table) {
  const UrlCase cases[] = {
      {"https", "https://idp.example.com/jwks", "https://idp.example.com", true},
      {"https other host", "https://keys.example.net/jwks", "https://idp.example.com", true},
      {"http remote", "http://idp.example.com/jwks", "https://idp.example.com", false},
      {"http remote issuer", "http://idp.example.com/jwks", "http://idp.example.com", false},
      {"http loopback, https issuer", "http://127.0.0.1:9/jwks", "https://idp.example.com", false},
      {"http loopback both", "http://127.0.0.1:9/jwks", "http://127.0.0.1:9", true},
      {"http localhost both", "http://localhost:9/jwks", "http://localhost:9", true},
      {"http ipv6 loopback", "http://[::1]:9/jwks", "http://[::1]:9", true},
      {"http 127.evil", "http://127.evil.com/jwks", "http://127.0.0.1:9", false},
      {"userinfo trick", "http://127.0.0.1@evil.com/jwks", "http://127.0.0.1:9", false},
      {"loopback jwks, remote http issuer", "http://127.0.0.1/jwks", "http://idp.example.com",
       false},
      {"ftp", "ftp://idp.example.com/jwks", "https://idp.example.com", false},
      {"file", "file:///etc/passwd", "https://idp.example.com", false},
      {"https no host", "https:///jwks", "https://idp.example.com", false},
  };
  for (const UrlCase& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(CheckFetchUrl(c.url, c.issuer).ok(), c.ok);
  }
}

struct DocCase {
  const char* name;
  std::string body;
  const char* issuer;
  const char* jwks_uri;  // nullptr: error
};

TEST(JwksUriFromDiscoveryTest, Table) {
  const DocCase cases[] = {
      {"ok", R"({"issuer":"https://idp","jwks_uri":"https://idp/keys"})", "https://idp",
       "https://idp/keys"},
      {"issuer mismatch", R"({"issuer":"https://evil","jwks_uri":"https://idp/keys"})",
       "https://idp", nullptr},
      {"issuer slash mismatch", R"({"issuer":"https://idp/","jwks_uri":"https://idp/keys"})",
       "https://idp", nullptr},
      {"issuer with slash exact", R"({"issuer":"https://idp/","jwks_uri":"https://idp/keys"})",
       "https://idp/", "https://idp/keys"},
      {"http jwks_uri", R"({"issuer":"https://idp","jwks_uri":"http://idp/keys"})", "https://idp",
       nullptr},
      {"no jwks_uri", R"({"issuer":"https://idp"})", "https://idp", nullptr},
      {"jwks_uri number", R"({"issuer":"https://idp","jwks_uri":1})", "https://idp", nullptr},
      {"duplicate issuer",
       R"({"issuer":"https://evil","issuer":"https://idp","jwks_uri":"https://idp/k"})",
       "https://idp", nullptr},
      {"not json", "<html>", "https://idp", nullptr},
      {"array", "[]", "https://idp", nullptr},
  };
  for (const DocCase& c : cases) {
    SCOPED_TRACE(c.name);
    StatusOr<std::string> got = JwksUriFromDiscovery(c.body, c.issuer);
    if (c.jwks_uri == nullptr) {
      EXPECT_FALSE(got.ok());
    } else {
      ASSERT_TRUE(got.ok()) << got.status().message();
      EXPECT_EQ(*got, c.jwks_uri);
    }
  }
}

}  // namespace
}  // namespace gatehouse::auth
