// TLS contexts for the listener, the admin port and HTTPS upstreams, and
// NetStream: one stream type that is either plain TCP or TLS over TCP, so the
// HTTP code is compiled once for both.
//
//   auto server_ctx = MakeServerTlsContext(cert_pem_file, key_pem_file);
//   if (!server_ctx.ok()) return server_ctx.status();
//   NetStream client(std::move(tcp), server_ctx->get());   // TLS; handshake next
//   co_await client.tls()->async_handshake(ssl::stream_base::server, kUseTask);
//
//   auto upstream_ctx = MakeUpstreamTlsContext("");         // system trust store
//   NetStream upstream(std::move(tcp), upstream_ctx->get());
//   SetClientTlsPeer(*upstream.tls(), "metabase.example.com"); // SNI + name check
//
//   auto admin_ctx = MakeAdminTlsContext(cert_file, key_file, push_ca_file);  // mTLS push
//   ... handshake ...
//   bool may_push = HasVerifiedClientCertificate(*stream.tls());
//
// Timeouts are set on the TCP layer (tcp(), a DeadlineStream), which bounds
// TLS operations too.
#pragma once

// clang-format off
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange
// clang-format on

#include <boost/asio/async_result.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <memory>
#include <optional>
#include <string>

#include "proxy/core/status.h"
#include "proxy/server/deadline_stream.h"

namespace gatehouse::server {

namespace ssl = boost::asio::ssl;

// Reads a PEM certificate chain and private key. TLS 1.2+ only.
StatusOr<std::unique_ptr<ssl::context>> MakeServerTlsContext(const std::string& cert_file,
                                                             const std::string& key_file);

// The admin port with pushes authenticated by client certificates: serves
// `cert_file`/`key_file` and ASKS for a client certificate that chains to
// `client_ca_file` (PEM; the only trust anchor, no system store). A client
// that presents none still completes the handshake (kubelet probes and
// Prometheus scrapes carry no certificate); one that presents a certificate
// which does not verify (another CA, expired, not for client authentication)
// fails the handshake. HasVerifiedClientCertificate() tells the two apart.
StatusOr<std::unique_ptr<ssl::context>> MakeAdminTlsContext(const std::string& cert_file,
                                                            const std::string& key_file,
                                                            const std::string& client_ca_file);

// True only after a completed handshake in which the peer presented a
// certificate that verified against the context's client CA.
bool HasVerifiedClientCertificate(boost::beast::ssl_stream<DeadlineStream>& stream);

// Verifies upstream certificates against the system store plus `ca_file`
// (PEM, optional). TLS 1.2+ only.
StatusOr<std::unique_ptr<ssl::context>> MakeUpstreamTlsContext(const std::string& ca_file);

// Sets SNI (for names, not IP literals) and requires the certificate to match `host`.
Status SetClientTlsPeer(boost::beast::ssl_stream<DeadlineStream>& stream, const std::string& host);

class NetStream {
 public:
  using TlsStream = boost::beast::ssl_stream<DeadlineStream>;
  using executor_type = DeadlineStream::executor_type;

  explicit NetStream(DeadlineStream tcp) : plain_(std::move(tcp)) {}
  NetStream(DeadlineStream tcp, ssl::context& context)
      : tls_(std::in_place, std::move(tcp), context) {}

  executor_type get_executor() { return tcp().get_executor(); }
  // The TCP layer: timeouts (expires_after), the socket, close().
  DeadlineStream& tcp() { return tls_ ? boost::beast::get_lowest_layer(*tls_) : *plain_; }
  bool is_tls() const { return tls_.has_value(); }
  TlsStream* tls() { return tls_ ? &*tls_ : nullptr; }

  // AsyncReadStream / AsyncWriteStream: Beast's HTTP operations run on this.
  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const MutableBuffers& b) {
          if (tls_) {
            tls_->async_read_some(b, std::move(handler));
          } else {
            plain_->async_read_some(b, std::move(handler));
          }
        },
        token, buffers);
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const ConstBuffers& b) {
          if (tls_) {
            tls_->async_write_some(b, std::move(handler));
          } else {
            plain_->async_write_some(b, std::move(handler));
          }
        },
        token, buffers);
  }

  // Closes the socket at once (no TLS close_notify): pending operations fail.
  void Close() {
    boost::system::error_code ignored;
    tcp().socket().shutdown(boost::asio::socket_base::shutdown_both, ignored);
    tcp().close();
  }

 private:
  std::optional<DeadlineStream> plain_;
  std::optional<TlsStream> tls_;
};

}  // namespace gatehouse::server
