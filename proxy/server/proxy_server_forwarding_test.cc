// Forwarding through the proxy: upstream keep-alive reuse, target and Host
// rewriting, hop-by-hop stripping, pipelining, HEAD and Expect: 100-continue,
// streamed bodies with flat memory, WebSocket upgrades.
#include <gtest/gtest.h>

#include "proxy/server/proxy_server_test_util.h"

namespace gatehouse::server::proxy_test {
namespace {

// ASan's quarantine keeps freed blocks (the test's own per-request buffers)
// resident for a while; the bound there only proves bodies are not held whole
// (768 MiB stream through this test).
#if defined(__SANITIZE_ADDRESS__)
constexpr long kRssGrowthLimitKb = 96 * 1024;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr long kRssGrowthLimitKb = 96 * 1024;
#else
constexpr long kRssGrowthLimitKb = 32 * 1024;
#endif
#else
constexpr long kRssGrowthLimitKb = 32 * 1024;
#endif

long ReadStatusKb(const char* key) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(std::string(key).size()));
  }
  return -1;
}

TEST_F(ProxyServerTest, ForwardsAndReusesUpstreamConnections) {
  StartProxy();
  for (int connection = 0; connection < 3; ++connection) {
    Client client(proxy_->port());
    for (int i = 0; i < 10; ++i) {
      auto response = client.RoundTrip(Get("/echo"));
      ASSERT_EQ(response.result(), http::status::ok);
      EXPECT_NE(response.body().find("target /echo\n"), std::string::npos);
    }
  }
  EXPECT_EQ(upstream_.connections(), 1);
  EXPECT_EQ(proxy_->UpstreamConnects(), 1u);
  EXPECT_EQ(gate_->WaitForOutcomes(30).size(), 30u);
}

TEST_F(ProxyServerTest, RewritesTargetSetsHostAndStripsHopByHop) {
  StartProxy();
  Client client(proxy_->port());
  auto response = client.RoundTrip(
      "GET /rewrite HTTP/1.1\r\nHost: proxy.test\r\nConnection: keep-alive, X-Hop\r\n"
      "X-Hop: secret\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nUpgrade: h2c\r\n"
      "Proxy-Authorization: Basic eDp5\r\nProxy-Connection: keep-alive\r\n"
      "X-End-To-End: kept\r\n\r\n");
  ASSERT_EQ(response.result(), http::status::ok);
  const std::string& seen = response.body();
  EXPECT_NE(seen.find("target /echo?rewritten=1\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find("Host: upstream.internal:" + std::to_string(upstream_.port())),
            std::string::npos);
  EXPECT_NE(seen.find("X-End-To-End: kept"), std::string::npos);
  for (const char* gone : {"X-Hop", "Keep-Alive", "TE:", "Upgrade", "Proxy-Authorization",
                           "Proxy-Connection", "Connection", "proxy.test"}) {
    EXPECT_EQ(seen.find(gone), std::string::npos) << gone << " reached the upstream:\n" << seen;
  }
}

TEST_F(ProxyServerTest, PipelinedRequestsAnswerInOrder) {
  StartProxy();
  Client client(proxy_->port());
  client.Send(Get("/echo?1") + Get("/local") + Get("/echo?3"));
  auto first = client.Read();
  auto second = client.Read();
  auto third = client.Read();
  EXPECT_NE(first.body().find("target /echo?1\n"), std::string::npos);
  EXPECT_EQ(second.result(), http::status::forbidden);
  EXPECT_NE(third.body().find("target /echo?3\n"), std::string::npos);
}

TEST_F(ProxyServerTest, HeadAndExpectContinue) {
  StartProxy();
  Client client(proxy_->port());
  client.Send("HEAD /big?n=1000 HTTP/1.1\r\nHost: a\r\n\r\n");
  auto head = client.Read(/*head_request=*/true);
  // A HEAD answer has no body even though Content-Length says 1000: the next
  // answer on the connection must parse cleanly.
  EXPECT_EQ(head.result(), http::status::ok);
  EXPECT_EQ(head[http::field::content_length], "1000");
  client.Send(
      "POST /upload HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  char interim[25];
  asio::read(client.socket(), asio::buffer(interim));
  EXPECT_EQ(std::string(interim, 25), "HTTP/1.1 100 Continue\r\n\r\n");
  client.Send("hello");
  auto response = client.Read();
  EXPECT_EQ(response.body(), "5");
}

// 103 Early Hints reaches an HTTP/1.1 client (hop-by-hop fields stripped),
// the upstream's 100 Continue does not (the proxy answers Expect itself), and
// an HTTP/1.0 client, which cannot parse 1xx, gets the final answer only.
TEST_F(ProxyServerTest, RelaysEarlyHintsButNotUpstreamContinue) {
  StartProxy();
  Client client(proxy_->port());
  client.Send(Get("/hints"));
  auto hints = client.Read();
  EXPECT_EQ(hints.result_int(), 103);
  EXPECT_EQ(hints[http::field::link], "</style.css>; rel=preload");
  EXPECT_EQ(hints.count("X-Hop"), 0u);
  EXPECT_EQ(hints.count(http::field::connection), 0u);
  auto final_answer = client.Read();
  EXPECT_EQ(final_answer.result(), http::status::ok);
  EXPECT_NE(final_answer.body().find("target /hints\n"), std::string::npos);
  // The connection stays in step: the next answer is the next request's.
  auto next = client.RoundTrip(Get("/echo"));
  EXPECT_NE(next.body().find("target /echo\n"), std::string::npos);

  Client old_client(proxy_->port());
  old_client.Send("GET /hints HTTP/1.0\r\nHost: a\r\n\r\n");
  auto only = old_client.Read();
  EXPECT_EQ(only.result(), http::status::ok);
  EXPECT_EQ(only.version(), 11);
  EXPECT_NE(only.body().find("target /hints\n"), std::string::npos);
}

// A field value with CR LF, set after the framing checks (by the gate, from a
// claim), is never written upstream: the request is refused and the upstream
// sees no request at all.
TEST_F(ProxyServerTest, InjectedFieldFromGateNeverReachesUpstream) {
  StartProxy();
  Client client(proxy_->port());
  auto response = client.RoundTrip(Get("/inject"));
  EXPECT_EQ(response.result(), http::status::bad_request);
  auto outcomes = gate_->WaitForOutcomes(1);
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].status, 400);
  EXPECT_EQ(upstream_.requests, 0);
  EXPECT_TRUE(gate_->refused_injection);
  Client next(proxy_->port());
  auto echo = next.RoundTrip(Get("/echo"));
  EXPECT_EQ(echo.body().find("admins"), std::string::npos);
  EXPECT_EQ(upstream_.requests, 1);
}

