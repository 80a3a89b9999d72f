// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
// U+10FFFF, no stray or missing continuation bytes. The one definition the
// token parser, the path normalizer, the YAML reader and the audit writer share.
//
//   if (!IsValidUtf8(text)) return InvalidArgumentError("... is not valid UTF-8");
//   size_t n = Utf8SequenceLength(text, i);  // at a byte >= 0x80: 2-4, or 0 if invalid
#pragma once

#include <cstddef>
#include <string_view>

namespace gatehouse {

// The length of the well-formed sequence starting at s[i] (a lead byte
// >= 0x80), or 0 when it is not one (a continuation byte, C0/C1/F5..FF, a
// bad or missing continuation, an overlong form, a surrogate, > U+10FFFF).
std::size_t Utf8SequenceLength(std::string_view s, std::size_t i);

// Every byte of `s` is part of a well-formed sequence (ASCII runs are skipped
// eight bytes at a time).
bool IsValidUtf8(std::string_view s);

}  // namespace gatehouse
