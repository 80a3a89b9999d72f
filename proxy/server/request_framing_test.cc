// Pure checks of the data path: raw head bytes, parsed heads and chunked
// prefixes (hop-by-hop stripping: hop_by_hop_test.cc).
#include "proxy/server/request_framing.h"

#include <gtest/gtest.h>

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <random>
#include <string>
#include <vector>

#include "proxy/server/upstream_exchange.h"

namespace gatehouse::server {
namespace {

struct RawCase {
  std::string name;
  std::string bytes;
  bool refused;
};

TEST(CheckRawRequestHeadTest, Table) {
  const std::vector<RawCase> cases = {
      {"clean", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", false},
      {"prefix without end", "GET / HTTP/1.1\r\nHost: a\r", false},
      {"obs-fold space", "GET / HTTP/1.1\r\nX: a\r\n b\r\nHost: a\r\n\r\n", true},
      {"obs-fold tab", "GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n", true},
      {"bare LF", "GET / HTTP/1.1\nHost: a\r\n\r\n", true},
      {"bare CR", "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", true},
      {"NUL", std::string("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", 26), true},
      {"leading CRLF", "\r\nGET / HTTP/1.1\r\n\r\n", true},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(CheckRawRequestHead(c.bytes).has_value(), c.refused) << c.name;
  }
}

TEST(CheckRawRequestHeadTest, IncrementalMatchesWhole) {
  // Feeding the bytes one at a time with `from` = previous size - 1 must
  // catch exactly what a whole check catches (a slowloris trickle included).
  const std::vector<RawCase> cases = {
      {"clean", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", false},
      {"obs-fold", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", true},
      {"bare CR", "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", true},
      {"bare LF", "GET / HTTP/1.1\r\nX: a\nb\r\n\r\n", true},
  };
  for (const auto& c : cases) {
    bool refused = false;
    for (std::size_t size = 1; size <= c.bytes.size() && !refused; ++size) {
      const std::size_t previous = size - 1;
      refused = CheckRawRequestHead(std::string_view(c.bytes).substr(0, size),
                                    previous ? previous - 1 : 0)
                    .has_value();
    }
    EXPECT_EQ(refused, c.refused) << c.name;
  }
}

// The byte-by-byte definition the fast scan must agree with, reason included.
std::string_view ReferenceRawCheck(std::string_view bytes, std::size_t from) {
  if (from == 0 && !bytes.empty() && (bytes.front() == '\r' || bytes.front() == '\n')) {
    return "leading empty line";
  }
  for (std::size_t i = from; i < bytes.size(); ++i) {
    const char c = bytes[i];
    if (c == '\0') return "NUL in head";
    if (c == '\r' && i + 1 < bytes.size() && bytes[i + 1] != '\n') return "bare CR";
    if (c != '\n') continue;
    if (i == 0 || bytes[i - 1] != '\r') return "bare LF";
    if (i + 1 < bytes.size() && (bytes[i + 1] == ' ' || bytes[i + 1] == '\t')) {
      return "obsolete line folding";
    }
  }
  return "";
}

TEST(CheckRawRequestHeadTest, AgreesWithTheByteByByteDefinition) {
  // Random heads over the bytes that matter (and a filler), from random
  // offsets: the first problem found and its reason must be the reference's.
  std::mt19937 random(20261122);  // fixed seed: the same cases on every run
  const char alphabet[] = {'a', 'a', 'a', ' ', '\t', '\r', '\n', '\r', '\n', '\0'};
  std::uniform_int_distribution<int> pick(0, sizeof(alphabet) - 1);
  std::uniform_int_distribution<int> length(0, 40);
  for (int round = 0; round < 20000; ++round) {
    std::string bytes;
    for (int n = length(random); n > 0; --n) bytes.push_back(alphabet[pick(random)]);
    const std::size_t from = bytes.empty() ? 0 : random() % (bytes.size() + 1);
    const auto got = CheckRawRequestHead(bytes, from);
    const std::string_view want = ReferenceRawCheck(bytes, from);
    ASSERT_EQ(got ? got->reason : std::string_view(), want)
        << "round " << round << " from " << from << " bytes " << testing::PrintToString(bytes);
  }
}

struct HeadCase {
  std::string name;
  std::string head;  // parsed with Beast first; must parse
  std::optional<http::status> refusal;
};

std::optional<http::status> CheckParsed(const std::string& text, std::size_t max_count) {
  http::request_parser<http::empty_body, HeaderAllocator<char>> parser;
  boost::system::error_code ec;
  parser.eager(false);
  parser.put(boost::asio::buffer(text), ec);
  EXPECT_FALSE(ec) << ec.message() << " for " << text;
  const auto view = [](boost::beast::string_view s) {
    return std::string_view(s.data(), s.size());
  };
  RequestHead head;
  for (const auto& field : parser.get())
    head.insert(field.name(), view(field.name_string()), view(field.value()));
  head.method_string(view(parser.get().method_string()));
  head.target(view(parser.get().target()));
  head.version(parser.get().version());
  auto refusal = CheckRequestHead(head, max_count);
  if (!refusal) return std::nullopt;
  return refusal->status;
}

TEST(CheckRequestHeadTest, Table) {
  const auto bad = http::status::bad_request;
  std::string many = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 5; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  many += "\r\n";
  const std::vector<HeadCase> cases = {
      {"plain GET", "GET /x HTTP/1.1\r\nHost: a\r\n\r\n", std::nullopt},
      {"content-length", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n", std::nullopt},
      {"chunked", "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
       std::nullopt},
      {"chunked any case", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n",
       std::nullopt},
      {"HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", std::nullopt},
      {"gzip, chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
       bad},
      {"TE in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", bad},
      {"missing Host", "GET / HTTP/1.1\r\n\r\n", bad},
      {"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", bad},
      {"absolute-form", "GET http://evil/ HTTP/1.1\r\nHost: a\r\n\r\n", bad},
      {"asterisk-form", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", bad},
      {"authority-form", "CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", bad},
      {"too many headers", many, http::status::request_header_fields_too_large},
  };
  for (const auto& c : cases) EXPECT_EQ(CheckParsed(c.head, 5), c.refusal) << c.name;
}

TEST(CheckRequestHeadTest, EveryControlByteAtEveryPositionOfALongValue) {
  // The value check looks at eight bytes at a time: a bad byte must be caught
  // wherever it sits in a word and in the tail, and only bad bytes.
  const std::string clean(29, 'v');
  for (std::size_t at = 0; at < clean.size(); ++at) {
    for (int b = 0; b < 256; ++b) {
      const auto byte = static_cast<unsigned char>(b);
      const bool bad = (byte < 0x20 && byte != '\t') || byte == 0x7f;
      std::string value = clean;
      value[at] = static_cast<char>(byte);
      RequestHead head;
      head.method(http::verb::get);
      head.target("/");
      head.set(http::field::host, "a");
      head.set("X", value);
      ASSERT_EQ(CheckRequestHead(head, 100).has_value(), bad) << "byte " << b << " at " << at;
    }
  }
}

// Beast's parser already refuses control bytes in values; the check must not
// depend on that (a head can also be built or edited in code).
TEST(CheckRequestHeadTest, ControlBytesInBuiltHead) {
  for (const std::string& value :
       {std::string("a\x7f"), std::string("a\rb"), std::string("a\nb"), std::string("a\0b", 3)}) {
    RequestHead head;
    head.method(http::verb::get);
    head.target("/");
    head.set(http::field::host, "a");
    head.set("X", value);
    auto refusal = CheckRequestHead(head, 100);
    ASSERT_TRUE(refusal.has_value());
    EXPECT_EQ(refusal->status, http::status::bad_request);
  }
}

TEST(ValidateChunkedPrefixTest, Table) {
  const std::vector<std::pair<std::string, bool>> cases = {
      {"", true},
      {"5\r\nhello\r\n0\r\n\r\n", true},
      {"5;name=value\r\nhel", true},
      {"A\r\n0123456789\r\n", true},
      {"5\r\nhello", true},
      {"5\r\nhello\r", true},
      {"zz\r\n", false},
      {"\r\n", false},
      {"-5\r\n", false},
      {"5 junk\r\n", false},
      {"ffffffffffffffffff\r\n", false},
      {"5\r\nhelloXX", false},
      {"5;" + std::string(5000, 'a'), false},
      {"5;" + std::string(5000, 'a') + "\r\n", false},
  };
  for (const auto& [bytes, valid] : cases) {
    EXPECT_EQ(ValidateChunkedPrefix(bytes), valid) << bytes.substr(0, 40);
  }
}

}  // namespace
}  // namespace gatehouse::server
