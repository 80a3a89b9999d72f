// Every AccessPolicy validation rule, one named scenario each: a valid base
// policy is mutated and the exact field path (and the gist of the message) of
// every expected error is checked. Also: defaults, multiple errors at once.
#include "proxy/policy/policy_validator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace gatehouse::policy {
namespace {

using nlohmann::json;
using validation::FieldIssue;

json BasePolicy() {
  return json::parse(R"({
    "apiVersion": "gatehouse.dev/v1alpha1", "kind": "AccessPolicy",
    "metadata": {"name": "metabase", "namespace": "analytics"},
    "spec": {
      "hosts": ["metabase.example.com"],
      "upstream": {"service": {"name": "metabase", "port": 3000}},
      "authentication": {
        "issuers": [{"issuer": "https://idp.example.com", "audiences": ["gatehouse"]}],
        "login": {"issuer": "https://idp.example.com", "clientID": "gatehouse",
                  "clientSecretRef": {"name": "corp-oidc", "key": "client-secret"}}
      },
      "rules": [
        {"name": "health", "action": "Allow", "paths": ["/api/health"], "from": {"public": true}},
        {"name": "analysts", "action": "Allow", "from": {"groups": ["analysts"]}}
      ],
      "metabase": {"sharedSecretRef": {"name": "metabase-jwt", "key": "secret"}}
    }
  })");
}

SecretStore BaseSecrets() {
  SecretStore store;
  store.Add("analytics", "corp-oidc", {{"client-secret", "s3cr3t-client"}});
  store.Add("analytics", "metabase-jwt", {{"secret", std::string(64, 'a')}, {"short", "tiny"}});
  store.Add("other", "metabase-jwt", {{"secret", std::string(64, 'b')}});
  return store;
}

struct Expected {
  std::string field;
  std::string message_part;  // substring of the message
};

struct Scenario {
  std::string name;
  std::function<void(json&)> mutate;
  std::vector<Expected> errors;  // exactly these, in order
};

void CheckScenario(const Scenario& s) {
  SCOPED_TRACE(s.name);
  json doc = BasePolicy();
  s.mutate(doc);
  PolicyValidation v = ValidateAccessPolicy(doc, BaseSecrets());
  std::vector<FieldIssue> got = v.issues.list();
  std::string dump;
  for (const auto& i : got) dump += "  " + i.field + ": " + i.message + "\n";
  ASSERT_EQ(got.size(), s.errors.size()) << dump;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].field, s.errors[i].field) << dump;
    EXPECT_THAT(got[i].message, testing::HasSubstr(s.errors[i].message_part)) << dump;
    // Secret values must never leak into any message.
    EXPECT_THAT(got[i].message, testing::Not(testing::HasSubstr("s3cr3t")));
    EXPECT_THAT(got[i].message, testing::Not(testing::HasSubstr("aaaaaaaa")));
  }
}

json& Spec(json& d) { return d["spec"]; }
json& Rule(json& d, int i) { return d["spec"]["rules"][i]; }
json& Issuer(json& d) { return d["spec"]["authentication"]["issuers"][0]; }
json& Login(json& d) { return d["spec"]["authentication"]["login"]; }

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

