// YamlToJson: turns the documents of one YAML file into JSON values, typed the
// way Kubernetes types them, so a policy read from a file and the same policy
// read from the API server (JSON) go through one validator.
//
//   StatusOr<std::vector<nlohmann::json>> docs = YamlDocumentsToJson(content);
//   if (!docs.ok()) report(docs.status());        // syntax error, size, depth, ...
//   for (const nlohmann::json& doc : *docs) ...   // null for an empty document
//
// Typing (YAML 1.2 core schema, as kubectl applies it) is ResolveYamlScalar
// in yaml_scalar.h: quoted and block scalars are strings ("3000" stays a
// string), plain true/false are booleans but yes/no/on/off strings, plain
// numbers are numbers, null/~/empty are null. Explicit tags !!str !!int
// !!float !!bool !!null !!map !!seq are honoured; any other tag is an error.
//
// Hostile input: the file size, the nesting depth, the number of nodes after
// alias expansion (the "billion laughs" bomb) and the per-scalar size are all
// capped; duplicate and non-scalar mapping keys and invalid UTF-8 are errors.
// No exception escapes. The reader is libyaml's event parser
// (yaml_event_loader.h); it builds the JSON directly, with no node tree.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "proxy/core/status.h"
#include "proxy/policy/yaml_event_loader.h"

namespace gatehouse::policy {

// YamlLimits (the caps above, with their defaults) is declared in
// yaml_event_loader.h.

// Every document of `content`, in order; an empty document becomes null.
StatusOr<std::vector<nlohmann::json>> YamlDocumentsToJson(std::string_view content,
                                                          const YamlLimits& limits = {});

}  // namespace gatehouse::policy
