// AccessPolicy: the parsed, validated form of one gatehouse.dev/v1alpha1
// AccessPolicy document (PRODUCT.md section 2), with defaults applied and
// secret references resolved. Plain data: no behaviour, no I/O.
//
// Produced by the PolicyParser (from YAML files or from a fleet config's JSON),
// consumed by the PolicyCompiler, serialized back by the FleetConfig writer.
// Field names mirror the CRD (camelCase there, snake_case here).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "proxy/auth/issuer_config.h"

namespace gatehouse::policy {

struct SecretRef {
  std::string name;  // a Secret in the policy's namespace
  std::string key;   // a key of its data/stringData
  friend bool operator==(const SecretRef&, const SecretRef&) = default;
};

struct ServiceRef {
  std::string name;
  int port = 0;
  friend bool operator==(const ServiceRef&, const ServiceRef&) = default;
};

struct UpstreamSpec {
  std::optional<ServiceRef> service;  // exactly one of service / url
  std::string url;                    // http(s)://host[:port][/base]
  int timeout_seconds = 600;          // default lets a 10-minute Metabase export finish
  friend bool operator==(const UpstreamSpec&, const UpstreamSpec&) = default;
};

struct LoginSpec {
  std::string issuer;
  std::string client_id;
  SecretRef client_secret_ref;
  std::vector<std::string> scopes = {"openid", "email", "profile"};
  std::string client_secret;  // resolved from client_secret_ref; never logged
  friend bool operator==(const LoginSpec&, const LoginSpec&) = default;
};

struct AuthenticationSpec {
  std::vector<auth::IssuerConfig> issuers;
  std::optional<LoginSpec> login;
  friend bool operator==(const AuthenticationSpec&, const AuthenticationSpec&) = default;
};

enum class RuleAction { kAllow, kDeny };

struct FromSpec {
  bool is_public = false;  // `public: true`: anyone, with or without credentials
  std::vector<std::string> groups;
  std::vector<std::string> emails;
  std::vector<std::string> email_domains;
  std::vector<std::string> subjects;
  std::map<std::string, std::vector<std::string>> claims;  // claim -> any of these values
  std::vector<std::string> ip_blocks;                      // CIDR, v4 or v6
  friend bool operator==(const FromSpec&, const FromSpec&) = default;
};

struct RuleSpec {
  std::string name;
  RuleAction action = RuleAction::kAllow;
  std::vector<std::string> methods;  // empty: any method
  std::vector<std::string> paths;    // empty: any path
  FromSpec from;                     // all fields empty and !is_public: any authenticated identity
  friend bool operator==(const RuleSpec&, const RuleSpec&) = default;
};

struct IdentityHeadersSpec {
  std::string user = "X-Forwarded-User";
  std::string email = "X-Forwarded-Email";
  std::string groups = "X-Forwarded-Groups";
  std::string assertion = "X-Gatehouse-Assertion";
  bool forward_token = false;
  friend bool operator==(const IdentityHeadersSpec&, const IdentityHeadersSpec&) = default;
};

struct MetabaseSpec {
  SecretRef shared_secret_ref;
  std::string shared_secret;  // resolved; never logged
  friend bool operator==(const MetabaseSpec&, const MetabaseSpec&) = default;
};

enum class RateLimitKey { kIdentity, kIp };

struct RateLimitSpec {
  int requests_per_minute = 0;
  int burst = 0;
  RateLimitKey key = RateLimitKey::kIdentity;
  friend bool operator==(const RateLimitSpec&, const RateLimitSpec&) = default;
};

enum class PolicyMode { kEnforce, kAudit };

struct AccessPolicySpec {
  std::vector<std::string> hosts;  // lowercase; exact or "*.example.com"
  std::string path_prefix = "/";
  UpstreamSpec upstream;
  AuthenticationSpec authentication;
  std::vector<RuleSpec> rules;
  IdentityHeadersSpec identity_headers;
  std::optional<MetabaseSpec> metabase;
  std::optional<RateLimitSpec> rate_limit;
  PolicyMode mode = PolicyMode::kEnforce;
  friend bool operator==(const AccessPolicySpec&, const AccessPolicySpec&) = default;
};

// Where a document came from, for error messages: "policies/a.yaml: document 2".
struct SourceLocation {
  std::string file;  // empty for documents that came from a fleet config or the API
  int document = 0;  // 1-based index within the file
  friend bool operator==(const SourceLocation&, const SourceLocation&) = default;
};

struct AccessPolicy {
  std::string namespace_name = "default";
  std::string name;
  std::string creation_timestamp;  // RFC 3339, "" when unknown (sorts as newest)
  int64_t generation = 0;
  std::string uid;
  AccessPolicySpec spec;
  SourceLocation source;

  // "namespace/name": the `policy` label in metrics and audit lines.
  std::string Key() const { return namespace_name + "/" + name; }
  friend bool operator==(const AccessPolicy&, const AccessPolicy&) = default;
};

}  // namespace gatehouse::policy