TEST(PolicyValidatorTest, Hosts) {
  std::vector<Scenario> scenarios = {
      {"missing", [](json& d) { Spec(d).erase("hosts"); }, {{"spec.hosts", "is required"}}},
      {"empty list",
       [](json& d) { Spec(d)["hosts"] = json::array(); },
       {{"spec.hosts", "at least 1 item"}}},
      {"too many",
       [](json& d) {
         for (int i = 0; i < 65; ++i)
           Spec(d)["hosts"][i] = "h" + std::to_string(i) + ".example.com";
       },
       {{"spec.hosts", "at most 64 items"}}},
      {"duplicate",
       [](json& d) {
         Spec(d)["hosts"] = {"a.example.com", "a.example.com"};
       },
       {{"spec.hosts[1]", "duplicate"}}},
      {"uppercase",
       [](json& d) { Spec(d)["hosts"][0] = "Metabase.example.com"; },
       {{"spec.hosts[0]", "must be lowercase"}}},
      {"port",
       [](json& d) { Spec(d)["hosts"][0] = "metabase.example.com:443"; },
       {{"spec.hosts[0]", "port"}}},
      {"trailing dot",
       [](json& d) { Spec(d)["hosts"][0] = "metabase.example.com."; },
       {{"spec.hosts[0]", "must not end with a dot"}}},
      {"wildcard ok", [](json& d) { Spec(d)["hosts"][0] = "*.example.com"; }, {}},
      {"wildcard in middle",
       [](json& d) { Spec(d)["hosts"][0] = "a.*.example.com"; },
       {{"spec.hosts[0]", "wildcard"}}},
      {"partial wildcard",
       [](json& d) { Spec(d)["hosts"][0] = "a*.example.com"; },
       {{"spec.hosts[0]", "wildcard"}}},
      {"label starts with dash",
       [](json& d) { Spec(d)["hosts"][0] = "-a.example.com"; },
       {{"spec.hosts[0]", "'-'"}}},
      {"label too long",
       [](json& d) { Spec(d)["hosts"][0] = std::string(64, 'a') + ".com"; },
       {{"spec.hosts[0]", "63"}}},
      {"empty label",
       [](json& d) { Spec(d)["hosts"][0] = "a..com"; },
       {{"spec.hosts[0]", "empty label"}}},
      {"not a string",
       [](json& d) { Spec(d)["hosts"][0] = 5; },
       {{"spec.hosts[0]", "must be a string"}}},
      {"not a list",
       [](json& d) { Spec(d)["hosts"] = "a.example.com"; },
       {{"spec.hosts", "must be a list"}}},
  };
  for (const Scenario& s : scenarios) CheckScenario(s);
}

TEST(PolicyValidatorTest, PathPrefixAndUpstream) {
  std::vector<Scenario> scenarios = {
      {"prefix ok", [](json& d) { Spec(d)["pathPrefix"] = "/api"; }, {}},
      {"prefix relative",
       [](json& d) { Spec(d)["pathPrefix"] = "api"; },
       {{"spec.pathPrefix", ""}}},
      {"prefix wildcard",
       [](json& d) { Spec(d)["pathPrefix"] = "/api/*"; },
       {{"spec.pathPrefix", ""}}},
      {"no upstream",
       [](json& d) { Spec(d).erase("upstream"); },
       {{"spec.upstream", "is required"}}},
      {"both service and url",
       [](json& d) { Spec(d)["upstream"]["url"] = "http://127.0.0.1:3000"; },
       {{"spec.upstream", "exactly one of service or url"}}},
      {"neither",
       [](json& d) {
         Spec(d)["upstream"] = {{"timeoutSeconds", 5}};
       },
       {{"spec.upstream", "exactly one of service or url"}}},
      {"service port 0",
       [](json& d) { Spec(d)["upstream"]["service"]["port"] = 0; },
       {{"spec.upstream.service.port", "between 1 and 65535"}}},
      {"service port 65536",
       [](json& d) { Spec(d)["upstream"]["service"]["port"] = 65536; },
       {{"spec.upstream.service.port", "between 1 and 65535"}}},
      {"service port string",
       [](json& d) { Spec(d)["upstream"]["service"]["port"] = "3000"; },
       {{"spec.upstream.service.port", "must be an integer"}}},
      {"service port float",
       [](json& d) { Spec(d)["upstream"]["service"]["port"] = 3000.5; },
       {{"spec.upstream.service.port", "must be an integer"}}},
      {"service name invalid",
       [](json& d) { Spec(d)["upstream"]["service"]["name"] = "my.svc"; },
       {{"spec.upstream.service.name", "DNS-1123 label"}}},
      {"service name missing",
       [](json& d) { Spec(d)["upstream"]["service"].erase("name"); },
       {{"spec.upstream.service.name", "is required"}}},
      {"url ok",
       [](json& d) {
         Spec(d)["upstream"] = {{"url", "https://[::1]:8443/base/path"}};
       },
       {}},
      {"url ftp",
       [](json& d) {
         Spec(d)["upstream"] = {{"url", "ftp://x.example.com"}};
       },
       {{"spec.upstream.url", "http:// or https://"}}},
      {"url userinfo",
       [](json& d) {
         Spec(d)["upstream"] = {{"url", "http://u:p@x.example.com"}};
       },
       {{"spec.upstream.url", "user info"}}},
      {"url query",
       [](json& d) {
         Spec(d)["upstream"] = {{"url", "http://x.example.com/?a=1"}};
       },
       {{"spec.upstream.url", "query"}}},
      {"url fragment",
       [](json& d) {
         Spec(d)["upstream"] = {{"url", "http://x.example.com/#f"}};
       },
       {{"spec.upstream.url", "fragment"}}},
      {"url no host",
       [](json& d) {
         Spec(d)["upstream"] = {{"url", "http:///x"}};
       },
       {{"spec.upstream.url", "must have a host"}}},
      {"url bad port",
       [](json& d) {
         Spec(d)["upstream"] = {{"url", "http://x.example.com:0"}};
       },
       {{"spec.upstream.url", "port between 1 and 65535"}}},
      {"url port too big",
       [](json& d) {
         Spec(d)["upstream"] = {{"url", "http://x.example.com:99999"}};
       },
       {{"spec.upstream.url", "port between 1 and 65535"}}},
      {"timeout 0",
       [](json& d) { Spec(d)["upstream"]["timeoutSeconds"] = 0; },
       {{"spec.upstream.timeoutSeconds", "between 1 and 86400"}}},
      {"timeout too big",
       [](json& d) { Spec(d)["upstream"]["timeoutSeconds"] = 86401; },
       {{"spec.upstream.timeoutSeconds", "between 1 and 86400"}}},
      {"unknown upstream field",
       [](json& d) { Spec(d)["upstream"]["timeout"] = 5; },
       {{"spec.upstream.timeout", "unknown field"}}},
  };
  for (const Scenario& s : scenarios) CheckScenario(s);
}

