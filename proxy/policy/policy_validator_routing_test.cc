// AccessPolicy validation rules, one named scenario each. Where traffic goes: hosts, path prefix
// and upstream, identity headers, Metabase, rate limits and mode.
#include <gtest/gtest.h>

#include "proxy/policy/policy_validator_test_util.h"

namespace gatehouse::policy::validator_test {
namespace {

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

}  // namespace
}  // namespace gatehouse::policy::validator_test
