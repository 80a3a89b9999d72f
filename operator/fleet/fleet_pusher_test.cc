// FleetPusher: the plaintext-push refusal, EndpointSlice reading, and push
// rounds against a fake fleet on loopback (concurrency, query-or-push, 409).
#include "operator/fleet/fleet_pusher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace gatehouse::fleet {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using asio::ip::tcp;
using nlohmann::json;
using Strings = std::vector<std::string>;

// N fake proxies on loopback, served by one thread. Each answers GET
// /v1/config with the config it holds (404 before the first), accepts a PUT
// of a newer version (200) and refuses an older one with 409 naming its own,
// as gatehouse-proxy does. A PUT is held until `hold_until` PUTs are in
// flight at once (or 3 s pass), so a round that does not reach that many
// proxies concurrently shows up as max_in_flight() < hold_until.
class FakeFleet {
 public:
  FakeFleet(int n, int hold_until) : hold_until_(hold_until), release_(io_) {
    release_.expires_after(std::chrono::seconds(3));
    members_.resize(n);
    for (Member& m : members_) {
      m.acceptor = std::make_unique<tcp::acceptor>(io_, tcp::endpoint(tcp::v4(), 0));
      asio::co_spawn(io_, Accept(m), asio::detached);
    }
    thread_ = std::thread([this] { io_.run(); });
  }
  ~FakeFleet() {
    io_.stop();
    thread_.join();
  }
  Strings Urls() const {
    Strings out;
    for (const Member& m : members_) {
      out.push_back("http://127.0.0.1:" + std::to_string(m.acceptor->local_endpoint().port()));
    }
    return out;
  }
  // The methods member `i` was sent, in order.
  Strings Calls(int i) {
    std::lock_guard<std::mutex> lock(mu_);
    return members_[i].calls;
  }
  int max_in_flight() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_in_flight_;
  }
  void Hold(int i, int64_t version, const std::string& sha256) {
    std::lock_guard<std::mutex> lock(mu_);
    members_[i].version = version;
    members_[i].sha256 = sha256;
  }

 private:
  struct Member {
    std::unique_ptr<tcp::acceptor> acceptor;
    int64_t version = 0;
    std::string sha256;
    Strings calls;
  };
  using Response = bhttp::response<bhttp::string_body>;

  asio::awaitable<void> Accept(Member& m) {
    for (;;) {
      tcp::socket socket = co_await m.acceptor->async_accept(asio::use_awaitable);
      asio::co_spawn(io_, Serve(std::move(socket), m), asio::detached);
    }
  }

  asio::awaitable<void> Serve(tcp::socket socket, Member& m) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
      bhttp::request<bhttp::string_body> request;
      beast::error_code ec;
      co_await bhttp::async_read(stream, buffer, request,
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      Response response{bhttp::status::ok, request.version()};
      if (request.method() == bhttp::verb::put) {
        co_await HoldPut();
        Put(m, request.body(), response);
      } else {
        Get(m, response);
      }
      response.keep_alive(request.keep_alive());
      response.set(bhttp::field::content_type, "application/json");
      response.prepare_payload();
      co_await bhttp::async_write(stream, response, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
    }
  }

  asio::awaitable<void> HoldPut() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++in_flight_;
      max_in_flight_ = std::max(max_in_flight_, in_flight_);
      if (in_flight_ >= hold_until_) released_ = true;
    }
    if (released_) {
      release_.cancel();  // wakes every held PUT
    } else {
      beast::error_code ec;
      co_await release_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      released_ = true;
    }
    std::lock_guard<std::mutex> lock(mu_);
    --in_flight_;
  }

  void Get(Member& m, Response& response) {
    std::lock_guard<std::mutex> lock(mu_);
    m.calls.push_back("GET");
    if (m.version == 0) {
      response.result(bhttp::status::not_found);
      response.body() = R"({"error":"no config loaded"})";
      return;
    }
    response.body() = json{{"version", m.version}, {"sha256", m.sha256}}.dump();
  }

  void Put(Member& m, const std::string& body, Response& response) {
    std::lock_guard<std::mutex> lock(mu_);
    m.calls.push_back("PUT");
    json head = json::parse(body.substr(0, body.find('\n')), nullptr, false);
    int64_t version = head.is_object() ? head.value("version", int64_t{0}) : 0;
    if (version <= m.version) {
      response.result(bhttp::status::conflict);
      response.body() =
          json{{"error", "not newer"}, {"version", m.version}, {"sha256", m.sha256}}.dump();
      return;
    }
    m.version = version;
    m.sha256 = head.value("sha256", "");
    response.body() = json{{"version", m.version}, {"sha256", m.sha256}}.dump();
  }

  asio::io_context io_;
  int hold_until_;
  asio::steady_timer release_;  // cancelled once hold_until_ PUTs are in flight
  bool released_ = false;       // io thread only
  std::vector<Member> members_;
  std::mutex mu_;
  int in_flight_ = 0;
  int max_in_flight_ = 0;
  std::thread thread_;
};

