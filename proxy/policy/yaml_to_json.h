// YamlToJson: turns the documents of one YAML file into JSON values, typed the
// way Kubernetes types them, so a policy read from a file and the same policy
// read from the API server (JSON) go through one validator.
//
//   StatusOr<std::vector<nlohmann::json>> docs = YamlDocumentsToJson(content);
//   if (!docs.ok()) report(docs.status());        // syntax error, size, depth, ...
//   for (const nlohmann::json& doc : *docs) ...   // null for an empty document
//
// Typing (YAML 1.2 core schema, as kubectl applies it):
//   - quoted and block scalars are strings: "3000" stays the string "3000";
//   - plain true/True/TRUE/false/False/FALSE are booleans; yes/no/on/off are
//     strings (so `public: yes` later fails as "must be a boolean");
//   - plain integers (decimal, 0x.., 0o..) and floats (incl. .inf/.nan) are numbers;
//   - plain null/Null/NULL/~ and empty values are null;
//   - everything else is a string.
// Explicit tags !!str !!int !!float !!bool !!null !!map !!seq are honoured
// (the value must then match the tag); any other tag is an error.
//
// Hostile input: the file size, the nesting depth, the number of nodes after
// alias expansion (the "billion laughs" bomb) and the per-scalar size are all
// capped; duplicate and non-scalar mapping keys and invalid UTF-8 are errors.
// No exception escapes: yaml-cpp errors become InvalidArgument statuses.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "proxy/core/status.h"

namespace YAML {
class Node;
}

namespace gatehouse::policy {

struct YamlLimits {
  size_t max_file_bytes = 4 * 1024 * 1024;  // a folder of policies, not a data set
  size_t max_documents = 1000;              // per file
  int max_depth = 32;                       // an AccessPolicy needs about 6
  size_t max_nodes = 100000;                // per document, after alias expansion
  size_t max_scalar_bytes = 64 * 1024;      // a Secret value or a long CA bundle
};

// Every document of `content`, in order; an empty document becomes null.
StatusOr<std::vector<nlohmann::json>> YamlDocumentsToJson(std::string_view content,
                                                          const YamlLimits& limits = {});

// One already-parsed yaml-cpp node (used by YamlDocumentsToJson; exposed for tests).
StatusOr<nlohmann::json> YamlNodeToJson(const YAML::Node& node, const YamlLimits& limits = {});

}  // namespace gatehouse::policy
