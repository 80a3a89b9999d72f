#include "proxy/auth/strict_json.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

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

// Differential check of the hand-written parser: on every input that has no
// duplicate key, no nesting past the limit and no NUL byte (the extra
// refusals), it
// accepts exactly what nlohmann's strict parser accepts, with the same value
// and the same number types. Inputs: tricky seeds and every one-byte
// replacement, insertion and deletion of them over a hostile alphabet.
void ExpectSameAsNlohmann(const std::string& text, int* compared) {
  StatusOr<nlohmann::json> mine = ParseStrictJson(text);
  if (!mine.ok() && (mine.status().message().find("duplicate") != std::string::npos ||
                     mine.status().message().find("deeply") != std::string::npos)) {
    return;
  }
  if (text.find('\0') != std::string::npos) {
    // nlohmann's lexer takes a NUL byte for the end of the input and ignores
    // what follows; JSON has no place for a raw NUL, so ours refuses it.
    EXPECT_FALSE(mine.ok());
    return;
  }
  const nlohmann::json reference = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  ++*compared;
  ASSERT_EQ(mine.ok(), !reference.is_discarded())
      << "input: "
      << nlohmann::json(text).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace)
      << (mine.ok() ? " mine accepted" : " mine refused");
  if (mine.ok()) {
    EXPECT_EQ(*mine, reference);
    EXPECT_EQ(mine->dump(), reference.dump());  // same number types (1 vs 1.0)
  }
}

TEST(StrictJsonTest, AgreesWithNlohmannOnMutations) {
  const std::vector<std::string> seeds = {
      R"({"alg":"RS256","kid":"k-1","typ":"JWT"})",
      R"({"iss":"https://idp","aud":["a","b"],"exp":1700000000,"nbf":-1,"x":1.5e3,"n":null,"t":true,"f":false})",
      R"(["\u00e9\ud83d\ude00\n\t\"\\\/\b\f\r",0,-0,0.0])",
      "\xEF\xBB\xBF{\"a\":\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"}",
      "[18446744073709551615,18446744073709551616,-9223372036854775808,-9223372036854775809]",
      "[1e400,-1e400,1e-400,123456789012345678901234567890,0.1,1E+2,1e-2]",
      R"({"a":{"b":[{}, [], ""]}})",
      R"("\ud800\udc00")",
  };
  const std::string alphabet =
      std::string("\"\\/{}[],:0123456789-+.eEtrufalsnux \t\n\r") +
      std::string("\x00\x01\x7f\x80\xbf\xc0\xc3\xe0\xed\xef\xf0\xf4\xff", 13);
  int compared = 0;
  for (const std::string& seed : seeds) {
    ExpectSameAsNlohmann(seed, &compared);
    for (size_t at = 0; at <= seed.size(); ++at) {
      if (at < seed.size()) {
        ExpectSameAsNlohmann(seed.substr(0, at) + seed.substr(at + 1), &compared);
      }
      for (char b : alphabet) {
        if (at < seed.size()) {
          std::string replaced = seed;
          replaced[at] = b;
          ExpectSameAsNlohmann(replaced, &compared);
        }
        ExpectSameAsNlohmann(seed.substr(0, at) + b + seed.substr(at), &compared);
      }
      if (HasFatalFailure()) return;
    }
  }
  EXPECT_GT(compared, 20000);  // the comparison really ran
}

TEST(StrictJsonTest, EscapesAndUnicodeRules) {
  const Case cases[] = {
      {"lone high surrogate", R"("\ud800")", false, "malformed"},
      {"lone low surrogate", R"("\udc00")", false, "malformed"},
      {"high then non-low", R"("\ud800\u0041")", false, "malformed"},
      {"surrogate pair", R"("\ud83d\ude00")", true, ""},
      {"utf8 encoded surrogate", "\"\xED\xA0\x80\"", false, "malformed"},
      {"overlong slash", "\"\xC0\xAF\"", false, "malformed"},
      {"above U+10FFFF", "\"\xF4\x90\x80\x80\"", false, "malformed"},
      {"truncated sequence", "\"\xE2\x82\"", false, "malformed"},
      {"raw control char", "\"a\x01\"", false, "malformed"},
      {"bad escape", R"("\x")", false, "malformed"},
      {"short unicode escape", R"("\u12")", false, "malformed"},
      {"leading zero", "01", false, "malformed"},
      {"bare minus", "-", false, "malformed"},
      {"dot without digits", "1.", false, "malformed"},
      {"exponent without digits", "1e", false, "malformed"},
      {"plus sign", "+1", false, "malformed"},
      {"true prefix", "tru", false, "malformed"},
      {"trailing comma", "[1,]", false, "malformed"},
      {"missing colon", R"({"a" 1})", false, "malformed"},
      {"non-string key", R"({1:2})", false, "malformed"},
      {"NUL then a second value",
       std::string("{\"alg\":\"RS256\"}") + std::string(1, '\0') + "{\"alg\":\"none\"}", false,
       "malformed"},
      {"number overflowing to infinity", "1e400", false, "malformed"},
      {"underflow is zero", "1e-400", true, ""},
      {"trailing NUL", std::string("1\0", 2), false, "malformed"},
      {"duplicate after escape", R"({"a":1,"\u0061":2})", false, "duplicate"},
  };
  for (const Case& c : cases) Check(c);
}

}  // namespace
}  // namespace gatehouse::auth
