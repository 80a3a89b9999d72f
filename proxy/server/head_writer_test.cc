// HeadWriter: heads come out byte-exact, chunk sizes in hex, and no field
// that could break the next hop's framing is ever written.
#include "proxy/server/head_writer.h"
#include "proxy/server/request_head_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace gatehouse::server {
namespace {

struct FieldCase {
  std::string name;
  std::string value;
  bool writable;
};

const UpstreamRequestLine kLine{"/base/api/x?y=1", "up.test:3000"};

TEST(HeadWriterTest, WritesRequestHeadInFieldOrderWithTheRelaysLine) {
  RequestHead head;
  head.method(http::verb::post);
  head.target("/api/x?y=1");
  head.version(10);  // the upstream always gets HTTP/1.1
  head.set(http::field::host, "client-sent.test");
  head.insert("X-Forwarded-User", "alice");
  head.insert("X-Forwarded-User", "second copy kept in order");
  head.set(http::field::content_length, "5");
  std::string out = "stale";
  out.clear();
  ASSERT_TRUE(AppendRequestHead(out, head, kLine, AddedFields()));
  EXPECT_EQ(out,
            "POST /base/api/x?y=1 HTTP/1.1\r\nHost: up.test:3000\r\nX-Forwarded-User: alice\r\n"
            "X-Forwarded-User: second copy kept in order\r\nContent-Length: 5\r\n\r\n");
}

// A parsed head's own fields were checked by the parser and go out as they
// came; a field set afterwards in code is checked like any other, even under
// the name of a parsed one.
TEST(HeadWriterTest, FieldsSetAfterParsingAreCheckedAgain) {
  const std::string bytes = "GET /x HTTP/1.1\r\nHost: a\r\nX-A: one\ttab\r\nX-B: 2\r\n\r\n";
  RequestHead head;
  ASSERT_EQ(ParseRequestHead(bytes, {}, head).status, HeadStatus::kComplete);
  for (const auto& field : head) EXPECT_TRUE(field.parsed()) << field.name_string();
  std::string out;
  ASSERT_TRUE(AppendRequestHead(out, head, kLine, AddedFields()));
  EXPECT_EQ(out, "GET /base/api/x?y=1 HTTP/1.1\r\nHost: up.test:3000\r\nX-A: one\ttab\r\n"
                 "X-B: 2\r\n\r\n");
  head.set("X-A", "alice\r\nX-Forwarded-User: admin");
  EXPECT_FALSE(head.find("X-A")->parsed());
  out.clear();
  EXPECT_FALSE(AppendRequestHead(out, head, kLine, AddedFields()));
  head.set("X-A", "clean");
  head.insert("Bad Name", "v");
  out.clear();
  EXPECT_FALSE(AppendRequestHead(out, head, kLine, AddedFields()));
}

TEST(HeadWriterTest, ReframesAChunkedBodyAndKeepsUnknownMethods) {
  RequestHead head;
  head.method_string("PURGE");
  head.target("/");
  head.insert(http::field::transfer_encoding, "gzip, chunked");  // the client's: never sent
  std::string out;
  ASSERT_TRUE(AppendRequestHead(out, head, {"/", "up", true}, AddedFields()));
  EXPECT_EQ(out, "PURGE / HTTP/1.1\r\nHost: up\r\nTransfer-Encoding: chunked\r\n\r\n");
}

// Each scenario tries to make a field carry a second header or a second
// message to the next hop; only clean fields are written.
TEST(HeadWriterTest, RefusesFieldsThatWouldBreakFraming) {
  const std::vector<FieldCase> cases = {
      {"X-Ok", "plain value with\ttab and obs-text \xe9", true},
      {"X-Injected", "alice\r\nX-Forwarded-Groups: admins", false},
      {"X-Bare-Lf", "alice\nX-Evil: 1", false},
      {"X-Bare-Cr", "alice\rX-Evil: 1", false},
      {"X-Nul", std::string("alice\0evil", 10), false},
      {"X-Del", "alice\x7f", false},
      {"Bad Name", "value", false},
      {"Bad:Name", "value", false},
      {"X-Long-Clean", std::string(1000, 'a'), true},
      {"X-Long-Dirty", std::string(999, 'a') + "\n", false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    RequestHead head;
    head.method(http::verb::get);
    head.target("/");
    head.insert(c.name, c.value);
    std::string out;
    EXPECT_EQ(AppendRequestHead(out, head, kLine, AddedFields()), c.writable);
    // The relay's own Host value is checked as strictly.
    RequestHead plain;
    plain.method(http::verb::get);
    out.clear();
    EXPECT_EQ(AppendRequestHead(out, plain, {"/", c.value}, AddedFields()),
              c.writable || !IsHttpToken(c.name));
  }
}

TEST(HeadWriterTest, RefusesUnsafeRequestLine) {
  const std::vector<std::string> targets = {"/a b", "/a\r\nHost: evil", "/a\tb",
                                            std::string("/a\0", 3), ""};
  RequestHead head;
  head.method(http::verb::get);
  for (const auto& target : targets) {
    std::string out;
    EXPECT_FALSE(AppendRequestHead(out, head, {target, "up"}, AddedFields())) << target;
  }
  RequestHead method;
  method.method_string("GET /x HTTP/1.1\r\n");
  std::string out;
  EXPECT_FALSE(AppendRequestHead(out, method, kLine, AddedFields()));
}

TEST(HeadWriterTest, AddedFieldsFollowTheRequestsOwn) {
  RequestHead head;
  head.method(http::verb::get);
  head.target("/a");
  head.version(11);
  head.set(http::field::accept, "*/*");
  AddedFields added;
  ASSERT_TRUE(added.Add("X-Forwarded-For", "10.0.0.1"));
  ASSERT_TRUE(added.Add("X-Request-Id", "abc"));
  std::string out;
  ASSERT_TRUE(AppendRequestHead(out, head, {"/a", "up.test"}, added));
  EXPECT_EQ(out,
            "GET /a HTTP/1.1\r\nHost: up.test\r\nAccept: */*\r\nX-Forwarded-For: 10.0.0.1\r\n"
            "X-Request-Id: abc\r\n\r\n");
  EXPECT_EQ(added.Find("x-request-id"), "abc");
  EXPECT_EQ(added.Find("X-REQUEST-ID"), "abc");
  EXPECT_FALSE(added.Find("X-Request-I"));
}

TEST(AddedFieldsTest, RefusesWhatWouldBreakFramingOrDoubleAName) {
  // Security: a claim value is attacker-influenced; an added line must never
  // carry a second header or message, and each name gets one value.
  const std::vector<FieldCase> cases = {
      {"X-Forwarded-User", "alice", true},
      {"X-Forwarded-User", "alice\r\nX-Admin: 1", false},
      {"X-Forwarded-User", "alice\nX-Admin: 1", false},
      {"X-Forwarded-User", "alice\rX-Admin: 1", false},
      {"X-Forwarded-User", std::string("a\0b", 3), false},
      {"X-Forwarded-User", "a\x7f", false},
      {"X-Forwarded-User", "j\xc3\xa9r\xc3\xb4me", false},
      {"X-Forwarded-User", "tab\tinside", false},
      {"X-Forwarded-User", "ok ~!\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}", true},
      {"X-Forwarded-User", "sixteen bytes ok" + std::string("\r"), false},  // in the tail
      {"X-Forwarded-User", std::string("\x1f") + "first of a word", false},
      {"X-Forwarded-User", "seven b\x80 in a word", false},
      {"X-Forwarded-User", "0123456\x7f", false},
      {"X-Forwarded User", "v", false},
      {"X-Forwarded-User:", "v", false},
      {"", "v", false},
      {"X-Forwarded-User\r\nX-Admin", "v", false},
  };
  for (const FieldCase& c : cases) {
    SCOPED_TRACE(c.name + " = " + c.value);
    AddedFields added;
    EXPECT_EQ(added.Add(c.name, c.value), c.writable);
    if (!c.writable) {
      EXPECT_TRUE(added.empty()) << "nothing written when refused";
    }
  }
  AddedFields added;
  ASSERT_TRUE(added.Add("X-Forwarded-User", "alice"));
  EXPECT_FALSE(added.Add("x-forwarded-user", "mallory")) << "a second value for the name";
  EXPECT_FALSE(added.Add("X-FORWARDED-USER", "mallory"));
  EXPECT_EQ(added.text(), "X-Forwarded-User: alice\r\n");
  ASSERT_TRUE(added.Add("X-Forwarded-Userx", "other"));  // a different name
  EXPECT_EQ(added.Find("X-Forwarded-User"), "alice");
  EXPECT_EQ(added.Find("X-Forwarded-Userx"), "other");
  // Bounded: a 17th name or a value past 16 KiB in all is refused.
  AddedFields many;
  for (std::size_t i = 0; i < AddedFields::kMaxFields; ++i) {
    ASSERT_TRUE(many.Add("X-N" + std::to_string(i), "v"));
  }
  EXPECT_FALSE(many.Add("X-One-Too-Many", "v"));
  AddedFields big;
  EXPECT_FALSE(big.Add("X-Big", std::string(AddedFields::kMaxBytes, 'a')));
  EXPECT_TRUE(big.empty());
}

TEST(HeadWriterTest, ChunkSizesAreLowercaseHex) {
  const std::vector<std::pair<std::size_t, std::string>> cases = {
      {1, "1\r\n"}, {15, "f\r\n"}, {16, "10\r\n"}, {65536, "10000\r\n"}, {0xabcdef, "abcdef\r\n"}};
  for (const auto& [size, text] : cases) {
    std::string out = "x";
    AppendChunkSize(out, size);
    EXPECT_EQ(out, "x" + text);
  }
  EXPECT_EQ(kLastChunk, "0\r\n\r\n");
}

}  // namespace
}  // namespace gatehouse::server
