// ConstantTimeEquals: compares two byte strings of secret content (bearer
// tokens, session values) in time that depends only on their lengths, never on
// where they first differ, so that a caller timing many attempts learns
// nothing about the stored bytes.
//
//   if (ConstantTimeEquals(presented_token, remembered_token)) ...
//
// Lengths are compared first and are not secret (a token's length is visible
// on the wire). 32 bytes per step: a 1 KiB token costs about 32 steps, a
// little more than memcmp, far less than hashing it again.
#pragma once

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <cstdint>
#include <cstring>
#include <string_view>

namespace gatehouse {

inline bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  const size_t n = a.size();
  const char* x = a.data();
  const char* y = b.data();
  size_t i = 0;
  uint64_t diff = 0;
#if defined(__SSE2__)
  // Two 16-byte lanes: 32 bytes per step (SSE2 is part of every x86-64).
  __m128i lane0 = _mm_setzero_si128();
  __m128i lane1 = _mm_setzero_si128();
  for (; i + 32 <= n; i += 32) {
    const auto* p = reinterpret_cast<const __m128i*>(x + i);
    const auto* q = reinterpret_cast<const __m128i*>(y + i);
    lane0 = _mm_or_si128(lane0, _mm_xor_si128(_mm_loadu_si128(p), _mm_loadu_si128(q)));
    lane1 = _mm_or_si128(lane1, _mm_xor_si128(_mm_loadu_si128(p + 1), _mm_loadu_si128(q + 1)));
  }
  const __m128i lanes = _mm_or_si128(lane0, lane1);
  uint64_t halves[2];
  _mm_storeu_si128(reinterpret_cast<__m128i*>(halves), lanes);
  diff = halves[0] | halves[1];
#endif
  for (; i + 8 <= n; i += 8) {
    uint64_t u;
    uint64_t v;
    std::memcpy(&u, x + i, 8);
    std::memcpy(&v, y + i, 8);
    diff |= u ^ v;
  }
  for (; i < n; ++i) diff |= static_cast<uint8_t>(x[i]) ^ static_cast<uint8_t>(y[i]);
  // The accumulated difference is read once, at the end: no early exit.
  volatile uint64_t result = diff;
  return result == 0;
}

}  // namespace gatehouse
