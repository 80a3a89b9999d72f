#include "proxy/policy/ip_block.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace gatehouse::policy {
namespace {

// Strict dotted quad: four decimal parts 0..255, no leading zeros (which some
// parsers read as octal), nothing else.
bool ParseIpv4(std::string_view text, IpAddress* out) {
  IpAddress address;
  address.is_v4 = true;
  for (int part = 0; part < 4; ++part) {
    size_t end = part < 3 ? text.find('.') : text.size();
    if (end == std::string_view::npos) return false;
    std::string_view digits = text.substr(0, end);
    if (digits.empty() || digits.size() > 3 || (digits.size() > 1 && digits.front() == '0')) {
      return false;
    }
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc() || ptr != digits.data() + digits.size() || value > 255) return false;
    address.bytes[part] = static_cast<uint8_t>(value);
    text.remove_prefix(part < 3 ? end + 1 : end);
  }
  *out = address;
  return true;
}

bool ParseIpv6(std::string_view text, IpAddress* out) {
  char buffer[64];
  if (text.empty() || text.size() >= sizeof(buffer)) return false;
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  IpAddress address;
  if (inet_pton(AF_INET6, buffer, address.bytes.data()) != 1) return false;
  static constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(address.bytes.data(), kMappedPrefix, sizeof(kMappedPrefix)) == 0) {
    // ::ffff:a.b.c.d is the IPv4 client a.b.c.d (dual-stack sockets report
    // v4 clients this way); treating it as v6 would dodge every v4 block.
    IpAddress v4;
    v4.is_v4 = true;
    std::memcpy(v4.bytes.data(), address.bytes.data() + 12, 4);
    *out = v4;
    return true;
  }
  *out = address;
  return true;
}

bool PrefixBitsEqual(const IpAddress& a, const IpAddress& b, int bits) {
  int full = bits / 8;
  if (std::memcmp(a.bytes.data(), b.bytes.data(), full) != 0) return false;
  int remaining = bits % 8;
  if (remaining == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - remaining));
  return (a.bytes[full] & mask) == (b.bytes[full] & mask);
}

IpAddress MaskTo(const IpAddress& address, int bits) {
  IpAddress masked = address;
  for (int i = 0; i < 16; ++i) {
    int keep = bits - i * 8;
    if (keep >= 8) continue;
    masked.bytes[i] = keep <= 0 ? 0 : masked.bytes[i] & static_cast<uint8_t>(0xff << (8 - keep));
  }
  return masked;
}

// "\"text\"", cut to a length fit for an error message.
std::string Quoted(std::string_view text) {
  std::string quoted = "\"";
  quoted.append(text.substr(0, 64));
  quoted.push_back('"');
  return quoted;
}

}  // namespace

StatusOr<IpAddress> ParseIpAddress(std::string_view text) {
  IpAddress address;
  if (text.find(':') == std::string_view::npos ? ParseIpv4(text, &address)
                                               : ParseIpv6(text, &address)) {
    return address;
  }
  return InvalidArgumentError(Quoted(text) + " is not an IP address");
}

std::string IpAddress::ToString() const {
  char buffer[INET6_ADDRSTRLEN] = {};
  inet_ntop(is_v4 ? AF_INET : AF_INET6, bytes.data(), buffer, sizeof(buffer));
  return buffer;
}

StatusOr<IpBlock> ParseIpBlock(std::string_view cidr) {
  size_t slash = cidr.find('/');
  StatusOr<IpAddress> address = ParseIpAddress(cidr.substr(0, slash));
  if (!address.ok()) return address.status();
  int max_bits = address->is_v4 ? 32 : 128;
  int bits = max_bits;
  if (slash != std::string_view::npos) {
    std::string_view digits = cidr.substr(slash + 1);
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), bits);
    if (digits.empty() || digits.size() > 3 || ec != std::errc() ||
        ptr != digits.data() + digits.size() || bits < 0 || bits > max_bits ||
        (digits.size() > 1 && digits.front() == '0')) {
      return InvalidArgumentError(Quoted(cidr) + " has an invalid prefix length (0.." +
                                  std::to_string(max_bits) + ")");
    }
  }
  IpBlock block;
  block.network_ = MaskTo(*address, bits);
  block.prefix_length_ = bits;
  if (block.network_ != *address) {
    // Security: "10.0.0.1/8" is usually a typo for a /32 or a /8; refuse to
    // guess which, since either guess may grant access nobody intended.
    return InvalidArgumentError(std::string(cidr.substr(0, 64)) +
                                " has host bits set; did you mean " + block.ToString() + "?");
  }
  return block;
}

bool IpBlock::Contains(const IpAddress& address) const {
  if (address.is_v4 != network_.is_v4) return false;
  return PrefixBitsEqual(address, network_, prefix_length_);
}

std::string IpBlock::ToString() const {
  return network_.ToString() + "/" + std::to_string(prefix_length_);
}

}  // namespace gatehouse::policy
