#include "proxy/policy/path_normalizer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proxy/policy/path_pattern.h"

namespace gatehouse::policy {
namespace {

struct Scenario {
  std::string name;
  std::string target;
  bool ok;
  std::string path;   // expected normalized path when ok
  std::string query;  // expected query when ok
};

void CheckScenario(const Scenario& s) {
  SCOPED_TRACE(s.name);
  StatusOr<NormalizedPath> got = NormalizePath(s.target);
  ASSERT_EQ(got.ok(), s.ok) << (got.ok() ? got->path : got.status().ToString());
  if (!s.ok) {
    EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument);
    std::string path;
    std::string_view query;
    EXPECT_EQ(NormalizePathInto(s.target, path, query).code(), StatusCode::kInvalidArgument);
    return;
  }
  EXPECT_EQ(got->path, s.path);
  EXPECT_EQ(got->query, s.query);
  // NormalizePathInto gives the same into a reused string (here one holding
  // a longer earlier path), and its query views the target.
  std::string reused = "/earlier/and/much/longer/path/" + std::string(100, 'x');
  std::string_view query = "stale";
  ASSERT_TRUE(NormalizePathInto(s.target, reused, query).ok());
  EXPECT_EQ(reused, s.path);
  EXPECT_EQ(query, s.query);
  // Idempotence: the canonical form is a fixed point.
  StatusOr<NormalizedPath> again = NormalizePath(got->path);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->path, got->path);
}

TEST(PathNormalizerTest, Scenarios) {
  const std::string long_ok = "/" + std::string(kMaxPathBytes - 1, 'a');
  const std::vector<Scenario> scenarios = {
      {"root", "/", true, "/", ""},
      {"plain", "/api/card/1", true, "/api/card/1", ""},
      {"dotdot resolved", "/admin/../x", true, "/x", ""},
      {"encoded dotdot above root", "/%2e%2e/admin", false, "", ""},
      {"encoded dotdot resolved", "/a/b/%2e%2e/c", true, "/a/c", ""},
      {"mixed case encoded dotdot", "/a/%2E./b", true, "/b", ""},
      {"dot segment", "/a/./b", true, "/a/b", ""},
      {"trailing dot", "/a/b/.", true, "/a/b/", ""},
      {"trailing dotdot", "/a/b/..", true, "/a/", ""},
      {"dotdot to root", "/a/..", true, "/", ""},
      {"dotdot above root", "/..", false, "", ""},
      {"dotdot above root later", "/a/../../b", false, "", ""},
      {"encoded slash upper", "/admin%2Fx", false, "", ""},
      {"encoded slash lower", "/admin%2fx", false, "", ""},
      {"double slash front", "//admin", true, "/admin", ""},
      {"double slash middle", "/a//b///c", true, "/a/b/c", ""},
      {"semicolon param", "/admin;x", false, "", ""},
      {"semicolon segment", "/admin/;/x", false, "", ""},
      {"encoded semicolon", "/admin%3bx", false, "", ""},
      {"uppercase kept", "/ADMIN", true, "/ADMIN", ""},
      {"overlong dots", "/%C0%AE%C0%AE/admin", false, "", ""},
      {"overlong slash", "/a%C0%AFb", false, "", ""},
      {"surrogate", "/%ED%A0%80", false, "", ""},
      {"above U+10FFFF", "/%F4%90%80%80", false, "", ""},
      {"lone continuation", "/%80", false, "", ""},
      {"truncated sequence", "/%C3", false, "", ""},
      {"valid utf8 escape", "/caf%c3%a9", true, "/caf%C3%A9", ""},
      {"raw utf8 encoded", "/caf\xC3\xA9", true, "/caf%C3%A9", ""},
      {"raw invalid utf8", "/caf\xE9", false, "", ""},
      {"raw NUL", std::string("/a\0b", 4), false, "", ""},
      {"encoded NUL", "/a%00b", false, "", ""},
      {"encoded control", "/a%0Ab", false, "", ""},
      {"raw control", "/a\tb", false, "", ""},
      {"raw DEL", "/a\x7f", false, "", ""},
      {"raw backslash", "/a\\..\\admin", false, "", ""},
      {"encoded backslash", "/a%5c..%5cadmin", false, "", ""},
      {"fragment", "/a#b", false, "", ""},
      {"raw space", "/a b", false, "", ""},
      {"encoded space kept", "/a%20b", true, "/a%20b", ""},
      {"invalid escape", "/a%zz", false, "", ""},
      {"truncated escape", "/a%4", false, "", ""},
      {"lone percent", "/a%", false, "", ""},
      {"unreserved decoded", "/%7Euser/%41%62%2D%5F%2E", true, "/~user/Ab-_.", ""},
      {"hex uppercased", "/a%3fb%25", true, "/a%3Fb%25", ""},
      {"sub-delims decoded", "/a%21%24%26%27%28%29%2A%2B%2C%3D%3A%40", true, "/a!$&'()*+,=:@", ""},
      {"raw non-pchar encoded", "/a\"<>`{}|^[]", true, "/a%22%3C%3E%60%7B%7D%7C%5E%5B%5D", ""},
      {"trailing slash kept", "/a/", true, "/a/", ""},
      {"double trailing slash", "/a//", true, "/a/", ""},
      {"query passthrough", "/a/../b?x=%2F..;&y=/../", true, "/b", "?x=%2F..;&y=/../"},
      {"empty query", "/a?", true, "/a", "?"},
      {"control in query", "/a?x=\x01", false, "", ""},
      {"hash in query", "/a?x#y", false, "", ""},
      {"not rooted", "a/b", false, "", ""},
      {"empty", "", false, "", ""},
      {"absolute form", "http://evil/a", false, "", ""},
      {"asterisk form", "*", false, "", ""},
      {"max length", long_ok, true, long_ok, ""},
      {"over max length", long_ok + "a", false, "", ""},
      {"expansion over max", "/" + std::string(3000, '\"'), false, "", ""},
  };
  for (const Scenario& s : scenarios) CheckScenario(s);
}

