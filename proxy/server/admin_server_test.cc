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
#include <chrono>
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
  LocalResponse Handle(const AdminRequest& request, const ClientInfo& client) override {
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

// --- large bodies: decided from the head -----------------------------------

// Admits a large body for PUT /v1/config when `may_push`, refuses the push
// with 403 otherwise (as AdminEndpoints does), echoes like EchoAdminHandler.
class PushAdminHandler : public EchoAdminHandler {
 public:
  explicit PushAdminHandler(bool may_push) : may_push_(may_push) {}
  AdminBodyAdmission AdmitBody(const AdminHead& head, const ClientInfo&) override {
    AdminBodyAdmission admission;
    if (head.method() != http::verb::put || head.target() != "/v1/config") return admission;
    if (may_push_) {
      admission.large_body = true;
    } else {
      admission.refusal.emplace(http::status::forbidden, 11);
      admission.refusal->body() = "push refused";
    }
    return admission;
  }

 private:
  bool may_push_;
};

AdminOptions LargeBodyOptions() {
  AdminOptions options;
  options.listen_address = "127.0.0.1";
  options.listen_port = 0;
  options.max_small_body_bytes = 4096;
  // A server that waited for a body the client never sends answers nothing
  // and closes after this: the test's read then fails instead of hanging.
  options.idle_timeout = std::chrono::seconds(5);
  return options;
}

tcp::socket Connect(asio::io_context& io, uint16_t port) {
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  return socket;
}

// Sends only a request head; returns what the server answers without the body.
http::response<http::string_body> HeadOnly(tcp::socket& socket, const std::string& head) {
  asio::write(socket, asio::buffer(head));
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  boost::system::error_code ec;
  http::read(socket, buffer, response, ec);
  EXPECT_FALSE(ec) << "no answer before the body was sent: " << ec.message();
  return response;
}

struct HeadCase {
  std::string name;
  bool may_push;
  std::string request_line;
  std::string framing;  // Content-Length or Transfer-Encoding header
  http::status status;
};

// An unauthorized client announcing a 60 MiB body gets its answer while it
// has sent no body byte: the server decided from the head, and read nothing.
TEST(AdminServerTest, RefusesFromTheHeadBeforeAnyBodyByte) {
  const std::string sixty_mib = "Content-Length: " + std::to_string(60u << 20);
  const std::vector<HeadCase> cases = {
      {"unauthorized push, 60 MiB", false, "PUT /v1/config", sixty_mib, http::status::forbidden},
      {"unauthorized push, small", false, "PUT /v1/config", "Content-Length: 10",
       http::status::forbidden},
      {"unauthorized chunked push", false, "PUT /v1/config", "Transfer-Encoding: chunked",
       http::status::forbidden},
      {"other path, 60 MiB", true, "POST /v1/config", sixty_mib, http::status::payload_too_large},
      {"other path, just over the small limit", true, "PUT /healthz", "Content-Length: 4097",
       http::status::payload_too_large},
      {"authorized push beyond the large limit", true, "PUT /v1/config",
       "Content-Length: " + std::to_string((64u << 20) + 1), http::status::payload_too_large},
      {"authorized push, 2^64-1 bytes", true, "PUT /v1/config",
       "Content-Length: 18446744073709551615", http::status::payload_too_large},
  };
  for (const HeadCase& c : cases) {
    SCOPED_TRACE(c.name);
    PushAdminHandler handler(c.may_push);
    AdminServer server(handler, LargeBodyOptions());
    ASSERT_TRUE(server.Start().ok());
    asio::io_context io;
    tcp::socket socket = Connect(io, server.port());
    const auto response =
        HeadOnly(socket, c.request_line + " HTTP/1.1\r\nHost: admin\r\n" + c.framing + "\r\n\r\n");
    EXPECT_EQ(response.result(), c.status);
    EXPECT_FALSE(response.keep_alive()) << "the unread body leaves the connection unusable";
    server.Stop();
  }
}

// A chunked body announces no size: the small limit cuts it off as it arrives.
TEST(AdminServerTest, ChunkedBodyBeyondTheSmallLimitIs413) {
  PushAdminHandler handler(true);
  AdminServer server(handler, LargeBodyOptions());
  ASSERT_TRUE(server.Start().ok());
  asio::io_context io;
  tcp::socket socket = Connect(io, server.port());
  std::string request = "POST /other HTTP/1.1\r\nHost: admin\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string chunk(1024, 'c');
  for (int i = 0; i < 5; ++i) request += "400\r\n" + chunk + "\r\n";
  request += "0\r\n\r\n";
  asio::write(socket, asio::buffer(request));
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(socket, buffer, response);
  EXPECT_EQ(response.result(), http::status::payload_too_large);
  server.Stop();
}

http::request<http::string_body> Push(std::size_t bytes) {
  http::request<http::string_body> request{http::verb::put, "/v1/config", 11};
  request.set(http::field::host, "admin");
  request.body() = std::string(bytes, 'p');
  request.prepare_payload();
  return request;
}

http::response<http::string_body> Exchange(tcp::socket& socket,
                                           const http::request<http::string_body>& request) {
  http::write(socket, request);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(socket, buffer, response);
  return response;
}

// An authorized push far beyond the small limit is read whole and handled,
// and with Expect: 100-continue it is invited before the body is sent.
TEST(AdminServerTest, AuthorizedLargePushSucceeds) {
  PushAdminHandler handler(true);
  AdminServer server(handler, LargeBodyOptions());
  ASSERT_TRUE(server.Start().ok());
  asio::io_context io;
  constexpr std::size_t kNineMiB = 9u << 20;
  {
    tcp::socket socket = Connect(io, server.port());
    const auto response = Exchange(socket, Push(kNineMiB));
    EXPECT_EQ(response.result(), http::status::ok);
    EXPECT_EQ(response.body(), "PUT /v1/config " + std::to_string(kNineMiB) + " 127.0.0.1");
  }
  {
    tcp::socket socket = Connect(io, server.port());
    auto request = Push(kNineMiB);
    request.set(http::field::expect, "100-continue");
    http::request_serializer<http::string_body> serializer(request);
    http::write_header(socket, serializer);
    beast::flat_buffer buffer;
    http::response<http::string_body> interim;
    http::read(socket, buffer, interim);
    EXPECT_EQ(interim.result(), http::status::continue_);
    http::write(socket, serializer);
    http::response<http::string_body> response;
    http::read(socket, buffer, response);
    EXPECT_EQ(response.result(), http::status::ok);
    EXPECT_EQ(response.body(), "PUT /v1/config " + std::to_string(kNineMiB) + " 127.0.0.1");
  }
  server.Stop();
}

// One large body at a time: a second concurrent large push gets 503 +
// Retry-After from its head; small requests go on; the slot frees after.
TEST(AdminServerTest, OneLargePushAtATime) {
  PushAdminHandler handler(true);
  AdminServer server(handler, LargeBodyOptions());
  ASSERT_TRUE(server.Start().ok());
  asio::io_context io;
  constexpr std::size_t kLarge = 1u << 20;
  // First push: admitted (the 100 Continue says its slot is taken), body pending.
  tcp::socket first = Connect(io, server.port());
  auto first_request = Push(kLarge);
  first_request.set(http::field::expect, "100-continue");
  http::request_serializer<http::string_body> first_serializer(first_request);
  http::write_header(first, first_serializer);
  beast::flat_buffer first_buffer;
  http::response<http::string_body> interim;
  http::read(first, first_buffer, interim);
  ASSERT_EQ(interim.result(), http::status::continue_);

  struct Concurrent {
    std::string name;
    std::size_t body_bytes;
    http::status status;
  };
  const std::vector<Concurrent> concurrent = {
      {"second large push", kLarge, http::status::service_unavailable},
      {"small push", 100, http::status::ok},
  };
  for (const Concurrent& c : concurrent) {
    SCOPED_TRACE(c.name);
    tcp::socket socket = Connect(io, server.port());
    const auto response = Exchange(socket, Push(c.body_bytes));
    EXPECT_EQ(response.result(), c.status);
    if (c.status == http::status::service_unavailable) {
      EXPECT_EQ(response[http::field::retry_after], "1");
    }
  }
  http::write(first, first_serializer);
  http::response<http::string_body> response;
  http::read(first, first_buffer, response);
  EXPECT_EQ(response.result(), http::status::ok);
  // The slot is free again.
  tcp::socket after = Connect(io, server.port());
  EXPECT_EQ(Exchange(after, Push(kLarge)).result(), http::status::ok);
  server.Stop();
}

// --- mTLS -------------------------------------------------------------------

// Answers "verified=<0|1> tls=<0|1>" so the test sees what the handler saw.
class PeerAdminHandler : public AdminHandler {
 public:
  LocalResponse Handle(const AdminRequest&, const ClientInfo& client) override {
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
