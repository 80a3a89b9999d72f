// Shared by the ProxyServer tests (proxy_server_*_test.cc): ProxyServer end
// to end on loopback with a recording Gate, an in-process upstream (blocking
// Beast on its own threads) and raw-socket clients.
//
//   TEST_F(ProxyServerTest, Something) {
//     StartProxy();
//     Client client(proxy_->port());
//     client.Send(Get("/echo"));
//     auto response = client.Read();
//   }
#pragma once

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "proxy/server/proxy_server.h"

namespace gatehouse::server::proxy_test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using namespace std::string_literals;

// ---------------------------------------------------------------- upstream

// Behaviour by path: /echo (method, target and headers as text), /big?n=N
// (N bytes, Content-Length), /bigchunked?n=N, /upload (counts body bytes),
// /hang (never answers; records when the proxy closes), /slow (answers after
// 400 ms), /close (closes at once), /garbage, /close-after (answers, then
// closes the kept-alive connection), /ws (WebSocket echo), /hints (103 Early
// Hints and a 100 Continue before the /echo answer).
class TestUpstream {
 public:
  TestUpstream() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }
  ~TestUpstream() {
    stop_ = true;
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    accept_thread_.join();
    {
      std::lock_guard lock(mutex_);
      for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : workers_) t.join();
  }
  uint16_t port() const { return port_; }
  int connections() const { return connections_; }

  std::atomic<bool> hang_seen{false};
  std::atomic<bool> hang_closed{false};
  std::atomic<uint64_t> uploaded{0};
  std::atomic<int> requests{0};  // request heads received
  // Copies of the fake gate's added field (X-Gate-Added) in the last head.
  std::atomic<int> last_gate_added{-1};

 private:
  void AcceptLoop() {
    for (;;) {
      tcp::socket socket(io_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec || stop_) return;
      ++connections_;
      std::lock_guard lock(mutex_);
      open_fds_.push_back(socket.native_handle());
      workers_.emplace_back([this, s = std::move(socket)]() mutable { Serve(s); });
    }
  }

  static uint64_t QueryN(const std::string& target) {
    auto pos = target.find("n=");
    return pos == std::string::npos ? 0 : std::stoull(target.substr(pos + 2));
  }

  void Serve(tcp::socket& socket) {
    beast::flat_buffer buffer;
    buffer.reserve(256 * 1024);
    boost::system::error_code ec;
    for (;;) {
      http::request_parser<http::buffer_body> parser;
      parser.body_limit(std::numeric_limits<uint64_t>::max());
      http::read_header(socket, buffer, parser, ec);
      if (ec) return;
      ++requests;
      std::vector<char> chunk(64 * 1024);
      uint64_t body_bytes = 0;
      while (!parser.is_done()) {
        parser.get().body().data = chunk.data();
        parser.get().body().size = chunk.size();
        http::read(socket, buffer, parser, ec);
        if (ec == http::error::need_buffer) ec = {};
        if (ec) return;
        body_bytes += chunk.size() - parser.get().body().size;
      }
      auto& request = parser.get();
      last_gate_added = static_cast<int>(request.count("X-Gate-Added"));
      const std::string target(request.target());
      if (target.rfind("/ws", 0) == 0) return WebSocketEcho(socket, request);
      if (target.rfind("/hang", 0) == 0) {
        hang_seen = true;
        char byte;
        socket.read_some(asio::buffer(&byte, 1), ec);  // blocks until the proxy closes
        hang_closed = true;
        return;
      }
      if (target.rfind("/close", 0) == 0 && target != "/close-after") return;
      if (target.rfind("/garbage", 0) == 0) {
        asio::write(socket, asio::buffer(std::string("NOT HTTP AT ALL\r\n\r\n")), ec);
        return;
      }
      if (target.rfind("/slow", 0) == 0) std::this_thread::sleep_for(400ms);
      if (target.rfind("/hints", 0) == 0) {
        // Interim answers before the final one: an Early Hints with a
        // hop-by-hop field, and an unsolicited 100 Continue.
        asio::write(socket,
                    asio::buffer(std::string("HTTP/1.1 103 Early Hints\r\n"
                                             "Link: </style.css>; rel=preload\r\n"
                                             "Connection: X-Hop\r\nX-Hop: hidden\r\n\r\n"
                                             "HTTP/1.1 100 Continue\r\n\r\n")),
                    ec);
        if (ec) return;
      }
      if (target.rfind("/big", 0) == 0) {
        if (!WriteBig(socket, QueryN(target), target.rfind("/bigchunked", 0) == 0,
                      request.method() == http::verb::head)) {
          return;
        }
        continue;
      }
      http::response<http::string_body> response{http::status::ok, 11};
      if (target.rfind("/upload", 0) == 0) {
        uploaded = body_bytes;
        response.body() = std::to_string(body_bytes);
      } else {
        std::string text =
            "method " + std::string(request.method_string()) + "\ntarget " + target + "\n";
        for (const auto& f : request) {
          text += std::string(f.name_string()) + ": " + std::string(f.value()) + "\n";
        }
        response.body() = text;
      }
      response.keep_alive(true);
      response.prepare_payload();
      http::write(socket, response, ec);
      if (ec || target == "/close-after") return;
    }
  }

  static bool WriteBig(tcp::socket& socket, uint64_t n, bool chunked, bool head_only) {
    http::response<http::empty_body> head{http::status::ok, 11};
    if (chunked) {
      head.chunked(true);
    } else {
      head.content_length(n);
    }
    http::response_serializer<http::empty_body> sr{head};
    boost::system::error_code ec;
    http::write_header(socket, sr, ec);
    if (head_only) return !ec;
    std::string block(64 * 1024, 'x');
    for (uint64_t sent = 0; sent < n && !ec;) {
      const std::size_t size = static_cast<std::size_t>(std::min<uint64_t>(block.size(), n - sent));
      if (chunked) {
        asio::write(socket, http::make_chunk(asio::buffer(block.data(), size)), ec);
      } else {
        asio::write(socket, asio::buffer(block.data(), size), ec);
      }
      sent += size;
    }
    if (chunked && !ec) asio::write(socket, http::make_chunk_last(), ec);
    return !ec;
  }

  static void WebSocketEcho(tcp::socket& socket, http::request<http::buffer_body>& request) {
    http::request<http::empty_body> head{request.base()};
    websocket::stream<tcp::socket&> ws(socket);
    boost::system::error_code ec;
    ws.accept(head, ec);
    beast::flat_buffer buffer;
    while (!ec) {
      ws.read(buffer, ec);
      if (ec) break;
      ws.text(ws.got_text());
      ws.write(buffer.data(), ec);
      buffer.consume(buffer.size());
    }
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread accept_thread_;
  std::mutex mutex_;
  std::vector<int> open_fds_;
  std::vector<std::thread> workers_;
};

