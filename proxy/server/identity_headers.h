// IdentityHeaders: the header rewriting the gate does on every forwarded
// request (public routes included), so that nothing a client sends can pose as
// an identity the gate vouched for.
//
//   IdentityHeaderNames names = IdentityHeaderNames::From(policy.spec.identity_headers);
//   StripClientHeaders(request, names);                 // every casing, every copy
//   AddForwardingHeaders(host, client, request_id, verdict.added_fields);
//   // or, per worker thread, the X-Forwarded-* lines reused for the same client and host:
//   forwarding_cache.AddTo(host, client, request_id, verdict.added_fields);
//   AddIdentityHeaders(names, identity, assertion, verdict.added_fields);
//   // or, per worker thread, the same lines reused while nothing changed:
//   line_cache.AddTo(names, identity_ptr, assertion, assertion_serial, verdict.added_fields);
// The added fields go to the upstream after the request's own (gate.h,
// added_fields.h); only after the strip is each name guaranteed one value.
//
// Stripped (Beast compares field names case-insensitively and erase() removes
// every copy): the policy's four identity header names AND the four default
// names (so renaming a header in a policy never leaves the old name
// spoofable), every header starting with "X-Gatehouse-", Authorization unless
// forwardToken, X-Forwarded-For/-Proto/-Host, X-Real-IP, Forwarded and
// X-Request-Id.
//
// Forwarding headers: the proxy is the edge, so X-Forwarded-For is exactly the
// TCP peer (a client-sent chain is dropped, never extended), X-Forwarded-Proto
// the listener's scheme, X-Forwarded-Host the client's Host.
//
// Unsafe values are dropped, never injected: a user or email containing a byte
// outside visible ASCII + space (CR, LF, NUL, other controls, DEL, non-ASCII)
// is not sent at all; a group whose name holds such a byte or a comma is left
// out of the comma-joined groups header (a comma would split one group into
// two). The signed assertion still carries the exact claim values as JSON.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/auth/identity.h"
#include "proxy/policy/access_policy.h"
#include "proxy/server/gate.h"

namespace gatehouse::server {

// Beast (Boost 1.74) speaks boost::string_view; the rest of the code std::string_view.
inline std::string_view AsStd(boost::beast::string_view s) { return {s.data(), s.size()}; }
inline std::string_view AsStd(std::string_view s) { return s; }
inline boost::beast::string_view AsBeast(std::string_view s) { return {s.data(), s.size()}; }

// The value of the first `name` field ("" when none), as request[name] gives
// it, found by a walk over the request's few fields comparing Beast's field
// enum: cheaper than the name lookup in Beast's tree.
inline std::string_view FirstFieldValue(const RequestHead& request, http::field name) {
  for (const auto& field : request) {
    if (field.name() == name) return AsStd(field.value());
  }
  return {};
}

struct IdentityHeaderNames {
  std::string user;  // lowercase
  std::string email;
  std::string groups;
  std::string assertion;
  bool forward_token = false;
  // Beast's enum for each name (http::field::unknown for most), resolved once
  // by From() instead of per request; From() is the way to build this.
  http::field user_field = http::field::unknown;
  http::field email_field = http::field::unknown;
  http::field groups_field = http::field::unknown;
  http::field assertion_field = http::field::unknown;
  // Tells apart the results of From() (never reused in a process): caches
  // may key on it. 0 (built otherwise) is never cached. Do not modify the
  // names of a built value: copies share the id.
  uint64_t id = 0;
  // From(): the four names are the defaults (already stripped as such).
  bool default_names = false;

  static IdentityHeaderNames From(const policy::IdentityHeadersSpec& spec);
};

// Removes every client-sent header listed above from `request`.
void StripClientHeaders(RequestHead& request, const IdentityHeaderNames& names);

// Removes gatehouse_session / gatehouse_login (and __Host- forms) from the
// Cookie headers (called by StripClientHeaders).
void StripGatehouseCookies(RequestHead& request);

// Adds X-Forwarded-For/-Proto/-Host (from the request's Host) and
// X-Request-Id to `added`. Call ONLY right after StripClientHeaders(request,
// names), which removed the client's copies of every name added here and by
// AddIdentityHeaders (otherwise the upstream could see two values).
void AddForwardingHeaders(const RequestHead& request, const ClientInfo& client,
                          std::string_view request_id, AddedFields& added);
// The same with the request's Host value already at hand.
void AddForwardingHeaders(std::string_view host, const ClientInfo& client,
                          std::string_view request_id, AddedFields& added);

// AddForwardingHeaders for the requests of one worker thread (one instance
// per thread, no locks): the X-Forwarded-For/-Proto/-Host lines built for the
// last call are appended again while the client address, the scheme and the
// host are byte-equal (they are a function of those alone; every line was
// checked by AddedFields::AddKnown() when built); X-Request-Id is added each
// time. When a reused name is already in `added`, the lines are added one by
// one instead, exactly as AddForwardingHeaders would. Same precondition.
class ForwardingLineCache {
 public:
  void AddTo(std::string_view host, const ClientInfo& client, std::string_view request_id,
             AddedFields& added);

 private:
  bool built_ = false;
  bool tls_ = false;
  std::string address_;
  std::string host_;
  AddedFields lines_;
};

// Adds user/email/groups (safe values only) and, when non-empty, the
// assertion to `added`, under the policy's names. Same precondition.
void AddIdentityHeaders(const IdentityHeaderNames& names, const auth::Identity& identity,
                        std::string_view assertion, AddedFields& added);

// AddIdentityHeaders for the requests of one worker thread (one instance per
// thread, no locks): the lines built for the last call are appended again
// while the identity's user, email and groups (compared, or the same held
// Identity object), the names (IdentityHeaderNames::id) and the assertion
// (its serial in ONE AssertionCache, the caller's) are the same, since the
// lines are a function of those alone; every line was
// checked by AddedFields::Add() when built. A serial or id of 0 is never
// reused. When a reused line's name is already in `added`, the lines are
// added one by one instead, exactly as AddIdentityHeaders would.
class IdentityLineCache {
 public:
  void AddTo(const IdentityHeaderNames& names,
             const std::shared_ptr<const auth::Identity>& identity, std::string_view assertion,
             uint64_t assertion_serial, AddedFields& added);

 private:
  std::shared_ptr<const auth::Identity> identity_;
  uint64_t names_id_ = 0;
  uint64_t assertion_serial_ = 0;
  AddedFields lines_;
};

// True when every byte is visible ASCII or space (safe as a header value).
bool IsSafeHeaderValue(std::string_view value);

// The groups that are safe in a comma-joined header, joined with ",".
std::string JoinSafeGroups(const std::vector<std::string>& groups);
// The same, appended to `out` (no allocation when `out` has room).
void AppendSafeGroups(std::string& out, const std::vector<std::string>& groups);

}  // namespace gatehouse::server
