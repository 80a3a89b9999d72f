// Fuzz target: arbitrary bytes as one policy YAML file -> ParsePolicyFiles,
// and every accepted policy through the fleet config round trip. Must never
// crash, leak, hang, or accept something that does not round-trip.
//
//   policy_parse_fuzzer -max_total_time=60 proxy/policy/fuzz/parse_corpus
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "proxy/policy/fleet_config.h"
#include "proxy/policy/policy_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gatehouse::policy;
  std::string content(reinterpret_cast<const char*>(data), size);
  ParseResult result = ParsePolicyFiles({{"fuzz.yaml", content}});
  for (const PolicyError& error : result.errors) (void)error.ToString();
  if (result.policies.empty()) return 0;
  for (AccessPolicy& p : result.policies) p.source = {};
  // Whatever the parser accepts, the proxy must load back identically.
  auto back = ParseFleetConfigContent(RenderFleetConfigContent(result.policies));
  if (!back.ok()) std::abort();
  std::sort(result.policies.begin(), result.policies.end(),
            [](const AccessPolicy& a, const AccessPolicy& b) { return a.Key() < b.Key(); });
  if (*back != result.policies) std::abort();
  return 0;
}
