// SecretStore lookups (namespace-confined, value-free messages), Secret
// documents (data vs stringData) and strict base64.
#include "proxy/policy/secret_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace gatehouse::policy {
namespace {

using nlohmann::json;

TEST(SecretStoreTest, LookupIsConfinedToNamespaceAndNamesWhatIsMissing) {
  SecretStore store;
  ASSERT_TRUE(store.Add("analytics", "jwt", {{"secret", "hunter2-value"}}));
  EXPECT_FALSE(store.Add("analytics", "jwt", {}));  // first definition stays
  StatusOr<std::string> ok = store.Lookup("analytics", {"jwt", "secret"});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, "hunter2-value");
  StatusOr<std::string> other_ns = store.Lookup("web", {"jwt", "secret"});
  ASSERT_FALSE(other_ns.ok());
  EXPECT_EQ(other_ns.status().message(), "Secret web/jwt not found");
  StatusOr<std::string> no_key = store.Lookup("analytics", {"jwt", "token"});
  ASSERT_FALSE(no_key.ok());
  EXPECT_EQ(no_key.status().message(), "Secret analytics/jwt has no key 'token'");
  EXPECT_THAT(no_key.status().message(), testing::Not(testing::HasSubstr("hunter2")));
}

TEST(SecretStoreTest, Base64IsStrict) {
  struct Case {
    std::string name;
    std::string text;
    bool ok;
    std::string decoded;
  };
  std::vector<Case> cases = {
      {"empty", "", true, ""},
      {"one byte", "YQ==", true, "a"},
      {"two bytes", "YWI=", true, "ab"},
      {"three bytes", "YWJj", true, "abc"},
      {"binary", "AP8=", true, std::string("\x00\xff", 2)},
      {"missing padding", "YQ", false, ""},
      {"whitespace", "YW Jj", false, ""},
      {"newline", "YWJj\n", false, ""},
      {"url alphabet", "-_8=", false, ""},
      {"padding in middle", "YQ==YQ==", false, ""},
      {"non-zero pad bits", "YR==", false, ""},
      {"three pads", "Y===", false, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    StatusOr<std::string> got = DecodeBase64Strict(c.text);
    ASSERT_EQ(got.ok(), c.ok) << got.status().ToString();
    if (c.ok) {
      EXPECT_EQ(*got, c.decoded);
      EXPECT_EQ(EncodeBase64(*got), c.text);
    }
  }
}

struct SecretCase {
  std::string name;
  json object;
  std::vector<std::string> error_fields;  // empty: valid
  SecretData data;
};

TEST(SecretStoreTest, ParseSecretObject) {
  json base = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", "s"}}}};
  auto with = [&](json extra) {
    json o = base;
    o.update(extra);
    return o;
  };
  std::vector<SecretCase> cases = {
      {"data decoded", with({{"data", {{"k", "dmFsdWU="}}}}), {}, {{"k", "value"}}},
      {"stringData wins over data",
       with({{"data", {{"k", "b2xk"}, {"j", "ag=="}}}, {"stringData", {{"k", "new"}}}}),
       {},
       {{"k", "new"}, {"j", "j"}}},
      {"bad base64", with({{"data", {{"k", "not base64!"}}}}), {"data[k]"}, {}},
      {"bad key", with({{"stringData", {{"a/b", "x"}}}}), {"stringData[a/b]"}, {}},
      {"value not a string", with({{"stringData", {{"k", 5}}}}), {"stringData[k]"}, {}},
      {"wrong apiVersion", with({{"apiVersion", "v2"}}), {"apiVersion"}, {}},
      {"unknown field", with({{"datta", json::object()}}), {"datta"}, {}},
      {"missing name", with({{"metadata", json::object()}}), {"metadata.name"}, {}},
      {"type accepted", with({{"type", "Opaque"}, {"stringData", {{"k", "v"}}}}), {}, {{"k", "v"}}},
  };
  for (const SecretCase& c : cases) {
    SCOPED_TRACE(c.name);
    validation::Issues issues;
    std::optional<ParsedSecret> got = ParseSecretObject(c.object, &issues);
    std::vector<std::string> fields;
    for (const auto& i : issues.list()) {
      fields.push_back(i.field);
      EXPECT_THAT(i.message, testing::Not(testing::HasSubstr("not base64!")));
    }
    EXPECT_EQ(fields, c.error_fields);
    EXPECT_EQ(got.has_value(), c.error_fields.empty());
    if (got) {
      EXPECT_EQ(got->data, c.data);
      EXPECT_EQ(got->namespace_name, "default");
    }
  }
}

}  // namespace
}  // namespace gatehouse::policy
