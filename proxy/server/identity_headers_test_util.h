// Test-only helpers shared by identity_headers_test.cc and
// line_cache_test.cc: a header as the client sent it (Sent), a spec with
// every identity header renamed, and readers of an AddedFields' lines.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "proxy/policy/access_policy.h"
#include "proxy/server/added_fields.h"

namespace gatehouse::server::identity_test {

struct Sent {
  std::string name;
  std::string value;
};

inline policy::IdentityHeadersSpec Renamed() {
  policy::IdentityHeadersSpec spec;
  spec.user = "X-Auth-User";
  spec.email = "X-Auth-Email";
  spec.groups = "X-Auth-Groups";
  spec.assertion = "X-Auth-Assertion";
  return spec;
}

// The value added under `name`, "" when none.
inline std::string Added(const AddedFields& added, std::string_view name) {
  return std::string(added.Find(name).value_or(""));
}

// The names added, one per line, in order.
inline std::vector<std::string> AddedNames(const AddedFields& added) {
  std::vector<std::string> names;
  std::string_view rest = added.text();
  while (!rest.empty()) {
    names.emplace_back(rest.substr(0, rest.find(':')));
    rest.remove_prefix(rest.find("\r\n") + 2);
  }
  return names;
}

}  // namespace gatehouse::server::identity_test
