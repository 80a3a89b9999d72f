#include "proxy/policy/ip_block.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace gatehouse::policy {
namespace {

struct ParseScenario {
  std::string name;
  std::string cidr;
  bool ok;
  std::string canonical_or_error;  // ToString() when ok, a message fragment otherwise
};

void CheckParse(const ParseScenario& s) {
  SCOPED_TRACE(s.name);
  StatusOr<IpBlock> block = ParseIpBlock(s.cidr);
  ASSERT_EQ(block.ok(), s.ok) << (block.ok() ? block->ToString() : block.status().ToString());
  if (s.ok) {
    EXPECT_EQ(block->ToString(), s.canonical_or_error);
  } else {
    EXPECT_NE(block.status().message().find(s.canonical_or_error), std::string::npos)
        << block.status().message();
  }
}

TEST(IpBlockTest, Parse) {
  const std::vector<ParseScenario> scenarios = {
      {"v4 /8", "10.0.0.0/8", true, "10.0.0.0/8"},
      {"v4 /0", "0.0.0.0/0", true, "0.0.0.0/0"},
      {"v4 bare", "192.168.1.7", true, "192.168.1.7/32"},
      {"v4 /31", "192.168.1.6/31", true, "192.168.1.6/31"},
      {"v4 host bits", "10.0.0.1/8", false,
       "10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?"},
      {"v4 host bits odd", "192.168.1.7/31", false, "did you mean 192.168.1.6/31?"},
      {"v4 prefix too long", "10.0.0.0/33", false, "prefix length"},
      {"v4 prefix negative", "10.0.0.0/-1", false, "prefix length"},
      {"v4 prefix empty", "10.0.0.0/", false, "prefix length"},
      {"v4 prefix leading zero", "10.0.0.0/08", false, "prefix length"},
      {"v4 prefix junk", "10.0.0.0/8x", false, "prefix length"},
      {"v4 leading zero octal", "010.0.0.0/8", false, "not an IP address"},
      {"v4 octet too big", "256.0.0.0/8", false, "not an IP address"},
      {"v4 three parts", "10.0.0/8", false, "not an IP address"},
      {"v4 five parts", "10.0.0.0.0/8", false, "not an IP address"},
      {"v4 empty octet", "10..0.0/8", false, "not an IP address"},
      {"v4 sign", "+10.0.0.0/8", false, "not an IP address"},
      {"v6 /32", "2001:db8::/32", true, "2001:db8::/32"},
      {"v6 bare", "::1", true, "::1/128"},
      {"v6 upper", "2001:DB8::/32", true, "2001:db8::/32"},
      {"v6 host bits", "2001:db8::1/32", false, "did you mean 2001:db8::/32?"},
      {"v6 prefix too long", "2001:db8::/129", false, "prefix length"},
      {"v6 zone", "fe80::1%eth0/128", false, "not an IP address"},
      {"v6 garbage", "2001:::1/64", false, "not an IP address"},
      {"mapped becomes v4", "::ffff:10.0.0.0/8", true, "10.0.0.0/8"},
      {"empty", "", false, "not an IP address"},
      {"hostname", "example.com/8", false, "not an IP address"},
  };
  for (const ParseScenario& s : scenarios) CheckParse(s);
}

struct ContainScenario {
  std::string name;
  std::string block;
  std::string address;
  bool contained;
};

void CheckContains(const ContainScenario& s) {
  SCOPED_TRACE(s.name);
  StatusOr<IpBlock> block = ParseIpBlock(s.block);
  ASSERT_TRUE(block.ok()) << block.status().ToString();
  StatusOr<IpAddress> address = ParseIpAddress(s.address);
  ASSERT_TRUE(address.ok()) << address.status().ToString();
  EXPECT_EQ(block->Contains(*address), s.contained);
}

TEST(IpBlockTest, Contains) {
  const std::vector<ContainScenario> scenarios = {
      {"v4 inside", "10.0.0.0/8", "10.255.1.2", true},
      {"v4 outside", "10.0.0.0/8", "11.0.0.1", false},
      {"v4 edge low", "192.168.1.0/24", "192.168.1.0", true},
      {"v4 edge high", "192.168.1.0/24", "192.168.1.255", true},
      {"v4 just outside", "192.168.1.0/24", "192.168.2.0", false},
      {"v4 odd prefix in", "10.0.0.0/12", "10.15.255.255", true},
      {"v4 odd prefix out", "10.0.0.0/12", "10.16.0.0", false},
      {"v4 /0 all", "0.0.0.0/0", "203.0.113.9", true},
      {"v4 /32 self", "203.0.113.9/32", "203.0.113.9", true},
      {"v4 /32 other", "203.0.113.9/32", "203.0.113.8", false},
      {"v4 mapped client", "10.0.0.0/8", "::ffff:10.1.2.3", true},
      {"v4 mapped client outside", "10.0.0.0/8", "::ffff:11.1.2.3", false},
      {"v4 block vs v6 client", "0.0.0.0/0", "2001:db8::1", false},
      {"v6 inside", "2001:db8::/32", "2001:db8:1::5", true},
      {"v6 outside", "2001:db8::/32", "2001:db9::5", false},
      {"v6 odd prefix", "2001:db8:8000::/33", "2001:db8:ffff::1", true},
      {"v6 odd prefix out", "2001:db8:8000::/33", "2001:db8:7fff::1", false},
      {"v6 all excludes mapped v4", "::/0", "::ffff:10.0.0.1", false},
      {"v6 all excludes v4", "::/0", "10.0.0.1", false},
      {"v6 all includes v6", "::/0", "fe80::1", true},
  };
  for (const ContainScenario& s : scenarios) CheckContains(s);
}

TEST(IpBlockTest, AddressRoundTrip) {
  for (std::string text : {"10.1.2.3", "2001:db8::1", "::1"}) {
    StatusOr<IpAddress> address = ParseIpAddress(text);
    ASSERT_TRUE(address.ok()) << text;
    EXPECT_EQ(address->ToString(), text);
  }
  StatusOr<IpAddress> mapped = ParseIpAddress("::ffff:192.0.2.1");
  ASSERT_TRUE(mapped.ok());
  EXPECT_TRUE(mapped->is_v4);
  EXPECT_EQ(mapped->ToString(), "192.0.2.1");
  EXPECT_FALSE(ParseIpAddress("1.2.3.4:80").ok());
  EXPECT_FALSE(ParseIpAddress(std::string(100, '1')).ok());
}

}  // namespace
}  // namespace gatehouse::policy
