// The byte-level pieces the HTTP/1.1 head parsers share
// (request_head_parser.h, response_head.h): token runs, the SSE2 scan for
// the end of a line, whitespace trimming, decimal lengths. Pure.
#pragma once

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <boost/beast/core/string.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

#include "proxy/server/added_fields.h"

namespace gatehouse::server::head_scan {

inline constexpr std::size_t kMaxLengthDigits = 19;  // < 2^64: no overflow to check

inline bool IsTokenChar(char c) {
  return added_fields_internal::kTokenChar[static_cast<unsigned char>(c)];
}

// A byte no field value (or reason phrase) may hold: a control byte other
// than HTAB, or DEL. CR is one, so finding the end of a line and checking
// its bytes are the same scan.
inline bool IsValueStop(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

// A byte that ends a request-target: a control byte, SP or DEL.
inline bool IsTargetStop(unsigned char c) { return c <= 0x20 || c == 0x7f; }

#if defined(__SSE2__)
// The sixteen bytes at `p`, a bit set for each that is below `floor` (as an
// unsigned byte) or is DEL.
inline unsigned StopMask(const char* p, __m128i floor) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i at_least_floor = _mm_cmpeq_epi8(_mm_max_epu8(bytes, floor), bytes);
  const unsigned stops = ~static_cast<unsigned>(_mm_movemask_epi8(at_least_floor)) & 0xffffu;
  return stops |
         static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(bytes, _mm_set1_epi8(0x7f))));
}
#endif

// The first byte in [p, end) that ends or spoils a field value, or `end`.
// A bearer token is most of a request head: 32 bytes per step while no byte
// is below 0x20 or DEL, one vector test each. HTAB, the one control byte a
// value may hold, passes the vector test as a stop and is skipped after it
// (it is rare).
inline const char* FindValueStop(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i max_control = _mm_set1_epi8(0x1f);
  const __m128i del = _mm_set1_epi8(0x7f);
  const __m128i zero = _mm_setzero_si128();
  const auto stops = [&](const char* q) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
    // v - 0x1f saturates to 0 exactly for v <= 0x1f.
    return _mm_or_si128(_mm_cmpeq_epi8(_mm_subs_epu8(v, max_control), zero),
                        _mm_cmpeq_epi8(v, del));
  };
  while (end - p >= 32 && _mm_movemask_epi8(_mm_or_si128(stops(p), stops(p + 16))) == 0) {
    p += 32;
  }
  for (; end - p >= 16; p += 16) {
    for (unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(stops(p))); mask != 0;
         mask &= mask - 1) {
      const char* const stop = p + __builtin_ctz(mask);
      if (*stop != '\t') return stop;
    }
  }
#endif
  while (p != end && !IsValueStop(static_cast<unsigned char>(*p))) ++p;
  return p;
}

// The first byte in [p, end) that ends a request-target, or `end`.
inline const char* FindTargetStop(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i floor = _mm_set1_epi8(0x21);
  for (; end - p >= 16; p += 16) {
    if (const unsigned stops = StopMask(p, floor)) return p + __builtin_ctz(stops);
  }
#endif
  while (p != end && !IsTargetStop(static_cast<unsigned char>(*p))) ++p;
  return p;
}

inline const char* SkipToken(const char* p, const char* end) {
  while (p != end && IsTokenChar(*p)) ++p;
  return p;
}

// [first, last) without leading and trailing SP and HTAB.
inline std::string_view TrimOws(const char* first, const char* last) {
  while (first != last && (*first == ' ' || *first == '\t')) ++first;
  while (last != first && (last[-1] == ' ' || last[-1] == '\t')) --last;
  return {first, static_cast<std::size_t>(last - first)};
}

inline std::string_view TrimOws(std::string_view text) {
  return TrimOws(text.data(), text.data() + text.size());
}

inline bool IEquals(std::string_view a, std::string_view b) {
  return boost::beast::iequals(boost::beast::string_view(a.data(), a.size()),
                               boost::beast::string_view(b.data(), b.size()));
}

// Whether `token` (token characters only: a field name, a list element
// that passed IsHttpToken) equals `lower` ([a-z0-9-] only), ignoring ASCII
// case. Setting bit 0x20 maps A-Z onto a-z and keeps '-', digits and a-z as
// they are; no other token character becomes one of those. Eight bytes per step.
inline bool TokenEquals(std::string_view token, std::string_view lower) {
  const std::size_t n = token.size();
  if (n != lower.size()) return false;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t a;
    uint64_t b;
    std::memcpy(&a, token.data() + i, sizeof(a));
    std::memcpy(&b, lower.data() + i, sizeof(b));
    if ((a | 0x2020202020202020ULL) != b) return false;
  }
  for (; i < n; ++i) {
    if ((token[i] | 0x20) != lower[i]) return false;
  }
  return true;
}

// 1-19 decimal digits and nothing else (no sign, no space, no list).
inline std::optional<uint64_t> ParseLength(std::string_view digits) {
  if (digits.empty() || digits.size() > kMaxLengthDigits) return std::nullopt;
  uint64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

// Calls `visit(element)` for each element of a comma-separated list, OWS
// trimmed, empty elements included (RFC 9110 5.6.1); stops early and
// returns false when `visit` does.
template <class Visit>
bool ForEachListElement(std::string_view value, Visit&& visit) {
  for (;;) {
    const std::size_t comma = value.find(',');
    if (!visit(TrimOws(value.substr(0, comma)))) return false;
    if (comma == std::string_view::npos) return true;
    value.remove_prefix(comma + 1);
  }
}

enum class LineStatus { kField, kIncomplete, kBad };

// One field line: `name ":" OWS value OWS CRLF`.
struct FieldLine {
  std::string_view name;
  std::string_view value;      // OWS trimmed
  const char* next = nullptr;  // the byte after the CRLF
  const char* bad = nullptr;   // kBad: the offending byte
  const char* reason = "";     // kBad: what is wrong, for the refusal
};

// Reads the field line at `p` (which does not start the blank line). One
// SIMD scan finds the line's end and checks every byte of it (a control
// byte but HTAB, or DEL, ends the scan); the name is then checked to be a
// token followed by the colon, which also refuses whitespace before the
// colon (RFC 9112 5.1). kIncomplete when the line's CRLF has not arrived.
inline LineStatus ReadFieldLine(const char* p, const char* end, FieldLine& line) {
  const char* const line_end = FindValueStop(p, end);
  if (line_end == end) return LineStatus::kIncomplete;
  if (*line_end != '\r') {
    line.bad = line_end;
    line.reason = *line_end == '\n'   ? "bare LF"
                  : *line_end == '\0' ? "NUL in head"
                                      : "control character in header field";
    return LineStatus::kBad;
  }
  if (line_end + 1 == end) return LineStatus::kIncomplete;
  if (line_end[1] != '\n') {
    line.bad = line_end;
    line.reason = "bare CR";
    return LineStatus::kBad;
  }
  // The CR ends the token run at the latest: no bound check needed. (Names
  // are short: a table lookup per byte beats a 16-byte classification.)
  const char* name_end = p;
  while (IsTokenChar(*name_end)) ++name_end;
  if (name_end == p || *name_end != ':') {
    line.bad = name_end;
    line.reason = "invalid field name";
    return LineStatus::kBad;
  }
  line.name = {p, static_cast<std::size_t>(name_end - p)};
  line.value = TrimOws(name_end + 1, line_end);
  line.next = line_end + 2;
  return LineStatus::kField;
}

}  // namespace gatehouse::server::head_scan
