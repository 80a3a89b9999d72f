// AdminServer on loopback: whole-body reads, size limits, keep-alive, and a
// handler that throws.
#include "proxy/server/admin_server.h"

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace beast = boost::beast;
#include <stdexcept>
#include <string>
#include <vector>

namespace gatehouse::server {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class EchoAdminHandler : public AdminHandler {
 public:
  LocalResponse Handle(const http::request<http::string_body>& request,
                       const ClientInfo& client) override {
    if (request.target() == "/throw") throw std::runtime_error("handler bug");
    LocalResponse response{http::status::ok, 11};
    response.body() = std::string(request.method_string()) + " " + std::string(request.target()) +
                      " " + std::to_string(request.body().size()) + " " + client.address_text;
    return response;
  }
};

struct Case {
  std::string name;
  std::string method;
  std::string target;
  std::size_t body_bytes;
  http::status status;
  std::string body;  // expected, when not empty
};

TEST(AdminServerTest, Table) {
  EchoAdminHandler handler;
  AdminOptions options;
  options.listen_address = "127.0.0.1";
  options.listen_port = 0;
  options.max_body_bytes = 1024;
  AdminServer server(handler, options);
  ASSERT_TRUE(server.Start().ok());
  const std::vector<Case> cases = {
      {"get", "GET", "/healthz", 0, http::status::ok, "GET /healthz 0 127.0.0.1"},
      {"put at the limit", "PUT", "/v1/config", 1024, http::status::ok,
       "PUT /v1/config 1024 127.0.0.1"},
      {"put over the limit", "PUT", "/v1/config", 1025, http::status::payload_too_large, ""},
      {"handler throws", "GET", "/throw", 0, http::status::internal_server_error, ""},
  };
  for (const auto& c : cases) {
    asio::io_context io;
    tcp::socket socket(io);
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()));
    http::request<http::string_body> request{http::string_to_verb(c.method), c.target, 11};
    request.set(http::field::host, "admin");
    request.body() = std::string(c.body_bytes, 'b');
    request.prepare_payload();
    beast::flat_buffer buffer;
    // Twice on one connection: the first answer must keep it alive when it succeeded.
    for (int round = 0; round < (c.status == http::status::ok ? 2 : 1); ++round) {
      http::write(socket, request);
      http::response<http::string_body> response;
      http::read(socket, buffer, response);
      EXPECT_EQ(response.result(), c.status) << c.name;
      if (!c.body.empty()) {
        EXPECT_EQ(response.body(), c.body) << c.name;
      }
      EXPECT_EQ(response.body().find("handler bug"), std::string::npos) << c.name;
    }
  }
  server.Stop();
}

}  // namespace
}  // namespace gatehouse::server
