// What the proxy refuses before the gate (smuggling, malformed heads) and
// how a local answer leaves a connection with an unread body.
#include <gtest/gtest.h>

#include "proxy/server/proxy_server_test_util.h"

namespace gatehouse::server::proxy_test {
namespace {

struct RefusalCase {
  std::string name;
  std::string request;
  http::status status;
};

TEST_F(ProxyServerTest, SmugglingAndMalformedHeadsAreRefusedBeforeTheGate) {
  StartProxy();
  const auto bad = http::status::bad_request;
  const auto too_large = http::status::request_header_fields_too_large;
  std::string many_headers = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 101; ++i) many_headers += "X-" + std::to_string(i) + ": v\r\n";
  const std::string post = "POST /upload HTTP/1.1\r\nHost: a\r\n";
  const std::vector<RefusalCase> cases = {
      {"CL and TE", post + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", bad},
      {"TE and CL", post + "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n", bad},
      {"duplicate CL equal", post + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc", bad},
      {"duplicate CL differing", post + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", bad},
      {"comma-listed CL", post + "Content-Length: 3, 3\r\n\r\nabc", bad},
      {"negative CL", post + "Content-Length: -1\r\n\r\n", bad},
      {"TE gzip", post + "Transfer-Encoding: gzip\r\n\r\nabc", bad},
      {"TE chunked then gzip", post + "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", bad},
      {"TE gzip then chunked", post + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", bad},
      {"TE twice", post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", bad},
      {"TE with space in name", post + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", bad},
      {"TE in HTTP/1.0", "POST /upload HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       bad},
      {"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n folded\r\n\r\n", bad},
      {"obs-fold of TE", post + "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", bad},
      {"bare LF", "GET / HTTP/1.1\nHost: a\n\n", bad},
      {"bare CR in value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r2\r\n\r\n", bad},
      {"NUL in value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\0 2\r\n\r\n"s, bad},
      {"space in header name", "GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n", bad},
      {"bad chunk size", post + "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", bad},
      {"chunk size overflow", post + "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n",
       bad},
      {"chunk extension abuse",
       post + "Transfer-Encoding: chunked\r\n\r\n1;" + std::string(5000, 'e') + "\r\nx\r\n", bad},
      {"chunk without CRLF", post + "Transfer-Encoding: chunked\r\n\r\n3\r\nabcXX0\r\n\r\n", bad},
      {"absolute-form", "GET http://evil.test/ HTTP/1.1\r\nHost: a\r\n\r\n", bad},
      {"asterisk-form", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", bad},
      {"CONNECT", "CONNECT evil.test:443 HTTP/1.1\r\nHost: evil.test\r\n\r\n", bad},
      {"missing Host", "GET / HTTP/1.1\r\n\r\n", bad},
      {"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", bad},
      {"bad version", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", bad},
      {"101 headers", many_headers + "\r\n", too_large},
      {"66 KiB header",
       "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(66 * 1024, 'a') + "\r\n\r\n",
       too_large},
  };
  for (const auto& c : cases) {
    Client client(proxy_->port());
    boost::system::error_code ec;
    asio::write(client.socket(), asio::buffer(c.request), ec);  // may be cut off: fine
    auto response = client.Read();
    EXPECT_EQ(response.result(), c.status) << c.name;
    EXPECT_TRUE(client.ClosedByPeer()) << c.name << ": connection left open";
  }
  EXPECT_EQ(gate_->checks, 0) << "a refused request reached the gate";
  EXPECT_EQ(upstream_.connections(), 0) << "a refused request reached the upstream";
}

TEST_F(ProxyServerTest, LocalAnswerAndBodyLeftUnreadClosesTheConnection) {
  StartProxy();
  Client client(proxy_->port());
  auto denied = client.RoundTrip(Get("/local"));
  EXPECT_EQ(denied.result(), http::status::forbidden);
  EXPECT_EQ(denied.body(), "denied\n");
  EXPECT_EQ(client.RoundTrip(Get("/echo")).result(), http::status::ok);  // still kept alive
  auto with_body = client.RoundTrip(
      "POST /local HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n");  // body not sent yet
  EXPECT_EQ(with_body.result(), http::status::forbidden);
  EXPECT_FALSE(with_body.keep_alive());
  EXPECT_TRUE(client.ClosedByPeer());
  EXPECT_EQ(upstream_.connections(), 1);
}

}  // namespace
}  // namespace gatehouse::server::proxy_test