// ---------------------------------------------------------------- gate

class RecordingGate : public Gate {
 public:
  explicit RecordingGate(uint16_t upstream_port, std::chrono::seconds timeout = 5s) {
    auto target = std::make_shared<UpstreamTarget>();
    target->scheme = "http";
    target->host = "127.0.0.1";
    target->port = upstream_port;
    target->host_header = "upstream.internal:" + std::to_string(upstream_port);
    target->timeout = timeout;
    target->pool_key = "http://127.0.0.1:" + std::to_string(upstream_port);
    target_ = target;
  }

  void Check(RequestHead& request, const ClientInfo&, Done done) override {
    ++checks;
    GateVerdict verdict;
    std::string target(request.target());
    if (target.rfind("/local", 0) == 0) {
      verdict.local_response.emplace(http::status::forbidden, 11);
      verdict.local_response->body() = "denied\n";
    } else {
      verdict.upstream = target_;
      verdict.upstream_target = target == "/rewrite" ? "/echo?rewritten=1" : target;
      // A claim that tries header injection (an IdP's value, copied by a gate).
      if (target == "/inject") {
        request.set("X-Forwarded-Email", "a@b.test\r\nX-Forwarded-Groups: admins");
        // The added-fields route refuses it on its own (nothing is written).
        refused_injection = !verdict.added_fields.Add("X-Forwarded-Groups", "a\r\nX-Admin: 1");
      }
      // The gate's own fields travel apart from the head (gate.h).
      verdict.added_fields.Add("X-Gate-Added", "1");
      verdict.added_fields.Add("X-Request-Id", "gate-" + std::to_string(checks.load()));
    }
    done(std::move(verdict));
  }

  void Finish(GateVerdict&, const ExchangeOutcome& outcome) override {
    std::lock_guard lock(mutex_);
    outcomes_.push_back(outcome);
  }

  std::vector<ExchangeOutcome> outcomes() {
    std::lock_guard lock(mutex_);
    return outcomes_;
  }
  // Finish runs after the answer is written: wait for it rather than race it.
  std::vector<ExchangeOutcome> WaitForOutcomes(std::size_t count) {
    for (int i = 0; i < 400; ++i) {
      if (outcomes().size() >= count) break;
      std::this_thread::sleep_for(5ms);
    }
    return outcomes();
  }

  std::atomic<int> checks{0};
  std::atomic<bool> refused_injection{false};

 private:
  std::shared_ptr<const UpstreamTarget> target_;
  std::mutex mutex_;
  std::vector<ExchangeOutcome> outcomes_;
};

// ---------------------------------------------------------------- client

class Client {
 public:
  explicit Client(uint16_t port) : socket_(io_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    timeval tv{5, 0};
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  void Send(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }
  http::response<http::string_body> Read(bool head_request = false) {
    http::response_parser<http::string_body> parser;
    parser.skip(head_request);
    parser.body_limit(64 * 1024 * 1024);
    boost::system::error_code ec;
    http::read(socket_, buffer_, parser, ec);
    if (ec) return http::response<http::string_body>{http::status::unknown, 11};
    return parser.release();
  }
  http::response<http::string_body> RoundTrip(const std::string& bytes) {
    Send(bytes);
    return Read();
  }
  // True when the proxy closed the connection (EOF or reset) within the receive timeout.
  bool ClosedByPeer() {
    char byte;
    boost::system::error_code ec;
    if (buffer_.size() > 0) return false;
    socket_.read_some(asio::buffer(&byte, 1), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }
  tcp::socket& socket() { return socket_; }

 private:
  asio::io_context io_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

inline std::string Get(const std::string& target, const std::string& extra = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: proxy.test\r\n" + extra + "\r\n";
}

class ProxyServerTest : public ::testing::Test {
 protected:
  ProxyServerTest() {
    options_.listen_address = "127.0.0.1";
    options_.listen_port = 0;
    options_.threads = 1;
    options_.header_timeout = 500ms;
    options_.idle_timeout = 2000ms;
    options_.upstream_connect_timeout = 1000ms;
  }
  void StartProxy(std::chrono::seconds upstream_timeout = 5s) {
    gate_ = std::make_unique<RecordingGate>(upstream_.port(), upstream_timeout);
    proxy_ = std::make_unique<ProxyServer>(*gate_, options_);
    ASSERT_TRUE(proxy_->Start().ok());
  }
  void TearDown() override {
    if (proxy_) proxy_->Stop();
  }

  TestUpstream upstream_;
  NetOptions options_;
  std::unique_ptr<RecordingGate> gate_;
  std::unique_ptr<ProxyServer> proxy_;
};

}  // namespace gatehouse::server::proxy_test
