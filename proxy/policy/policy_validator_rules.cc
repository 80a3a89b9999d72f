// spec.rules: names, actions, methods, paths and the `from` conditions.
#include <algorithm>
#include <array>

#include "proxy/policy/ip_block.h"
#include "proxy/policy/path_pattern.h"
#include "proxy/policy/policy_validator_sections.h"
#include "proxy/policy/policy_validator_syntax.h"

namespace gatehouse::policy::validation {
namespace {

using nlohmann::json;

std::string CheckMethod(std::string_view value) {
  static constexpr std::array<std::string_view, 9> kMethods = {
      "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"};
  if (std::find(kMethods.begin(), kMethods.end(), value) != kMethods.end()) return "";
  return "must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, CONNECT, TRACE";
}

std::string CheckPathPatternText(std::string_view value) {
  Status status = ValidatePathPattern(value);
  return status.ok() ? "" : status.message();
}

std::string CheckIpBlockText(std::string_view value) {
  StatusOr<IpBlock> block = ParseIpBlock(value);
  return block.ok() ? "" : block.status().message();
}

ListRule IdentityList(size_t max_bytes, TextCheck check) {
  return {.max_items = kMaxIdentityValues, .item = {.max_bytes = max_bytes, .check = check}};
}

void ReadClaims(const ObjectReader& from, std::map<std::string, std::vector<std::string>>* out) {
  const json* claims = from.Get("claims");
  if (claims == nullptr) return;
  std::string path = from.FieldPath("claims");
  if (!claims->is_object()) {
    from.issues()->Add(path, "must be an object (claim name -> list of values)");
    return;
  }
  if (claims->size() > kMaxClaims) {
    from.issues()->Add(path, "must have at most " + std::to_string(kMaxClaims) + " claims");
    return;
  }
  for (const auto& [claim, values] : claims->items()) {
    std::string claim_path = Key(path, claim);
    if (claim.empty() || claim.size() > 128) {
      from.issues()->Add(claim_path, "claim names must be 1 to 128 characters");
      continue;
    }
    // An empty list would match nothing (or, read loosely, everything): require values.
    auto list = ReadStringList(
        values, claim_path,
        {.min_items = 1, .max_items = kMaxIdentityValues, .item = {.max_bytes = kMaxValueBytes}},
        from.issues());
    if (list) (*out)[claim] = std::move(*list);
  }
}

void ReadFrom(const ObjectReader& rule, FromSpec* out) {
  ObjectReader from = rule.Object(
      "from", {"public", "groups", "emails", "emailDomains", "subjects", "claims", "ipBlocks"});
  if (!from.present()) return;
  out->is_public = from.Bool("public").value_or(false);
  if (auto v = from.StringList("groups", IdentityList(kMaxValueBytes, nullptr))) out->groups = *v;
  if (auto v = from.StringList("emails", IdentityList(320, CheckEmail))) out->emails = *v;
  if (auto v = from.StringList("emailDomains", IdentityList(253, CheckEmailDomain))) {
    out->email_domains = *v;
  }
  if (auto v = from.StringList("subjects", IdentityList(kMaxValueBytes, nullptr))) {
    out->subjects = *v;
  }
  ReadClaims(from, &out->claims);
  if (auto v = from.StringList(
          "ipBlocks",
          {.max_items = kMaxIpBlocks, .item = {.max_bytes = 64, .check = CheckIpBlockText}})) {
    out->ip_blocks = *v;
  }
  // `public` means "no identity needed"; pairing it with identity conditions is
  // contradictory, and either reading (ignore them / require them) would
  // surprise someone, so it is rejected. ipBlocks need no identity and may stay.
  bool wants_identity = !out->groups.empty() || !out->emails.empty() ||
                        !out->email_domains.empty() || !out->subjects.empty() ||
                        !out->claims.empty();
  if (out->is_public && wants_identity) {
    from.issues()->Add(from.FieldPath("public"),
                       "a public rule cannot also require an identity (groups, emails, "
                       "emailDomains, subjects, claims)");
  }
}

RuleSpec ReadRule(const json& value, const std::string& path, Issues* issues) {
  ObjectReader r(&value, path, issues, {"name", "action", "methods", "paths", "from"}, true);
  RuleSpec rule;
  if (!r.present()) return rule;
  if (auto name = r.String("name", {.max_bytes = 63, .check = CheckDns1123Label}, true)) {
    rule.name = *name;
  }
  if (auto action = r.OneOf("action", {"Allow", "Deny"}, true)) {
    rule.action = *action == 1 ? RuleAction::kDeny : RuleAction::kAllow;
  }
  if (auto methods = r.StringList(
          "methods",
          {.max_items = 9, .unique = true, .item = {.max_bytes = 16, .check = CheckMethod}})) {
    rule.methods = std::move(*methods);
  }
  if (auto paths =
          r.StringList("paths", {.max_items = kMaxPathsPerRule,
                                 .unique = true,
                                 .item = {.max_bytes = 1024, .check = CheckPathPatternText}})) {
    rule.paths = std::move(*paths);
  }
  ReadFrom(r, &rule.from);
  return rule;
}

}  // namespace

void ReadRules(const ObjectReader& spec, std::vector<RuleSpec>* out) {
  const json* list = spec.List("rules", 1, kMaxRules, true);
  if (list == nullptr) return;
  std::string list_path = spec.FieldPath("rules");
  for (size_t i = 0; i < list->size(); ++i) {
    RuleSpec rule = ReadRule((*list)[i], Index(list_path, i), spec.issues());
    // Rule names label metrics and audit lines: two rules with one name would
    // make a deny unattributable.
    bool duplicate =
        !rule.name.empty() && std::any_of(out->begin(), out->end(),
                                          [&](const RuleSpec& r) { return r.name == rule.name; });
    if (duplicate) {
      spec.issues()->Add(Child(Index(list_path, i), "name"),
                         "duplicate rule name " + Quote(rule.name));
    }
    out->push_back(std::move(rule));
  }
}

}  // namespace gatehouse::policy::validation
