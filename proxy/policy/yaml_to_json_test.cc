// YAML -> JSON typing (Kubernetes' reading of YAML 1.2 core schema) and the
// hostile-input limits: size, depth, alias bombs, duplicate keys, bad UTF-8.
#include "proxy/policy/yaml_to_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace gatehouse::policy {
namespace {

using nlohmann::json;

struct TypingCase {
  std::string name;
  std::string yaml_value;  // placed as `v: <yaml_value>`
  json expected;
};

void CheckTyping(const TypingCase& c) {
  SCOPED_TRACE(c.name);
  StatusOr<std::vector<json>> docs = YamlDocumentsToJson("v: " + c.yaml_value + "\n");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  ASSERT_EQ(docs->size(), 1u);
  const json& v = (*docs)[0]["v"];
  EXPECT_EQ(v.type_name(), c.expected.type_name()) << v.dump();
  EXPECT_EQ(v, c.expected);
}

TEST(YamlToJsonTest, ScalarTyping) {
  std::vector<TypingCase> cases = {
      {"plain true", "true", true},
      {"plain True", "True", true},
      {"plain FALSE", "FALSE", false},
      {"yes is a string", "yes", "yes"},
      {"on is a string", "on", "on"},
      {"quoted true is a string", "'true'", "true"},
      {"quoted number is a string", "\"3000\"", "3000"},
      {"plain int", "3000", 3000},
      {"negative int", "-5", -5},
      {"hex int", "0x1F", 31},
      {"octal int", "0o17", 15},
      {"leading zero decimal", "017", 17},
      {"float", "1.5", 1.5},
      {"exponent", "1e3", 1000.0},
      {"huge int becomes float", "99999999999999999999", 1e20},
      {"plain null", "null", nullptr},
      {"tilde", "~", nullptr},
      {"empty", "", nullptr},
      {"quoted null is a string", "'null'", "null"},
      {"version-like string", "1.2.3", "1.2.3"},
      {"cidr string", "10.0.0.0/8", "10.0.0.0/8"},
      {"block scalar", "|\n  a\n  b", "a\nb\n"},
      {"explicit str tag", "!!str 5", "5"},
      {"explicit int tag", "!!int 7", 7},
      {"flow list", "[a, 1, true]", json::array({"a", 1, true})},
      {"flow map", "{a: b}", json::object({{"a", "b"}})},
  };
  for (const TypingCase& c : cases) CheckTyping(c);
}

struct ErrorCase {
  std::string name;
  std::string content;
  std::string message_part;
  YamlLimits limits;
};

TEST(YamlToJsonTest, RejectsHostileAndMalformedInput) {
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "[";
  for (int i = 0; i < 40; ++i) deep += "]";
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'h'; ++c) {
    std::string prev(1, static_cast<char>(c - 1));
    bomb += std::string(1, c) + ": &" + c + " [*" + prev + ", *" + prev + ", *" + prev + ", *" +
            prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev +
            ", *" + prev + "]\n";
  }
  std::vector<ErrorCase> cases = {
      {"syntax error", "a: [1, 2\n", "YAML syntax error at line", {}},
      {"duplicate key", "a: 1\na: 2\n", "mapping key 'a' appears more than once", {}},
      {"non-scalar key", "? [1]\n: v\n", "not a scalar", {}},
      {"too deep", deep, "nested deeper than 32", {}},
      {"alias bomb", bomb, "more than 100000 nodes", {}},
      {"file too large", std::string(100, 'a'), "larger than 10 bytes", {.max_file_bytes = 10}},
      {"too many documents",
       "a: 1\n---\nb: 1\n---\nc: 1\n",
       "more than 2 documents",
       {.max_documents = 2}},
      {"long scalar",
       "a: " + std::string(100, 'x') + "\n",
       "longer than 50 bytes",
       {.max_scalar_bytes = 50}},
      {"invalid utf-8", "a: \"\xc3\x28\"\n", "not valid UTF-8", {}},
      {"nul byte (would make yaml-cpp guess UTF-16)",
       std::string("\0,\0a", 4),
       "control characters",
       {}},
      {"utf-16 bom",
       "\xff\xfe"
       "a\0",
       "not valid UTF-8",
       {}},
      {"overlong utf-8", "a: \xc0\xaf\n", "not valid UTF-8", {}},
      {"unknown tag", "a: !foo bar\n", "unsupported YAML tag", {}},
      {"tag mismatch", "a: !!int abc\n", "does not match its explicit YAML tag", {}},
      // yaml-cpp 0.7 would loop forever on these (policy_parse_fuzzer finding).
      {"stray comma document", ",", "',' outside a flow collection", {}},
      {"stray comma after list item", "- a\n,", "',' outside a flow collection", {}},
      {"stray comma after comment", "# c\n ,a", "',' outside a flow collection", {}},
      {"stray comma after tag", "!!map ,", "',' outside a flow collection", {}},
      {"comma ending an anchor", "&:&:,", "',' outside a flow collection", {}},
      {"comma after a flow collection", "[a], b", "',' outside a flow collection", {}},
      {"comma after a quoted scalar", "a: 'b', c", "',' outside a flow collection", {}},
      {"comma after adjacent quoted scalars", "\"\"\"x\", y", "',' outside a flow collection", {}},
  };
  for (const ErrorCase& c : cases) {
    SCOPED_TRACE(c.name);
    StatusOr<std::vector<json>> docs = YamlDocumentsToJson(c.content, c.limits);
    ASSERT_FALSE(docs.ok());
    EXPECT_THAT(docs.status().message(), testing::HasSubstr(c.message_part));
  }
}

TEST(YamlToJsonTest, CommasThatAreContentAreAccepted) {
  StatusOr<std::vector<json>> docs = YamlDocumentsToJson(
      "a: x, y\nh: x , y\nb: [1,\n  2 ,3]\nc: |\n  ,block\n  , more\nd: ', quoted'\ne: \"it's, "
      "\\\" x\"\n"
      "f: 'don''t, stop'\n# , comment\ng: {k: v\n , l: w}\n");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  const json& d = (*docs)[0];
  EXPECT_EQ(d["a"], "x, y");
  EXPECT_EQ(d["h"], "x , y");
  EXPECT_EQ(d["b"], json({1, 2, 3}));
  EXPECT_EQ(d["c"], ",block\n, more\n");
  EXPECT_EQ(d["d"], ", quoted");
  EXPECT_EQ(d["e"], "it's, \" x");
  EXPECT_EQ(d["f"], "don't, stop");
  EXPECT_EQ(d["g"], json({{"k", "v"}, {"l", "w"}}));
}

TEST(YamlToJsonTest, DocumentsAndEmptyDocuments) {
  StatusOr<std::vector<json>> docs =
      YamlDocumentsToJson("---\na: 1\n---\n# only a comment\n---\nb: [x]\n");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  ASSERT_EQ(docs->size(), 3u);
  EXPECT_EQ((*docs)[0], json({{"a", 1}}));
  EXPECT_TRUE((*docs)[1].is_null());
  EXPECT_EQ((*docs)[2], json({{"b", {"x"}}}));
}

TEST(YamlToJsonTest, SmallAliasesAreExpanded) {
  StatusOr<std::vector<json>> docs = YamlDocumentsToJson("a: &x [1, 2]\nb: *x\n");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  EXPECT_EQ((*docs)[0]["b"], json({1, 2}));
}

}  // namespace
}  // namespace gatehouse::policy
