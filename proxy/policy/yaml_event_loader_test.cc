// The libyaml event loader: aliases and anchors, mapping-key rules, error
// precedence and the bounds that keep hostile input cheap.
#include "proxy/policy/yaml_event_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace gatehouse::policy {
namespace {

using nlohmann::json;

struct LoadCase {
  std::string name;
  std::string yaml;
  std::vector<json> expected;  // when message_part is empty
  std::string message_part;    // expected error, "" for success
  YamlLimits limits;
};

void CheckLoad(const LoadCase& c) {
  SCOPED_TRACE(c.name);
  StatusOr<std::vector<json>> docs = LoadYamlDocuments(c.yaml, c.limits);
  if (c.message_part.empty()) {
    ASSERT_TRUE(docs.ok()) << docs.status().ToString();
    EXPECT_EQ(*docs, c.expected);
    return;
  }
  ASSERT_FALSE(docs.ok()) << json(*docs).dump();
  EXPECT_THAT(docs.status().message(), testing::HasSubstr(c.message_part));
}

TEST(YamlEventLoaderTest, AnchorsAndAliases) {
  std::vector<LoadCase> cases = {
      {"alias copies a mapping",
       "a: &x {b: 1}\nc: *x\n",
       {json{{"a", {{"b", 1}}}, {"c", {{"b", 1}}}}}},
      {"anchored key reused as a typed value", "&k 12: a\nb: *k\n", {json{{"12", "a"}, {"b", 12}}}},
      {"alias as a key", "a: &k name\n*k : v\n", {json{{"a", "name"}, {"name", "v"}}}},
      {"alias key duplicates a key",
       "&k a: 1\n*k : 2\n",
       {},
       "mapping key 'a' appears more than once"},
      {"alias to a null is no key", "a: &n\n*n : v\n", {}, "a mapping key is not a scalar"},
      {"alias of a mapping is no key", "a: &m {b: 1}\n? *m\n: v\n", {}, "not a scalar"},
      {"merge key is an ordinary key",
       "a: &x {b: 1}\nc: {<<: *x}\n",
       {json{{"a", {{"b", 1}}}, {"c", {{"<<", {{"b", 1}}}}}}}},
      {"undefined alias is a syntax error with its position",
       "a: 1\nb: *nope\n",
       {},
       "YAML syntax error at line 2, column 4: the referenced anchor is not defined"},
      {"anchors do not cross documents", "a: &x 1\n---\nb: *x\n", {}, "anchor is not defined"},
      {"undefined alias after another problem still wins",
       "a: 1\na: 2\n---\nb: *nope\n",
       {},
       "anchor is not defined"},
      {"alias inside its own anchor is a cycle", "a: &x [1, *x]\n", {}, "nested deeper than 32"},
      {"redefined anchor: the latest wins",
       "a: &x 1\nb: &x 2\nc: *x\n",
       {json{{"a", 1}, {"b", 2}, {"c", 2}}}},
      {"expanded alias counts its nodes",
       "a: &x [1, 2, 3]\nb: [*x, *x]\n",
       {},
       "more than 8 nodes",
       {.max_nodes = 8}},
      {"expanded alias counts its depth",
       "a: &x [[[1]]]\nb: [[*x]]\n",
       {},
       "nested deeper than 4",
       {.max_depth = 4}},
      {"an untypable anchored key fails only as a value",
       "&k !!int x: 1\nb: *k\n",
       {},
       "does not match its explicit YAML tag"},
  };
  for (const LoadCase& c : cases) CheckLoad(c);
}

TEST(YamlEventLoaderTest, KeysTagsAndScalars) {
  std::vector<LoadCase> cases = {
      {"null key", "~: 1\n", {}, "a mapping key is not a scalar"},
      {"null word key", "null: 1\n", {}, "a mapping key is not a scalar"},
      {"quoted null key is a string", "'null': 1\n", {json{{"null", 1}}}},
      {"sequence key", "? [a]\n: b\n", {}, "a mapping key is not a scalar"},
      {"key longer than 256 bytes", std::string(257, 'k') + ": 1\n", {}, "longer than 256 bytes"},
      {"tags on collections are ignored",
       "a: !!map {b: 1}\nc: !!seq [1]\n",
       {json{{"a", {{"b", 1}}}, {"c", {1}}}}},
      {"explicit str tag on a null word", "a: !!str ~\n", {json{{"a", "~"}}}},
      {"non-specific tag makes a string", "a: ! 12\n", {json{{"a", "12"}}}},
      {"bare non-specific tag", "a: !\n", {}, "does not match its explicit YAML tag"},
      {"verbatim core tag", "a: !<tag:yaml.org,2002:int> '7'\n", {json{{"a", 7}}}},
      {"custom tag via %TAG",
       "%TAG !e! tag:example.com,2000:\n---\na: !e!x 1\n",
       {},
       "unsupported YAML tag"},
      {"NEL escape is valid UTF-8", "a: \"x\\Ny\"\n", {json{{"a", "x\xc2\x85y"}}}},
      {"block scalars are strings",
       "a: |\n  12\nb: >-\n  true\n",
       {json{{"a", "12\n"}, {"b", "true"}}}},
      {"empty documents are null", "---\n---\na: 1\n", {json(nullptr), json{{"a", 1}}}},
      {"no documents", "# only a comment\n", {}},
  };
  for (const LoadCase& c : cases) CheckLoad(c);
}

TEST(YamlEventLoaderTest, ErrorPrecedenceAndBounds) {
  std::string many_docs;
  for (int i = 0; i < 5; ++i) many_docs += "---\na: 1\na: 2\n";
  std::string depth_bomb(1 << 20, '[');  // a megabyte of '[': stopped at depth 33
  std::vector<LoadCase> cases = {
      {"a later syntax error beats an earlier duplicate key",
       "a: 1\na: 2\n---\nb: [\n",
       {},
       "YAML syntax error at line"},
      {"too many documents beats a duplicate key",
       many_docs,
       {},
       "more than 3 documents",
       {.max_documents = 3}},
      {"first problem names its document",
       "a: 1\n---\nb: 1\nb: 2\n---\nc: [x, x, x]\n",
       {},
       "document 2: mapping key 'b' appears more than once"},
      {"depth bomb stops early", depth_bomb, {}, "nested deeper than 32"},
      {"long scalar", "a: " + std::string(70 * 1024, 'x') + "\n", {}, "longer than 65536 bytes"},
      {"syntax error message names where, not what",
       "token: sup3r-s3cret-value\n  bad: [\n",
       {},
       "YAML syntax error at line 2"},
  };
  for (const LoadCase& c : cases) CheckLoad(c);
}

// An error message never carries the document's values, tags or anchors (a
// duplicate key is named, printable and capped: keys are field names).
TEST(YamlEventLoaderTest, ErrorsDoNotEchoInput) {
  const std::vector<std::string> inputs = {
      "token: sup3r-s3cret-value\n  bad: [\n", "sup3r-s3cret-value: *sup3r\n",
      "a: !sup3r-s3cret-value x\n", "a: \"sup3r-s3cret-value\n"};
  for (const std::string& input : inputs) {
    SCOPED_TRACE(input);
    StatusOr<std::vector<json>> docs = LoadYamlDocuments(input, {});
    ASSERT_FALSE(docs.ok());
    EXPECT_THAT(docs.status().message(), testing::Not(testing::HasSubstr("s3cret")));
  }
}

}  // namespace
}  // namespace gatehouse::policy
