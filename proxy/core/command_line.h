// Command-line spelling shared by gatehouse-proxy and gatehouse-operator: both
// accept `--flag value` and `--flag=value` (the spelling Kubernetes manifests
// and most users write). Call once on argv before parsing flags:
//
//   std::vector<std::string> args = SplitFlagAssignments({argv + 1, argv + argc});
//
// `--name=value` becomes `--name`, `value` (split at the first '='); anything
// after a bare `--`, and every argument not starting with `--`, is left alone,
// so positional values such as URLs with query strings keep their '='.
#pragma once

#include <string>
#include <vector>

namespace gatehouse {

inline std::vector<std::string> SplitFlagAssignments(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  out.reserve(args.size());
  bool flags_done = false;
  for (const std::string& arg : args) {
    if (arg == "--") flags_done = true;
    const size_t eq = arg.find('=');
    if (flags_done || arg.size() < 3 || arg.compare(0, 2, "--") != 0 || eq == std::string::npos ||
        eq == 2) {
      out.push_back(arg);
      continue;
    }
    out.push_back(arg.substr(0, eq));
    out.push_back(arg.substr(eq + 1));
  }
  return out;
}

}  // namespace gatehouse
