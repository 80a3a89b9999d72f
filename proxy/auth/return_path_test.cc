#include "proxy/auth/return_path.h"

#include <gtest/gtest.h>

namespace gatehouse::auth {
namespace {

struct Row {
  std::string scenario;
  std::string input;
  std::string expected;
};

TEST(SanitizeReturnPath, AttackTable) {
  const std::vector<Row> rows = {
      // Accepted as given.
      {"root", "/", "/"},
      {"path and query", "/dash/1?tab=2&q=a%20b", "/dash/1?tab=2&q=a%20b"},
      {"encoded utf-8", "/caf%C3%A9", "/caf%C3%A9"},
      {"literal percent after decoding", "/100%25", "/100%25"},
      {"fragment", "/a#b", "/a#b"},
      {"query with slashes", "/a?next=//x", "/a?next=//x"},
      // Other origins.
      {"protocol relative", "//evil.example", "/"},
      {"protocol relative with path", "//evil.example/x", "/"},
      {"backslash second", "/\\evil.example", "/"},
      {"backslash first", "\\/evil.example", "/"},
      {"backslash anywhere", "/a\\b", "/"},
      {"absolute https", "https://evil.example", "/"},
      {"absolute http", "http://evil.example/x", "/"},
      {"scheme relative javascript", "javascript:alert(1)", "/"},
      {"no leading slash", "evil.example", "/"},
      {"empty", "", "/"},
      {"triple slash", "///evil.example", "/"},
      // Encoded tricks.
      {"encoded double slash", "%2F%2Fevil.example", "/"},
      {"encoded second slash", "/%2Fevil.example", "/"},
      {"encoded second slash lower", "/%2fevil.example", "/"},
      {"encoded backslash", "/%5Cevil.example", "/"},
      {"encoded backslash lower", "/%5cevil.example", "/"},
      {"encoded tab", "/%09/evil.example", "/"},
      {"encoded newline", "/%0a/evil.example", "/"},
      {"encoded cr", "/x%0d%0aSet-Cookie:a=b", "/"},
      {"encoded nul", "/x%00", "/"},
      {"double encoded slash", "/%252Fevil.example", "/"},
      {"triple encoded slash", "/%25252Fevil.example", "/"},
      {"double encoded backslash", "/%255Cevil.example", "/"},
      {"bad escape", "/a%zz", "/"},
      {"truncated escape", "/a%2", "/"},
      // Raw bytes that are not valid in a header.
      {"raw tab", "/\t/evil.example", "/"},
      {"raw newline", "/a\r\nSet-Cookie: x=y", "/"},
      {"raw space", "/a b", "/"},
      {"raw non-ascii", "/caf\xc3\xa9", "/"},
      {"raw del", "/a\x7f", "/"},
      {"too long", "/" + std::string(kMaxReturnPathBytes, 'a'), "/"},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(r.scenario);
    EXPECT_EQ(SanitizeReturnPath(r.input), r.expected);
  }
}

TEST(SanitizeReturnPath, LongestAcceptedLength) {
  const std::string ok = "/" + std::string(kMaxReturnPathBytes - 1, 'a');
  EXPECT_EQ(SanitizeReturnPath(ok), ok);
}

}  // namespace
}  // namespace gatehouse::auth
