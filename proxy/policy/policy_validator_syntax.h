// Hand-written syntax checks for the strings an AccessPolicy holds: DNS names,
// host patterns, HTTP header names, emails, URLs, Secret keys. No regex (these
// run for every field of every policy in a 10,000-policy fleet config).
//
//   std::string problem = CheckHostPattern("*.Example.com");   // "must be lowercase"
//   if (!problem.empty()) issues.Add(path, problem);
//
// Every Check* function returns "" when the value is valid, otherwise a message
// that completes "<field path>: ..." and never echoes the value itself (values
// can be long or hostile; the path already says where the problem is).
#pragma once

#include <string>
#include <string_view>

namespace gatehouse::policy::validation {

// Kubernetes names: label = [a-z0-9]([-a-z0-9]*[a-z0-9])?, <= 63;
// subdomain = labels joined by '.', <= 253.
std::string CheckDns1123Label(std::string_view value);
std::string CheckDns1123Subdomain(std::string_view value);
// spec.hosts items: a lowercase DNS name, optionally "*." + name; no port, no
// trailing dot. Labels may start with a digit (RFC 1123).
std::string CheckHostPattern(std::string_view value);
// from.emailDomains items: a lowercase DNS name, no wildcard, no '@'.
std::string CheckEmailDomain(std::string_view value);
// from.emails items: exactly one '@' with something on both sides, no spaces.
std::string CheckEmail(std::string_view value);
// A Secret data key: [-._a-zA-Z0-9]+, not "." or "..", <= 253 (as Kubernetes).
std::string CheckSecretKey(std::string_view value);
// RFC 9110 token characters only.
std::string CheckHttpToken(std::string_view value);
// An identity header name: a token and not one of the headers the proxy
// itself owns (Host, Authorization, X-Forwarded-For, ...), case-insensitively.
std::string CheckIdentityHeaderName(std::string_view value);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

struct ParsedUrl {
  std::string scheme;  // "http" or "https"
  std::string host;    // as written; IPv6 without brackets
  int port = 0;        // 0 when absent
  std::string path;    // "" or starting with '/'
};
// http(s)://host[:port][/path]: host required, port 1..65535, no userinfo,
// query or fragment, no whitespace or control characters.
std::string CheckHttpUrl(std::string_view value, ParsedUrl* out);
// An issuer or JWKS URL: CheckHttpUrl, and https unless the host is loopback
// (127.0.0.1, ::1, localhost: local mode and tests).
std::string CheckIssuerUrl(std::string_view value);
// An upstream URL: CheckHttpUrl (http or https, any host).
std::string CheckUpstreamUrl(std::string_view value);

}  // namespace gatehouse::policy::validation