// An HTTP/1.0 client cannot read chunked framing: a body of unknown length
// reaches it close-delimited, never chunked.
TEST_F(ProxyServerTest, ChunkedUpstreamBodyReachesHttp10ClientCloseDelimited) {
  StartProxy();
  Client client(proxy_->port());
  client.Send("GET /bigchunked?n=100000 HTTP/1.0\r\nHost: a\r\n\r\n");
  auto response = client.Read();
  EXPECT_EQ(response.result(), http::status::ok);
  EXPECT_EQ(response.count(http::field::transfer_encoding), 0u);
  EXPECT_EQ(response.body().size(), 100000u);
  EXPECT_TRUE(client.ClosedByPeer());
}

TEST_F(ProxyServerTest, BodiesStreamWithFlatMemory) {
  StartProxy();
  constexpr uint64_t kBytes = 256ull * 1024 * 1024;
  const long rss_before = ReadStatusKb("VmRSS:");
  // Download: Content-Length and chunked (re-framed chunked to the client).
  for (const std::string& path : {std::string("/big?n="), std::string("/bigchunked?n=")}) {
    Client client(proxy_->port());
    client.Send(Get(path + std::to_string(kBytes)));
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(std::numeric_limits<uint64_t>::max());
    beast::flat_buffer buffer;
    buffer.reserve(256 * 1024);
    std::vector<char> chunk(256 * 1024);
    uint64_t received = 0;
    boost::system::error_code ec;
    http::read_header(client.socket(), buffer, parser, ec);
    ASSERT_FALSE(ec) << path;
    while (!parser.is_done() && !ec) {
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      http::read(client.socket(), buffer, parser, ec);
      if (ec == http::error::need_buffer) ec = {};
      received += chunk.size() - parser.get().body().size;
    }
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(received, kBytes) << path;
  }
  // Upload, chunked by the client.
  {
    Client client(proxy_->port());
    client.Send("POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    std::string block(1024 * 1024, 'u');
    for (uint64_t sent = 0; sent < kBytes; sent += block.size()) {
      asio::write(client.socket(), http::make_chunk(asio::buffer(block)));
    }
    asio::write(client.socket(), http::make_chunk_last());
    auto response = client.Read();
    EXPECT_EQ(response.body(), std::to_string(kBytes));
  }
  const long rss_after = ReadStatusKb("VmRSS:");
  EXPECT_LT(rss_after - rss_before, kRssGrowthLimitKb)
      << "RSS grew by " << (rss_after - rss_before) << " KiB";
  const auto outcomes = gate_->WaitForOutcomes(3);
  ASSERT_EQ(outcomes.size(), 3u);
  EXPECT_EQ(outcomes[0].response_bytes, kBytes);
}

TEST_F(ProxyServerTest, WebSocketEchoThroughTheProxy) {
  StartProxy();
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), proxy_->port()));
  websocket::stream<tcp::socket&> ws(socket);
  ws.handshake("proxy.test", "/ws");
  for (const std::string& message : {std::string("hello"), std::string(100000, 'w')}) {
    ws.write(asio::buffer(message));
    beast::flat_buffer buffer;
    ws.read(buffer);
    EXPECT_EQ(beast::buffers_to_string(buffer.data()), message);
  }
  ws.close(websocket::close_code::normal);
  for (int i = 0; i < 200 && gate_->outcomes().empty(); ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(gate_->outcomes().size(), 1u);
  EXPECT_EQ(gate_->outcomes()[0].status, 101);
  EXPECT_EQ(upstream_.last_gate_added, 1) << "the upgrade head carries the gate's fields once";
}

TEST_F(ProxyServerTest, GateFieldsReachTheUpstreamOnceAndTheIdGoesBack) {
  StartProxy();
  Client client(proxy_->port());
  auto response = client.RoundTrip(Get("/echo"));
  EXPECT_EQ(response.result(), http::status::ok);
  EXPECT_EQ(upstream_.last_gate_added, 1);
  // The client gets the gate's request id (from the added fields).
  EXPECT_EQ(std::string(response["X-Request-Id"]).rfind("gate-", 0), 0u);
}

TEST_F(ProxyServerTest, StaleKeepAliveUpstreamIsNotReused) {
  StartProxy();
  Client client(proxy_->port());
  EXPECT_EQ(client.RoundTrip(Get("/close-after")).result(), http::status::ok);
  std::this_thread::sleep_for(50ms);  // the upstream closed its end meanwhile
  upstream_.last_gate_added = -1;
  EXPECT_EQ(client.RoundTrip(Get("/echo")).result(), http::status::ok);
  EXPECT_EQ(upstream_.connections(), 2);
  EXPECT_EQ(upstream_.last_gate_added, 1) << "the retried head carries the gate's fields once";
}

}  // namespace
}  // namespace gatehouse::server::proxy_test
