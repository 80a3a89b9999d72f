#include "proxy/auth/oidc_discovery.h"

#include "proxy/auth/strict_json.h"

namespace gatehouse::auth {
namespace {

constexpr std::string_view kHttps = "https://";
constexpr std::string_view kHttp = "http://";

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// Host of an http(s) URL without port or brackets; empty when unreadable.
std::string_view HostOf(std::string_view url) {
  std::string_view rest;
  if (StartsWith(url, kHttps)) {
    rest = url.substr(kHttps.size());
  } else if (StartsWith(url, kHttp)) {
    rest = url.substr(kHttp.size());
  } else {
    return {};
  }
  rest = rest.substr(0, rest.find_first_of("/?#"));
  // Userinfo ("user@host") is refused outright: it is how "http://127.0.0.1@evil" lies.
  if (rest.find('@') != std::string_view::npos) return {};
  if (StartsWith(rest, "[")) {
    const size_t close = rest.find(']');
    return close == std::string_view::npos ? std::string_view() : rest.substr(1, close - 1);
  }
  return rest.substr(0, rest.find(':'));
}

}  // namespace

bool IsLoopbackUrl(std::string_view url) {
  std::string_view host = HostOf(url);
  if (host == "localhost" || host == "::1") return true;
  if (!StartsWith(host, "127.")) return false;
  // 127.a.b.c with digits only (no "127.evil.com").
  int dots = 0;
  for (char c : host) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      return false;
    }
  }
  return dots == 3;
}

std::string DiscoveryUrl(std::string_view issuer) {
  std::string url(issuer);
  if (!url.empty() && url.back() == '/') url.pop_back();
  return url + "/.well-known/openid-configuration";
}

Status CheckFetchUrl(std::string_view url, std::string_view issuer) {
  if (StartsWith(url, kHttps) && !HostOf(url).empty()) return Status::Ok();
  if (StartsWith(url, kHttp) && StartsWith(issuer, kHttp) && IsLoopbackUrl(url) &&
      IsLoopbackUrl(issuer)) {
    return Status::Ok();  // local mode: both ends on this machine
  }
  return InvalidArgumentError("fetch URL must be https (http only for a loopback issuer)");
}

namespace {

StatusOr<nlohmann::json> ParseDiscovery(std::string_view body, std::string_view issuer) {
  StatusOr<nlohmann::json> doc = ParseStrictJson(body, 1 << 20);
  if (!doc.ok()) return InvalidArgumentError("discovery: " + doc.status().message());
  if (!doc->is_object()) return InvalidArgumentError("discovery: not a JSON object");
  auto iss = doc->find("issuer");
  // Security (Discovery 4.3): the document must be about the issuer we asked
  // for, so one IdP cannot hand out keys in another's name.
  if (iss == doc->end() || !iss->is_string() || iss->get_ref<const std::string&>() != issuer) {
    return InvalidArgumentError("discovery: issuer does not match the configured issuer");
  }
  return doc;
}

// `name` as a checked fetch URL; "" when absent and !required.
StatusOr<std::string> EndpointOf(const nlohmann::json& doc, const char* name,
                                 std::string_view issuer, bool required) {
  auto it = doc.find(name);
  if (it == doc.end() || it->is_null()) {
    if (required) return InvalidArgumentError(std::string("discovery: no ") + name);
    return std::string();
  }
  if (!it->is_string())
    return InvalidArgumentError(std::string("discovery: ") + name + " malformed");
  std::string url = it->get<std::string>();
  if (Status s = CheckFetchUrl(url, issuer); !s.ok()) {
    return InvalidArgumentError(std::string("discovery: ") + name + ": " + s.message());
  }
  return url;
}

}  // namespace

StatusOr<ProviderMetadata> ProviderMetadataFromDiscovery(std::string_view body,
                                                         std::string_view issuer) {
  try {
    StatusOr<nlohmann::json> doc = ParseDiscovery(body, issuer);
    if (!doc.ok()) return doc.status();
    ProviderMetadata m;
    m.issuer = std::string(issuer);
    struct Field {
      const char* name;
      std::string* out;
      bool required;
    };
    for (const Field& f :
         {Field{"authorization_endpoint", &m.authorization_endpoint, true},
          Field{"token_endpoint", &m.token_endpoint, true}, Field{"jwks_uri", &m.jwks_uri, true},
          Field{"userinfo_endpoint", &m.userinfo_endpoint, false},
          Field{"end_session_endpoint", &m.end_session_endpoint, false}}) {
      StatusOr<std::string> url = EndpointOf(*doc, f.name, issuer, f.required);
      if (!url.ok()) return url.status();
      *f.out = std::move(*url);
    }
    return m;
  } catch (const std::exception&) {
    return InvalidArgumentError("discovery: unreadable");
  }
}

StatusOr<std::string> JwksUriFromDiscovery(std::string_view body, std::string_view issuer) {
  StatusOr<nlohmann::json> doc = ParseDiscovery(body, issuer);
  if (!doc.ok()) return doc.status();
  auto jwks = doc->find("jwks_uri");
  if (jwks == doc->end() || !jwks->is_string()) {
    return InvalidArgumentError("discovery: no jwks_uri");
  }
  std::string uri = jwks->get<std::string>();
  if (Status s = CheckFetchUrl(uri, issuer); !s.ok()) return s;
  return uri;
}

}  // namespace gatehouse::auth
