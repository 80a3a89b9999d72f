#include "proxy/server/admin_server.h"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <exception>
#include <optional>
#include <thread>

#include "proxy/server/tls_context.h"

namespace gatehouse::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using boost::system::error_code;

ClientInfo AdminClientInfo(const tcp::socket& socket, bool tls) {
  ClientInfo info;
  info.tls = tls;
  error_code ec;
  const auto endpoint = socket.remote_endpoint(ec);
  if (ec) return info;
  info.address_text = endpoint.address().to_string();
  if (auto parsed = policy::ParseIpAddress(info.address_text); parsed.ok()) info.address = *parsed;
  return info;
}

LocalResponse ErrorResponse(http::status status) {
  LocalResponse response{status, 11};
  response.set(http::field::content_type, "text/plain");
  response.body() = std::string(http::obsolete_reason(status)) + "\n";
  response.keep_alive(false);
  response.prepare_payload();
  return response;
}

}  // namespace

struct AdminServer::State {
  std::unique_ptr<ssl::context> tls;
  asio::io_context io{1};
  std::optional<tcp::acceptor> acceptor;
  std::thread thread;
};

namespace {

// Reads one whole request, asks the handler, answers. Returns keep-alive.
asio::awaitable<bool> ServeOne(NetStream& stream, beast::flat_buffer& buffer, AdminHandler& handler,
                               const AdminOptions& options, const ClientInfo& client) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
  parser.body_limit(options.max_body_bytes);
  error_code ec;
  stream.tcp().expires_after(options.header_timeout);
  co_await http::async_read_header(stream, buffer, parser,
                                   asio::redirect_error(asio::use_awaitable, ec));
  if (ec == http::error::end_of_stream || ec == beast::error::timeout) co_return false;
  if (!ec) {
    stream.tcp().expires_after(options.idle_timeout);
    co_await http::async_read(stream, buffer, parser,
                              asio::redirect_error(asio::use_awaitable, ec));
  }
  LocalResponse response;
  bool keep_alive = false;
  if (ec == http::error::body_limit) {
    response = ErrorResponse(http::status::payload_too_large);
  } else if (ec == http::error::header_limit) {
    response = ErrorResponse(http::status::request_header_fields_too_large);
  } else if (ec && ec.category() == http::make_error_code(http::error::bad_target).category()) {
    response = ErrorResponse(http::status::bad_request);
  } else if (ec) {
    co_return false;  // timeout or gone
  } else {
    keep_alive = parser.get().keep_alive();
    try {
      response = handler.Handle(parser.get(), client);
    } catch (...) {
      // A handler bug must not take the admin port down; nothing from the
      // exception reaches the client.
      response = ErrorResponse(http::status::internal_server_error);
      keep_alive = false;
    }
    response.version(11);
    response.keep_alive(keep_alive);
    response.prepare_payload();
  }
  stream.tcp().expires_after(options.idle_timeout);
  co_await http::async_write(stream, response, asio::redirect_error(asio::use_awaitable, ec));
  co_return keep_alive && !ec;
}

asio::awaitable<void> AdminSession(NetStream stream, AdminHandler& handler,
                                   const AdminOptions& options) {
  ClientInfo client = AdminClientInfo(stream.tcp().socket(), stream.is_tls());
  error_code ec;
  if (stream.is_tls()) {
    stream.tcp().expires_after(options.header_timeout);
    co_await stream.tls()->async_handshake(ssl::stream_base::server,
                                           asio::redirect_error(asio::use_awaitable, ec));
    // A certificate that does not verify ends here (tls_context.h): no request is read.
    if (ec) {
      stream.Close();
      co_return;
    }
    client.client_cert_verified = HasVerifiedClientCertificate(*stream.tls());
  }
  beast::flat_buffer buffer;
  while (co_await ServeOne(stream, buffer, handler, options, client)) {
  }
  stream.Close();
}

asio::awaitable<void> AdminAccept(tcp::acceptor& acceptor, ssl::context* tls, AdminHandler& handler,
                                  const AdminOptions& options) {
  for (;;) {
    error_code ec;
    tcp::socket socket =
        co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (!acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
    if (ec) continue;
    // TLS writes a response head and body as separate records: without this,
    // Nagle holds the second until the client's delayed ACK (~40 ms per push).
    socket.set_option(tcp::no_delay(true), ec);
    beast::tcp_stream tcp_stream(std::move(socket));
    NetStream stream =
        tls ? NetStream(std::move(tcp_stream), *tls) : NetStream(std::move(tcp_stream));
    asio::co_spawn(acceptor.get_executor(), AdminSession(std::move(stream), handler, options),
                   [](std::exception_ptr) {});
  }
}

}  // namespace

AdminServer::AdminServer(AdminHandler& handler, AdminOptions options, std::string client_ca_file)
    : handler_(handler), options_(std::move(options)), client_ca_file_(std::move(client_ca_file)) {}

AdminServer::~AdminServer() { Stop(); }

Status AdminServer::Start() {
  if (state_) return FailedPreconditionError("AdminServer already started");
  auto state = std::make_unique<State>();
  if (!client_ca_file_.empty() &&
      (options_.tls_cert_file.empty() || options_.tls_key_file.empty())) {
    return InvalidArgumentError(
        "client certificates on the admin port need its certificate and key");
  }
  if (!options_.tls_cert_file.empty() || !options_.tls_key_file.empty()) {
    auto tls =
        client_ca_file_.empty()
            ? MakeServerTlsContext(options_.tls_cert_file, options_.tls_key_file)
            : MakeAdminTlsContext(options_.tls_cert_file, options_.tls_key_file, client_ca_file_);
    if (!tls.ok()) return tls.status();
    state->tls = std::move(*tls);
  }
  error_code ec;
  const auto address = asio::ip::make_address(options_.listen_address, ec);
  if (ec)
    return InvalidArgumentError("admin address " + options_.listen_address + ": " + ec.message());
  const tcp::endpoint endpoint(address, options_.listen_port);
  auto& acceptor = state->acceptor.emplace(state->io);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return UnavailableError("cannot listen on admin " + options_.listen_address + ":" +
                            std::to_string(endpoint.port()) + ": " + ec.message());
  }
  port_ = acceptor.local_endpoint().port();
  asio::co_spawn(state->io, AdminAccept(acceptor, state->tls.get(), handler_, options_),
                 [](std::exception_ptr) {});
  state->thread = std::thread([io = &state->io] { io->run(); });
  state_ = std::move(state);
  return Status::Ok();
}

void AdminServer::Stop() {
  if (!state_) return;
  state_->io.stop();
  if (state_->thread.joinable()) state_->thread.join();
  state_->acceptor.reset();
  state_.reset();
}

}  // namespace gatehouse::server