const policy::FleetConfig kV5{5, "sha5", "{}"};
const policy::FleetConfig kV6{6, "sha6", "{}"};

struct TargetCase {
  std::string url;
  bool tls;
  bool allowed;
};

TEST(FleetPusherTest, PlainHttpOnlyToLoopback) {
  const TargetCase cases[] = {
      {"http://127.0.0.1:9901", false, true}, {"http://127.1.2.3:9901", false, true},
      {"http://localhost:9901", false, true}, {"http://[::1]:9901", false, true},
      {"http://10.0.0.5:9901", false, false}, {"http://127.0.0.1.evil.com:1", false, false},
      {"http://10.0.0.5:9901", true, false},  {"https://10.0.0.5:9901", false, false},
      {"https://10.0.0.5:9901", true, true},  {"ftp://127.0.0.1:1", false, false},
  };
  for (const TargetCase& c : cases) {
    Status s = CheckPushTarget(c.url, c.tls);
    EXPECT_EQ(s.ok(), c.allowed) << c.url << " tls=" << c.tls << " " << s.ToString();
  }
}

TEST(FleetPusherTest, EndpointSlicesGiveAdminUrlsIncludingNotReady) {
  json slice = {
      {"addressType", "IPv4"},
      {"ports", {{{"name", "http"}, {"port", 8080}}, {{"name", "admin"}, {"port", 9901}}}},
      {"endpoints",
       {{{"addresses", {"10.0.0.2"}}, {"conditions", {{"ready", true}}}},
        {{"addresses", {"10.0.0.1"}}, {"conditions", {{"ready", false}}}},
        {{"addresses", {"10.0.0.3"}}, {"conditions", {{"terminating", true}}}}}}};
  json v6 = {{"addressType", "IPv6"},
             {"ports", {{{"name", "admin"}, {"port", 9901}}}},
             {"endpoints", {{{"addresses", {"fd00::1"}}}}}};
  json no_admin = {{"ports", {{{"name", "http"}, {"port", 8080}}}},
                   {"endpoints", {{{"addresses", {"10.9.9.9"}}}}}};
  EXPECT_EQ(ProxiesFromEndpointSlices({slice, v6, no_admin, slice}, "https"),
            (std::vector<std::string>{"https://10.0.0.1:9901", "https://10.0.0.2:9901",
                                      "https://[fd00::1]:9901"}));
}

// The old rounds went out in batches of 8, each waiting for the slowest: a
// change reached 50 proxies in 7 exchange times. Now every due proxy is in
// flight at once.
TEST(FleetPusherRoundTest, PushesEveryDueProxyConcurrently) {
  constexpr int kProxies = 20;
  FakeFleet fleet(kProxies, /*hold_until=*/kProxies);
  FleetPusher pusher({});
  FleetTracker tracker;
  tracker.SetMembers(fleet.Urls());
  PushRound round = pusher.Sync(kV5, &tracker);
  EXPECT_EQ(round.checked, kProxies);
  EXPECT_EQ(round.pushed, kProxies);
  EXPECT_EQ(round.failed, 0);
  EXPECT_EQ(fleet.max_in_flight(), kProxies);
  EXPECT_EQ(tracker.Counts()[ProxyState::kInSync], kProxies);
}

