// Time limits and failures: slowloris and idle clients are cut off, upstream
// failures become 502/504, a client disconnect closes the upstream, drain.
#include <gtest/gtest.h>

#include "proxy/server/proxy_server_test_util.h"

namespace gatehouse::server::proxy_test {
namespace {

TEST_F(ProxyServerTest, SlowlorisIsCutOff) {
  StartProxy();
  Client client(proxy_->port());
  const auto started = std::chrono::steady_clock::now();
  const std::string head = "GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ";
  boost::system::error_code ec;
  for (int i = 0; i < 40 && !ec; ++i) {  // one byte every 50 ms: 2 s if never cut off
    asio::write(client.socket(), asio::buffer(head.data() + (i % head.size()), 1), ec);
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(ec || client.ClosedByPeer());
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1900ms);
  EXPECT_EQ(gate_->checks, 0);
}

TEST_F(ProxyServerTest, IdleKeepAliveConnectionIsClosed) {
  options_.idle_timeout = 300ms;
  StartProxy();
  Client client(proxy_->port());
  ASSERT_EQ(client.RoundTrip(Get("/echo")).result(), http::status::ok);
  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(client.ClosedByPeer());
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1500ms);
}

TEST_F(ProxyServerTest, UpstreamDownIs502) {
  uint16_t dead_port;
  {
    asio::io_context io;
    tcp::acceptor probe(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    dead_port = probe.local_endpoint().port();
  }
  gate_ = std::make_unique<RecordingGate>(dead_port);
  options_.listen_address = "127.0.0.1";
  options_.listen_port = 0;
  options_.threads = 1;
  proxy_ = std::make_unique<ProxyServer>(*gate_, options_);
  ASSERT_TRUE(proxy_->Start().ok());
  Client client(proxy_->port());
  EXPECT_EQ(client.RoundTrip(Get("/echo")).result(), http::status::bad_gateway);
  ASSERT_EQ(gate_->WaitForOutcomes(1).size(), 1u);
  EXPECT_EQ(gate_->outcomes()[0].status, 502);
}

TEST_F(ProxyServerTest, UpstreamFailuresBeforeTheHeadAre502) {
  StartProxy();
  for (const char* target : {"/close", "/garbage"}) {
    Client client(proxy_->port());
    EXPECT_EQ(client.RoundTrip(Get(target)).result(), http::status::bad_gateway) << target;
  }
}

TEST_F(ProxyServerTest, SilentUpstreamIs504WithinTheTimeout) {
  StartProxy(1s);
  Client client(proxy_->port());
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(client.RoundTrip(Get("/hang")).result(), http::status::gateway_timeout);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_GE(elapsed, 900ms);
  EXPECT_LT(elapsed, 2500ms);
}

TEST_F(ProxyServerTest, ClientDisconnectClosesTheUpstreamAtOnce) {
  StartProxy();
  {
    Client client(proxy_->port());
    client.Send(Get("/hang"));
    for (int i = 0; i < 200 && !upstream_.hang_seen; ++i) std::this_thread::sleep_for(5ms);
    ASSERT_TRUE(upstream_.hang_seen);
  }  // the client goes away while the upstream "runs the query"
  for (int i = 0; i < 200 && !upstream_.hang_closed; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_TRUE(upstream_.hang_closed) << "the upstream connection outlived its client";
  for (int i = 0; i < 200 && gate_->outcomes().empty(); ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(gate_->outcomes().size(), 1u);
  EXPECT_TRUE(gate_->outcomes()[0].client_aborted);
}

// The disconnect watch outlives each exchange on a keep-alive connection (no
// cancel per request): requests before the hang must neither be aborted by
// it nor leave it blind to the disconnect that follows.
TEST_F(ProxyServerTest, ClientDisconnectAfterKeepAliveRequestsClosesTheUpstream) {
  StartProxy();
  {
    Client client(proxy_->port());
    for (int i = 0; i < 5; ++i) {
      auto response = client.RoundTrip(Get("/echo"));
      ASSERT_EQ(response.result(), http::status::ok) << "request " << i;
    }
    client.Send(Get("/hang"));
    for (int i = 0; i < 200 && !upstream_.hang_seen; ++i) std::this_thread::sleep_for(5ms);
    ASSERT_TRUE(upstream_.hang_seen);
  }
  for (int i = 0; i < 200 && !upstream_.hang_closed; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_TRUE(upstream_.hang_closed) << "the upstream connection outlived its client";
  const auto outcomes = gate_->WaitForOutcomes(6);
  ASSERT_EQ(outcomes.size(), 6u);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(outcomes[i].client_aborted) << "request " << i;
  EXPECT_TRUE(outcomes[5].client_aborted);
}

TEST_F(ProxyServerTest, DrainFinishesInFlightAndRefusesNewConnections) {
  StartProxy();
  Client idle(proxy_->port());
  ASSERT_EQ(idle.RoundTrip(Get("/echo")).result(), http::status::ok);
  Client busy(proxy_->port());
  busy.Send(Get("/slow"));
  std::this_thread::sleep_for(100ms);  // the slow request is in flight
  bool drained = false;
  std::thread drainer([&] { drained = proxy_->Drain(std::chrono::steady_clock::now() + 3s); });
  std::this_thread::sleep_for(50ms);
  asio::io_context io;
  tcp::socket late(io);
  boost::system::error_code ec;
  late.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), proxy_->port()), ec);
  EXPECT_EQ(ec, asio::error::connection_refused);
  EXPECT_TRUE(idle.ClosedByPeer()) << "an idle keep-alive connection survived the drain";
  auto response = busy.Read();
  EXPECT_EQ(response.result(), http::status::ok);
  EXPECT_FALSE(response.keep_alive());
  drainer.join();
  EXPECT_TRUE(drained);
  EXPECT_EQ(gate_->WaitForOutcomes(2).size(), 2u);
}

}  // namespace
}  // namespace gatehouse::server::proxy_test
