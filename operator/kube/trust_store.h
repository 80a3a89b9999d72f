// TrustOnly: makes a TLS client context trust exactly the certificates of one
// PEM bundle (the cluster CA), and nothing it trusted before.
//
//   cfg.set_ssl_context_callback([ca](boost::asio::ssl::context& ctx) {
//     TrustOnly(ctx.native_handle(), ca);  // after cpprestsdk loaded the system store
//   });
//
// cpprestsdk loads the system store into every new connection's context
// before the callback runs. Adding the cluster CA to that store would let any
// public CA vouch for the API server too, and every connection would keep the
// ~140 system certificates (about 1 MB of heap each). TrustOnly swaps in a new
// store instead; the old one is freed at once.
//
// Deny by default: when `ca_pem` holds no certificate, or a PEM block does
// not parse, the context is left with an empty store (nothing verifies) and
// the error is returned.
#pragma once

#include <openssl/ssl.h>

#include <string_view>

#include "proxy/core/status.h"

namespace gatehouse::kube {

Status TrustOnly(SSL_CTX* ctx, std::string_view ca_pem);

}  // namespace gatehouse::kube
