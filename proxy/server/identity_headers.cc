#include "proxy/server/identity_headers.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <iterator>
#include <string>
#include <vector>

namespace gatehouse::server {
namespace {

constexpr std::string_view kGatehousePrefix = "x-gatehouse-";

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// `name` equals (or, with prefix, starts with) `lower`, ignoring case and
// reading '_' as '-'.
bool HeaderNameEquivalent(std::string_view name, std::string_view lower, bool prefix) {
  if (prefix ? name.size() < lower.size() : name.size() != lower.size()) return false;
  for (size_t i = 0; i < lower.size(); ++i) {
    char c = static_cast<char>(std::tolower(static_cast<unsigned char>(name[i])));
    if (c == '_') c = '-';
    if (c != lower[i]) return false;
  }
  return true;
}

}  // namespace

IdentityHeaderNames IdentityHeaderNames::From(const policy::IdentityHeadersSpec& spec) {
  return IdentityHeaderNames{Lower(spec.user), Lower(spec.email), Lower(spec.groups),
                             Lower(spec.assertion), spec.forward_token};
}

void StripClientHeaders(RequestHead& request, const IdentityHeaderNames& names) {
  static const policy::IdentityHeadersSpec kDefaults;
  static const IdentityHeaderNames kDefaultNames = IdentityHeaderNames::From(kDefaults);
  // Every name a client must never set, lowercase. The defaults go too, so a
  // policy that renames its headers cannot leave the old names spoofable.
  const std::array<std::string_view, 14> protected_names = {
      names.user,         names.email,         names.groups,         names.assertion,
      kDefaultNames.user, kDefaultNames.email, kDefaultNames.groups, kDefaultNames.assertion,
      "x-forwarded-for",  "x-forwarded-proto", "x-forwarded-host",   "x-real-ip",
      "forwarded",        "x-request-id"};
  // Security: one pass over what the client sent, comparing names case-
  // insensitively and with '_' read as '-': CGI-style upstreams (WSGI, Rack,
  // PHP) turn both X-Forwarded-User and X_Forwarded_User into
  // HTTP_X_FORWARDED_USER, so the underscore spelling is the same header to them.
  for (auto it = request.begin(); it != request.end();) {
    const std::string_view name = AsStd(it->name_string());
    bool spoofable = HeaderNameEquivalent(name, kGatehousePrefix, /*prefix=*/true);
    for (std::string_view p : protected_names) {
      spoofable = spoofable || (!p.empty() && HeaderNameEquivalent(name, p, /*prefix=*/false));
    }
    // The caller's credential stays at the gate unless the policy opts in.
    spoofable =
        spoofable || (!names.forward_token && HeaderNameEquivalent(name, "authorization", false));
    it = spoofable ? request.erase(it) : std::next(it);
  }
  StripGatehouseCookies(request);
}

void StripGatehouseCookies(RequestHead& request) {
  static constexpr std::array<std::string_view, 4> kOwnCookies = {
      "gatehouse_session", "__Host-gatehouse_session", "gatehouse_login", "__Host-gatehouse_login"};
  // Security: the session cookie is a bearer credential for the gate only;
  // the upstream (and anyone reading its logs) must never see it.
  std::vector<std::string> kept_headers;
  bool changed = false;
  for (const auto& field : request) {
    if (field.name() != http::field::cookie) continue;
    std::string_view rest = AsStd(field.value());
    std::string kept;
    while (!rest.empty()) {
      const size_t semi = rest.find(';');
      std::string_view pair = rest.substr(0, semi);
      rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      while (!pair.empty() && (pair.front() == ' ' || pair.front() == '\t')) pair.remove_prefix(1);
      while (!pair.empty() && (pair.back() == ' ' || pair.back() == '\t')) pair.remove_suffix(1);
      if (pair.empty()) continue;
      std::string_view name = pair.substr(0, pair.find('='));
      while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
      if (std::find(kOwnCookies.begin(), kOwnCookies.end(), name) != kOwnCookies.end()) {
        changed = true;
        continue;
      }
      if (!kept.empty()) kept += "; ";
      kept += pair;
    }
    if (!kept.empty()) kept_headers.push_back(std::move(kept));
  }
  if (!changed) return;
  request.erase(http::field::cookie);
  for (const std::string& value : kept_headers) request.insert(http::field::cookie, value);
}

void SetForwardingHeaders(RequestHead& request, const ClientInfo& client,
                          std::string_view request_id) {
  // Read Host before anything else changes the header set.
  const std::string host(request[http::field::host]);
  request.set("X-Forwarded-For", client.address_text);
  request.set("X-Forwarded-Proto", client.tls ? "https" : "http");
  if (!host.empty() && IsSafeHeaderValue(host)) request.set("X-Forwarded-Host", host);
  request.set("X-Request-Id", AsBeast(request_id));
}

bool IsSafeHeaderValue(std::string_view value) {
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e) return false;  // controls (CR, LF, NUL, TAB), DEL, non-ASCII
  }
  return true;
}

std::string JoinSafeGroups(const std::vector<std::string>& groups) {
  std::string out;
  for (const std::string& g : groups) {
    // A comma inside a name would read as two groups upstream: leave it out.
    if (g.empty() || !IsSafeHeaderValue(g) || g.find(',') != std::string::npos) continue;
    if (!out.empty()) out.push_back(',');
    out += g;
  }
  return out;
}

void SetIdentityHeaders(RequestHead& request, const IdentityHeaderNames& names,
                        const auth::Identity& identity, std::string_view assertion) {
  if (!identity.user.empty() && IsSafeHeaderValue(identity.user)) {
    request.set(names.user, identity.user);
  }
  if (!identity.email.empty() && IsSafeHeaderValue(identity.email)) {
    request.set(names.email, identity.email);
  }
  const std::string groups = JoinSafeGroups(identity.groups);
  if (!groups.empty()) request.set(names.groups, groups);
  if (!assertion.empty()) request.set(names.assertion, AsBeast(assertion));
}

}  // namespace gatehouse::server
