#include "proxy/policy/route_table.h"

#include <algorithm>

#include "proxy/policy/path_pattern.h"

namespace gatehouse::policy {

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
  for (size_t i = 0; i < host.size(); ++i) {
    char c = host[i];
    buffer[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
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
