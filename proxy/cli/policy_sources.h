// policy_sources: the filesystem side of local mode. Reads AccessPolicy files
// (and Secret documents) from files and folders for the pure parser.
//
//   StatusOr<std::vector<policy::SourceFile>> files = ReadPolicySources({"policies/"});
//
// A folder contributes its *.yaml, *.yml and *.json files (not recursive),
// sorted by name so results never depend on directory order. Names starting
// with '.' are skipped: Kubernetes mounts ConfigMaps with `..data` links.
#pragma once

#include <string>
#include <vector>

#include "proxy/core/status.h"
#include "proxy/policy/policy_parser.h"

namespace gatehouse::cli {

inline constexpr size_t kMaxPolicyFileBytes = 8u << 20;  // 8 MiB a file

StatusOr<std::vector<policy::SourceFile>> ReadPolicySources(const std::vector<std::string>& paths);

}  // namespace gatehouse::cli
