// RequestHead: lookups as Beast's basic_fields answers them, and views that
// stay valid whatever is appended, copied, moved or parsed.
#include "proxy/server/request_head.h"

#include <gtest/gtest.h>

#include <boost/beast/http/fields.hpp>
#include <optional>
#include <string>
#include <vector>

#include "proxy/server/request_head_parser.h"

namespace gatehouse::server {
namespace {

namespace http = boost::beast::http;

std::vector<std::string> Lines(const RequestHead& head) {
  std::vector<std::string> lines;
  for (const auto& f : head)
    lines.push_back(std::string(f.name_string()) + ": " + std::string(f.value()));
  return lines;
}

RequestHead Parsed(const std::string& bytes) {
  RequestHead head;
  const RequestHeadResult parsed = ParseRequestHead(bytes, {}, head);
  EXPECT_EQ(parsed.status, HeadStatus::kComplete) << bytes;
  return head;
}

TEST(RequestHeadTest, LookupsMatchBeastsFields) {
  // The same edits on both; every lookup must agree, known names and unknown.
  RequestHead head;
  http::fields beast;
  const std::vector<std::pair<std::string, std::string>> sent = {
      {"Host", "a"},     {"x-custom", "1"},          {"X-CUSTOM", "2"},
      {"cookie", "c=1"}, {"COOKIE", "d=2"},          {"X-Other", ""},
      {"accept", "*/*"}, {"X_Custom", "underscore"}, {"Content-Length", "0"}};
  for (const auto& [name, value] : sent) {
    head.insert(name, value);
    beast.insert(name, value);
  }
  head.set("x-other", "set");
  beast.set("x-other", "set");
  head.erase(http::field::accept);
  beast.erase(http::field::accept);
  for (std::string name : {"host", "X-Custom", "x_custom", "Cookie", "x-other", "accept",
                           "content-length", "absent"}) {
    EXPECT_EQ(head.count(name), beast.count(name)) << name;
    EXPECT_EQ(head[name], std::string(beast[name])) << name;
  }
  EXPECT_EQ(head.count(http::field::cookie), 2u);
  EXPECT_EQ(head[http::field::cookie], "c=1");
  EXPECT_EQ(head.count(http::field::unknown), 0u) << "unknown names are never one field";
  std::vector<std::string> beast_lines;
  for (const auto& f : beast) {
    beast_lines.push_back(std::string(f.name_string()) + ": " + std::string(f.value()));
  }
  EXPECT_EQ(Lines(head), beast_lines) << "order and spelling as Beast keeps them";
}

TEST(RequestHeadTest, TheNameDecidesTheEnum) {
  // A caller's enum that disagrees with the name would let a lookup by enum
  // (the strip pass) miss a field the writer sends under that name.
  RequestHead head;
  head.insert(http::field::accept, "x-forwarded-user", "mallory");
  ASSERT_EQ(head.size(), 1u);
  EXPECT_EQ(head.begin()->name(), http::field::unknown);
  EXPECT_EQ(head.count(http::field::accept), 0u);
  EXPECT_EQ(head["X-Forwarded-User"], "mallory");
  head.insert("AUTHORIZATION", "Bearer t");
  EXPECT_EQ(head.count(http::field::authorization), 1u);
}

TEST(RequestHeadTest, EraseByIteratorReturnsTheNext) {
  RequestHead head = Parsed("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nX-B: 2\r\nX-A: 3\r\n\r\n");
  for (auto it = head.begin(); it != head.end();) {
    it = it->name_string() == "X-A" ? head.erase(it) : it + 1;
  }
  EXPECT_EQ(Lines(head), (std::vector<std::string>{"Host: a", "X-B: 2"}));
  EXPECT_EQ(head.erase("x-b"), 1u);
  EXPECT_EQ(head.erase(http::field::host), 1u);
  EXPECT_TRUE(head.empty());
}

TEST(RequestHeadTest, ValuesSetFromTheHeadItselfSurviveGrowth) {
  // set() and insert() copy their arguments; an argument viewing into the
  // head's own bytes must be read before those bytes move.
  RequestHead head =
      Parsed("GET /t HTTP/1.1\r\nHost: h\r\nX-Long: " + std::string(300, 'v') + "\r\n\r\n");
  const std::string long_value(300, 'v');
  for (int i = 0; i < 20; ++i) {
    head.insert("X-Copy-" + std::to_string(i), head["X-Long"]);  // grows the bytes more than once
    head.set(http::field::host, head[http::field::host]);
    head.target(head.target());
  }
  EXPECT_EQ(head["X-Copy-19"], long_value);
  EXPECT_EQ(head["X-Copy-0"], long_value);
  EXPECT_EQ(head[http::field::host], "h");
  EXPECT_EQ(head.count(http::field::host), 1u);
  EXPECT_EQ(head.target(), "/t");
  EXPECT_EQ(head.method(), http::verb::get);
  EXPECT_EQ(head.method_string(), "GET");
}

TEST(RequestHeadTest, ParsedHeadOwnsItsBytes) {
  std::string bytes =
      "PATCH /a?b=1 HTTP/1.0\r\nHost: app\r\nAuthorization: Bearer x.y.z\r\nX-Y: z\r\n\r\nbody";
  RequestHead head;
  ASSERT_EQ(ParseRequestHead(bytes, {}, head).status, HeadStatus::kComplete);
  bytes.assign(bytes.size(), '#');  // the read buffer is reused
  EXPECT_EQ(head.method(), http::verb::patch);
  EXPECT_EQ(head.method_string(), "PATCH");
  EXPECT_EQ(head.target(), "/a?b=1");
  EXPECT_EQ(head.version(), 10u);
  EXPECT_EQ(Lines(head),
            (std::vector<std::string>{"Host: app", "Authorization: Bearer x.y.z", "X-Y: z"}));
}

TEST(RequestHeadTest, AnIncompleteOrRefusedParseLeavesNothing) {
  RequestHead head = Parsed("GET / HTTP/1.1\r\nHost: old\r\n\r\n");
  std::string partial = "GET /new HTTP/1.1\r\nHost: new\r\nX-Half: ";
  EXPECT_EQ(ParseRequestHead(partial, {}, head).status, HeadStatus::kIncomplete);
  EXPECT_TRUE(head.empty());
  EXPECT_EQ(head.target(), "");
  std::string refused = "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n";
  EXPECT_EQ(ParseRequestHead(refused, {}, head).status, HeadStatus::kRefused);
  EXPECT_TRUE(head.empty());
}

TEST(RequestHeadTest, CopiesLeaveTheArenaAndMovesKeepTheViews) {
  HeaderBlockPool pool;
  HeaderArena arena(pool);
  std::optional<RequestHead> copy;
  std::optional<RequestHead> moved;
  {
    std::string bytes = "GET /x HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\r\n";
    RequestHead head{HeaderAllocator<char>(&arena)};
    ASSERT_EQ(ParseRequestHead(bytes, {}, head).status, HeadStatus::kComplete);
    head.set("X-B", "2");
    EXPECT_TRUE(arena.holds_block());
    EXPECT_EQ(arena.heap_allocations(), 0u);
    copy.emplace(head);
    EXPECT_EQ(copy->get_allocator().arena(), nullptr);
    moved.emplace(std::move(head));
    EXPECT_TRUE(head.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
  }
  for (const RequestHead* h : {&*copy, &*moved}) {
    EXPECT_EQ(Lines(*h), (std::vector<std::string>{"Host: a", "X-A: 1", "X-B: 2"}));
    EXPECT_EQ(h->target(), "/x");
  }
  moved.reset();
  EXPECT_FALSE(arena.holds_block()) << "the last head from the arena is gone: the block is back";
  EXPECT_EQ(copy->target(), "/x");
  RequestHead assigned;
  assigned = *copy;
  copy.reset();
  EXPECT_EQ(Lines(assigned), (std::vector<std::string>{"Host: a", "X-A: 1", "X-B: 2"}));
}

}  // namespace
}  // namespace gatehouse::server
