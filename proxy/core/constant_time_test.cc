#include "proxy/core/constant_time.h"

#include <gtest/gtest.h>

#include <string>

namespace gatehouse {
namespace {

TEST(ConstantTimeEqualsTest, EqualStringsOfEveryLengthAroundTheWordSize) {
  for (size_t n = 0; n <= 72; ++n) {
    std::string a(n, 'x');
    for (size_t i = 0; i < n; ++i) a[i] = static_cast<char>('A' + (i * 7) % 50);
    EXPECT_TRUE(ConstantTimeEquals(a, std::string(a))) << "length " << n;
  }
}

// A difference anywhere (first byte, inside a word, in the tail after the
// last whole word, last byte; lengths cover two 32-byte steps and every
// tail) and in any bit is found.
TEST(ConstantTimeEqualsTest, FindsADifferenceInEveryPositionAndBit) {
  for (size_t n = 1; n <= 72; ++n) {
    const std::string a(n, '\x5a');
    for (size_t i = 0; i < n; ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        std::string b = a;
        b[i] = static_cast<char>(b[i] ^ (1 << bit));
        EXPECT_FALSE(ConstantTimeEquals(a, b)) << "length " << n << " byte " << i << " bit " << bit;
        EXPECT_FALSE(ConstantTimeEquals(b, a));
      }
    }
  }
}

TEST(ConstantTimeEqualsTest, DifferentLengthsAreNeverEqual) {
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  // A prefix is not a match, even with a NUL where the longer one continues.
  EXPECT_FALSE(ConstantTimeEquals(std::string_view("ab\0", 3), "ab"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

}  // namespace
}  // namespace gatehouse