// The one-scan fast path (an already canonical path) must hand everything
// else to the full normalizer: near misses of "already canonical" on each of
// its conditions, at the start, middle and end of the path.
TEST(PathNormalizerTest, FastPathNearMisses) {
  const std::vector<Scenario> scenarios = {
      {"canonical trailing slash", "/a/b/", true, "/a/b/", ""},
      {"canonical with query", "/a/b?x=1&y", true, "/a/b", "?x=1&y"},
      {"all raw sub-delims", "/!$&'()*+,=:@-._~", true, "/!$&'()*+,=:@-._~", ""},
      {"dot-prefixed segment kept", "/.well-known/x", true, "/.well-known/x", ""},
      {"three dots kept", "/a/.../b", true, "/a/.../b", ""},
      {"dots inside segment kept", "/a..b/c.", true, "/a..b/c.", ""},
      {"dot segment at end", "/a/.", true, "/a/", ""},
      {"dot segment at start", "/./a", true, "/a", ""},
      {"dotdot at end", "/a/b/..", true, "/a/", ""},
      {"double slash at end", "/a//", true, "/a/", ""},
      {"root double slash", "//", true, "/", ""},
      {"escaped unreserved decoded", "/a%41", true, "/aA", ""},
      {"raw quote escaped", "/a\"b", true, "/a%22b", ""},
      {"raw non-ascii escaped", "/caf\xC3\xA9", true, "/caf%C3%A9", ""},
      {"raw invalid utf-8", "/a\xC3", false, "", ""},
      {"raw backslash", "/a\\b", false, "", ""},
      {"raw space", "/a b", false, "", ""},
      {"raw hash", "/a#b", false, "", ""},
      {"raw semicolon at end", "/a;", false, "", ""},
      {"raw control byte", "/a\x01", false, "", ""},
      {"raw DEL", "/a\x7f", false, "", ""},
      {"NUL", std::string("/a\0b", 4), false, "", ""},
      {"lowercase escape uppercased", "/%3c", true, "/%3C", ""},
      {"bad query byte", "/a?x y", false, "", ""},
  };
  for (const Scenario& s : scenarios) CheckScenario(s);
}

// Matching after normalization is case-sensitive: a rule for /admin does not
// cover /ADMIN (the upstream decides whether those are the same resource).
TEST(PathNormalizerTest, CaseSensitiveMatch) {
  StatusOr<PathPattern> admin = PathPattern::Compile("/admin/**");
  ASSERT_TRUE(admin.ok());
  StatusOr<NormalizedPath> upper = NormalizePath("/ADMIN/users");
  ASSERT_TRUE(upper.ok());
  EXPECT_FALSE(admin->Matches(upper->path));
  StatusOr<NormalizedPath> lower = NormalizePath("/x/../admin/%75sers");
  ASSERT_TRUE(lower.ok());
  EXPECT_TRUE(admin->Matches(lower->path));
}

TEST(PathNormalizerTest, TargetJoinsPathAndQuery) {
  StatusOr<NormalizedPath> got = NormalizePath("/a/./b?q=1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->Target(), "/a/b?q=1");
}

}  // namespace
}  // namespace gatehouse::policy
