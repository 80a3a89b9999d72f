#include "proxy/server/identity_headers.h"

#include <algorithm>
#include <array>
#include <atomic>
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

// ASCII case folding with '_' read as '-', as a table: this runs over every
// byte of every client header name (libc's locale-aware tolower is a call per
// byte).
constexpr std::array<char, 256> kFoldName = [] {
  std::array<char, 256> table{};
  for (int c = 0; c < 256; ++c) table[c] = static_cast<char>(c);
  for (int c = 'A'; c <= 'Z'; ++c) table[c] = static_cast<char>(c - 'A' + 'a');
  table['_'] = '-';
  return table;
}();

// `name` equals (or, with prefix, starts with) `lower`, ignoring case and
// reading '_' as '-'. `lower` is lowercase with '-', never '_'.
bool HeaderNameEquivalent(std::string_view name, std::string_view lower, bool prefix) {
  if (prefix ? name.size() < lower.size() : name.size() != lower.size()) return false;
  for (size_t i = 0; i < lower.size(); ++i) {
    if (kFoldName[static_cast<unsigned char>(name[i])] != lower[i]) return false;
  }
  return true;
}

// A set of lowercase header names with a cheap pre-filter: most client
// headers (Host, User-Agent, Accept...) are rejected by their length alone,
// then by their first byte, before any full comparison. No allocation.
class NameSet {
 public:
  void Add(std::string_view lower) {
    if (lower.empty() || count_ == names_.size()) return;
    names_[count_++] = lower;
    if (lower.size() < 64)
      lengths_ |= uint64_t{1} << lower.size();
    else
      long_names_ = true;
  }
  bool Contains(std::string_view name) const {
    if (name.size() < 64 ? (lengths_ >> name.size() & 1) == 0 : !long_names_) return false;
    const char first = kFoldName[static_cast<unsigned char>(name[0])];
    for (size_t i = 0; i < count_; ++i) {
      if (names_[i][0] == first && HeaderNameEquivalent(name, names_[i], /*prefix=*/false)) {
        return true;
      }
    }
    return false;
  }

 private:
  std::array<std::string_view, 16> names_{};
  size_t count_ = 0;
  uint64_t lengths_ = 0;
  bool long_names_ = false;
};

// The names stripped from every request whatever the policy says: the
// default identity header names (so a policy that renames its headers cannot
// leave the old names spoofable), the forwarding headers, and Authorization
// unless the policy forwards the token. Built once, not per request.
NameSet FixedSpoofableNames(bool forward_token) {
  static const policy::IdentityHeadersSpec kDefaults;
  static const std::string kDefaultNames[] = {Lower(kDefaults.user), Lower(kDefaults.email),
                                              Lower(kDefaults.groups), Lower(kDefaults.assertion)};
  NameSet set;
  for (const std::string& n : kDefaultNames) set.Add(n);
  for (std::string_view n : {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
                             "x-real-ip", "forwarded", "x-request-id"}) {
    set.Add(n);
  }
  // The caller's credential stays at the gate unless the policy opts in.
  if (!forward_token) set.Add("authorization");
  return set;
}

// The fixed names (and the X-Gatehouse- prefix) decided once for every field
// name Beast knows, indexed by its http::field: a client's Host, User-Agent,
// Accept... then cost one lookup instead of a compare of their bytes. Exact:
// Beast gives a field its enum only when the name equals that field's
// registered name ignoring case (the same assumption as the Cookie and
// Authorization checks), and the decision depends on nothing else.
constexpr size_t kKnownFields = static_cast<size_t>(http::field::xref) + 1;
using KnownFieldDrops = std::array<bool, kKnownFields>;

KnownFieldDrops FixedDropsOfKnownFields(const NameSet& fixed) {
  KnownFieldDrops drops{};
  for (size_t i = 1; i < kKnownFields; ++i) {
    const std::string_view name = AsStd(http::to_string(static_cast<http::field>(i)));
    drops[i] =
        HeaderNameEquivalent(name, kGatehousePrefix, /*prefix=*/true) || fixed.Contains(name);
  }
  return drops;
}

