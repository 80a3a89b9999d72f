// Shared by the policy validator tests (policy_validator_*_test.cc): a valid
// base policy, its secrets, and CheckScenario, which mutates the base and
// checks the exact field path (and the gist of the message) of every error.
//
//   CheckScenario({"empty hosts", [](json& d) { Spec(d)["hosts"] = json::array(); },
//                  {{"spec.hosts", "at least 1 item"}}});
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "proxy/policy/policy_validator.h"

namespace gatehouse::policy::validator_test {

using nlohmann::json;
using validation::FieldIssue;

inline json BasePolicy() {
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

inline SecretStore BaseSecrets() {
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

inline void CheckScenario(const Scenario& s) {
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

inline json& Spec(json& d) { return d["spec"]; }
inline json& Rule(json& d, int i) { return d["spec"]["rules"][i]; }
inline json& Issuer(json& d) { return d["spec"]["authentication"]["issuers"][0]; }
inline json& Login(json& d) { return d["spec"]["authentication"]["login"]; }

}  // namespace gatehouse::policy::validator_test
