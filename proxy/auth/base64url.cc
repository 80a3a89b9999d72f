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
  // Written in place (no per-byte push_back): every token verification
  // decodes three segments.
  std::string out(encoded.size() / 4 * 3 + 2, '\0');
  char* p = out.data();
  const auto* in = reinterpret_cast<const unsigned char*>(encoded.data());
  const size_t blocks = encoded.size() / 4;
  for (size_t b = 0; b < blocks; ++b, in += 4) {
    const uint8_t v0 = kDecodeTable[in[0]], v1 = kDecodeTable[in[1]];
    const uint8_t v2 = kDecodeTable[in[2]], v3 = kDecodeTable[in[3]];
    // Everything outside the URL-safe alphabet ('=', '+', '/', whitespace, NUL,
    // non-ASCII) is rejected rather than skipped. Valid values are 0-63, so
    // any kInvalid (0xFF) among the four sets one of the top two bits.
    if (((v0 | v1 | v2 | v3) & 0xC0) != 0) {
      return InvalidArgumentError("base64url: invalid character");
    }
    const uint32_t n = (uint32_t{v0} << 18) | (uint32_t{v1} << 12) | (uint32_t{v2} << 6) | v3;
    *p++ = static_cast<char>(n >> 16);
    *p++ = static_cast<char>(n >> 8);
    *p++ = static_cast<char>(n);
  }
  // The rest: 2 or 3 characters (1 or 2 bytes), or none.
  uint32_t accumulator = 0;
  int bits = 0;
  for (size_t k = blocks * 4; k < encoded.size(); ++k) {
    const uint8_t value = kDecodeTable[static_cast<uint8_t>(encoded[k])];
    if (value == kInvalid) return InvalidArgumentError("base64url: invalid character");
    accumulator = (accumulator << 6) | value;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      *p++ = static_cast<char>((accumulator >> bits) & 0xFF);
    }
  }
  // Leftover bits (2 or 4) must be zero; otherwise two encodings would map to the
  // same bytes and a token could be changed without changing what was signed.
  if (bits > 0 && (accumulator & ((1u << bits) - 1)) != 0) {
    return InvalidArgumentError("base64url: non-zero trailing bits");
  }
  out.resize(static_cast<size_t>(p - out.data()));
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