// The lines AddForwardingHeaders writes before X-Request-Id. Add() refuses
// an unsafe byte or a second value for a name: nothing the client sent can
// reach the upstream through these lines (a Host with an unsafe byte gives
// no X-Forwarded-Host at all).
void AddForwardedLines(std::string_view host, const ClientInfo& client, AddedFields& added) {
  added.AddKnown("X-Forwarded-For", client.address_text);
  added.AddKnown("X-Forwarded-Proto", client.tls ? "https" : "http");
  if (!host.empty()) added.AddKnown("X-Forwarded-Host", host);
}

std::atomic<uint64_t> next_names_id{1};

}  // namespace

IdentityHeaderNames IdentityHeaderNames::From(const policy::IdentityHeadersSpec& spec) {
  IdentityHeaderNames names{Lower(spec.user), Lower(spec.email), Lower(spec.groups),
                            Lower(spec.assertion), spec.forward_token};
  names.id = next_names_id.fetch_add(1, std::memory_order_relaxed);
  static const policy::IdentityHeadersSpec kDefaults;
  names.default_names =
      names.user == Lower(kDefaults.user) && names.email == Lower(kDefaults.email) &&
      names.groups == Lower(kDefaults.groups) && names.assertion == Lower(kDefaults.assertion);
  names.user_field = http::string_to_field(AsBeast(names.user));
  names.email_field = http::string_to_field(AsBeast(names.email));
  names.groups_field = http::string_to_field(AsBeast(names.groups));
  names.assertion_field = http::string_to_field(AsBeast(names.assertion));
  return names;
}

void StripClientHeaders(RequestHead& request, const IdentityHeaderNames& names) {
  static const NameSet kFixed = FixedSpoofableNames(/*forward_token=*/false);
  static const NameSet kFixedForwardToken = FixedSpoofableNames(/*forward_token=*/true);
  static const KnownFieldDrops kKnownDrops = FixedDropsOfKnownFields(kFixed);
  static const KnownFieldDrops kKnownDropsForwardToken =
      FixedDropsOfKnownFields(kFixedForwardToken);
  const NameSet& fixed = names.forward_token ? kFixedForwardToken : kFixed;
  const KnownFieldDrops& known_drops = names.forward_token ? kKnownDropsForwardToken : kKnownDrops;
  // Every name a client must never set: the fixed ones and this policy's
  // (none to add when they are the defaults, which the fixed ones hold).
  NameSet policy_names;
  if (!names.default_names) {
    for (std::string_view n : {std::string_view(names.user), std::string_view(names.email),
                               std::string_view(names.groups), std::string_view(names.assertion)}) {
      policy_names.Add(n);
    }
  }
  // Security: one pass over what the client sent, comparing names case-
  // insensitively and with '_' read as '-': CGI-style upstreams (WSGI, Rack,
  // PHP) turn both X-Forwarded-User and X_Forwarded_User into
  // HTTP_X_FORWARDED_USER, so the underscore spelling is the same header to
  // them. The length filter in NameSet only skips names that cannot be equal.
  bool cookies = false;
  for (auto it = request.begin(); it != request.end();) {
    const std::string_view name = AsStd(it->name_string());
    const auto known = static_cast<size_t>(it->name());
    const bool fixed_drop =
        known != 0 && known < kKnownFields
            ? known_drops[known]
            : HeaderNameEquivalent(name, kGatehousePrefix, /*prefix=*/true) || fixed.Contains(name);
    const bool drop = fixed_drop || policy_names.Contains(name);
    cookies = cookies || (!drop && it->name() == http::field::cookie);
    it = drop ? request.erase(it) : std::next(it);
  }
  if (cookies) StripGatehouseCookies(request);
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

void AddForwardingHeaders(const RequestHead& request, const ClientInfo& client,
                          std::string_view request_id, AddedFields& added) {
  AddForwardingHeaders(FirstFieldValue(request, http::field::host), client, request_id, added);
}

void AddForwardingHeaders(std::string_view host, const ClientInfo& client,
                          std::string_view request_id, AddedFields& added) {
  AddForwardedLines(host, client, added);
  added.AddKnown("X-Request-Id", request_id);
}

void ForwardingLineCache::AddTo(std::string_view host, const ClientInfo& client,
                                std::string_view request_id, AddedFields& added) {
  // Security: reused only for byte-equal inputs, of which the lines are a
  // function, so they are the lines a rebuild would make (a Host with an
  // unsafe byte gave no X-Forwarded-Host line then and gives none now).
  if (!built_ || tls_ != client.tls || address_ != client.address_text || host_ != host) {
    lines_.clear();
    AddForwardedLines(host, client, lines_);
    tls_ = client.tls;
    address_.assign(client.address_text);
    host_.assign(host);
    built_ = true;
  }
  if (!added.AddAll(lines_)) AddForwardedLines(host, client, added);
  added.AddKnown("X-Request-Id", request_id);
}

bool IsSafeHeaderValue(std::string_view value) {
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e) return false;  // controls (CR, LF, NUL, TAB), DEL, non-ASCII
  }
  return true;
}

