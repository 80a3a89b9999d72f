#include "proxy/policy/policy_engine.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "proxy/policy/path_normalizer.h"
#include "proxy/policy/route_table.h"

// Counts heap allocations made while `g_count_allocations` is set, to prove the
// decision path allocates nothing.
namespace {
bool g_count_allocations = false;
int g_allocations = 0;
}  // namespace

namespace {
void* CountedAlloc(std::size_t size) noexcept {
  if (g_count_allocations) ++g_allocations;
  return std::malloc(size == 0 ? 1 : size);
}
}  // namespace

// Every unaligned form is replaced so that new/delete always pair up.
void* operator new(std::size_t size) {
  if (void* p = CountedAlloc(size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
  if (void* p = CountedAlloc(size)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return CountedAlloc(size); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return CountedAlloc(size);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace gatehouse::policy {
namespace {

using R = DecisionReason;

RuleSpec Rule(std::string name, RuleAction action, std::vector<std::string> paths,
              FromSpec from = {}, std::vector<std::string> methods = {}) {
  RuleSpec rule;
  rule.name = std::move(name);
  rule.action = action;
  rule.paths = std::move(paths);
  rule.from = std::move(from);
  rule.methods = std::move(methods);
  return rule;
}

FromSpec Public(std::vector<std::string> ip_blocks = {}) {
  FromSpec from;
  from.is_public = true;
  from.ip_blocks = std::move(ip_blocks);
  return from;
}

AccessPolicy Policy(std::string ns, std::string name, std::vector<std::string> hosts,
                    std::string prefix, std::vector<RuleSpec> rules, bool login = false,
                    PolicyMode mode = PolicyMode::kEnforce) {
  AccessPolicy policy;
  policy.namespace_name = std::move(ns);
  policy.name = std::move(name);
  policy.creation_timestamp = "2024-01-01T00:00:00Z";
  policy.spec.hosts = std::move(hosts);
  policy.spec.path_prefix = std::move(prefix);
  policy.spec.rules = std::move(rules);
  policy.spec.mode = mode;
  if (login) policy.spec.authentication.login = LoginSpec{};
  return policy;
}

AccessPolicy Metabase() {
  const auto kAllow = RuleAction::kAllow;
  const auto kDeny = RuleAction::kDeny;
  FromSpec analysts, contractors, finance, domain, admin, subject, combined, staff;
  analysts.groups = {"analysts"};
  contractors.groups = {"contractors"};
  finance.claims = {{"department", {"finance", "42", "true"}}};
  domain.email_domains = {"Example.com"};
  admin.emails = {"Admin@Example.com"};
  subject.subjects = {"user-123"};
  combined.groups = {"eng"};
  combined.email_domains = {"example.com"};
  combined.ip_blocks = {"192.168.0.0/16"};
  staff.groups = {"staff"};
  staff.ip_blocks = {"10.0.0.0/8", "2001:db8::/32"};
  return Policy(
      "analytics", "metabase", {"metabase.example.com", "[::1]"}, "/",
      {
          Rule("health", kAllow, {"/api/health"}, Public()),
          Rule("office-public", kAllow, {"/public/**"}, Public({"10.0.0.0/8", "2001:db8::/32"})),
          Rule("no-contractor-exports", kDeny, {"/api/dataset/csv"}, contractors),
          Rule("block-setup", kDeny, {"/api/setup/**"}, Public()),
          Rule("analysts-read", kAllow, {"/api/card/*", "/dashboard/**"}, analysts,
               {"GET", "HEAD"}),
          Rule("finance", kAllow, {"/api/dataset/**"}, finance),
          Rule("domain", kAllow, {"/api/user/current"}, domain),
          Rule("admins", kAllow, {}, admin),
          Rule("session", kAllow, {"/api/session"}, subject, {"POST", "DELETE"}),
          Rule("combined", kAllow, {"/api/combined/**"}, combined),
          Rule("any-auth", kAllow, {"/api/any"}),
          Rule("office", kAllow, {"/office/**"}, staff),
          Rule("dav", kAllow, {"/dav/**"}, {}, {"PROPFIND"}),
          Rule("order-first", kAllow, {"/api/order"}),
          Rule("order-second", kAllow, {"/api/order"}),
      },
      /*login=*/true);
}

std::vector<AccessPolicy> AllPolicies() {
  const auto kAllow = RuleAction::kAllow;
  FromSpec readers, roles;
  readers.groups = {"readers"};
  roles.claims = {{"roles", {"reader"}}};
  FromSpec any_auth;
  return {
      Metabase(),
      Policy("analytics", "metabase-v2", {"metabase.example.com"}, "/api/v2",
             {Rule("v2-all", kAllow, {})}),
      Policy("platform", "wildcard", {"*.example.com"}, "/", {Rule("wild-all", kAllow, {})}),
      Policy("platform", "exact-a", {"a.example.com"}, "/api", {Rule("exact-a", kAllow, {})}),
      Policy("audit", "shadow", {"audit.example.com"}, "/",
             {Rule("no-delete", RuleAction::kDeny, {}, any_auth, {"DELETE"}),
              Rule("readers", kAllow, {}, readers)},
             /*login=*/true, PolicyMode::kAudit),
      Policy("internal", "api", {"api.internal"}, "/", {Rule("svc", kAllow, {}, roles)}),
  };
}

auth::Identity MakeIdentity(std::string subject, std::string email, std::vector<std::string> groups,
                            nlohmann::json claims = nlohmann::json::object()) {
  auth::Identity identity;
  identity.subject = subject;
  identity.user = subject;
  identity.email = std::move(email);
  identity.groups = std::move(groups);
  identity.claims = std::move(claims);
  identity.claims["sub"] = subject;
  return identity;
}

const std::map<std::string, auth::Identity>& Identities() {
  static const auto* identities = new std::map<std::string, auth::Identity>{
      {"analyst", MakeIdentity("user-1", "ann@example.com", {"analysts"})},
      {"contractor", MakeIdentity("user-2", "carl@example.com", {"contractors", "analysts"})},
      {"nobody", MakeIdentity("user-3", "", {})},
      {"admin-upper", MakeIdentity("user-4", "ADMIN@EXAMPLE.COM", {})},
      {"admin-lookalike", MakeIdentity("user-5", "admin@example.com.evil.io", {})},
      {"subject", MakeIdentity("user-123", "", {})},
      {"subject-prefix", MakeIdentity("user-1234", "", {})},
      {"evil-domain", MakeIdentity("user-6", "eve@evil-example.com", {})},
      {"sub-domain", MakeIdentity("user-7", "sam@sub.example.com", {})},
      {"double-at", MakeIdentity("user-8", "x@example.com@evil.io", {})},
      {"upper-domain", MakeIdentity("user-9", "Uma@EXAMPLE.COM", {})},
      {"fin-string", MakeIdentity("user-10", "", {}, {{"department", "finance"}})},
      {"fin-array", MakeIdentity("user-11", "", {}, {{"department", {"ops", "finance"}}})},
      {"fin-number", MakeIdentity("user-12", "", {}, {{"department", 42}})},
      {"fin-bool", MakeIdentity("user-13", "", {}, {{"department", true}})},
      {"fin-wrong", MakeIdentity("user-14", "", {}, {{"department", "Finance"}})},
      {"fin-object", MakeIdentity("user-15", "", {}, {{"department", {{"name", "finance"}}}})},
      {"fin-float", MakeIdentity("user-16", "", {}, {{"department", 42.5}})},
      {"eng", MakeIdentity("user-17", "e@example.com", {"eng"})},
      {"eng-other-domain", MakeIdentity("user-18", "e@other.com", {"eng"})},
      {"staff", MakeIdentity("user-19", "s@example.com", {"staff"})},
      {"reader", MakeIdentity("user-20", "", {"readers"})},
      {"svc", MakeIdentity("svc-1", "", {}, {{"roles", {"writer", "reader"}}})},
      {"svc-no-roles", MakeIdentity("svc-2", "", {})},
      {"group-case", MakeIdentity("user-21", "", {"Analysts"})},
  };
  return *identities;
}

struct Scenario {
  std::string name;
  std::string method;
  std::string host;
  std::string target;
  std::string identity;  // key in Identities(); "" = anonymous
  std::string client_ip = "";
  bool bad_credentials = false;
  bool browser = false;
  R reason = R::kAllowed;
  std::string policy = "";  // expected "namespace/name"
  std::string rule = "";
  R audit_reason = R::kAllowed;
};

class PolicyEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CompileResult result = CompilePolicies(AllPolicies());
    for (const PolicyError& e : result.errors) ADD_FAILURE() << e.ToString();
    set_ = result.set;
  }

  void Check(const Scenario& s) {
    SCOPED_TRACE(s.name);
    StatusOr<NormalizedPath> path = NormalizePath(s.target);
    ASSERT_TRUE(path.ok()) << path.status().ToString();
    StatusOr<IpAddress> ip = s.client_ip.empty() ? StatusOr<IpAddress>(InvalidArgumentError("none"))
                                                 : ParseIpAddress(s.client_ip);
    ASSERT_TRUE(s.client_ip.empty() || ip.ok()) << s.client_ip;
    RequestFacts facts;
    facts.method = s.method;
    facts.host = s.host;
    facts.path = path->path;
    facts.client_ip = ip.ok() ? &*ip : nullptr;
    facts.identity = s.identity.empty() ? nullptr : &Identities().at(s.identity);
    facts.bad_credentials = s.bad_credentials;
    facts.browser_navigation = s.browser;
    Decision d = Evaluate(*set_, facts);
    EXPECT_EQ(d.ReasonLabel(), ReasonLabel(s.reason));
    EXPECT_EQ(d.allow, s.reason == R::kAllowed || s.reason == R::kAuditWouldDeny);
    EXPECT_EQ(d.http_status, HttpStatusFor(s.reason));
    EXPECT_EQ(d.PolicyKey(), s.policy);
    EXPECT_EQ(d.rule, s.rule);
    EXPECT_EQ(ReasonLabel(d.audit_reason), ReasonLabel(s.audit_reason));
  }

  std::shared_ptr<const CompiledPolicySet> set_;
};

const char kMb[] = "metabase.example.com";
const char kMbKey[] = "analytics/metabase";

TEST_F(PolicyEngineTest, Rules) {
  const std::vector<Scenario> scenarios = {
      // Deny wins, default deny, rule order.
      {"deny wins over allow", "GET", kMb, "/api/dataset/csv", "contractor", "", false, false,
       R::kDeniedByRule, kMbKey, "no-contractor-exports"},
      {"deny rule not matching group", "GET", kMb, "/api/dataset/csv", "fin-string", "", false,
       false, R::kAllowed, kMbKey, "finance"},
      {"no allow means deny", "GET", kMb, "/api/nothing", "analyst", "", false, false,
       R::kNoMatchingRule, kMbKey, ""},
      {"first allow in rule order named", "GET", kMb, "/api/order", "nobody", "", false, false,
       R::kAllowed, kMbKey, "order-first"},
      {"public deny blocks authenticated", "GET", kMb, "/api/setup/admin", "analyst", "", false,
       false, R::kDeniedByRule, kMbKey, "block-setup"},
      {"public deny blocks anonymous", "GET", kMb, "/api/setup", "", "", false, false,
       R::kDeniedByRule, kMbKey, "block-setup"},
      {"anonymous not caught by group deny", "GET", kMb, "/api/dataset/csv", "", "", false, false,
       R::kNoCredentials, kMbKey, ""},
      // Paths: '*' vs '**', normalization.
      {"star matches one segment", "GET", kMb, "/api/card/12", "analyst", "", false, false,
       R::kAllowed, kMbKey, "analysts-read"},
      {"star rejects two segments", "GET", kMb, "/api/card/12/query", "analyst", "", false, false,
       R::kNoMatchingRule, kMbKey, ""},
      {"star rejects zero segments", "GET", kMb, "/api/card", "analyst", "", false, false,
       R::kNoMatchingRule, kMbKey, ""},
      {"double star matches base", "GET", kMb, "/dashboard", "analyst", "", false, false,
       R::kAllowed, kMbKey, "analysts-read"},
      {"double star matches deep", "GET", kMb, "/dashboard/1/x", "analyst", "", false, false,
       R::kAllowed, kMbKey, "analysts-read"},
      {"double star not sibling", "GET", kMb, "/dashboards", "analyst", "", false, false,
       R::kNoMatchingRule, kMbKey, ""},
      {"dotdot escape into denied", "GET", kMb, "/api/card/../dataset/csv", "contractor", "", false,
       false, R::kDeniedByRule, kMbKey, "no-contractor-exports"},
      {"encoded deny path still denied", "GET", kMb, "/api/dataset/%63sv", "contractor", "", false,
       false, R::kDeniedByRule, kMbKey, "no-contractor-exports"},
      {"trailing slash still denied", "GET", kMb, "/api/dataset/csv/", "contractor", "", false,
       false, R::kDeniedByRule, kMbKey, "no-contractor-exports"},
      {"double slash still denied", "GET", kMb, "//api//dataset/csv", "contractor", "", false,
       false, R::kDeniedByRule, kMbKey, "no-contractor-exports"},
      {"case differs, different path", "GET", kMb, "/API/card/1", "analyst", "", false, false,
       R::kNoMatchingRule, kMbKey, ""},
      // Methods.
      {"method allowed GET", "GET", kMb, "/api/card/1", "analyst", "", false, false, R::kAllowed,
       kMbKey, "analysts-read"},
      {"method allowed HEAD", "HEAD", kMb, "/api/card/1", "analyst", "", false, false, R::kAllowed,
       kMbKey, "analysts-read"},
      {"method not allowed POST", "POST", kMb, "/api/card/1", "analyst", "", false, false,
       R::kNoMatchingRule, kMbKey, ""},
      {"method case-sensitive", "get", kMb, "/api/card/1", "analyst", "", false, false,
       R::kNoMatchingRule, kMbKey, ""},
      {"extension method", "PROPFIND", kMb, "/dav/x", "nobody", "", false, false, R::kAllowed,
       kMbKey, "dav"},
      {"extension method other", "PROPPATCH", kMb, "/dav/x", "nobody", "", false, false,
       R::kNoMatchingRule, kMbKey, ""},
      {"omitted methods match any", "DELETE", kMb, "/api/any", "nobody", "", false, false,
       R::kAllowed, kMbKey, "any-auth"},
  };
  for (const Scenario& s : scenarios) Check(s);
}

TEST_F(PolicyEngineTest, FromFields) {
  const std::vector<Scenario> scenarios = {
      {"empty from any authenticated", "GET", kMb, "/api/any", "nobody", "", false, false,
       R::kAllowed, kMbKey, "any-auth"},
      {"empty from not anonymous", "GET", kMb, "/api/any", "", "", false, false, R::kNoCredentials,
       kMbKey, ""},
      {"groups exact case", "GET", kMb, "/api/card/1", "group-case", "", false, false,
       R::kNoMatchingRule, kMbKey, ""},
      {"email case-insensitive", "PUT", kMb, "/anything", "admin-upper", "", false, false,
       R::kAllowed, kMbKey, "admins"},
      {"email lookalike", "PUT", kMb, "/anything", "admin-lookalike", "", false, false,
       R::kNoMatchingRule, kMbKey, ""},
      {"email domain exact", "GET", kMb, "/api/user/current", "analyst", "", false, false,
       R::kAllowed, kMbKey, "domain"},
      {"email domain case-insensitive", "GET", kMb, "/api/user/current", "upper-domain", "", false,
       false, R::kAllowed, kMbKey, "domain"},
      {"email domain lookalike prefix", "GET", kMb, "/api/user/current", "evil-domain", "", false,
       false, R::kNoMatchingRule, kMbKey, ""},
      {"email domain subdomain", "GET", kMb, "/api/user/current", "sub-domain", "", false, false,
       R::kNoMatchingRule, kMbKey, ""},
      {"email domain double at", "GET", kMb, "/api/user/current", "double-at", "", false, false,
       R::kNoMatchingRule, kMbKey, ""},
      {"email domain no email", "GET", kMb, "/api/user/current", "nobody", "", false, false,
       R::kNoMatchingRule, kMbKey, ""},
      {"subject exact", "POST", kMb, "/api/session", "subject", "", false, false, R::kAllowed,
       kMbKey, "session"},
      {"subject prefix no", "POST", kMb, "/api/session", "subject-prefix", "", false, false,
       R::kNoMatchingRule, kMbKey, ""},
      {"claim string", "GET", kMb, "/api/dataset/1", "fin-string", "", false, false, R::kAllowed,
       kMbKey, "finance"},
      {"claim array", "GET", kMb, "/api/dataset/1", "fin-array", "", false, false, R::kAllowed,
       kMbKey, "finance"},
      {"claim number", "GET", kMb, "/api/dataset/1", "fin-number", "", false, false, R::kAllowed,
       kMbKey, "finance"},
      {"claim bool", "GET", kMb, "/api/dataset/1", "fin-bool", "", false, false, R::kAllowed,
       kMbKey, "finance"},
      {"claim float other", "GET", kMb, "/api/dataset/1", "fin-float", "", false, false,
       R::kNoMatchingRule, kMbKey, ""},
      {"claim case", "GET", kMb, "/api/dataset/1", "fin-wrong", "", false, false,
       R::kNoMatchingRule, kMbKey, ""},
      {"claim object never", "GET", kMb, "/api/dataset/1", "fin-object", "", false, false,
       R::kNoMatchingRule, kMbKey, ""},
      {"claim absent", "GET", kMb, "/api/dataset/1", "analyst", "", false, false,
       R::kNoMatchingRule, kMbKey, ""},
      {"combined all match", "GET", kMb, "/api/combined/x", "eng", "192.168.3.4", false, false,
       R::kAllowed, kMbKey, "combined"},
      {"combined wrong ip", "GET", kMb, "/api/combined/x", "eng", "10.0.0.1", false, false,
       R::kNoMatchingRule, kMbKey, ""},
      {"combined no ip", "GET", kMb, "/api/combined/x", "eng", "", false, false, R::kNoMatchingRule,
       kMbKey, ""},
      {"combined wrong domain", "GET", kMb, "/api/combined/x", "eng-other-domain", "192.168.3.4",
       false, false, R::kNoMatchingRule, kMbKey, ""},
      {"combined wrong group", "GET", kMb, "/api/combined/x", "analyst", "192.168.3.4", false,
       false, R::kNoMatchingRule, kMbKey, ""},
      {"cidr v4 inside", "GET", kMb, "/office/a", "staff", "10.20.30.40", false, false, R::kAllowed,
       kMbKey, "office"},
      {"cidr v4 outside", "GET", kMb, "/office/a", "staff", "11.0.0.1", false, false,
       R::kNoMatchingRule, kMbKey, ""},
      {"cidr v6 inside", "GET", kMb, "/office/a", "staff", "2001:db8::42", false, false,
       R::kAllowed, kMbKey, "office"},
      {"cidr v6 outside", "GET", kMb, "/office/a", "staff", "2001:db9::42", false, false,
       R::kNoMatchingRule, kMbKey, ""},
      {"cidr v4-mapped v6", "GET", kMb, "/office/a", "staff", "::ffff:10.1.1.1", false, false,
       R::kAllowed, kMbKey, "office"},
      {"cidr v4-mapped outside", "GET", kMb, "/office/a", "staff", "::ffff:11.1.1.1", false, false,
       R::kNoMatchingRule, kMbKey, ""},
      {"public no ip blocks anonymous", "GET", kMb, "/api/health", "", "", false, false,
       R::kAllowed, kMbKey, "health"},
      {"public with bad token", "GET", kMb, "/api/health", "", "", true, false, R::kAllowed, kMbKey,
       "health"},
      {"public with identity", "GET", kMb, "/api/health", "analyst", "", false, false, R::kAllowed,
       kMbKey, "health"},
      {"public ip blocks inside", "GET", kMb, "/public/x", "", "10.9.9.9", false, false,
       R::kAllowed, kMbKey, "office-public"},
      {"public ip blocks outside", "GET", kMb, "/public/x", "", "8.8.8.8", false, false,
       R::kNoCredentials, kMbKey, ""},
      {"public ip blocks unknown ip", "GET", kMb, "/public/x", "", "", false, false,
       R::kNoCredentials, kMbKey, ""},
      {"public ip blocks v6", "GET", kMb, "/public/x", "", "2001:db8::1", false, false, R::kAllowed,
       kMbKey, "office-public"},
      {"claims array any element", "GET", "api.internal", "/x", "svc", "", false, false,
       R::kAllowed, "internal/api", "svc"},
      {"claims missing", "GET", "api.internal", "/x", "svc-no-roles", "", false, false,
       R::kNoMatchingRule, "internal/api", ""},
  };
  for (const Scenario& s : scenarios) Check(s);
}

TEST_F(PolicyEngineTest, CredentialsAndAudit) {
  const std::vector<Scenario> scenarios = {
      {"no credentials api client", "GET", kMb, "/api/card/1", "", "", false, false,
       R::kNoCredentials, kMbKey, ""},
      {"bad token", "GET", kMb, "/api/card/1", "", "", true, false, R::kInvalidToken, kMbKey, ""},
      {"bad token browser still invalid", "GET", kMb, "/api/card/1", "", "", true, true,
       R::kInvalidToken, kMbKey, ""},
      {"browser with login", "GET", kMb, "/dashboard/1", "", "", false, true, R::kLoginRequired,
       kMbKey, ""},
      {"browser without login", "GET", "api.internal", "/x", "", "", false, true, R::kNoCredentials,
       "internal/api", ""},
      {"audit no credentials", "GET", "audit.example.com", "/x", "", "", false, false,
       R::kAuditWouldDeny, "audit/shadow", "", R::kNoCredentials},
      {"audit invalid token", "GET", "audit.example.com", "/x", "", "", true, false,
       R::kAuditWouldDeny, "audit/shadow", "", R::kInvalidToken},
      {"audit login required", "GET", "audit.example.com", "/x", "", "", false, true,
       R::kAuditWouldDeny, "audit/shadow", "", R::kLoginRequired},
      {"audit no matching rule", "GET", "audit.example.com", "/x", "nobody", "", false, false,
       R::kAuditWouldDeny, "audit/shadow", "", R::kNoMatchingRule},
      {"audit denied by rule keeps rule", "DELETE", "audit.example.com", "/x", "reader", "", false,
       false, R::kAuditWouldDeny, "audit/shadow", "no-delete", R::kDeniedByRule},
      {"audit allowed stays allowed", "GET", "audit.example.com", "/x", "reader", "", false, false,
       R::kAllowed, "audit/shadow", "readers"},
  };
  for (const Scenario& s : scenarios) Check(s);
}

TEST_F(PolicyEngineTest, Routing) {
  const std::vector<Scenario> scenarios = {
      {"unknown host", "GET", "other.test", "/", "analyst", "", false, false, R::kNoRoute},
      {"empty host", "GET", "", "/", "analyst", "", false, false, R::kNoRoute},
      {"host uppercase", "GET", "METABASE.Example.COM", "/api/health", "", "", false, false,
       R::kAllowed, kMbKey, "health"},
      {"host with port", "GET", "metabase.example.com:8443", "/api/health", "", "", false, false,
       R::kAllowed, kMbKey, "health"},
      {"host trailing dot", "GET", "metabase.example.com.", "/api/health", "", "", false, false,
       R::kAllowed, kMbKey, "health"},
      {"host trailing dot and port", "GET", "metabase.example.com.:443", "/api/health", "", "",
       false, false, R::kAllowed, kMbKey, "health"},
      {"host bad port", "GET", "metabase.example.com:x", "/api/health", "", "", false, false,
       R::kNoRoute},
      {"ipv6 literal with port", "GET", "[::1]:8080", "/api/health", "", "", false, false,
       R::kAllowed, kMbKey, "health"},
      {"ipv6 literal bare", "GET", "[::1]", "/api/health", "", "", false, false, R::kAllowed,
       kMbKey, "health"},
      {"longest prefix wins", "GET", kMb, "/api/v2/cards", "nobody", "", false, false, R::kAllowed,
       "analytics/metabase-v2", "v2-all"},
      {"longest prefix exact", "GET", kMb, "/api/v2", "nobody", "", false, false, R::kAllowed,
       "analytics/metabase-v2", "v2-all"},
      {"prefix segment boundary", "GET", kMb, "/api/v2x", "nobody", "", false, false,
       R::kNoMatchingRule, kMbKey, ""},
      {"wildcard one label", "GET", "b.example.com", "/x", "nobody", "", false, false, R::kAllowed,
       "platform/wildcard", "wild-all"},
      {"wildcard not apex", "GET", "example.com", "/x", "nobody", "", false, false, R::kNoRoute},
      {"wildcard not two labels", "GET", "a.b.example.com", "/x", "nobody", "", false, false,
       R::kNoRoute},
      {"wildcard not lookalike", "GET", "b.evil-example.com", "/x", "nobody", "", false, false,
       R::kNoRoute},
      {"exact beats wildcard", "GET", "metabase.example.com", "/api/any", "nobody", "", false,
       false, R::kAllowed, kMbKey, "any-auth"},
      {"exact host prefix", "GET", "a.example.com", "/api/x", "nobody", "", false, false,
       R::kAllowed, "platform/exact-a", "exact-a"},
      {"exact host no fall-through", "GET", "a.example.com", "/other", "nobody", "", false, false,
       R::kNoRoute},
      {"wildcard label with port", "GET", "B.example.com:80", "/x", "nobody", "", false, false,
       R::kAllowed, "platform/wildcard", "wild-all"},
  };
  for (const Scenario& s : scenarios) Check(s);
}

// Decide() on a routed policy gives the same as Evaluate(); Route() alone works.
TEST_F(PolicyEngineTest, RouteThenDecide) {
  const CompiledPolicy* policy = Route(*set_, "metabase.example.com", "/api/v2/x");
  ASSERT_NE(policy, nullptr);
  EXPECT_EQ(policy->key, "analytics/metabase-v2");
  RequestFacts facts;
  facts.method = "GET";
  facts.path = "/api/v2/x";
  Decision d = Decide(*policy, facts);
  EXPECT_EQ(d.reason, R::kNoCredentials);
  EXPECT_EQ(d.DecisionLabel(), "deny");
  EXPECT_EQ(Route(*set_, "metabase.example.com", "/"), set_->FindByKey("analytics/metabase"));
}

TEST_F(PolicyEngineTest, EvaluateAllocatesNothing) {
  // Control: the counter does see allocations.
  g_allocations = 0;
  g_count_allocations = true;
  auto probe = std::make_unique<std::string>(64, 'x');
  g_count_allocations = false;
  EXPECT_GE(g_allocations, 1);
  IpAddress ip = *ParseIpAddress("192.168.3.4");
  const std::vector<std::pair<std::string, std::string>> requests = {
      {"eng", "/api/combined/x"},         {"fin-array", "/api/dataset/1"},
      {"fin-number", "/api/dataset/1"},   {"upper-domain", "/api/user/current"},
      {"contractor", "/api/dataset/csv"}, {"", "/dashboard"},
  };
  for (const auto& [who, path] : requests) {
    RequestFacts facts;
    facts.method = "GET";
    facts.host = "METABASE.example.com.:443";
    facts.path = path;
    facts.client_ip = &ip;
    facts.identity = who.empty() ? nullptr : &Identities().at(who);
    g_allocations = 0;
    g_count_allocations = true;
    Decision d = Evaluate(*set_, facts);
    g_count_allocations = false;
    EXPECT_EQ(g_allocations, 0) << who << " " << path;
    EXPECT_NE(d.policy, nullptr);
  }
}

TEST(DecisionTest, LabelsAndStatuses) {
  const std::vector<std::tuple<R, std::string, int>> expected = {
      {R::kAllowed, "allowed", 200},
      {R::kAuditWouldDeny, "audit_would_deny", 200},
      {R::kNoRoute, "no_route", 404},
      {R::kNoCredentials, "no_credentials", 401},
      {R::kInvalidToken, "invalid_token", 401},
      {R::kLoginRequired, "login_required", 302},
      {R::kNoMatchingRule, "no_matching_rule", 403},
      {R::kDeniedByRule, "denied_by_rule", 403},
      {R::kRateLimited, "rate_limited", 429},
      {R::kBadRequest, "bad_request", 400},
  };
  for (const auto& [reason, label, status] : expected) {
    EXPECT_EQ(ReasonLabel(reason), label);
    EXPECT_EQ(HttpStatusFor(reason), status) << label;
    Decision d = MakeDecision(reason, nullptr, "");
    EXPECT_EQ(d.allow, status == 200) << label;
    EXPECT_EQ(d.PolicyKey(), "");
  }
}

TEST(RouteTableTest, CanonicalHostLowercasesEveryByteAndDropsThePort) {
  // Every byte value at every offset of hosts of 1..40 bytes: ASCII letters
  // are lowercased (eight bytes per step inside, so each offset of a step
  // and of the overlapping last step is tried), nothing else changes.
  for (size_t size = 1; size <= 40; ++size) {
    for (size_t at = 0; at < size; ++at) {
      for (int byte = 0; byte < 256; ++byte) {
        if (byte == ':' || byte == '[' || byte == '.') continue;  // syntax, tested below
        std::string host(size, 'Q');
        host[at] = static_cast<char>(byte);
        std::string want(size, 'q');
        want[at] = byte >= 'A' && byte <= 'Z' ? static_cast<char>(byte - 'A' + 'a')
                                              : static_cast<char>(byte);
        char buffer[kMaxHostBytes];
        ASSERT_EQ(CanonicalHost(host, buffer), want) << size << " " << at << " " << byte;
      }
    }
  }
  struct Case {
    std::string scenario;
    std::string header;
    std::string canonical;  // "": refused
  };
  const std::vector<Case> cases = {
      {"plain", "App.Example.COM", "app.example.com"},
      {"port", "App.Example.COM:8443", "app.example.com"},
      {"trailing dot", "APP.example.com.", "app.example.com"},
      {"trailing dot and port", "APP.example.com.:80", "app.example.com"},
      {"empty port", "app.example.com:", ""},
      {"port not a number", "app.example.com:8o", ""},
      {"port too long", "app.example.com:123456", ""},
      {"ipv6", "[::1]:8080", "[::1]"},
      {"ipv6 unclosed", "[::1", ""},
      {"ipv6 junk after", "[::1]x", ""},
      {"empty", "", ""},
      {"only a port", ":80", ""},
      {"the longest host", std::string(kMaxHostBytes, 'A'), std::string(kMaxHostBytes, 'a')},
      {"one byte too long", std::string(kMaxHostBytes + 1, 'a'), ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.scenario);
    char buffer[kMaxHostBytes];
    EXPECT_EQ(CanonicalHost(c.header, buffer), c.canonical);
  }
}

}  // namespace
}  // namespace gatehouse::policy
