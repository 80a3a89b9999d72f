#include "proxy/auth/strict_json.h"

#include <gtest/gtest.h>

#include <string>

namespace gatehouse::auth {
namespace {

struct Case {
  const char* name;
  std::string text;
  bool ok;
  const char* reason;  // substring of the error when !ok
};

std::string Nested(int depth) {
  return std::string(static_cast<size_t>(depth), '[') +
         std::string(static_cast<size_t>(depth), ']');
}

std::string NestedObjects(int depth) {
  std::string text;
  for (int i = 0; i < depth; ++i) text += "{\"k\":";
  text += "1";
  for (int i = 0; i < depth; ++i) text += "}";
  return text;
}

void Check(const Case& c, size_t max_bytes = kDefaultMaxJsonBytes) {
  SCOPED_TRACE(c.name);
  StatusOr<nlohmann::json> got = ParseStrictJson(c.text, max_bytes);
  ASSERT_EQ(got.ok(), c.ok) << (got.ok() ? got->dump() : got.status().message());
  if (!c.ok) {
    EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(got.status().message().find(c.reason), std::string::npos) << got.status().message();
  }
}

TEST(StrictJsonTest, Table) {
  const Case cases[] = {
      {"object", R"({"alg":"RS256","kid":"a"})", true, ""},
      {"scalar", "42", true, ""},
      {"whitespace around", " {\"a\":1}\n", true, ""},
      {"duplicate key top level", R"({"alg":"RS256","alg":"none"})", false, "duplicate"},
      {"duplicate key nested", R"({"a":{"b":1,"b":2}})", false, "duplicate"},
      {"duplicate key in array object", R"({"a":[{"x":1},{"y":1,"y":1}]})", false, "duplicate"},
      {"same key in sibling objects", R"({"a":{"k":1},"b":{"k":2}})", true, ""},
      {"depth 16 accepted", Nested(16), true, ""},
      {"depth 17 rejected", Nested(17), false, "deeply"},
      {"deep object rejected", NestedObjects(17), false, "deeply"},
      {"depth 16 objects accepted", NestedObjects(16), true, ""},
      {"trailing garbage", R"({"a":1} x)", false, "malformed"},
      {"two values", R"({"a":1}{"b":2})", false, "malformed"},
      {"empty", "", false, "malformed"},
      {"comment", R"({"a":1 /* c */})", false, "malformed"},
      {"invalid utf8", "{\"a\":\"\xff\"}", false, "malformed"},
      {"unterminated", R"({"a":)", false, "malformed"},
  };
  for (const Case& c : cases) Check(c);
}

TEST(StrictJsonTest, RejectsOverSizeLimit) {
  Check({"at limit", R"({"a":"xxxx"})", true, ""}, 12);
  Check({"over limit", R"({"a":"xxxxx"})", false, "too large"}, 12);
}

TEST(StrictJsonTest, KeepsValuesAndTypes) {
  StatusOr<nlohmann::json> got = ParseStrictJson(
      R"({"s":"x","i":-3,"u":18446744073709551615,"f":1.5,"b":false,"n":null,"a":[1,{"k":"v"}]})");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)["s"], "x");
  EXPECT_EQ((*got)["i"], -3);
  EXPECT_TRUE((*got)["u"].is_number_unsigned());
  EXPECT_EQ((*got)["f"], 1.5);
  EXPECT_EQ((*got)["b"], false);
  EXPECT_TRUE((*got)["n"].is_null());
  EXPECT_EQ((*got)["a"][1]["k"], "v");
}

}  // namespace
}  // namespace gatehouse::auth