TEST(PolicyValidatorTest, Issuers) {
  std::vector<Scenario> scenarios = {
      {"issuer http rejected",
       [](json& d) { Issuer(d)["issuer"] = "http://idp.example.com"; },
       {{"spec.authentication.issuers[0].issuer", "must use https"},
        {"spec.authentication.login.issuer", "must equal the issuer"}}},
      {"issuer http loopback ok",
       [](json& d) {
         Issuer(d)["issuer"] = "http://127.0.0.1:4000";
         Login(d)["issuer"] = "http://127.0.0.1:4000";
       },
       {}},
      {"issuer http localhost ok",
       [](json& d) {
         Issuer(d)["issuer"] = "http://localhost:4000/realms/x";
         Login(d)["issuer"] = "http://localhost:4000/realms/x";
       },
       {}},
      {"issuer query",
       [](json& d) { Issuer(d)["issuer"] = "https://idp.example.com/?x=1"; },
       {{"spec.authentication.issuers[0].issuer", "query"},
        {"spec.authentication.login.issuer", "must equal"}}},
      {"issuer missing",
       [](json& d) { Issuer(d).erase("issuer"); },
       {{"spec.authentication.issuers[0].issuer", "is required"},
        {"spec.authentication.login.issuer", "must equal"}}},
      {"audiences missing",
       [](json& d) { Issuer(d).erase("audiences"); },
       {{"spec.authentication.issuers[0].audiences", "is required"}}},
      {"audiences empty",
       [](json& d) { Issuer(d)["audiences"] = json::array(); },
       {{"spec.authentication.issuers[0].audiences", "at least 1"}}},
      {"audience empty string",
       [](json& d) { Issuer(d)["audiences"] = {""}; },
       {{"spec.authentication.issuers[0].audiences[0]", "must not be empty"}}},
      {"too many audiences",
       [](json& d) {
         for (int i = 0; i < 17; ++i) Issuer(d)["audiences"][i] = "a" + std::to_string(i);
       },
       {{"spec.authentication.issuers[0].audiences", "at most 16"}}},
      {"jwksUri http",
       [](json& d) { Issuer(d)["jwksUri"] = "http://keys.example.com/jwks"; },
       {{"spec.authentication.issuers[0].jwksUri", "must use https"}}},
      {"empty claim",
       [](json& d) { Issuer(d)["groupsClaim"] = ""; },
       {{"spec.authentication.issuers[0].groupsClaim", "must not be empty"}}},
      {"algorithm HS256",
       [](json& d) {
         Issuer(d)["algorithms"] = {"RS256", "HS256"};
       },
       {{"spec.authentication.issuers[0].algorithms[1]", "must be one of RS256"}}},
      {"algorithm none",
       [](json& d) { Issuer(d)["algorithms"] = {"none"}; },
       {{"spec.authentication.issuers[0].algorithms[0]", "must be one of"}}},
      {"algorithms empty",
       [](json& d) { Issuer(d)["algorithms"] = json::array(); },
       {{"spec.authentication.issuers[0].algorithms", "at least 1"}}},
      {"algorithm lowercase",
       [](json& d) { Issuer(d)["algorithms"] = {"rs256"}; },
       {{"spec.authentication.issuers[0].algorithms[0]", "must be one of"}}},
      {"duplicate issuer",
       [](json& d) { Spec(d)["authentication"]["issuers"][1] = Issuer(d); },
       {{"spec.authentication.issuers[1].issuer", "duplicate issuer"}}},
      {"too many issuers",
       [](json& d) {
         for (int i = 1; i < 9; ++i) {
           json copy = Issuer(d);
           copy["issuer"] = "https://idp" + std::to_string(i) + ".example.com";
           Spec(d)["authentication"]["issuers"][i] = copy;
         }
       },
       {{"spec.authentication.issuers", "at most 8"},
        {"spec.authentication.login.issuer", "must equal"}}},
      {"issuers required for non-public rules",
       [](json& d) {
         Spec(d)["authentication"].erase("issuers");
         Spec(d)["authentication"].erase("login");
       },
       {{"spec.authentication.issuers", "at least one issuer is required"}}},
      {"issuers optional when all rules public",
       [](json& d) {
         Spec(d).erase("authentication");
         Spec(d)["rules"].erase(1);
       },
       {}},
      {"unknown issuer field",
       [](json& d) { Issuer(d)["audience"] = {"x"}; },
       {{"spec.authentication.issuers[0].audience", "unknown field"}}},
  };
  for (const Scenario& s : scenarios) CheckScenario(s);
}

