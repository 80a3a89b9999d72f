#include "proxy/policy/path_pattern.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace gatehouse::policy {
namespace {

struct MatchScenario {
  std::string name;
  std::string pattern;
  std::string path;
  bool matches;
};

void CheckMatch(const MatchScenario& s) {
  SCOPED_TRACE(s.name);
  StatusOr<PathPattern> pattern = PathPattern::Compile(s.pattern);
  ASSERT_TRUE(pattern.ok()) << pattern.status().ToString();
  EXPECT_EQ(pattern->Matches(s.path), s.matches) << s.pattern << " vs " << s.path;
}

TEST(PathPatternTest, Matching) {
  const std::vector<MatchScenario> scenarios = {
      {"exact", "/api/health", "/api/health", true},
      {"exact trailing slash ignored", "/api/health", "/api/health/", true},
      {"exact longer", "/api/health", "/api/health/x", false},
      {"exact shorter", "/api/health", "/api", false},
      {"exact case", "/api/health", "/API/health", false},
      {"exact prefix of segment", "/api/health", "/api/healthz", false},
      {"root exact", "/", "/", true},
      {"root not other", "/", "/a", false},
      {"star one segment", "/api/card/*", "/api/card/12", true},
      {"star trailing slash", "/api/card/*", "/api/card/12/", true},
      {"star not two", "/api/card/*", "/api/card/12/query", false},
      {"star not zero", "/api/card/*", "/api/card", false},
      {"star not zero slash", "/api/card/*", "/api/card/", false},
      {"star middle", "/a/*/c", "/a/b/c", true},
      {"star middle wrong tail", "/a/*/c", "/a/b/d", false},
      {"double star nothing", "/x/**", "/x", true},
      {"double star slash", "/x/**", "/x/", true},
      {"double star deep", "/x/**", "/x/a/b/c", true},
      {"double star not sibling", "/x/**", "/xy", false},
      {"double star not parent", "/x/**", "/", false},
      {"global double star root", "/**", "/", true},
      {"global double star deep", "/**", "/a/b", true},
      {"star then double star", "/a/*/**", "/a", false},
      {"star then double star one", "/a/*/**", "/a/b", true},
      {"star then double star deep", "/a/*/**", "/a/b/c/d", true},
      {"literal star path char", "/a/x", "/a/*", false},
      {"unnormalized path never matches star", "/a/*", "/a//", false},
      {"sub-delim literal", "/a/b!c", "/a/b!c", true},
      // A literal segment is compared with its '/' and must end on a boundary.
      {"literal is a prefix of the segment", "/api", "/apix", false},
      {"segment is a prefix of the literal", "/api", "/ap", false},
      {"literal then a longer segment", "/api/card", "/api/cards", false},
      {"literal shorter path in the middle", "/api/card/x", "/api/car/x", false},
      {"literal after an empty segment", "/a/b", "/a//b", false},
      {"literal of a path without its slash", "/api", "api", false},
      {"empty path", "/api", "", false},
      {"literal last byte differs", "/api/card", "/api/carD", false},
      {"literal first byte differs", "/api/card", "/api/xard", false},
      {"long literal", "/" + std::string(300, 'a'), "/" + std::string(300, 'a'), true},
      {"long literal one byte short", "/" + std::string(300, 'a'), "/" + std::string(299, 'a'),
       false},
      {"star then literal", "/a/*/c", "/a/b/cc", false},
      {"star of an empty segment in the middle", "/a/*/c", "/a//c", false},
      {"deny patterns of the bench", "/api/card/*/query/*", "/api/card/7/query/json", true},
      {"deny patterns of the bench, trailing slash", "/api/card/*/query/*",
       "/api/card/7/query/json/", true},
  };
  for (const MatchScenario& s : scenarios) CheckMatch(s);
}

struct ValidateScenario {
  std::string name;
  std::string text;
  bool ok;
  std::string message_part;  // expected in the error message
};

void CheckValidation(const ValidateScenario& s, Status (*validate)(std::string_view)) {
  SCOPED_TRACE(s.name);
  Status status = validate(s.text);
  EXPECT_EQ(status.ok(), s.ok) << status.ToString();
  if (!s.ok) {
    EXPECT_NE(status.message().find(s.message_part), std::string::npos) << status.message();
  }
}

TEST(PathPatternTest, ValidatePathPattern) {
  const std::vector<ValidateScenario> scenarios = {
      {"root", "/", true, ""},
      {"literal", "/api/card", true, ""},
      {"star", "/api/card/*", true, ""},
      {"double star last", "/dashboard/**", true, ""},
      {"global", "/**", true, ""},
      {"double star middle", "/a/**/b", false, "'**' must be the last segment"},
      {"partial star", "/a*b", false, "'*' must be a whole segment"},
      {"triple star", "/a/***", false, "'*' must be a whole segment"},
      {"relative", "api/card", false, "must start with '/'"},
      {"empty", "", false, "must start with '/'"},
      {"trailing slash", "/api/", false, "must not end with '/'"},
      {"dot", "/a/./b", false, "normalized form; write \"/a/b\""},
      {"dotdot", "/a/../b", false, "normalized form; write \"/b\""},
      {"double slash", "/a//b", false, "normalized form"},
      {"unreserved escape", "/%7Euser", false, "write \"/~user\""},
      {"lowercase hex", "/a%3fb", false, "write \"/a%3Fb\""},
      {"semicolon", "/a;b", false, "';'"},
      {"encoded slash", "/a%2Fb", false, "'/'"},
      {"query", "/a?b", false, "'?'"},
  };
  for (const ValidateScenario& s : scenarios) CheckValidation(s, &ValidatePathPattern);
}

TEST(PathPatternTest, ValidatePathPrefix) {
  const std::vector<ValidateScenario> scenarios = {
      {"root", "/", true, ""},
      {"one", "/api", true, ""},
      {"two", "/api/v1", true, ""},
      {"wildcard", "/api/*", false, "wildcards"},
      {"trailing slash", "/api/", false, "must not end with '/'"},
      {"relative", "api", false, "must start with '/'"},
      {"empty", "", false, "must start with '/'"},
      {"dotdot", "/api/..", false, "normalized form"},
      {"double slash", "//api", false, "normalized form"},
  };
  for (const ValidateScenario& s : scenarios) CheckValidation(s, &ValidatePathPrefix);
}

TEST(PathPatternTest, PathHasPrefixOnSegmentBoundary) {
  struct Case {
    std::string path, prefix;
    bool covered;
  };
  const std::vector<Case> cases = {
      {"/api", "/api", true},   {"/api/", "/api", true}, {"/api/x", "/api", true},
      {"/apix", "/api", false}, {"/ap", "/api", false},  {"/anything", "/", true},
      {"/", "/", true},         {"/", "/api", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(PathHasPrefix(c.path, c.prefix), c.covered) << c.path << " under " << c.prefix;
  }
}

}  // namespace
}  // namespace gatehouse::policy
