// YamlEventLoader: the documents of one YAML text as JSON values, built
// straight from libyaml's event stream (no intermediate node tree). This is
// the engine behind YamlDocumentsToJson (yaml_to_json.h), which adds the
// whole-file checks (size, UTF-8, control characters, stray commas) first;
// call that, not this.
//
//   StatusOr<std::vector<json>> docs = LoadYamlDocuments(text, limits);
//
// Semantics (as the yaml-cpp reader it replaced had them):
//   - scalars are typed by ResolveYamlScalar (yaml_scalar.h); tags on
//     sequences and mappings are ignored;
//   - mapping keys must be scalars (a null key is not one), at most 256 bytes,
//     and unique; `<<` is an ordinary key (no merge keys);
//   - aliases expand to a copy of the anchored node; every expanded node
//     counts against max_nodes and its depth against max_depth, so an alias
//     bomb is refused before it is built; an alias to an anchor that is still
//     open is a cycle, refused as too deep; an undefined alias is a syntax error;
//   - error precedence as before: a syntax error anywhere in the text, then
//     too many documents, then the first problem of the first bad document
//     ("document N: ..."). After a problem the rest is only scanned for syntax,
//     and the scan stops once nesting passes max_depth, so memory stays bounded.
// Error messages carry line and column for syntax errors, never input bytes
// (keys are shown through PrintableYamlText).
//
// Where the two readers differ (found by differential fuzzing against the old
// reader): libyaml refuses some invalid YAML yaml-cpp let through (`[1,,2]`,
// `[,]`, `: v`, "- a\n-b"), and accepts some valid YAML yaml-cpp refused (the
// escapes \N and \_, which yaml-cpp wrote as invalid UTF-8; a ',' in a
// verbatim tag or a plain scalar's continuation line, which the old
// pre-read comma check misflagged). A document that is only a tag (`!!str` at
// the end of the text) is a tagged empty scalar, where yaml-cpp made it null.
// Syntax error wording is libyaml's.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "proxy/core/status.h"

namespace gatehouse::policy {

struct YamlLimits {
  size_t max_file_bytes = 4 * 1024 * 1024;  // a folder of policies, not a data set
  size_t max_documents = 1000;              // per file
  int max_depth = 32;                       // an AccessPolicy needs about 6
  size_t max_nodes = 100000;                // per document, after alias expansion
  size_t max_scalar_bytes = 64 * 1024;      // a Secret value or a long CA bundle
};

// Every document of `text`, in order; an empty document becomes null.
// `text` must stay alive for the call only.
StatusOr<std::vector<nlohmann::json>> LoadYamlDocuments(std::string_view text,
                                                        const YamlLimits& limits);

}  // namespace gatehouse::policy
