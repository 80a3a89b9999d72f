// YamlScalar: how one YAML scalar becomes a JSON value, typed the way
// Kubernetes types it (YAML 1.2 core schema), plus the byte-level checks the
// YAML reader shares. Pure functions; no YAML library behind them.
//
//   StatusOr<json> v = ResolveYamlScalar("3000", "", /*plain=*/true);   // 3000
//   ResolveYamlScalar("3000", "", /*plain=*/false);                     // "3000"
//   ResolveYamlScalar("x", "tag:yaml.org,2002:int", false);              // error
//
// Typing:
//   - quoted and block scalars (and the non-specific tag `!`) are strings;
//   - plain true/True/TRUE/false/False/FALSE are booleans; yes/no/on/off are
//     strings (so `public: yes` later fails as "must be a boolean");
//   - plain integers (decimal, 0x.., 0o..) and floats (incl. .inf/.nan) are numbers;
//   - plain null/Null/NULL/~ and empty values are null;
//   - everything else is a string.
// Explicit tags !!str !!int !!float !!bool !!null are honoured (the value must
// then match the tag); any other tag is an error.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "proxy/core/status.h"

namespace gatehouse::policy {

inline constexpr std::string_view kYamlTagPrefix = "tag:yaml.org,2002:";

// Up to 64 bytes of `s` with every byte outside printable ASCII replaced by
// '?', for error messages (hostile bytes cannot forge log lines).
std::string PrintableYamlText(std::string_view s);

// The null words of the core schema, and the empty value.
bool IsYamlNullWord(std::string_view s);

// `tag` is "" when the scalar has none, otherwise the resolved tag
// ("!", "tag:yaml.org,2002:int", "!custom"). `plain`: written unquoted.
StatusOr<nlohmann::json> ResolveYamlScalar(std::string_view text, std::string_view tag, bool plain);

}  // namespace gatehouse::policy
