#include "proxy/core/gzip.h"

#include <gtest/gtest.h>

#include <string>

namespace gatehouse {
namespace {

TEST(GzipTest, RoundTripAndPassThrough) {
  std::string config = "{\"sha256\":\"x\",\"version\":3}\n";
  for (int i = 0; i < 5000; ++i)
    config += "{\"kind\":\"AccessPolicy\",\"n\":" + std::to_string(i) + "}\n";
  const std::string packed = Gzip(config);
  EXPECT_TRUE(IsGzip(packed));
  EXPECT_LT(packed.size(), config.size() / 5);
  StatusOr<std::string> back = GunzipIfCompressed(packed, config.size());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, config);
  // Uncompressed input (an older bootstrap) passes through unchanged.
  EXPECT_EQ(*GunzipIfCompressed(config, 10), config);
  EXPECT_EQ(*GunzipIfCompressed("", 10), "");
}

TEST(GzipTest, RefusesBombsAndDamage) {
  const std::string zeros(8 << 20, '\0');
  const std::string bomb = Gzip(zeros);
  ASSERT_LT(bomb.size(), 64u * 1024);
  StatusOr<std::string> r = GunzipIfCompressed(bomb, 1 << 20);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("inflates past"), std::string::npos);

  const std::string good = Gzip("hello, fleet");
  const struct {
    const char* name;
    std::string data;
  } damaged[] = {
      {"truncated", good.substr(0, good.size() - 6)},
      {"flipped byte",
       [&] {
         std::string d = good;
         d[d.size() / 2] ^= 0x55;
         return d;
       }()},
      {"trailing garbage", good + "junk"},
      {"magic only", std::string("\x1f\x8b", 2)},
  };
  for (const auto& d : damaged) EXPECT_FALSE(GunzipIfCompressed(d.data, 1 << 20).ok()) << d.name;
}

}  // namespace
}  // namespace gatehouse
