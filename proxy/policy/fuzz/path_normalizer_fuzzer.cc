// libFuzzer target: arbitrary bytes -> NormalizePath, checking the invariants
// the policy engine relies on. Any accepted path:
//   - starts with '/', has no "//" and no '.' or '..' segment;
//   - contains no byte the normalizer must reject (';', '\', controls, >= 0x80);
//   - is a fixed point: normalizing it again gives it back unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "proxy/policy/path_normalizer.h"

namespace {

void Require(bool condition) {
  if (!condition) std::abort();
}

bool HasDotSegment(std::string_view path) {
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    std::string_view segment =
        path.substr(start, end == std::string_view::npos ? path.npos : end - start);
    if (segment == "." || segment == "..") return true;
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto result = gatehouse::policy::NormalizePath(input);
  if (!result.ok()) return 0;
  const std::string& path = result->path;
  Require(!path.empty() && path.front() == '/');
  Require(path.find("//") == std::string::npos);
  Require(!HasDotSegment(path));
  Require(path.size() <= gatehouse::policy::kMaxPathBytes);
  for (unsigned char c : path) {
    Require(c > 0x20 && c < 0x7f && c != ';' && c != '\\' && c != '#' && c != '?');
  }
  Require(path.find("%2F") == std::string::npos && path.find("%5C") == std::string::npos);
  auto again = gatehouse::policy::NormalizePath(path);
  Require(again.ok() && again->path == path && again->query.empty());
  Require(result->query.empty() || result->query.front() == '?');
  return 0;
}
