#include "proxy/auth/base64url.h"

#include <gtest/gtest.h>

#include <string>

namespace gatehouse::auth {
namespace {

struct DecodeCase {
  const char* name;
  std::string input;
  bool ok;
  std::string expected;  // when ok
};

void CheckDecode(const DecodeCase& c) {
  SCOPED_TRACE(c.name);
  StatusOr<std::string> got = Base64UrlDecode(c.input);
  ASSERT_EQ(got.ok(), c.ok) << (got.ok() ? "decoded" : got.status().message());
  if (c.ok) {
    EXPECT_EQ(*got, c.expected);
  } else {
    EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument);
    // The message never echoes the input.
    if (!c.input.empty()) {
      EXPECT_EQ(got.status().message().find(c.input), std::string::npos);
    }
  }
}

TEST(Base64UrlDecodeTest, Table) {
  const DecodeCase cases[] = {
      {"empty", "", true, ""},
      {"one byte", "Zg", true, "f"},
      {"two bytes", "Zm8", true, "fo"},
      {"three bytes", "Zm9v", true, "foo"},
      {"url alphabet", "-_8", true, "\xfb\xff"},
      {"json header", "eyJhbGciOiJSUzI1NiJ9", true, R"({"alg":"RS256"})"},
      {"padding rejected", "Zg==", false, ""},
      {"single pad rejected", "Zm8=", false, ""},
      {"plus rejected", "+_8", false, ""},
      {"slash rejected", "-/8", false, ""},
      {"space rejected", "Zm 9v", false, ""},
      {"newline rejected", "Zm9v\nZm9v", false, ""},
      {"cr rejected", "Zm9v\r", false, ""},
      {"tab rejected", "\tZm9v", false, ""},
      {"nul rejected", std::string("Zm\0v", 4), false, ""},
      {"non-ascii rejected", "Zm9\xc3\xa9", false, ""},
      {"impossible length 1", "Z", false, ""},
      {"impossible length 5", "Zm9vZ", false, ""},
      {"trailing bits in 2-char tail", "Zh", false, ""},
      {"trailing bits in 3-char tail", "Zm9", false, ""},
      {"trailing bits in 3-char tail set", "Zm-", false, ""},
      {"dot rejected", "Zm.v", false, ""},
  };
  for (const DecodeCase& c : cases) CheckDecode(c);
}

TEST(Base64UrlEncodeTest, RoundTripsEveryLengthAndByte) {
  std::string bytes;
  for (int i = 0; i < 300; ++i) {
    bytes.push_back(static_cast<char>((i * 37 + 11) & 0xFF));
    const std::string encoded = Base64UrlEncode(bytes);
    EXPECT_EQ(encoded.find_first_of("=+/"), std::string::npos);
    StatusOr<std::string> decoded = Base64UrlDecode(encoded);
    ASSERT_TRUE(decoded.ok()) << i;
    EXPECT_EQ(*decoded, bytes);
  }
}

TEST(Base64UrlEncodeTest, KnownVectors) {
  EXPECT_EQ(Base64UrlEncode(""), "");
  EXPECT_EQ(Base64UrlEncode("f"), "Zg");
  EXPECT_EQ(Base64UrlEncode("fo"), "Zm8");
  EXPECT_EQ(Base64UrlEncode("foo"), "Zm9v");
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
}

TEST(Base64UrlDecodeTest, AnInvalidCharacterAnywhereIsRejected) {
  // Whole 4-character blocks are decoded together: a bad character must be
  // caught at every position of a block and of the tail.
  const std::string encoded = Base64UrlEncode("a payload of some length, 40 bytes long");
  for (size_t at = 0; at < encoded.size(); ++at) {
    for (char bad : {'=', '+', '/', '.', ' ', '\0', '\n', '\x80', '\xff', '!'}) {
      std::string changed = encoded;
      changed[at] = bad;
      EXPECT_FALSE(Base64UrlDecode(changed).ok()) << at << " " << (bad & 0xff);
    }
  }
}

}  // namespace
}  // namespace gatehouse::auth
