// AccessPolicy validation rules, one named scenario each. Who gets in: token issuers, the login
// section and its secrets, and rules.
#include <gtest/gtest.h>

#include "proxy/policy/policy_validator_test_util.h"

namespace gatehouse::policy::validator_test {
namespace {

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

}  // namespace
}  // namespace gatehouse::policy::validator_test
