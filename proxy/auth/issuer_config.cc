#include "proxy/auth/issuer_config.h"

#include <array>
#include <utility>

namespace gatehouse::auth {
namespace {

constexpr std::array<std::pair<JwsAlgorithm, std::string_view>, 7> kAlgorithmNames = {{
    {JwsAlgorithm::kRS256, "RS256"},
    {JwsAlgorithm::kRS384, "RS384"},
    {JwsAlgorithm::kRS512, "RS512"},
    {JwsAlgorithm::kPS256, "PS256"},
    {JwsAlgorithm::kES256, "ES256"},
    {JwsAlgorithm::kES384, "ES384"},
    {JwsAlgorithm::kEdDSA, "EdDSA"},
}};

}  // namespace

bool ParseJwsAlgorithm(std::string_view name, JwsAlgorithm* out) {
  for (const auto& [alg, alg_name] : kAlgorithmNames) {
    if (alg_name == name) {  // case-sensitive, as RFC 7518 names are
      *out = alg;
      return true;
    }
  }
  return false;
}

std::string_view JwsAlgorithmName(JwsAlgorithm alg) {
  for (const auto& [known, name] : kAlgorithmNames) {
    if (known == alg) return name;
  }
  return "unknown";
}

const std::vector<JwsAlgorithm>& AllJwsAlgorithms() {
  static const std::vector<JwsAlgorithm> all = [] {
    std::vector<JwsAlgorithm> v;
    for (const auto& entry : kAlgorithmNames) v.push_back(entry.first);
    return v;
  }();
  return all;
}

}  // namespace gatehouse::auth