TEST(PolicyValidatorTest, LoginAndSecrets) {
  std::vector<Scenario> scenarios = {
      {"login issuer not listed",
       [](json& d) { Login(d)["issuer"] = "https://other.example.com"; },
       {{"spec.authentication.login.issuer", "must equal the issuer of one of"}}},
      {"clientID missing",
       [](json& d) { Login(d).erase("clientID"); },
       {{"spec.authentication.login.clientID", "is required"}}},
      {"clientSecretRef missing",
       [](json& d) { Login(d).erase("clientSecretRef"); },
       {{"spec.authentication.login.clientSecretRef", "is required"}}},
      {"secret not found",
       [](json& d) { Login(d)["clientSecretRef"]["name"] = "nope"; },
       {{"spec.authentication.login.clientSecretRef", "Secret analytics/nope not found"}}},
      {"secret key missing",
       [](json& d) { Login(d)["clientSecretRef"]["key"] = "secret"; },
       {{"spec.authentication.login.clientSecretRef",
         "Secret analytics/corp-oidc has no key 'secret'"}}},
      {"secret in another namespace only",
       [](json& d) {
         d["metadata"]["namespace"] = "other";
         Spec(d).erase("authentication");
         Spec(d)["rules"].erase(1);
         Spec(d)["metabase"]["sharedSecretRef"]["name"] = "corp-oidc";
       },
       {{"spec.metabase.sharedSecretRef", "Secret other/corp-oidc not found"}}},
      {"scopes without openid",
       [](json& d) {
         Login(d)["scopes"] = {"email", "profile"};
       },
       {{"spec.authentication.login.scopes", "must contain openid"}}},
      {"scope with space",
       [](json& d) {
         Login(d)["scopes"] = {"openid", "a b"};
       },
       {{"spec.authentication.login.scopes[1]", "OAuth scope"}}},
      {"duplicate scope",
       [](json& d) {
         Login(d)["scopes"] = {"openid", "openid"};
       },
       {{"spec.authentication.login.scopes[1]", "duplicate"}}},
      {"metabase ref missing key",
       [](json& d) { Spec(d)["metabase"]["sharedSecretRef"].erase("key"); },
       {{"spec.metabase.sharedSecretRef.key", "is required"}}},
      {"metabase wrong key",
       [](json& d) { Spec(d)["metabase"]["sharedSecretRef"]["key"] = "nokey"; },
       {{"spec.metabase.sharedSecretRef", "Secret analytics/metabase-jwt has no key 'nokey'"}}},
      {"metabase secret too short",
       [](json& d) { Spec(d)["metabase"]["sharedSecretRef"]["key"] = "short"; },
       {{"spec.metabase.sharedSecretRef", "at least 16 bytes"}}},
      {"secret key syntax",
       [](json& d) { Spec(d)["metabase"]["sharedSecretRef"]["key"] = "a/b"; },
       {{"spec.metabase.sharedSecretRef.key", "letters, digits"}}},
  };
  for (const Scenario& s : scenarios) CheckScenario(s);
}

