// Utf8SequenceLength and IsValidUtf8 against a reference decoder (code point
// arithmetic, written the slow obvious way) over every 1-, 2- and 3-byte
// input and every 4-byte input with an F0..F4 lead, plus named cases.
#include "proxy/core/utf8.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace gatehouse {
namespace {

// Whether `s` is exactly one well-formed sequence, by decoding it.
bool ReferenceOneSequence(const std::string& s) {
  const auto c = static_cast<unsigned char>(s[0]);
  std::size_t n;
  uint32_t cp;
  if ((c & 0xE0) == 0xC0) {
    n = 2, cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3, cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4, cp = c & 0x07;
  } else {
    return false;
  }
  if (s.size() != n) return false;
  for (std::size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[k]);
    if ((b & 0xC0) != 0x80) return false;
    cp = (cp << 6) | (b & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  return cp >= kMin[n] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
}

TEST(Utf8Test, EverySequenceAgreesWithTheReferenceDecoder) {
  std::string s;
  int checked = 0;
  auto check = [&] {
    const bool expected = ReferenceOneSequence(s);
    ASSERT_EQ(Utf8SequenceLength(s, 0) == s.size(), expected) << std::hex << checked;
    ++checked;
  };
  for (int a = 0x80; a <= 0xFF; ++a) {
    s.assign(1, static_cast<char>(a));
    check();
    for (int b = 0; b <= 0xFF; ++b) {
      s.assign({static_cast<char>(a), static_cast<char>(b)});
      check();
      for (int c = 0; c <= 0xFF && a >= 0xE0; ++c) {
        s.assign({static_cast<char>(a), static_cast<char>(b), static_cast<char>(c)});
        check();
        if (a < 0xF0 || a > 0xF4 || (b & 0xC0) != 0x80 || (c & 0xC0) != 0x80) continue;
        for (int d = 0; d <= 0xFF; ++d) {
          s.assign({static_cast<char>(a), static_cast<char>(b), static_cast<char>(c),
                    static_cast<char>(d)});
          check();
        }
      }
    }
  }
  EXPECT_GT(checked, 1'000'000);
}

TEST(Utf8Test, NamedCases) {
  struct Case {
    const char* name;
    std::string text;
    bool valid;
  };
  const std::vector<Case> cases = {
      {"empty", "", true},
      {"ascii longer than a word", "0123456789abcdefghij", true},
      {"multibyte after an ascii word", "01234567\xc3\xa9", true},
      {"bad byte after an ascii word", "01234567\xff", false},
      {"bad byte inside the first word",
       "0123\x80"
       "567890",
       false},
      {"euro sign", "\xe2\x82\xac", true},
      {"emoji", "\xf0\x9f\x98\x80", true},
      {"last code point", "\xf4\x8f\xbf\xbf", true},
      {"above U+10FFFF", "\xf4\x90\x80\x80", false},
      {"overlong slash", "\xc0\xaf", false},
      {"overlong three bytes", "\xe0\x80\xaf", false},
      {"lone surrogate", "\xed\xa0\x80", false},
      {"stray continuation", "a\x80", false},
      {"truncated at the end", "a\xe2\x82", false},
      {"NUL is valid UTF-8", std::string("a\0b", 3), true},
  };
  for (const auto& c : cases) EXPECT_EQ(IsValidUtf8(c.text), c.valid) << c.name;
}

}  // namespace
}  // namespace gatehouse
