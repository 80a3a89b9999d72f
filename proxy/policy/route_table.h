// RouteTable: host + path -> the one policy that owns the request.
//
//   RouteTable table;                          // built once by the compiler
//   table.Add("metabase.example.com", "/", &metabase_policy);
//   table.Add("*.example.com", "/api", &api_policy);
//   const CompiledPolicy* p = table.Find("Metabase.Example.com.:443", "/api/x");
//
// Host: the request's Host is lowercased, a trailing dot and a port are
// stripped ("[::1]:8080" -> "[::1]"). An exact host beats a wildcard;
// "*.example.com" covers exactly one extra label ("a.example.com", never
// "example.com" or "a.b.example.com"). The host chosen, the longest
// pathPrefix that covers the path on a segment boundary wins; there is no
// fall-through from an exact host to a wildcard (as in Envoy virtual hosts).
// Find() allocates nothing.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace gatehouse::policy {

struct CompiledPolicy;

// Longest Host we look up (DNS names are at most 253 bytes).
inline constexpr size_t kMaxHostBytes = 255;

// Canonical host for lookup, written into `buffer`; "" when the Host header is
// empty, too long, or has a non-numeric port.
std::string_view CanonicalHost(std::string_view host_header, char (&buffer)[kMaxHostBytes]);

class RouteTable {
 public:
  // `host` is a canonical policy host: lowercase, exact or "*.suffix";
  // `prefix` a valid pathPrefix. The policy holding exactly that pair, or null.
  const CompiledPolicy* Owner(std::string_view host, std::string_view prefix) const;
  // Registers `policy` for the pair; the caller has checked Owner() first.
  void Add(std::string_view host, std::string_view prefix, const CompiledPolicy* policy);

  const CompiledPolicy* Find(std::string_view host_header, std::string_view normalized_path) const;

 private:
  struct Entry {
    std::string prefix;
    const CompiledPolicy* policy;
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  using HostMap = std::unordered_map<std::string, std::vector<Entry>, Hash, std::equal_to<>>;

  static const CompiledPolicy* LongestPrefix(const std::vector<Entry>& entries,
                                             std::string_view path);

  HostMap exact_;
  HostMap wildcard_;  // keyed by the suffix after "*."
};

}  // namespace gatehouse::policy
