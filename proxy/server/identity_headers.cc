#include "proxy/server/identity_headers.h"

#include <array>
#include <cctype>

namespace gatehouse::server {
namespace {

constexpr std::string_view kGatehousePrefix = "x-gatehouse-";

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view lower_prefix) {
  if (s.size() < lower_prefix.size()) return false;
  for (size_t i = 0; i < lower_prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != lower_prefix[i]) return false;
  }
  return true;
}

}  // namespace

IdentityHeaderNames IdentityHeaderNames::From(const policy::IdentityHeadersSpec& spec) {
  return IdentityHeaderNames{Lower(spec.user), Lower(spec.email), Lower(spec.groups),
                             Lower(spec.assertion), spec.forward_token};
}

void StripClientHeaders(RequestHead& request, const IdentityHeaderNames& names) {
  // Security: Beast's erase(name) matches case-insensitively and removes every
  // copy, so "x-forwarded-user", "X-FORWARDED-USER" and repeats all go.
  static const policy::IdentityHeadersSpec kDefaults;
  const std::array<std::string_view, 8> identity_names = {
      names.user,     names.email,     names.groups,     names.assertion,
      kDefaults.user, kDefaults.email, kDefaults.groups, kDefaults.assertion};
  for (std::string_view name : identity_names) {
    if (!name.empty()) request.erase(AsBeast(name));
  }
  request.erase("X-Forwarded-For");
  request.erase("X-Forwarded-Proto");
  request.erase("X-Forwarded-Host");
  request.erase("X-Real-IP");
  request.erase(http::field::forwarded);
  request.erase("X-Request-Id");
  // The caller's credential stays at the gate unless the policy opts in.
  if (!names.forward_token) request.erase(http::field::authorization);
  // Any X-Gatehouse-* header is ours alone: a client can never pre-set one.
  for (auto it = request.begin(); it != request.end();) {
    if (StartsWithIgnoreCase(AsStd(it->name_string()), kGatehousePrefix)) {
      it = request.erase(it);
    } else {
      ++it;
    }
  }
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
