// AdminServer on loopback: whole-body reads, size limits, keep-alive, a
// handler that throws, and the mTLS push port (certificates made per run with
// the openssl command line in a temporary folder).
#include "proxy/server/admin_server.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace beast = boost::beast;

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

// --- mTLS -------------------------------------------------------------------

// Answers "verified=<0|1> tls=<0|1>" so the test sees what the handler saw.
class PeerAdminHandler : public AdminHandler {
 public:
  LocalResponse Handle(const http::request<http::string_body>&, const ClientInfo& client) override {
    LocalResponse response{http::status::ok, 11};
    response.body() = "verified=" + std::to_string(client.client_cert_verified) +
                      " tls=" + std::to_string(client.tls);
    return response;
  }
};

// A push CA, a server certificate for 127.0.0.1, client certificates of
// several kinds, and a second CA nobody trusts.
class AdminTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char pattern[] = "/tmp/gh-admin-tls-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    Run("openssl req -x509 " + ec + " -keyout ca.key -out ca.crt -subj /CN=push-ca -days 2");
    Run("openssl req -x509 " + ec +
        " -keyout rogue-ca.key -out rogue-ca.crt -subj /CN=rogue -days 2");
    Leaf("ca", "server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth");
    Leaf("ca", "client", "extendedKeyUsage=clientAuth");
    Leaf("ca", "server-only", "extendedKeyUsage=serverAuth");  // a proxy's own certificate
    Leaf("ca", "no-eku", "basicConstraints=CA:FALSE");
    Leaf("rogue-ca", "rogue-client", "extendedKeyUsage=clientAuth");
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }

  static void Run(const std::string& command) {
    const std::string full = "cd " + dir_ + " && " + command + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(full.c_str()), 0) << command;
  }
  static void Leaf(const std::string& ca, const std::string& name, const std::string& ext) {
    std::ofstream(dir_ + "/" + name + ".ext") << ext << "\n";
    Run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + name +
        ".key -out " + name + ".csr -subj /CN=" + name);
    Run("openssl x509 -req -in " + name + ".csr -CA " + ca + ".crt -CAkey " + ca +
        ".key -CAcreateserial -days 2 -out " + name + ".crt -extfile " + name + ".ext");
  }
  static std::string File(const std::string& name) { return dir_ + "/" + name; }

  static std::string dir_;
};
std::string AdminTlsTest::dir_;

struct TlsCase {
  std::string name;
  std::string client_cert;  // "" = none
  bool handshake_ok;
  std::string body;  // when the handshake succeeds
};

TEST_F(AdminTlsTest, ClientCertificates) {
  PeerAdminHandler handler;
  AdminOptions options;
  options.listen_address = "127.0.0.1";
  options.listen_port = 0;
  options.tls_cert_file = File("server.crt");
  options.tls_key_file = File("server.key");
  AdminServer server(handler, options, File("ca.crt"));
  ASSERT_TRUE(server.Start().ok());
  const std::vector<TlsCase> cases = {
      {"no client certificate: served, not verified", "", true, "verified=0 tls=1"},
      {"push CA client certificate: verified", "client", true, "verified=1 tls=1"},
      {"another CA: handshake fails", "rogue-client", false, ""},
      {"serverAuth-only certificate of the push CA: handshake fails", "server-only", false, ""},
      {"no extended key usage: served, not verified", "no-eku", true, "verified=0 tls=1"},
  };
  for (const TlsCase& c : cases) {
    SCOPED_TRACE(c.name);
    asio::io_context io;
    asio::ssl::context context(asio::ssl::context::tls_client);
    context.load_verify_file(File("ca.crt"));
    if (!c.client_cert.empty()) {
      context.use_certificate_chain_file(File(c.client_cert + ".crt"));
      context.use_private_key_file(File(c.client_cert + ".key"), asio::ssl::context::pem);
    }
    asio::ssl::stream<tcp::socket> stream(io, context);
    stream.set_verify_mode(asio::ssl::verify_peer);
    stream.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()));
    boost::system::error_code ec;
    stream.handshake(asio::ssl::stream_base::client, ec);
    // TLS 1.3: a refused client certificate may surface on the first read instead.
    http::response<http::string_body> response;
    if (!ec) {
      http::request<http::string_body> request{http::verb::get, "/whoami", 11};
      request.set(http::field::host, "admin");
      http::write(stream, request, ec);
      beast::flat_buffer buffer;
      if (!ec) http::read(stream, buffer, response, ec);
    }
    EXPECT_EQ(!ec, c.handshake_ok) << ec.message();
    if (c.handshake_ok) {
      EXPECT_EQ(response.body(), c.body);
    }
  }
  server.Stop();
}

TEST_F(AdminTlsTest, PlainHttpToTheTlsPortGetsNoAnswer) {
  PeerAdminHandler handler;
  AdminOptions options;
  options.listen_address = "127.0.0.1";
  options.listen_port = 0;
  options.tls_cert_file = File("server.crt");
  options.tls_key_file = File("server.key");
  AdminServer server(handler, options, File("ca.crt"));
  ASSERT_TRUE(server.Start().ok());
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()));
  http::request<http::string_body> request{http::verb::put, "/v1/config", 11};
  request.set(http::field::host, "admin");
  request.body() = "{}";
  request.prepare_payload();
  boost::system::error_code ec;
  http::write(socket, request, ec);
  http::response<http::string_body> response;
  beast::flat_buffer buffer;
  http::read(socket, buffer, response, ec);
  EXPECT_TRUE(ec) << "a plaintext request must not get an HTTP answer";
  server.Stop();
}

TEST_F(AdminTlsTest, StartRefusesBadTlsSetups) {
  PeerAdminHandler handler;
  struct Bad {
    std::string name;
    std::string cert, key, ca;
  };
  const std::vector<Bad> cases = {
      {"client CA without a server certificate", "", "", File("ca.crt")},
      {"missing CA file", File("server.crt"), File("server.key"), File("nope.crt")},
      {"key does not match", File("server.crt"), File("client.key"), File("ca.crt")},
  };
  for (const Bad& c : cases) {
    SCOPED_TRACE(c.name);
    AdminOptions options;
    options.listen_address = "127.0.0.1";
    options.listen_port = 0;
    options.tls_cert_file = c.cert;
    options.tls_key_file = c.key;
    AdminServer server(handler, options, c.ca);
    EXPECT_FALSE(server.Start().ok());
  }
}

}  // namespace
}  // namespace gatehouse::server
