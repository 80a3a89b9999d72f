#include "proxy/auth/url_codec.h"

#include <gtest/gtest.h>

namespace gatehouse::auth {
namespace {

TEST(PercentEncode, KeepsUnreservedOnly) {
  EXPECT_EQ(PercentEncode("aZ09-._~"), "aZ09-._~");
  EXPECT_EQ(PercentEncode("a b/c?d=e&f+g"), "a%20b%2Fc%3Fd%3De%26f%2Bg");
  EXPECT_EQ(PercentEncode(std::string("\x00\xff", 2)), "%00%FF");
}

TEST(PercentDecode, Table) {
  struct Row {
    std::string name, in;
    bool plus;
    bool ok;
    std::string out;
  };
  const std::vector<Row> rows = {
      {"plain", "abc", false, true, "abc"},     {"escape", "a%2Fb%2f", false, true, "a/b/"},
      {"plus kept", "a+b", false, true, "a+b"}, {"plus as space", "a+b", true, true, "a b"},
      {"truncated", "a%2", false, false, ""},   {"at end", "a%", false, false, ""},
      {"not hex", "%zz", false, false, ""},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(r.name);
    StatusOr<std::string> got = PercentDecode(r.in, r.plus);
    ASSERT_EQ(got.ok(), r.ok);
    if (r.ok) {
      EXPECT_EQ(*got, r.out);
    }
  }
}

TEST(QueryParam, FindsDecodesAndRefusesDuplicates) {
  auto v = QueryParam("code=a%2Bb&state=x+y", "code");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->value(), "a+b");
  EXPECT_EQ(QueryParam("code=a&state=x+y", "state")->value(), "x y");
  EXPECT_FALSE(QueryParam("code=a", "state")->has_value());
  EXPECT_EQ(QueryParam("flag&x=1", "flag")->value(), "");
  EXPECT_FALSE(QueryParam("state=a&state=b", "state").ok());
  EXPECT_FALSE(QueryParam("st%61te=a&state=b", "state").ok());  // encoded name is the same name
  EXPECT_FALSE(QueryParam("state=%zz", "state").ok());
}

}  // namespace
}  // namespace gatehouse::auth
