#include "proxy/policy/route_table.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "proxy/policy/path_pattern.h"

namespace gatehouse::policy {
namespace {

uint64_t Load8(const char* p) {
  uint64_t w;
  std::memcpy(&w, p, sizeof(w));
  return w;
}

// ASCII lowercase of eight bytes at once; other bytes (>= 0x80 too) unchanged.
uint64_t LowercaseWord(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHighs = 0x8080808080808080ull;
  // On the low seven bits no byte carries into the next: the high bit of
  // each byte then says ">= 'A'" and "> 'Z'"; ~w drops bytes >= 0x80.
  const uint64_t low7 = w & ~kHighs;
  const uint64_t at_least_a = low7 + kOnes * (0x80 - 'A');
  const uint64_t above_z = low7 + kOnes * (0x80 - 'Z' - 1);
  const uint64_t upper = at_least_a & ~above_z & ~w & kHighs;
  return w | (upper >> 2);  // 0x80 >> 2 == 0x20, the case bit
}

// `in` lowercased into `out` (n bytes), eight bytes per step; the last step
// overlaps the one before (lowercasing is idempotent).
void LowercaseInto(const char* in, size_t n, char* out) {
  if (n < 8) {
    for (size_t i = 0; i < n; ++i) {
      const char c = in[i];
      out[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    return;
  }
  for (size_t i = 0;; i += 8) {
    if (i + 8 > n) i = n - 8;
    const uint64_t w = LowercaseWord(Load8(in + i));
    std::memcpy(out + i, &w, sizeof(w));
    if (i + 8 == n) return;
  }
}

}  // namespace

std::string_view CanonicalHost(std::string_view host_header, char (&buffer)[kMaxHostBytes]) {
  std::string_view host = host_header;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos) return {};
    port = host.substr(close + 1);
    host = host.substr(0, close + 1);
    if (!port.empty() && port.front() != ':') return {};
  } else if (size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    port = host.substr(colon);
    host = host.substr(0, colon);
  }
  if (!port.empty()) {
    port.remove_prefix(1);  // ':'
    if (port.empty() || port.size() > 5) return {};
    for (char c : port) {
      if (c < '0' || c > '9') return {};
    }
  }
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.empty() || host.size() > kMaxHostBytes) return {};
  LowercaseInto(host.data(), host.size(), buffer);
  return std::string_view(buffer, host.size());
}

const CompiledPolicy* RouteTable::Owner(std::string_view host, std::string_view prefix) const {
  bool wildcard = host.starts_with("*.");
  const HostMap& map = wildcard ? wildcard_ : exact_;
  auto it = map.find(wildcard ? host.substr(2) : host);
  if (it == map.end()) return nullptr;
  for (const Entry& entry : it->second) {
    if (entry.prefix == prefix) return entry.policy;
  }
  return nullptr;
}

void RouteTable::Add(std::string_view host, std::string_view prefix, const CompiledPolicy* policy) {
  bool wildcard = host.starts_with("*.");
  HostMap& map = wildcard ? wildcard_ : exact_;
  std::vector<Entry>& entries = map[std::string(wildcard ? host.substr(2) : host)];
  entries.push_back({std::string(prefix), policy});
  // Longest prefix first, so Find can stop at the first cover.
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.prefix.size() > b.prefix.size();
  });
}

const CompiledPolicy* RouteTable::LongestPrefix(const std::vector<Entry>& entries,
                                                std::string_view path) {
  for (const Entry& entry : entries) {
    if (PathHasPrefix(path, entry.prefix)) return entry.policy;
  }
  return nullptr;
}

const CompiledPolicy* RouteTable::Find(std::string_view host_header,
                                       std::string_view normalized_path) const {
  char buffer[kMaxHostBytes];
  std::string_view host = CanonicalHost(host_header, buffer);
  if (host.empty()) return nullptr;
  // An exact host owns all of its paths: no fall-through to a wildcard.
  if (auto it = exact_.find(host); it != exact_.end()) {
    return LongestPrefix(it->second, normalized_path);
  }
  // "*.example.com" covers exactly one label in front of "example.com".
  size_t dot = host.find('.');
  if (dot == 0 || dot == std::string_view::npos) return nullptr;
  if (auto it = wildcard_.find(host.substr(dot + 1)); it != wildcard_.end()) {
    return LongestPrefix(it->second, normalized_path);
  }
  return nullptr;
}

}  // namespace gatehouse::policy
