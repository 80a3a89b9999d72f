#include "proxy/auth/base64url.h"

#include <array>
#include <cstdint>

namespace gatehouse::auth {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr uint8_t kInvalid = 0xFF;

constexpr std::array<uint8_t, 256> BuildDecodeTable() {
  std::array<uint8_t, 256> table{};
  for (auto& entry : table) entry = kInvalid;
  for (uint8_t i = 0; i < 64; ++i) table[static_cast<uint8_t>(kAlphabet[i])] = i;
  return table;
}

constexpr std::array<uint8_t, 256> kDecodeTable = BuildDecodeTable();

}  // namespace

StatusOr<std::string> Base64UrlDecode(std::string_view encoded) {
  // A single leftover character carries only 6 bits: no byte string encodes to it.
  if (encoded.size() % 4 == 1) return InvalidArgumentError("base64url: impossible length");
  std::string out;
  out.reserve(encoded.size() / 4 * 3 + 2);
  uint32_t accumulator = 0;
  int bits = 0;
  for (char c : encoded) {
    const uint8_t value = kDecodeTable[static_cast<uint8_t>(c)];
    // Everything outside the URL-safe alphabet ('=', '+', '/', whitespace, NUL,
    // non-ASCII) is rejected rather than skipped.
    if (value == kInvalid) return InvalidArgumentError("base64url: invalid character");
    accumulator = (accumulator << 6) | value;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((accumulator >> bits) & 0xFF));
    }
  }
  // Leftover bits (2 or 4) must be zero; otherwise two encodings would map to the
  // same bytes and a token could be changed without changing what was signed.
  if (bits > 0 && (accumulator & ((1u << bits) - 1)) != 0) {
    return InvalidArgumentError("base64url: non-zero trailing bits");
  }
  return out;
}

std::string Base64UrlEncode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  uint32_t accumulator = 0;
  int bits = 0;
  for (char c : bytes) {
    accumulator = (accumulator << 8) | static_cast<uint8_t>(c);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(accumulator >> bits) & 0x3F]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(accumulator << (6 - bits)) & 0x3F]);
  return out;
}

}  // namespace gatehouse::auth
