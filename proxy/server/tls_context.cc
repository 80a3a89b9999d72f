#include "proxy/server/tls_context.h"

#include <openssl/ssl.h>

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

Status SetClientTlsPeer(boost::beast::ssl_stream<boost::beast::tcp_stream>& stream,
                        const std::string& host) {
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
