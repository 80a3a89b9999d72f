// oidc_discovery: the pure rules for finding an issuer's JWKS (OpenID Connect
// Discovery 1.0) and for which URLs Gatehouse may fetch keys from.
//
//   std::string url = DiscoveryUrl("https://idp.example.com/");   //
//   .../.well-known/openid-configuration StatusOr<std::string> jwks = JwksUriFromDiscovery(body,
//   "https://idp.example.com/"); Status ok = CheckFetchUrl(jwks_uri, issuer);
//
//   StatusOr<ProviderMetadata> m = ProviderMetadataFromDiscovery(body, issuer);  // sign-in
//
// Fetch URLs must be https. Plain http is allowed only when the issuer itself
// is http on a loopback host (local mode, tests) and the URL is loopback too:
// keys fetched over a network in clear text could be replaced in transit.
#pragma once

#include <string>
#include <string_view>

#include "proxy/core/status.h"

namespace gatehouse::auth {

// Section 4: a trailing '/' of the issuer is removed before the well-known path is appended.
std::string DiscoveryUrl(std::string_view issuer);

// Reads `jwks_uri` from a discovery document whose `issuer` must equal
// `issuer` exactly (section 4.3), and checks it with CheckFetchUrl.
StatusOr<std::string> JwksUriFromDiscovery(std::string_view body, std::string_view issuer);

// The endpoints browser sign-in needs (Discovery section 3). Every URL present
// passed CheckFetchUrl (the authorization endpoint too: a browser is sent
// there with a PKCE challenge and state that must not travel in clear text).
struct ProviderMetadata {
  std::string issuer;
  std::string authorization_endpoint;  // required
  std::string token_endpoint;          // required
  std::string jwks_uri;                // required
  std::string userinfo_endpoint;       // "" when absent
  std::string end_session_endpoint;    // "" when absent
};

// Parses a discovery document for `issuer` (exact `issuer` match, as above).
StatusOr<ProviderMetadata> ProviderMetadataFromDiscovery(std::string_view body,
                                                         std::string_view issuer);

// kInvalidArgument unless `url` is https, or http on loopback with an http loopback issuer.
Status CheckFetchUrl(std::string_view url, std::string_view issuer);

// True for http(s) URLs whose host is 127.0.0.0/8, localhost or [::1].
bool IsLoopbackUrl(std::string_view url);

}  // namespace gatehouse::auth