TEST(PolicyValidatorTest, Rules) {
  std::vector<Scenario> scenarios = {
      {"no rules", [](json& d) { Spec(d).erase("rules"); }, {{"spec.rules", "is required"}}},
      {"empty rules",
       [](json& d) { Spec(d)["rules"] = json::array(); },
       {{"spec.rules", "at least 1 item"}}},
      {"too many rules",
       [](json& d) {
         for (int i = 0; i < 257; ++i) {
           Spec(d)["rules"][i] = {{"name", "r" + std::to_string(i)}, {"action", "Allow"}};
         }
       },
       {{"spec.rules", "at most 256"}}},
      {"rule name missing",
       [](json& d) { Rule(d, 1).erase("name"); },
       {{"spec.rules[1].name", "is required"}}},
      {"rule name invalid",
       [](json& d) { Rule(d, 1)["name"] = "Analysts"; },
       {{"spec.rules[1].name", "DNS-1123 label"}}},
      {"duplicate rule name",
       [](json& d) { Rule(d, 1)["name"] = "health"; },
       {{"spec.rules[1].name", "duplicate rule name 'health'"}}},
      {"action lowercase",
       [](json& d) { Rule(d, 1)["action"] = "allow"; },
       {{"spec.rules[1].action", "must be one of Allow, Deny (got 'allow')"}}},
      {"action missing",
       [](json& d) { Rule(d, 1).erase("action"); },
       {{"spec.rules[1].action", "is required"}}},
      {"method lowercase",
       [](json& d) {
         Rule(d, 1)["methods"] = {"GET", "get"};
       },
       {{"spec.rules[1].methods[1]", "must be one of GET"}}},
      {"method duplicate",
       [](json& d) {
         Rule(d, 1)["methods"] = {"GET", "GET"};
       },
       {{"spec.rules[1].methods[1]", "duplicate"}}},
      {"path pattern invalid",
       [](json& d) {
         Rule(d, 1)["paths"] = {"/a", "/**/x"};
       },
       {{"spec.rules[1].paths[1]", "'**'"}}},
      {"path relative",
       [](json& d) { Rule(d, 1)["paths"] = {"api"}; },
       {{"spec.rules[1].paths[0]", ""}}},
      {"typo form",
       [](json& d) { Rule(d, 1)["form"] = Rule(d, 1)["from"]; },
       {{"spec.rules[1].form", "unknown field"}}},
      {"public not bool",
       [](json& d) { Rule(d, 0)["from"]["public"] = "yes"; },
       {{"spec.rules[0].from.public", "must be a boolean"}}},
      {"public with groups",
       [](json& d) { Rule(d, 0)["from"]["groups"] = {"x"}; },
       {{"spec.rules[0].from.public", "a public rule cannot also require an identity"}}},
      {"public with claims",
       [](json& d) {
         Rule(d, 0)["from"]["claims"] = {{"a", {"b"}}};
       },
       {{"spec.rules[0].from.public", "cannot also require"}}},
      {"public with ipBlocks ok",
       [](json& d) { Rule(d, 0)["from"]["ipBlocks"] = {"10.0.0.0/8"}; },
       {}},
      {"public with empty groups ok",
       [](json& d) { Rule(d, 0)["from"]["groups"] = json::array(); },
       {}},
      {"empty group",
       [](json& d) { Rule(d, 1)["from"]["groups"] = {""}; },
       {{"spec.rules[1].from.groups[0]", "must not be empty"}}},
      {"email without at",
       [](json& d) { Rule(d, 1)["from"]["emails"] = {"bob.example.com"}; },
       {{"spec.rules[1].from.emails[0]", "exactly one '@'"}}},
      {"email two ats",
       [](json& d) { Rule(d, 1)["from"]["emails"] = {"a@b@example.com"}; },
       {{"spec.rules[1].from.emails[0]", "exactly one '@'"}}},
      {"email domain with at",
       [](json& d) { Rule(d, 1)["from"]["emailDomains"] = {"@example.com"}; },
       {{"spec.rules[1].from.emailDomains[0]", "without '@'"}}},
      {"email domain uppercase",
       [](json& d) { Rule(d, 1)["from"]["emailDomains"] = {"Example.com"}; },
       {{"spec.rules[1].from.emailDomains[0]", "must be lowercase"}}},
      {"empty subject",
       [](json& d) { Rule(d, 1)["from"]["subjects"] = {""}; },
       {{"spec.rules[1].from.subjects[0]", "must not be empty"}}},
      {"claims empty list",
       [](json& d) {
         Rule(d, 1)["from"]["claims"] = {{"dept", json::array()}};
       },
       {{"spec.rules[1].from.claims[dept]", "at least 1"}}},
      {"claims not a map",
       [](json& d) { Rule(d, 1)["from"]["claims"] = {"dept"}; },
       {{"spec.rules[1].from.claims", "must be an object"}}},
      {"claims value not string",
       [](json& d) {
         Rule(d, 1)["from"]["claims"] = {{"lvl", {3}}};
       },
       {{"spec.rules[1].from.claims[lvl][0]", "must be a string"}}},
      {"ip block host bits",
       [](json& d) { Rule(d, 1)["from"]["ipBlocks"] = {"10.0.0.1/8"}; },
       {{"spec.rules[1].from.ipBlocks[0]", "host bits"}}},
      {"ip block garbage",
       [](json& d) { Rule(d, 1)["from"]["ipBlocks"] = {"10.0.0.0/33"}; },
       {{"spec.rules[1].from.ipBlocks[0]", ""}}},
      {"ipv6 block ok", [](json& d) { Rule(d, 1)["from"]["ipBlocks"] = {"fd00::/8"}; }, {}},
      {"too many groups",
       [](json& d) {
         for (int i = 0; i < 257; ++i) Rule(d, 1)["from"]["groups"][i] = "g" + std::to_string(i);
       },
       {{"spec.rules[1].from.groups", "at most 256"}}},
      {"group too long",
       [](json& d) { Rule(d, 1)["from"]["groups"] = {std::string(257, 'g')}; },
       {{"spec.rules[1].from.groups[0]", "at most 256 characters"}}},
  };
  for (const Scenario& s : scenarios) CheckScenario(s);
}

