// libFuzzer target: bytes -> an AccessPolicy's hosts, prefix, rule paths,
// methods, CIDRs and claims -> CompilePolicies -> Evaluate of a request built
// from the same bytes. Checks: nothing crashes, every policy is either
// compiled or reported, and a decision only names a policy of the set.
//
// Input: newline-separated lines. Line 0 host, line 1 pathPrefix, line 2 the
// request target, then per rule four lines: path, method, ipBlock, claim value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/policy/path_normalizer.h"
#include "proxy/policy/policy_engine.h"

namespace {

using gatehouse::policy::AccessPolicy;

void Require(bool condition) {
  if (!condition) std::abort();
}

std::vector<std::string> Lines(std::string_view input) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= input.size() && lines.size() < 64) {
    size_t end = input.find('\n', start);
    lines.emplace_back(
        input.substr(start, end == std::string_view::npos ? input.npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  while (lines.size() < 3) lines.emplace_back("/");
  return lines;
}

AccessPolicy PolicyFrom(const std::vector<std::string>& lines) {
  AccessPolicy policy;
  policy.name = "fuzz";
  policy.spec.hosts = {lines[0]};
  policy.spec.path_prefix = lines[1];
  for (size_t i = 3; i + 3 < lines.size(); i += 4) {
    gatehouse::policy::RuleSpec rule;
    rule.name = "r" + std::to_string(i);
    rule.action = (i / 4) % 2 == 0 ? gatehouse::policy::RuleAction::kAllow
                                   : gatehouse::policy::RuleAction::kDeny;
    rule.paths = {lines[i]};
    if (!lines[i + 1].empty()) rule.methods = {lines[i + 1]};
    if (!lines[i + 2].empty()) rule.from.ip_blocks = {lines[i + 2]};
    if (!lines[i + 3].empty()) rule.from.claims = {{"c", {lines[i + 3]}}};
    rule.from.is_public = lines[i + 3].empty() && (i / 4) % 3 == 0;
    policy.spec.rules.push_back(rule);
  }
  return policy;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> lines =
      Lines(std::string_view(reinterpret_cast<const char*>(data), size));
  auto result = gatehouse::policy::CompilePolicies({PolicyFrom(lines)});
  Require(result.set != nullptr);
  Require(result.set->policies().size() + result.errors.size() == 1);
  auto path = gatehouse::policy::NormalizePath(lines[2]);
  if (!path.ok()) return 0;
  gatehouse::auth::Identity identity;
  identity.email = lines[2];
  identity.claims = {{"c", lines.back()}};
  auto ip = gatehouse::policy::ParseIpAddress(lines.back());
  gatehouse::policy::RequestFacts facts;
  facts.method = lines.size() > 4 ? std::string_view(lines[4]) : std::string_view("GET");
  facts.host = lines[0];
  facts.path = path->path;
  facts.client_ip = ip.ok() ? &*ip : nullptr;
  facts.identity = size % 2 == 0 ? &identity : nullptr;
  gatehouse::policy::Decision d = gatehouse::policy::Evaluate(*result.set, facts);
  Require(d.policy == nullptr || d.policy == result.set->policies().front().get());
  Require(d.allow == (d.http_status == 200));
  Require(!gatehouse::policy::ReasonLabel(d.reason).empty());
  return 0;
}
