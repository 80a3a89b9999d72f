#include "proxy/server/tls_context.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>

namespace gatehouse::server {
namespace {

constexpr long kTlsOptions = ssl::context::default_workarounds | ssl::context::no_sslv2 |
                             ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                             ssl::context::no_tlsv1_1 | ssl::context::single_dh_use;

}  // namespace

StatusOr<std::unique_ptr<ssl::context>> MakeServerTlsContext(const std::string& cert_file,
                                                             const std::string& key_file) {
  auto context = std::make_unique<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  context->set_options(kTlsOptions, ec);
  // The file names are configuration, not secrets; the key's contents never reach a message.
  if (!ec) context->use_certificate_chain_file(cert_file, ec);
  if (ec) return InvalidArgumentError("TLS certificate " + cert_file + ": " + ec.message());
  context->use_private_key_file(key_file, ssl::context::pem, ec);
  if (ec) return InvalidArgumentError("TLS private key " + key_file + ": " + ec.message());
  if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
    return InvalidArgumentError("TLS private key " + key_file + " does not match " + cert_file);
  }
  return context;
}

StatusOr<std::unique_ptr<ssl::context>> MakeAdminTlsContext(const std::string& cert_file,
                                                            const std::string& key_file,
                                                            const std::string& client_ca_file) {
  StatusOr<std::unique_ptr<ssl::context>> context = MakeServerTlsContext(cert_file, key_file);
  if (!context.ok()) return context.status();
  SSL_CTX* native = (*context)->native_handle();
  // A fresh context has an empty trust store: the push CA is the only anchor.
  boost::system::error_code ec;
  (*context)->load_verify_file(client_ca_file, ec);
  if (ec) return InvalidArgumentError("push CA " + client_ca_file + ": " + ec.message());
  // The CertificateRequest names the push CA, so a client picks the right certificate.
  STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(client_ca_file.c_str());
  if (names == nullptr)
    return InvalidArgumentError("push CA " + client_ca_file + ": no certificate");
  SSL_CTX_set_client_CA_list(native, names);
  // Security: a certificate the client does present must verify, or the
  // handshake fails; presenting none is allowed at this layer (probes,
  // scrapes) and the push handler refuses such connections.
  (*context)->set_verify_mode(ssl::verify_peer);
  (*context)->set_verify_depth(4);
  // Certificates whose extended key usage excludes client authentication
  // (a proxy's serverAuth-only certificate from the same CA) do not verify.
  SSL_CTX_set_purpose(native, X509_PURPOSE_SSL_CLIENT);
  // No resumption: every connection proves its certificate again.
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(native, 0);
  static constexpr unsigned char kSessionContext[] = "gatehouse-admin";
  SSL_CTX_set_session_id_context(native, kSessionContext, sizeof(kSessionContext) - 1);
  return context;
}

bool HasVerifiedClientCertificate(boost::beast::ssl_stream<DeadlineStream>& stream) {
  SSL* ssl = stream.native_handle();
  const X509* peer = SSL_get0_peer_certificate(ssl);
  // X509_V_OK is also the answer when no certificate was presented: check both.
  if (peer == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return false;
  // Deny by default: the certificate must say it is for client authentication,
  // not merely fail to say otherwise.
  X509* mutable_peer = const_cast<X509*>(peer);  // the getters below take non-const (OpenSSL 3.0)
  return (X509_get_extension_flags(mutable_peer) & EXFLAG_XKUSAGE) != 0 &&
         (X509_get_extended_key_usage(mutable_peer) & XKU_SSL_CLIENT) != 0;
}

StatusOr<std::unique_ptr<ssl::context>> MakeUpstreamTlsContext(const std::string& ca_file) {
  auto context = std::make_unique<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  context->set_options(kTlsOptions, ec);
  if (!ec) context->set_default_verify_paths(ec);
  if (ec) return InternalError("TLS trust store: " + ec.message());
  if (!ca_file.empty()) {
    context->load_verify_file(ca_file, ec);
    if (ec) return InvalidArgumentError("upstream CA file " + ca_file + ": " + ec.message());
  }
  // Deny by default: an upstream whose certificate does not verify is never spoken to.
  context->set_verify_mode(ssl::verify_peer);
  return context;
}

Status SetClientTlsPeer(boost::beast::ssl_stream<DeadlineStream>& stream, const std::string& host) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  const bool is_ip_literal = !ec;
  // SNI is only for names (RFC 6066 forbids IP literals in server_name).
  if (!is_ip_literal && SSL_set_tlsext_host_name(stream.native_handle(), host.c_str()) != 1) {
    return InvalidArgumentError("cannot set TLS server name for upstream " + host);
  }
  stream.set_verify_mode(ssl::verify_peer);
  stream.set_verify_callback(ssl::host_name_verification(host));
  return Status::Ok();
}

}  // namespace gatehouse::server
