// CheckStrayCommas: refuses a ',' that stands outside every flow collection
// ("- a\n," or a document that is just ","). Such a comma is never valid YAML
// (',' cannot start a plain scalar). yaml-cpp 0.7, the reader before libyaml,
// looped forever on it (a policy_parse_fuzzer finding); the check stays so
// these inputs keep their precise message: YamlDocumentsToJson runs it when
// the reader has refused a file, and its message wins.
//
//   Status s = CheckStrayCommas(text);   // InvalidArgument naming the line
//
// The scan follows quotes, comments, flow depth and block scalars just enough
// to not flag commas that are content. One linear pass, no allocation.
#pragma once

#include <string_view>

#include "proxy/core/status.h"

namespace gatehouse::policy {

Status CheckStrayCommas(std::string_view text);

}  // namespace gatehouse::policy
