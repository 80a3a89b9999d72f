// ParseRequestHead: what it accepts and how it reads it, what it refuses,
// heads cut short at every byte, the limits, and a differential test against
// the pipeline it replaced (Beast's parser plus CheckRawRequestHead and
// CheckRequestHead): on 200,000 mutated heads it never accepts what that
// pipeline refused, and reads what both accept identically.
#include "proxy/server/request_head_parser.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <cctype>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace gatehouse::server {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

constexpr RequestHeadLimits kLimits{8 * 1024, 100};

RequestHeadResult Parse(std::string_view bytes, RequestHead& head,
                        const RequestHeadLimits& limits = kLimits) {
  return ParseRequestHead(bytes, limits, head);
}

Fields FieldsOf(const RequestHead& head) {
  Fields fields;
  for (const auto& field : head) {
    fields.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  return fields;
}

const std::string kToken(900, 'x');  // a bearer token is most of a real head

TEST(ParseRequestHeadTest, ReadsMethodTargetVersionAndFieldsInOrder) {
  const std::string bytes =
      "GET /api/q?a=1&b=%20 HTTP/1.1\r\nHost: metabase.example\r\nAuthorization: Bearer " + kToken +
      "\r\nX-Empty:\r\nX-Spaced: \t inner  value \t\r\nx-dup: 1\r\nX-Dup: 2\r\n\r\nBODY";
  RequestHead head;
  const RequestHeadResult parsed = Parse(bytes, head);
  ASSERT_EQ(parsed.status, HeadStatus::kComplete) << parsed.refusal.reason;
  EXPECT_EQ(parsed.framing.head_bytes, bytes.size() - 4);
  EXPECT_EQ(head.method(), http::verb::get);
  EXPECT_EQ(head.target(), "/api/q?a=1&b=%20");
  EXPECT_EQ(head.version(), 11u);
  const Fields expected = {{"Host", "metabase.example"},
                           {"Authorization", "Bearer " + kToken},
                           {"X-Empty", ""},
                           {"X-Spaced", "inner  value"},
                           {"x-dup", "1"},
                           {"X-Dup", "2"}};
  EXPECT_EQ(FieldsOf(head), expected);
  EXPECT_EQ(head[http::field::host], "metabase.example");  // known names are recognised
  EXPECT_TRUE(parsed.framing.keep_alive);
  EXPECT_FALSE(parsed.framing.has_body());
  EXPECT_FALSE(parsed.framing.hop_by_hop);
  EXPECT_FALSE(parsed.framing.expect);
}

TEST(ParseRequestHeadTest, FieldNamesGetBeastsEnumInAnyCase) {
  const std::vector<std::string> names = {
      "host",           "accept",          "cookie",   "user-agent", "connection", "authorization",
      "content-length", "accept-encoding", "x-custom", "hosts",      "acceptx",    "if-none-match"};
  for (const std::string& lower : names) {
    for (const std::string& name :
         {lower, std::string(1, static_cast<char>(std::toupper(lower[0]))) + lower.substr(1)}) {
      std::string upper = name;
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      for (const std::string& spelled : {name, upper}) {
        RequestHead head;
        std::string bytes = "GET / HTTP/1.1\r\n";
        if (lower != "host") bytes += "Host: a\r\n";
        bytes += spelled + (lower == "content-length" ? ": 0\r\n\r\n" : ": v\r\n\r\n");
        ASSERT_EQ(Parse(bytes, head).status, HeadStatus::kComplete) << spelled;
        const auto it = std::find_if(head.begin(), head.end(), [&](const auto& field) {
          return field.name_string() == spelled;
        });
        ASSERT_NE(it, head.end()) << spelled;
        EXPECT_EQ(it->name(), http::string_to_field(spelled)) << spelled;
      }
    }
  }
}

TEST(ParseRequestHeadTest, UnknownMethodAndObsTextAreKept) {
  RequestHead head;
  const std::string bytes = "PURGE-X /caf\xc3\xa9 HTTP/1.0\r\nX-Name: caf\xc3\xa9\r\n\r\n";
  const RequestHeadResult parsed = Parse(bytes, head);
  ASSERT_EQ(parsed.status, HeadStatus::kComplete) << parsed.refusal.reason;
  EXPECT_EQ(head.method(), http::verb::unknown);
  EXPECT_EQ(head.method_string(), "PURGE-X");
  EXPECT_EQ(head.target(), "/caf\xc3\xa9");
  EXPECT_EQ(head.version(), 10u);
  EXPECT_EQ(head["X-Name"], "caf\xc3\xa9");
  EXPECT_FALSE(parsed.framing.keep_alive);  // HTTP/1.0 without keep-alive
}

struct FramingCase {
  std::string name;
  std::string fields;  // after the request line, before the blank line
  std::string version = "1.1";
  std::optional<uint64_t> content_length;
  bool chunked = false;
  bool keep_alive = true;
  bool expect_continue = false;
  bool hop_by_hop = false;
};

TEST(ParseRequestHeadTest, Framing) {
  const std::vector<FramingCase> cases = {
      {"no body", "Host: a\r\n"},
      {"content length", "Host: a\r\nContent-Length: 42\r\n", "1.1", 42},
      {"content length zero", "Host: a\r\ncontent-length:0\r\n", "1.1", 0},
      {"content length with OWS", "Host: a\r\nContent-Length: \t7 \r\n", "1.1", 7},
      {"largest content length", "Host: a\r\nContent-Length: 9999999999999999999\r\n", "1.1",
       9999999999999999999ull},
      {"chunked", "Host: a\r\nTransfer-Encoding: chunked\r\n", "1.1", std::nullopt, true, true,
       false, true},
      {"chunked any case", "Host: a\r\ntransfer-encoding: CHUNKED\r\n", "1.1", std::nullopt, true,
       true, false, true},
      {"close", "Host: a\r\nConnection: close\r\n", "1.1", std::nullopt, false, false, false, true},
      {"close in a list", "Host: a\r\nConnection: foo , Close\r\n", "1.1", std::nullopt, false,
       false, false, true},
      {"1.0 keep-alive", "Connection: Keep-Alive\r\n", "1.0", std::nullopt, false, true, false,
       true},
      {"1.0 default", "", "1.0", std::nullopt, false, false},
      {"1.0 keep-alive and close", "Connection: keep-alive, close\r\n", "1.0", std::nullopt, false,
       false, false, true},
      {"expect continue", "Host: a\r\nExpect: 100-Continue\r\n", "1.1", std::nullopt, false, true,
       true},
      {"expect other", "Host: a\r\nExpect: something\r\n"},
      {"upgrade", "Host: a\r\nUpgrade: websocket\r\n", "1.1", std::nullopt, false, true, false,
       true},
      {"te", "Host: a\r\nTE: trailers\r\n", "1.1", std::nullopt, false, true, false, true},
      {"proxy authorization", "Host: a\r\nProxy-Authorization: x\r\n", "1.1", std::nullopt, false,
       true, false, true},
      {"keep-alive field", "Host: a\r\nKeep-Alive: 5\r\n", "1.1", std::nullopt, false, true, false,
       true},
      {"trailer", "Host: a\r\nTrailer: x\r\n", "1.1", std::nullopt, false, true, false, true},
      {"proxy connection", "Host: a\r\nProxy-Connection: x\r\n", "1.1", std::nullopt, false, true,
       false, true},
  };
  for (const auto& c : cases) {
    RequestHead head;
    const std::string bytes = "POST /p HTTP/" + c.version + "\r\n" + c.fields + "\r\n";
    const RequestHeadResult parsed = Parse(bytes, head);
    ASSERT_EQ(parsed.status, HeadStatus::kComplete) << c.name << ": " << parsed.refusal.reason;
    EXPECT_EQ(parsed.framing.content_length, c.content_length) << c.name;
    EXPECT_EQ(parsed.framing.chunked, c.chunked) << c.name;
    EXPECT_EQ(parsed.framing.keep_alive, c.keep_alive) << c.name;
    EXPECT_EQ(parsed.framing.expect_continue, c.expect_continue) << c.name;
    EXPECT_EQ(parsed.framing.hop_by_hop, c.hop_by_hop) << c.name;
    EXPECT_EQ(parsed.framing.has_body(), c.chunked || (c.content_length && *c.content_length > 0))
        << c.name;
  }
}

struct RefusedCase {
  std::string name;
  std::string bytes;
  http::status status = http::status::bad_request;
};

TEST(ParseRequestHeadTest, RefusesWhatCannotBeFramedSafely) {
  const std::string post = "POST /upload HTTP/1.1\r\nHost: a\r\n";
  const auto too_large = http::status::request_header_fields_too_large;
  std::string many_fields = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 100; ++i) many_fields += "X-" + std::to_string(i) + ": v\r\n";
  const std::vector<RefusedCase> cases = {
      {"CL and TE", post + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"},
      {"TE and CL", post + "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"},
      {"duplicate CL equal", post + "Content-Length: 3\r\nContent-Length: 3\r\n\r\n"},
      {"duplicate CL differing", post + "Content-Length: 3\r\nContent-Length: 4\r\n\r\n"},
      {"comma-listed CL", post + "Content-Length: 3, 3\r\n\r\n"},
      {"negative CL", post + "Content-Length: -1\r\n\r\n"},
      {"plus CL", post + "Content-Length: +1\r\n\r\n"},
      {"hex CL", post + "Content-Length: 0x10\r\n\r\n"},
      {"empty CL", post + "Content-Length: \r\n\r\n"},
      {"CL of 20 digits", post + "Content-Length: 18446744073709551616\r\n\r\n"},
      {"TE gzip", post + "Transfer-Encoding: gzip\r\n\r\n"},
      {"TE chunked then gzip", post + "Transfer-Encoding: chunked, gzip\r\n\r\n"},
      {"TE gzip then chunked", post + "Transfer-Encoding: gzip, chunked\r\n\r\n"},
      {"TE twice", post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"},
      {"TE with space in name", post + "Transfer-Encoding : chunked\r\n\r\n"},
      {"TE with tab in name", post + "Transfer-Encoding\t: chunked\r\n\r\n"},
      {"TE in HTTP/1.0", "POST /upload HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"},
      {"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n folded\r\n\r\n"},
      {"obs-fold with tab", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\tfolded\r\n\r\n"},
      {"obs-fold of TE", post + "Transfer-Encoding:\r\n chunked\r\n\r\n"},
      {"space before first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n"},
      {"bare LF", "GET / HTTP/1.1\nHost: a\n\n"},
      {"bare LF after a field", "GET / HTTP/1.1\r\nHost: a\n\r\n"},
      {"bare LF ending the head", "GET / HTTP/1.1\r\nHost: a\r\n\n"},
      {"bare CR in value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r2\r\n\r\n"},
      {"bare CR ending the head", "GET / HTTP/1.1\r\nHost: a\r\n\rX"},
      {"NUL in value", std::string("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\0 2\r\n\r\n", 35)},
      {"DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\x7f\r\n\r\n"},
      {"escape in value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: \x1b[31m\r\n\r\n"},
      {"space in header name", "GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n"},
      {"empty header name", "GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n"},
      {"no colon", "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n"},
      {"non-token in name", "GET / HTTP/1.1\r\nHost: a\r\nX(y): 1\r\n\r\n"},
      {"obs-text in name", "GET / HTTP/1.1\r\nHost: a\r\nX\xc3\xa9: 1\r\n\r\n"},
      {"absolute-form", "GET http://evil.test/ HTTP/1.1\r\nHost: a\r\n\r\n"},
      {"asterisk-form", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"},
      {"CONNECT", "CONNECT evil.test:443 HTTP/1.1\r\nHost: evil.test\r\n\r\n"},
      {"missing Host", "GET / HTTP/1.1\r\n\r\n"},
      {"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
      {"two Hosts in 1.0", "GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n"},
      {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n"},
      {"HTTP/0.9 style", "GET /\r\n\r\n"},
      {"lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n"},
      {"two-digit minor", "GET / HTTP/1.10\r\nHost: a\r\n\r\n"},
      {"HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n"},
      {"text after version", "GET / HTTP/1.1 x\r\nHost: a\r\n\r\n"},
      {"two spaces after method", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n"},
      {"tab after method", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"},
      {"space in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n"},
      {"DEL in target", "GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n"},
      {"control in target", "GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n"},
      {"empty method", " / HTTP/1.1\r\nHost: a\r\n\r\n"},
      {"non-token method", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n"},
      {"leading CRLF", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"},
      {"leading LF", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"},
      {"101 fields", many_fields + "\r\n", too_large},
  };
  for (const auto& c : cases) {
    RequestHead head;
    const RequestHeadResult parsed = Parse(c.bytes, head);
    EXPECT_EQ(parsed.status, HeadStatus::kRefused) << c.name;
    EXPECT_EQ(parsed.refusal.status, c.status) << c.name;
    EXPECT_FALSE(parsed.refusal.reason.empty()) << c.name;
  }
}

TEST(ParseRequestHeadTest, EveryControlByteAtEveryPositionOfALongValueIsRefused) {
  // The value scan goes sixteen bytes at a time: a bad byte must be caught in
  // every lane of a block and in the bytes after the last whole block.
  const std::string prefix = "GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ";
  for (int byte = 0; byte < 256; ++byte) {
    const bool bad = (byte < 0x20 && byte != '\t') || byte == 0x7f;
    for (std::size_t at = 0; at < 40; ++at) {
      std::string value(40, 'v');
      value[at] = static_cast<char>(byte);
      const std::string bytes = prefix + value + "\r\n\r\n";
      RequestHead head;
      const RequestHeadResult parsed = Parse(bytes, head);
      if (bad) {
        EXPECT_EQ(parsed.status, HeadStatus::kRefused) << "byte " << byte << " at " << at;
      } else {
        EXPECT_EQ(parsed.status, HeadStatus::kComplete) << "byte " << byte << " at " << at;
      }
    }
  }
}

TEST(ParseRequestHeadTest, EveryByteAtEveryPositionOfALongTarget) {
  for (int byte = 0; byte < 256; ++byte) {
    const bool allowed = byte > 0x20 && byte != 0x7f;
    for (std::size_t at = 1; at < 40; ++at) {
      std::string target(40, 'p');
      target[0] = '/';
      target[at] = static_cast<char>(byte);
      RequestHead head;
      const RequestHeadResult parsed =
          Parse("GET " + target + " HTTP/1.1\r\nHost: a\r\n\r\n", head);
      if (byte == ' ') {
        // A space there ends the target early: what follows is no version.
        EXPECT_EQ(parsed.status, HeadStatus::kRefused) << at;
      } else if (allowed) {
        ASSERT_EQ(parsed.status, HeadStatus::kComplete) << "byte " << byte << " at " << at;
        EXPECT_EQ(head.target(), target);
      } else {
        EXPECT_EQ(parsed.status, HeadStatus::kRefused) << "byte " << byte << " at " << at;
      }
    }
  }
}

TEST(ParseRequestHeadTest, EveryByteAtEveryPositionOfALongFieldName) {
  // Names are checked sixteen bytes at a time: every lane and the tail.
  for (int byte = 0; byte < 256; ++byte) {
    const bool token = IsHttpToken(std::string(1, static_cast<char>(byte)));
    for (std::size_t at = 0; at < 40; ++at) {
      std::string name(40, 'n');
      name[at] = static_cast<char>(byte);
      RequestHead head;
      const RequestHeadResult parsed =
          Parse("GET / HTTP/1.1\r\nHost: a\r\n" + name + ": value\r\n\r\n", head);
      if (token) {
        ASSERT_EQ(parsed.status, HeadStatus::kComplete) << "byte " << byte << " at " << at;
        EXPECT_EQ(head[name], "value");
      } else if (byte != ':') {  // a colon just ends the name early
        EXPECT_EQ(parsed.status, HeadStatus::kRefused) << "byte " << byte << " at " << at;
      }
    }
  }
}

TEST(ParseRequestHeadTest, EveryPrefixOfAGoodHeadAsksForMore) {
  const std::string bytes = "POST /api/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + kToken +
                            "\r\nContent-Length: 5\r\n\r\n";
  for (std::size_t size = 0; size < bytes.size(); ++size) {
    RequestHead head;
    const RequestHeadResult parsed = Parse(std::string_view(bytes).substr(0, size), head);
    EXPECT_EQ(parsed.status, HeadStatus::kIncomplete) << size;
  }
  RequestHead head;
  EXPECT_EQ(Parse(bytes, head).status, HeadStatus::kComplete);
}

TEST(ParseRequestHeadTest, ABadByteIsRefusedBeforeTheHeadEnds) {
  // A client need not send the rest for its bad line to be refused.
  const std::string bytes = "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r2\r\nX-B: still coming";
  RequestHead head;
  EXPECT_EQ(Parse(bytes, head).status, HeadStatus::kRefused);
}

TEST(ParseRequestHeadTest, SizeLimitCountsTheWholeHead) {
  const std::string start = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ";
  const std::string end = "\r\n\r\n";
  const RequestHeadLimits limits{256, 100};
  const std::string exact = start + std::string(256 - start.size() - end.size(), 'p') + end;
  ASSERT_EQ(exact.size(), 256u);
  RequestHead fits;
  EXPECT_EQ(Parse(exact, fits, limits).status, HeadStatus::kComplete);
  const std::string over = start + std::string(257 - start.size() - end.size(), 'p') + end;
  RequestHead too_big;
  const RequestHeadResult parsed = Parse(over, too_big, limits);
  EXPECT_EQ(parsed.status, HeadStatus::kRefused);
  EXPECT_EQ(parsed.refusal.status, http::status::request_header_fields_too_large);
  // A head still arriving is refused once it cannot fit any more.
  RequestHead arriving;
  EXPECT_EQ(Parse(over.substr(0, 255), arriving, limits).status, HeadStatus::kIncomplete);
  RequestHead full;
  EXPECT_EQ(Parse(over.substr(0, 256), full, limits).refusal.status,
            http::status::request_header_fields_too_large);
}

TEST(ParseRequestHeadTest, FieldCountLimit) {
  std::string bytes = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 1; i < 10; ++i) bytes += "X-" + std::to_string(i) + ": v\r\n";
  RequestHead ten;
  EXPECT_EQ(Parse(bytes + "\r\n", ten, {8192, 10}).status, HeadStatus::kComplete);
  RequestHead eleven;
  const RequestHeadResult parsed = Parse(bytes + "X-11: v\r\n\r\n", eleven, {8192, 10});
  EXPECT_EQ(parsed.refusal.status, http::status::request_header_fields_too_large);
}

TEST(ParseRequestHeadTest, LeavesWhatFollowsTheHead) {
  const std::string head_bytes = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string bytes = head_bytes + "GET /b HTTP/1.1\r\nHost: a\r\n\r\n";
  RequestHead head;
  const RequestHeadResult parsed = Parse(bytes, head);
  ASSERT_EQ(parsed.status, HeadStatus::kComplete);
  EXPECT_EQ(parsed.framing.head_bytes, head_bytes.size());
  EXPECT_EQ(head.target(), "/a");
}

// --- Differential test against the pipeline the parser replaced ---------

struct Reference {
  bool accepted = false;
  std::string method, target;
  unsigned version = 0;
  Fields fields;
  bool keep_alive = false, chunked = false;
  std::optional<uint64_t> content_length;
};

// Beast's parser preceded by the raw check and followed by the head check,
// as the data path ran them before ParseRequestHead.
Reference RunReference(const std::string& bytes) {
  Reference reference;
  const std::size_t end = bytes.find("\r\n\r\n");
  if (end == std::string::npos || end + 4 > kLimits.max_bytes) return reference;
  const std::string_view head_bytes(bytes.data(), end + 4);
  if (CheckRawRequestHead(head_bytes)) return reference;
  http::request_parser<http::empty_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(kLimits.max_bytes));
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(head_bytes.data(), head_bytes.size()), ec);
  if (ec || !parser.is_header_done()) return reference;
  const auto view = [](boost::beast::string_view s) {
    return std::string_view(s.data(), s.size());
  };
  RequestHead head;
  for (const auto& field : parser.get())
    head.insert(field.name(), view(field.name_string()), view(field.value()));
  head.method_string(view(parser.get().method_string()));
  head.target(view(parser.get().target()));
  head.version(parser.get().version());
  if (CheckRequestHead(head, kLimits.max_fields)) return reference;
  reference.accepted = true;
  reference.method = std::string(head.method_string());
  reference.target = std::string(head.target());
  reference.version = head.version();
  reference.fields = FieldsOf(head);
  reference.keep_alive = parser.keep_alive();
  reference.chunked = parser.chunked();
  if (parser.content_length()) reference.content_length = *parser.content_length();
  return reference;
}

// Seeds covering every rule, then byte-level mutations of them: replace a
// byte (often by one of the bytes the rules are about), insert, delete.
std::string Mutate(std::string bytes, std::mt19937& rng) {
  static const std::string kInteresting = std::string("\r\n\t :,;\0\x7f\x80\xff/HTtc0-9aA", 21);
  const int edits = 1 + static_cast<int>(rng() % 3);
  for (int i = 0; i < edits && !bytes.empty(); ++i) {
    const std::size_t at = rng() % bytes.size();
    const char byte =
        rng() % 2 ? kInteresting[rng() % kInteresting.size()] : static_cast<char>(rng() % 256);
    switch (rng() % 3) {
      case 0:
        bytes[at] = byte;
        break;
      case 1:
        bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(at), byte);
        break;
      default:
        bytes.erase(at, 1);
        break;
    }
  }
  return bytes;
}

TEST(ParseRequestHeadTest, NeverAcceptsWhatTheOldPipelineRefusedAndReadsTheSame) {
  const std::vector<std::string> seeds = {
      "GET /a?b=c HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer abc.def.ghi\r\n\r\n",
      "POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\nConnection: close\r\n\r\n",
      "POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
      "GET / HTTP/1.0\r\nConnection: keep-alive\r\nX-A:  spaced \t\r\n\r\n",
      "PUT /x HTTP/1.1\r\nhost: h\r\ncontent-length:0\r\nupgrade: websocket\r\n\r\n",
  };
  std::mt19937 rng(20261123);
  int both_accepted = 0, only_reference_accepted = 0;
  for (int i = 0; i < 200'000; ++i) {
    const std::string bytes = Mutate(seeds[i % seeds.size()], rng);
    RequestHead head;
    const RequestHeadResult ours = Parse(bytes, head);
    const Reference reference = RunReference(bytes);
    if (ours.status == HeadStatus::kComplete) {
      ASSERT_TRUE(reference.accepted) << "accepted what the old pipeline refused: " << bytes;
      ++both_accepted;
      EXPECT_EQ(std::string(head.method_string()), reference.method) << bytes;
      EXPECT_EQ(std::string(head.target()), reference.target) << bytes;
      EXPECT_EQ(head.version(), reference.version) << bytes;
      EXPECT_EQ(FieldsOf(head), reference.fields) << bytes;
      // Beast keeps an HTTP/1.0 connection that asks for both keep-alive and
      // close; we close it, the safe reading of a contradiction.
      const bool contradiction = head.version() == 10 && !ours.framing.keep_alive;
      if (!contradiction) {
        EXPECT_EQ(ours.framing.keep_alive, reference.keep_alive) << bytes;
      }
      EXPECT_EQ(ours.framing.chunked, reference.chunked) << bytes;
      EXPECT_EQ(ours.framing.content_length, reference.content_length) << bytes;
    } else if (reference.accepted) {
      ++only_reference_accepted;
      ADD_FAILURE() << "refused a head the old pipeline took: " << bytes;
    }
  }
  // The mutations must exercise both sides, or the test proves nothing.
  EXPECT_GT(both_accepted, 10'000);
  std::printf("differential: %d accepted by both, %d only by the old pipeline\n", both_accepted,
              only_reference_accepted);
}

}  // namespace
}  // namespace gatehouse::server
