// `gatehouse-proxy explain`: what would the proxy decide for one request?
//
//   gatehouse-proxy explain --policies DIR --claims '{"sub":"ann","groups":["analysts"]}'
//       GET https://metabase.example.com/api/card/12   (one command line)
//   gatehouse-proxy explain --policies DIR --token "$JWT" [--jwks FILE] POST URL
//
// Prints the decision, HTTP status, policy, rule and reason label exactly as
// the proxy would count them (`-o json` for machine-readable output).
// --claims skips signature and expiry checks (it explains policy, not tokens);
// --token verifies the token fully, with keys from --jwks or fetched from the
// issuer by OIDC discovery. Exit 0 when the request was explained, 1 on bad input.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace gatehouse::cli {

int RunExplain(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace gatehouse::cli
