// Hop-by-hop stripping and WebSocket upgrade detection: every hop-by-hop
// field and every field Connection names goes, in any casing and repetition;
// the fields that frame or route the message stay.
#include "proxy/server/hop_by_hop.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace gatehouse::server {
namespace {

TEST(StripHopByHopHeadersTest, RemovesHopByHopAndNamedFields) {
  http::fields fields;
  fields.insert(http::field::connection, "keep-alive, X-Hop, host, Content-Length");
  fields.insert(http::field::connection, "x-other-hop");
  fields.insert("X-Hop", "1");
  fields.insert("X-Other-Hop", "2");
  fields.insert(http::field::keep_alive, "timeout=5");
  fields.insert(http::field::te, "trailers");
  fields.insert(http::field::trailer, "X");
  fields.insert(http::field::transfer_encoding, "chunked");
  fields.insert(http::field::upgrade, "h2c");
  fields.insert(http::field::proxy_authorization, "Basic x");
  fields.insert("Proxy-Connection", "keep-alive");
  fields.insert(http::field::host, "a");
  fields.insert(http::field::content_length, "3");
  fields.insert("X-End-To-End", "kept");
  StripHopByHopHeaders(fields, false);
  std::vector<std::string> left;
  for (const auto& f : fields) left.emplace_back(f.name_string());
  EXPECT_EQ(left, (std::vector<std::string>{"Host", "Content-Length", "X-End-To-End"}));
}

// Every hop-by-hop field, and every field Connection names, goes whatever
// its casing, however often it repeats and wherever it sits in the list.
TEST(StripHopByHopHeadersTest, RemovesEveryCasingAndRepetition) {
  struct Case {
    std::string name;
    std::vector<std::pair<std::string, std::string>> in;
    std::vector<std::string> left;
  };
  const std::vector<Case> cases = {
      {"fixed hop-by-hop names, odd casing, repeated",
       {{"X-A", "1"},
        {"KEEP-ALIVE", "a"},
        {"keep-alive", "b"},
        {"te", "trailers"},
        {"Te", "gzip"},
        {"TRAILER", "x"},
        {"transfer-ENCODING", "chunked"},
        {"Transfer-Encoding", "gzip"},
        {"proxy-connection", "close"},
        {"PROXY-CONNECTION", "keep-alive"},
        {"Proxy-Authorization", "Basic a"},
        {"proxy-authorization", "Basic b"},
        {"UPGRADE", "h2c"},
        {"upgrade", "websocket"},
        {"X-B", "2"}},
       {"X-A", "X-B"}},
      {"Connection in every casing, repeated, naming fields in other casings",
       {{"CONNECTION", "X-Hop-One"},
        {"X-HOP-ONE", "1"},
        {"x-hop-one", "2"},
        {"connection", "x-hop-two,  X-Hop-Three "},
        {"X-Hop-Two", "3"},
        {"Accept", "*/*"},
        {"x-HOP-three", "4"},
        {"Connection", "close"}},
       {"Accept"}},
      {"Connection naming a known field and its own framing fields",
       {{"Connection", "Accept, HOST, content-length, Transfer-Encoding, upgrade, connection"},
        {"Accept", "*/*"},
        {"Host", "a"},
        {"Content-Length", "0"},
        {"Cookie", "c"}},
       {"Host", "Content-Length", "Cookie"}},
      {"nothing hop-by-hop: order and fields kept",
       {{"Host", "a"}, {"X-Keep", "1"}, {"Accept", "*/*"}},
       {"Host", "X-Keep", "Accept"}},
      {"empty list", {}, {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    http::fields fields;
    for (const auto& [name, value] : c.in) fields.insert(name, value);
    StripHopByHopHeaders(fields, false);
    std::vector<std::string> left;
    for (const auto& f : fields) left.emplace_back(f.name_string());
    EXPECT_EQ(left, c.left);
  }
}

// More than 16 names in Connection: the first 16 go, the rest stay (they are
// ordinary end-to-end fields then), and nothing crashes.
TEST(StripHopByHopHeadersTest, ManyConnectionNamesBounded) {
  http::fields fields;
  std::string connection;
  for (int i = 0; i < 20; ++i) {
    connection += (i ? ", x-n" : "x-n") + std::to_string(i);
    fields.insert("X-N" + std::to_string(i), "v");
  }
  fields.insert(http::field::connection, connection);
  StripHopByHopHeaders(fields, false);
  std::vector<std::string> left;
  for (const auto& f : fields) left.emplace_back(f.name_string());
  EXPECT_EQ(left, (std::vector<std::string>{"X-N16", "X-N17", "X-N18", "X-N19"}));
}

TEST(StripHopByHopHeadersTest, KeepsWebSocketUpgrade) {
  http::fields fields;
  fields.insert(http::field::connection, "keep-alive, Upgrade");
  fields.insert(http::field::upgrade, "websocket");
  fields.insert(http::field::sec_websocket_key, "k");
  ASSERT_TRUE(IsWebSocketUpgrade(fields));
  StripHopByHopHeaders(fields, true);
  EXPECT_EQ(fields[http::field::connection], "Upgrade");
  EXPECT_EQ(fields[http::field::upgrade], "websocket");
  EXPECT_EQ(fields[http::field::sec_websocket_key], "k");
}

TEST(IsWebSocketUpgradeTest, Table) {
  struct Case {
    std::string name, connection, upgrade;
    bool expected;
  };
  const std::vector<Case> cases = {
      {"websocket", "Upgrade", "websocket", true},
      {"token list", "keep-alive, upgrade", "WebSocket", true},
      {"no connection token", "keep-alive", "websocket", false},
      {"h2c", "Upgrade", "h2c", false},
      {"no upgrade", "Upgrade", "", false},
  };
  for (const auto& c : cases) {
    http::fields fields;
    fields.insert(http::field::connection, c.connection);
    if (!c.upgrade.empty()) fields.insert(http::field::upgrade, c.upgrade);
    EXPECT_EQ(IsWebSocketUpgrade(fields), c.expected) << c.name;
  }
}

}  // namespace
}  // namespace gatehouse::server