TEST(PolicyValidatorTest, HeadersMetabaseRateLimitMode) {
  std::vector<Scenario> scenarios = {
      {"header with space",
       [](json& d) {
         Spec(d)["identityHeaders"] = {{"user", "X User"}};
       },
       {{"spec.identityHeaders.user", "HTTP header name"}}},
      {"reserved header",
       [](json& d) {
         Spec(d)["identityHeaders"] = {{"email", "authorization"}};
       },
       {{"spec.identityHeaders.email", "must not be Authorization"}}},
      {"reserved x-forwarded-for",
       [](json& d) {
         Spec(d)["identityHeaders"] = {{"groups", "X-FORWARDED-FOR"}};
       },
       {{"spec.identityHeaders.groups", "must not be X-Forwarded-For"}}},
      {"reserved host",
       [](json& d) {
         Spec(d)["identityHeaders"] = {{"assertion", "Host"}};
       },
       {{"spec.identityHeaders.assertion", "must not be Host"}}},
      {"headers not distinct",
       [](json& d) {
         Spec(d)["identityHeaders"] = {{"email", "x-forwarded-user"}};
       },
       {{"spec.identityHeaders.email", "must differ from user"}}},
      {"forwardToken string",
       [](json& d) {
         Spec(d)["identityHeaders"] = {{"forwardToken", "true"}};
       },
       {{"spec.identityHeaders.forwardToken", "must be a boolean"}}},
      {"metabase unknown",
       [](json& d) { Spec(d)["metabase"]["secretRef"] = 1; },
       {{"spec.metabase.secretRef", "unknown field"}}},
      {"rate limit ok",
       [](json& d) {
         Spec(d)["rateLimit"] = {{"requestsPerMinute", 600}, {"burst", 100}, {"key", "ip"}};
       },
       {}},
      {"rate limit burst missing",
       [](json& d) {
         Spec(d)["rateLimit"] = {{"requestsPerMinute", 600}};
       },
       {{"spec.rateLimit.burst", "is required"}}},
      {"rate limit too high",
       [](json& d) {
         Spec(d)["rateLimit"] = {{"requestsPerMinute", 1000001}, {"burst", 1}};
       },
       {{"spec.rateLimit.requestsPerMinute", "between 1 and 1000000"}}},
      {"rate limit key",
       [](json& d) {
         Spec(d)["rateLimit"] = {{"requestsPerMinute", 1}, {"burst", 1}, {"key", "user"}};
       },
       {{"spec.rateLimit.key", "must be one of identity, ip"}}},
      {"mode lowercase",
       [](json& d) { Spec(d)["mode"] = "audit"; },
       {{"spec.mode", "must be one of Enforce, Audit"}}},
      {"unknown spec field",
       [](json& d) { Spec(d)["rule"] = json::array(); },
       {{"spec.rule", "unknown field"}}},
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
}  // namespace gatehouse::policy
