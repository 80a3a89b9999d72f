// ParseResponseHead and AppendRelayedResponseHead: how an upstream's head is
// read, what is refused (response splitting, desynchronising framing), what
// is dropped on the way to the client, and a differential test against
// Beast's response parser on mutated heads.
#include "proxy/server/response_head.h"

#include <gtest/gtest.h>

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <cctype>
#include <random>
#include <string>
#include <vector>

#include "proxy/server/head_scan.h"

namespace gatehouse::server {
namespace {

constexpr std::size_t kMaxBytes = 64 * 1024;

struct Parsed {
  HeadStatus status;
  ResponseHead head;
  std::vector<ResponseField> fields;
};

Parsed Parse(std::string_view bytes, std::size_t max_bytes = kMaxBytes) {
  Parsed parsed;
  parsed.status = ParseResponseHead(bytes, max_bytes, parsed.fields, parsed.head);
  return parsed;
}

std::string Relay(const std::string& bytes, const RelayedHeadOptions& options = {}) {
  const Parsed parsed = Parse(bytes);
  EXPECT_EQ(parsed.status, HeadStatus::kComplete) << bytes;
  std::string out;
  EXPECT_TRUE(AppendRelayedResponseHead(out, parsed.head, parsed.fields, options));
  return out;
}

TEST(ParseResponseHeadTest, ReadsStatusReasonFieldsAndFraming) {
  const std::string bytes =
      "HTTP/1.1 200 OK fine\r\nServer: nginx\r\nContent-Length:  12 \r\nX-A: a\tb\r\n\r\nbody";
  const Parsed parsed = Parse(bytes);
  ASSERT_EQ(parsed.status, HeadStatus::kComplete);
  EXPECT_EQ(parsed.head.head_bytes, bytes.size() - 4);
  EXPECT_EQ(parsed.head.version, 11u);
  EXPECT_EQ(parsed.head.status, 200u);
  EXPECT_EQ(parsed.head.reason, "OK fine");
  EXPECT_EQ(parsed.head.content_length, 12u);
  EXPECT_FALSE(parsed.head.chunked);
  EXPECT_FALSE(parsed.head.close_delimited);
  EXPECT_TRUE(parsed.head.keep_alive);
  ASSERT_EQ(parsed.fields.size(), 3u);
  EXPECT_EQ(parsed.fields[1].kind, RelayField::kContentLength);
  EXPECT_EQ(parsed.fields[1].value, "12");
  EXPECT_EQ(parsed.fields[2].name, "X-A");
  EXPECT_EQ(parsed.fields[2].value, "a\tb");
}

struct FramingCase {
  std::string name;
  std::string head;
  std::optional<uint64_t> content_length;
  bool chunked = false;
  bool close_delimited = false;
  bool keep_alive = true;
};

TEST(ParseResponseHeadTest, Framing) {
  const std::vector<FramingCase> cases = {
      {"length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 5},
      {"repeated equal lengths",
       "HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n", 5},
      {"listed equal lengths", "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n", 5},
      {"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", std::nullopt, true},
      {"gzip then chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
       std::nullopt, true},
      {"gzip only: until close", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", std::nullopt,
       false, true},
      {"no length: until close", "HTTP/1.1 200 OK\r\n\r\n", std::nullopt, false, true},
      {"close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 0, false,
       false, false},
      {"1.0 default", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", 1, false, false, false},
      {"1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n",
       1},
      {"no reason", "HTTP/1.1 204\r\n\r\n", std::nullopt, false, true},
      {"empty reason", "HTTP/1.1 204 \r\n\r\n", std::nullopt, false, true},
  };
  for (const auto& c : cases) {
    const Parsed parsed = Parse(c.head);
    ASSERT_EQ(parsed.status, HeadStatus::kComplete) << c.name;
    EXPECT_EQ(parsed.head.content_length, c.content_length) << c.name;
    EXPECT_EQ(parsed.head.chunked, c.chunked) << c.name;
    EXPECT_EQ(parsed.head.close_delimited, c.close_delimited) << c.name;
    EXPECT_EQ(parsed.head.keep_alive, c.keep_alive) << c.name;
  }
}

TEST(ParseResponseHeadTest, RefusesWhatCouldBeReadTwoWays) {
  std::string many = "HTTP/1.1 200 OK\r\n";
  for (std::size_t i = 0; i <= kMaxResponseFields; ++i)
    many += "X-" + std::to_string(i) + ": v\r\n";
  std::string named = "HTTP/1.1 200 OK\r\nConnection: ";
  for (std::size_t i = 0; i <= kMaxConnectionNames; ++i) named += "x-" + std::to_string(i) + ",";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"differing lengths", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"},
      {"differing listed lengths", "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n"},
      {"signed length", "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n"},
      {"empty length", "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n"},
      {"TE with CL", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"},
      {"CL with TE", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"},
      {"chunked twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"},
      {"chunked not last",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n"},
      {"TE in 1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"},
      {"bad connection list", "HTTP/1.1 200 OK\r\nConnection: a b\r\n\r\n"},
      {"bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\n\n"},
      {"bare CR in value", "HTTP/1.1 200 OK\r\nX-A: 1\r2\r\n\r\n"},
      {"injected line", "HTTP/1.1 200 OK\r\nX-A: 1\nSet-Cookie: x\r\n\r\n"},
      {"NUL in value", std::string("HTTP/1.1 200 OK\r\nX-A: \0\r\n\r\n", 28)},
      {"control in reason", "HTTP/1.1 200 O\x01K\r\n\r\n"},
      {"obs-fold", "HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\n\r\n"},
      {"space before colon", "HTTP/1.1 200 OK\r\nX-A : 1\r\n\r\n"},
      {"HTTP/2", "HTTP/2.0 200 OK\r\n\r\n"},
      {"two-digit status", "HTTP/1.1 20 OK\r\n\r\n"},
      {"status below 100", "HTTP/1.1 099 OK\r\n\r\n"},
      {"no space after status", "HTTP/1.1 200OK\r\n\r\n"},
      {"not HTTP", "ICY 200 OK\r\n\r\n"},
      {"too many fields", many + "\r\n"},
      {"too many names in Connection", named + "\r\n\r\n"},
  };
  for (const auto& [name, bytes] : cases) {
    EXPECT_EQ(Parse(bytes).status, HeadStatus::kRefused) << name;
  }
}

TEST(ParseResponseHeadTest, PrefixesAskForMoreAndTheLimitHolds) {
  const std::string bytes =
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Long: " + std::string(100, 'v') + "\r\n\r\n";
  for (std::size_t size = 0; size < bytes.size(); ++size) {
    EXPECT_EQ(Parse(std::string_view(bytes).substr(0, size)).status, HeadStatus::kIncomplete)
        << size;
  }
  EXPECT_EQ(Parse(bytes, bytes.size()).status, HeadStatus::kComplete);
  EXPECT_EQ(Parse(bytes, bytes.size() - 1).status, HeadStatus::kRefused);
}

TEST(AppendRelayedResponseHeadTest, DropsHopByHopFieldsAndWhatConnectionNames) {
  const std::string bytes =
      "HTTP/1.1 200 OK\r\nServer: up\r\nConnection: keep-alive, X-Secret, Content-Length\r\n"
      "Keep-Alive: timeout=5\r\nX-Secret: s\r\nx-secret: t\r\nTE: trailers\r\nTrailer: X\r\n"
      "Upgrade: h2c\r\nProxy-Connection: x\r\nProxy-Authorization: y\r\nX-Request-Id: upstream\r\n"
      "Content-Length: 3\r\n\r\n";
  EXPECT_EQ(Relay(bytes, {.request_id = "gate-id"}),
            "HTTP/1.1 200 OK\r\nServer: up\r\nContent-Length: 3\r\nX-Request-Id: gate-id\r\n\r\n");
  // Without an id of the relay's own, the upstream's stays.
  EXPECT_EQ(Relay("HTTP/1.1 200 OK\r\nX-Request-Id: up\r\nContent-Length: 0\r\n\r\n"),
            "HTTP/1.1 200 OK\r\nX-Request-Id: up\r\nContent-Length: 0\r\n\r\n");
}

TEST(AppendRelayedResponseHeadTest, ReframesAndClosesAsAsked) {
  EXPECT_EQ(Relay("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                  {.chunked = true, .close = true}),
            "HTTP/1.1 200 OK\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n");
  EXPECT_EQ(Relay("HTTP/1.0 200 OK\r\n\r\n"), "HTTP/1.1 200 OK\r\n\r\n");
  EXPECT_EQ(
      Relay("HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\nConnection: upgrade\r\n"
            "Sec-WebSocket-Accept: abc\r\n\r\n",
            {.websocket = true}),
      "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: abc\r\n"
      "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
}

TEST(AppendRelayedResponseHeadTest, RefusesAnUnsafeRequestId) {
  const Parsed parsed = Parse("HTTP/1.1 204 No Content\r\n\r\n");
  std::string out;
  EXPECT_FALSE(AppendRelayedResponseHead(out, parsed.head, parsed.fields,
                                         {.request_id = "a\r\nSet-Cookie: x"}));
}

TEST(TokenEqualsTest, AgreesWithCaseInsensitiveCompareOnEveryTokenByte) {
  const std::string lower = "abcdefghijklmnopqrstuvwxyz0123456789-";
  for (int c = 0; c < 256; ++c) {
    if (!IsHttpToken(std::string(1, static_cast<char>(c)))) continue;
    for (char l : lower) {
      const bool expected = std::tolower(c) == l;
      // In every position of a long token too (the 8-byte steps).
      const std::string token = "content-" + std::string(1, static_cast<char>(c)) + "ength-x";
      const std::string literal = "content-" + std::string(1, l) + "ength-x";
      EXPECT_EQ(head_scan::TokenEquals(std::string(1, static_cast<char>(c)), std::string(1, l)),
                expected)
          << c << " " << l;
      EXPECT_EQ(head_scan::TokenEquals(token, literal), expected) << c << " " << l;
    }
  }
  EXPECT_TRUE(head_scan::TokenEquals("Transfer-ENCODING", "transfer-encoding"));
  EXPECT_FALSE(head_scan::TokenEquals("transfer-encodin", "transfer-encoding"));
}

// Never accepts a head Beast's parser refuses, and reads the framing of
// those both accept the same way.
TEST(ParseResponseHeadTest, NeverAcceptsWhatBeastRefuses) {
  const std::vector<std::string> seeds = {
      "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 12\r\nConnection: keep-alive\r\n\r\n",
      "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\nX-A: b\r\n\r\n",
      "HTTP/1.0 200 OK\r\nConnection: close\r\n\r\n",
      "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n",
  };
  static const std::string kInteresting("\r\n\t :,;\0\x7f\x80/HTc0-9", 17);
  std::mt19937 rng(11);
  int both = 0;
  for (int i = 0; i < 100'000; ++i) {
    std::string bytes = seeds[i % seeds.size()];
    for (int edit = 1 + static_cast<int>(rng() % 3); edit > 0 && !bytes.empty(); --edit) {
      const std::size_t at = rng() % bytes.size();
      const char byte =
          rng() % 2 ? kInteresting[rng() % kInteresting.size()] : static_cast<char>(rng() % 256);
      if (rng() % 3 == 0) {
        bytes.erase(at, 1);
      } else if (rng() % 2) {
        bytes[at] = byte;
      } else {
        bytes.insert(at, 1, byte);
      }
    }
    const Parsed ours = Parse(bytes);
    if (ours.status != HeadStatus::kComplete) continue;
    http::response_parser<http::empty_body> beast;
    boost::system::error_code ec;
    beast.put(boost::asio::buffer(bytes.data(), ours.head.head_bytes), ec);
    ASSERT_TRUE(!ec && beast.is_header_done()) << "accepted what Beast refused: " << bytes;
    ++both;
    EXPECT_EQ(beast.get().result_int(), ours.head.status) << bytes;
    EXPECT_EQ(beast.chunked(), ours.head.chunked) << bytes;
    EXPECT_EQ(beast.content_length().has_value(), ours.head.content_length.has_value()) << bytes;
  }
  EXPECT_GT(both, 5'000);
}

}  // namespace
}  // namespace gatehouse::server