void AppendSafeGroups(std::string& out, const std::vector<std::string>& groups) {
  const size_t start = out.size();
  for (const std::string& g : groups) {
    // A comma inside a name would read as two groups upstream: leave it out.
    if (g.empty() || !IsSafeHeaderValue(g) || g.find(',') != std::string::npos) continue;
    if (out.size() != start) out.push_back(',');
    out += g;
  }
}

std::string JoinSafeGroups(const std::vector<std::string>& groups) {
  std::string out;
  AppendSafeGroups(out, groups);
  return out;
}

void AddIdentityHeaders(const IdentityHeaderNames& names, const auth::Identity& identity,
                        std::string_view assertion, AddedFields& added) {
  // Security: a claim with a byte outside visible ASCII + space is not sent
  // at all: Add() refuses it (and a CR, LF or NUL whoever calls it).
  if (!identity.user.empty()) added.Add(names.user, identity.user);
  if (!identity.email.empty()) added.Add(names.email, identity.email);
  // Joined into a per-thread buffer: Add() copies the value, the buffer stays.
  thread_local std::string groups;
  groups.clear();
  AppendSafeGroups(groups, identity.groups);
  if (!groups.empty()) added.Add(names.groups, groups);
  if (!assertion.empty()) added.Add(names.assertion, assertion);
}

void IdentityLineCache::AddTo(const IdentityHeaderNames& names,
                              const std::shared_ptr<const auth::Identity>& identity,
                              std::string_view assertion, uint64_t assertion_serial,
                              AddedFields& added) {
  // Not cacheable: names or assertion without an identity of their own.
  if (names.id == 0 || assertion_serial == 0) {
    AddIdentityHeaders(names, *identity, assertion, added);
    return;
  }
  // Security: reused only for the very same inputs (ids and serials are
  // never reused; the Identity is immutable and held, so an equal pointer
  // names the same claims, and another object with equal user, email and
  // groups, e.g. a fresh token of the same user, makes the same lines), so
  // the lines are those a rebuild would make.
  const bool same_claims =
      identity_ == identity ||
      (identity_ != nullptr && identity_->user == identity->user &&
       identity_->email == identity->email && identity_->groups == identity->groups);
  if (!same_claims || names_id_ != names.id || assertion_serial_ != assertion_serial) {
    lines_.clear();
    AddIdentityHeaders(names, *identity, assertion, lines_);
    names_id_ = names.id;
    assertion_serial_ = assertion_serial;
  }
  if (identity_ != identity) identity_ = identity;  // no reference count traffic when held
  if (!added.AddAll(lines_)) AddIdentityHeaders(names, *identity, assertion, added);
}

}  // namespace gatehouse::server
