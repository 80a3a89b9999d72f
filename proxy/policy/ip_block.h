// IpAddress and IpBlock: client addresses and the CIDR blocks of
// `from.ipBlocks`.
//
//   StatusOr<IpBlock> block = ParseIpBlock("10.0.0.0/8");
//   StatusOr<IpAddress> ip = ParseIpAddress("::ffff:10.1.2.3");
//   block->Contains(*ip);   // true: a v4-mapped v6 address is its v4 address
//
// Parsing is strict: dotted-quad IPv4 without leading zeros, RFC 4291 IPv6
// text (no zone ids), prefix length in range, and a block's host bits must be
// zero ("10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?") so a typo
// never silently widens or narrows a block. A bare address is a /32 or /128.
// An IPv4 block contains IPv4 addresses (and v4-mapped v6 ones); an IPv6
// block contains only IPv6 addresses that are not v4-mapped.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/core/status.h"

namespace gatehouse::policy {

struct IpAddress {
  bool is_v4 = false;
  // IPv4 in bytes[0..3] (the rest zero); IPv6 in all 16 bytes.
  std::array<uint8_t, 16> bytes{};

  std::string ToString() const;
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

StatusOr<IpAddress> ParseIpAddress(std::string_view text);

class IpBlock {
 public:
  bool Contains(const IpAddress& address) const;
  bool is_v4() const { return network_.is_v4; }
  int prefix_length() const { return prefix_length_; }
  // Canonical "a.b.c.d/n" or "v6/n".
  std::string ToString() const;
  friend bool operator==(const IpBlock&, const IpBlock&) = default;

 private:
  friend StatusOr<IpBlock> ParseIpBlock(std::string_view cidr);
  IpAddress network_;
  int prefix_length_ = 0;
};

StatusOr<IpBlock> ParseIpBlock(std::string_view cidr);

}  // namespace gatehouse::policy