// New proxies are asked first (one already on our content is not re-pushed);
// a change then goes out as a bare PUT; a drift recheck only asks.
TEST(FleetPusherRoundTest, QueriesOnlyWhatItDoesNotKnow) {
  FakeFleet fleet(2, /*hold_until=*/1);
  fleet.Hold(1, 5, "sha5");  // already runs v5 (e.g. the operator restarted)
  FleetPusher pusher({});
  FleetTracker tracker(std::chrono::milliseconds(0));  // every in-sync proxy is due for a recheck
  tracker.SetMembers(fleet.Urls());

  EXPECT_EQ(pusher.Sync(kV5, &tracker).pushed, 1);
  EXPECT_EQ(fleet.Calls(0), (Strings{"GET", "PUT"}));
  EXPECT_EQ(fleet.Calls(1), (Strings{"GET"}));

  EXPECT_EQ(pusher.Sync(kV6, &tracker).pushed, 2);
  EXPECT_EQ(fleet.Calls(0), (Strings{"GET", "PUT", "PUT"}));
  EXPECT_EQ(fleet.Calls(1), (Strings{"GET", "PUT"}));

  EXPECT_EQ(pusher.Sync(kV6, &tracker).pushed, 0);
  EXPECT_EQ(fleet.Calls(0), (Strings{"GET", "PUT", "PUT", "GET"}));
  EXPECT_EQ(tracker.Counts()[ProxyState::kInSync], 2);
}

// A bare PUT to a proxy that meanwhile took a newer version from elsewhere:
// the 409 is its report, so the next render goes above it.
TEST(FleetPusherRoundTest, RefusedAsOlderReportsTheProxysVersion) {
  FakeFleet fleet(1, /*hold_until=*/1);
  FleetPusher pusher({});
  FleetTracker tracker;
  tracker.SetMembers(fleet.Urls());
  ASSERT_EQ(pusher.Sync(kV5, &tracker).pushed, 1);
  fleet.Hold(0, 9, "other");
  PushRound round = pusher.Sync(kV6, &tracker);
  EXPECT_EQ(fleet.Calls(0), (Strings{"GET", "PUT", "PUT"}));
  EXPECT_EQ(round.pushed, 0);
  ASSERT_EQ(round.errors.size(), 1u);
  EXPECT_NE(round.errors[0].find("newer config version"), std::string::npos) << round.errors[0];
  EXPECT_EQ(tracker.records().begin()->second.version, 9);
  EXPECT_EQ(tracker.VersionFloor("sha6"), 10);
}

// A proxy that does not answer is counted and backed off, the others proceed.
TEST(FleetPusherRoundTest, UnreachableProxyIsCountedNotFatal) {
  FakeFleet fleet(1, /*hold_until=*/1);
  Strings urls = fleet.Urls();
  // Bound but not listening: connections are refused, and no one else can take the port.
  asio::io_context io;
  tcp::socket bound(io, tcp::endpoint(tcp::v4(), 0));
  urls.push_back("http://127.0.0.1:" + std::to_string(bound.local_endpoint().port()));
  FleetPusher pusher({});
  FleetTracker tracker;
  tracker.SetMembers(urls);
  PushRound round = pusher.Sync(kV5, &tracker);
  EXPECT_EQ(round.pushed, 1);
  EXPECT_EQ(round.failed, 1);
  EXPECT_EQ(tracker.Counts()[ProxyState::kUnreachable], 1);
}

}  // namespace
}  // namespace gatehouse::fleet
