#include "proxy/server/admin_server.h"

#include <algorithm>
#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <exception>
#include <limits>
#include <optional>
#include <thread>

#include "proxy/server/loop_executor.h"
#include "proxy/server/tls_context.h"

namespace gatehouse::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using boost::system::error_code;

ClientInfo AdminClientInfo(const TcpSocket& socket, bool tls) {
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

namespace {

// Shared by the sessions of one admin port; used on its one event-loop thread only.
struct AdminContext {
  AdminHandler& handler;
  const AdminOptions& options;
  std::size_t large_bodies_in_flight = 0;
};

}  // namespace

struct AdminServer::State {
  std::unique_ptr<ssl::context> tls;
  asio::io_context io{1};
  std::optional<TcpAcceptor> acceptor;
  std::thread thread;
  std::optional<AdminContext> context;
};

namespace {

using AdminParser = http::request_parser<http::string_body, HeaderAllocator<char>>;

// Holds one of AdminOptions::max_concurrent_large_bodies while a large body is
// read and handled.
class LargeBodySlot {
 public:
  explicit LargeBodySlot(std::size_t& in_flight) : in_flight_(in_flight) { ++in_flight_; }
  ~LargeBodySlot() { --in_flight_; }
  LargeBodySlot(const LargeBodySlot&) = delete;
  LargeBodySlot& operator=(const LargeBodySlot&) = delete;

 private:
  std::size_t& in_flight_;
};

// Decides from the request head how much body may be read; returns the answer
// instead when none may be. Called before any body byte is parsed.
std::optional<LocalResponse> AdmitBody(AdminParser& parser, AdminContext& context,
                                       const ClientInfo& client,
                                       std::optional<LargeBodySlot>& slot) {
  const AdminOptions& options = context.options;
  AdminBodyAdmission admission;
  try {
    admission = context.handler.AdmitBody(parser.get(), client);
  } catch (...) {
    return ErrorResponse(http::status::internal_server_error);  // nothing of it reaches the client
  }
  if (admission.refusal) {
    LocalResponse refusal = std::move(*admission.refusal);
    refusal.version(11);
    refusal.keep_alive(false);
    refusal.prepare_payload();
    return refusal;
  }
  // Security: only a request the handler admitted as large (a push from a
  // client allowed to push) may send more than the small limit. A declared
  // length beyond the limit is refused now, unread; a chunked body is cut off
  // by the parser's limit as it arrives.
  const std::size_t limit = admission.large_body
                                ? options.max_body_bytes
                                : std::min(options.max_small_body_bytes, options.max_body_bytes);
  const auto length = parser.content_length();
  if (length && *length > limit) return ErrorResponse(http::status::payload_too_large);
  parser.body_limit(limit);
  const bool small = parser.is_done() || (length && *length <= options.max_small_body_bytes);
  // A small body, or none, needs no slot: it is bounded by the small limit.
  if (!small) {
    // Security: even allowed pushers get one large body in memory at a time.
    if (context.large_bodies_in_flight >= options.max_concurrent_large_bodies) {
      LocalResponse busy = ErrorResponse(http::status::service_unavailable);
      busy.set(http::field::retry_after, "1");
      return busy;
    }
    slot.emplace(context.large_bodies_in_flight);
  }
  return std::nullopt;
}

// After answering without reading the body: stop sending, then discard what
// the client still sends for a moment (bounded in time and bytes, never
// buffered), so closing does not reset the connection before the client has
// read the answer.
Task<void> LingeringClose(NetStream& stream) {
  constexpr std::size_t kMaxDiscardBytes = 1024 * 1024;
  error_code ec;
  DeadlineStream& tcp = stream.tcp();
  tcp.socket().shutdown(TcpSocket::shutdown_send, ec);
  tcp.expires_after(std::chrono::seconds(1));
  std::array<char, 16 * 1024> sink;
  for (std::size_t discarded = 0; !ec && discarded < kMaxDiscardBytes;) {
    discarded +=
        co_await tcp.async_read_some(asio::buffer(sink), asio::redirect_error(kUseTask, ec));
  }
}

// Maps a failed read to the answer it gets; nullopt: close without one.
std::optional<LocalResponse> ReadErrorResponse(const error_code& ec) {
  if (ec == http::error::body_limit) return ErrorResponse(http::status::payload_too_large);
  if (ec == http::error::header_limit) {
    return ErrorResponse(http::status::request_header_fields_too_large);
  }
  if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
    return ErrorResponse(http::status::bad_request);
  }
  return std::nullopt;  // timeout or gone
}

// Calls the handler on a whole request; a throwing handler gets a bare 500.
LocalResponse HandleWhole(AdminHandler& handler, const AdminParser& parser,
                          const ClientInfo& client) {
  const bool keep_alive = parser.get().keep_alive();
  LocalResponse response;
  try {
    response = handler.Handle(parser.get(), client);
    response.version(11);
    response.keep_alive(keep_alive);
  } catch (...) {
    // A handler bug must not take the admin port down; nothing from the
    // exception reaches the client.
    response = ErrorResponse(http::status::internal_server_error);
  }
  response.prepare_payload();
  return response;
}

// Reads one request (head first, then the body the head admits), asks the
// handler, answers. Returns keep-alive.
Task<bool> ServeOne(NetStream& stream, beast::flat_buffer& buffer, AdminContext& context,
                    const ClientInfo& client) {
  const AdminOptions& options = context.options;
  AdminParser parser;
  parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
  // No body is parsed before AdmitBody has set the limit this head is allowed.
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  error_code ec;
  stream.tcp().expires_after(options.header_timeout);
  co_await http::async_read_header(stream, buffer, parser, asio::redirect_error(kUseTask, ec));
  if (ec == http::error::end_of_stream || ec == beast::error::timeout) co_return false;
  std::optional<LargeBodySlot> slot;
  std::optional<LocalResponse> early;
  if (!ec) early = AdmitBody(parser, context, client, slot);
  if (!ec && !early) {
    stream.tcp().expires_after(options.idle_timeout);
    if (!parser.is_done() && parser.get()[http::field::expect] == "100-continue") {
      http::response<http::empty_body> proceed{http::status::continue_, 11};
      co_await http::async_write(stream, proceed, asio::redirect_error(kUseTask, ec));
    }
    if (!ec) {
      co_await http::async_read(stream, buffer, parser, asio::redirect_error(kUseTask, ec));
    }
  }
  std::optional<LocalResponse> response = early;
  if (!response && ec) response = ReadErrorResponse(ec);
  if (!response && ec) co_return false;
  if (!response) response = HandleWhole(context.handler, parser, client);
  slot.reset();
  stream.tcp().expires_after(options.idle_timeout);
  co_await http::async_write(stream, *response, asio::redirect_error(kUseTask, ec));
  if (!ec && !parser.is_done()) co_await LingeringClose(stream);
  co_return response->keep_alive() && parser.is_done() && !ec;
}

Task<void> AdminSession(NetStream stream, AdminContext& context) {
  const AdminOptions& options = context.options;
  ClientInfo client = AdminClientInfo(stream.tcp().socket(), stream.is_tls());
  error_code ec;
  if (stream.is_tls()) {
    stream.tcp().expires_after(options.header_timeout);
    co_await stream.tls()->async_handshake(ssl::stream_base::server,
                                           asio::redirect_error(kUseTask, ec));
    // A certificate that does not verify ends here (tls_context.h): no request is read.
    if (ec) {
      stream.Close();
      co_return;
    }
    client.client_cert_verified = HasVerifiedClientCertificate(*stream.tls());
  }
  beast::flat_buffer buffer;
  while (co_await ServeOne(stream, buffer, context, client)) {
  }
  stream.Close();
}

Task<void> AdminAccept(TcpAcceptor& acceptor, ssl::context* tls, AdminContext& context) {
  for (;;) {
    error_code ec;
    TcpSocket socket = co_await acceptor.async_accept(asio::redirect_error(kUseTask, ec));
    if (!acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
    if (ec) continue;
    // TLS writes a response head and body as separate records: without this,
    // Nagle holds the second until the client's delayed ACK (~40 ms per push).
    socket.set_option(tcp::no_delay(true), ec);
    DeadlineStream tcp_stream(std::move(socket));
    NetStream stream =
        tls ? NetStream(std::move(tcp_stream), *tls) : NetStream(std::move(tcp_stream));
    asio::co_spawn(acceptor.get_executor(), AdminSession(std::move(stream), context),
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
  if (!ec) acceptor.set_option(TcpAcceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return UnavailableError("cannot listen on admin " + options_.listen_address + ":" +
                            std::to_string(endpoint.port()) + ": " + ec.message());
  }
  port_ = acceptor.local_endpoint().port();
  AdminContext& context = state->context.emplace(AdminContext{handler_, options_});
  asio::co_spawn(state->io, AdminAccept(acceptor, state->tls.get(), context),
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
