// The HTTP surface of the gate: credential extraction and local answers.
#include <openssl/rand.h>

#include <array>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <string_view>

#include "proxy/auth/token_cache.h"
#include "proxy/core/constant_time.h"
#include "proxy/server/identity_headers.h"
#include "proxy/server/request_gate.h"

namespace gatehouse::server {
namespace {

char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// `a` equals `lower` (lowercase ASCII) ignoring ASCII case.
bool IEquals(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != lower[i]) return false;
  }
  return true;
}

// RFC 7235 token68 characters (the '=' padding is handled by the caller), as a
// table: this runs over every byte of every bearer token, and libc's
// locale-aware isalnum showed up at 3% of a benchmark profile.
constexpr std::array<bool, 256> kToken68Chars = [] {
  std::array<bool, 256> table{};
  for (int c = 'a'; c <= 'z'; ++c) table[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) table[c] = true;
  for (int c = '0'; c <= '9'; ++c) table[c] = true;
  for (unsigned char c : std::string_view("-._~+/")) table[c] = true;
  return table;
}();

bool IsToken68Char(char c) { return kToken68Chars[static_cast<unsigned char>(c)]; }

// Length of the run of token68 characters (not '=') at the start of `s`.
// Thirty-two bytes per step with GCC/Clang vector extensions, compiled twice
// (AVX2, and the x86-64 baseline where the vector is split in two SSE2
// halves; the loader picks one for the CPU): a bearer token is 300-1,500
// bytes and this runs on every request, where a byte-at-a-time scan cost
// ~4,000 instructions.
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target_clones("avx2", "default")))
#endif
size_t
Token68Run(std::string_view s) {
  using Bytes = unsigned char __attribute__((vector_size(32)));
  using Mask = signed char __attribute__((vector_size(32)));
  size_t i = 0;
  for (; i + sizeof(Bytes) <= s.size(); i += sizeof(Bytes)) {
    Bytes v;
    std::memcpy(&v, s.data() + i, sizeof(v));
    // Unsigned wrap-around turns each range test into one compare. 0x2d-0x39
    // is "-./0123456789"; the other specials are '+', '_' and '~'.
    const Mask ok = ((v - static_cast<unsigned char>('a')) <= 'z' - 'a') |
                    ((v - static_cast<unsigned char>('A')) <= 'Z' - 'A') |
                    ((v - static_cast<unsigned char>('-')) <= '9' - '-') | (v == '+') | (v == '_') |
                    (v == '~');
    uint64_t quarters[4];
    std::memcpy(quarters, &ok, sizeof(quarters));
    if ((quarters[0] & quarters[1] & quarters[2] & quarters[3]) != ~uint64_t{0}) {
      break;  // a byte outside the set: the loop below finds it
    }
  }
  while (i < s.size() && IsToken68Char(s[i])) ++i;
  return i;
}

bool ContainsIgnoreCase(std::string_view haystack, std::string_view lower_needle) {
  if (haystack.size() < lower_needle.size()) return false;
  for (size_t i = 0; i + lower_needle.size() <= haystack.size(); ++i) {
    size_t k = 0;
    while (k < lower_needle.size() && AsciiLower(haystack[i + k]) == lower_needle[k]) {
      ++k;
    }
    if (k == lower_needle.size()) return true;
  }
  return false;
}

std::string_view StatusText(int status) {
  switch (status) {
    case 302:
      return "Found";
    case 307:
      return "Temporary Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 429:
      return "Too Many Requests";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

}  // namespace

BearerCredential FindBearer(const RequestHead& request) {
  // One walk over the (few) fields finds and counts them: no name lookups.
  std::string_view value;
  size_t count = 0;
  for (const auto& field : request) {
    if (field.name() != http::field::authorization) continue;
    value = AsStd(field.value());
    ++count;
  }
  if (count == 0) return {};
  // Security: several Authorization headers are ambiguous (which one would an
  // upstream read?), so none of them is trusted.
  if (count > 1) return {CredentialKind::kInvalid, {}};
  constexpr std::string_view kScheme = "bearer";
  if (value.size() <= kScheme.size() || !IEquals(value.substr(0, kScheme.size()), kScheme) ||
      value[kScheme.size()] != ' ') {
    return {CredentialKind::kInvalid, {}};  // another scheme: a credential we cannot verify
  }
  value.remove_prefix(kScheme.size());
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return {CredentialKind::kInvalid, {}};
  return {CredentialKind::kBearer, value};
}

BearerCredential ExtractBearer(const RequestHead& request) {
  const BearerCredential found = FindBearer(request);
  if (found.kind == CredentialKind::kBearer && !IsToken68(found.token)) {
    return {CredentialKind::kInvalid, {}};
  }
  return found;
}

bool IsToken68(std::string_view token) {
  const size_t run = Token68Run(token);
  size_t i = run;
  while (i < token.size() && token[i] == '=') ++i;  // token68 padding
  return run != 0 && i == token.size();             // padding alone is no token
}

std::shared_ptr<const auth::Identity> BearerMemo::Recall(
    std::string_view token, const std::shared_ptr<const auth::TokenAuthenticator>& authenticator,
    int64_t now) const {
  // Security: the answer Authenticate() gave for these very bytes and this
  // very authenticator (owner_before compares control blocks, which are not
  // reused while this weak reference holds ours), and never at or after the
  // token's exp, as a TokenCache hit. Constant-time compare: the remembered
  // token may be another client's.
  if (identity_ == nullptr || now >= identity_->expires_at ||
      authenticator_.owner_before(authenticator) || authenticator.owner_before(authenticator_) ||
      !ConstantTimeEquals(token, token_)) {
    return nullptr;
  }
  return identity_;
}

void BearerMemo::Remember(std::string_view token,
                          const std::shared_ptr<const auth::TokenAuthenticator>& authenticator,
                          std::shared_ptr<const auth::Identity> identity) {
  if (identity == nullptr || authenticator == nullptr || token.size() > kMaxBytes) {
    identity_.reset();  // nothing remembered rather than an old answer
    return;
  }
  token_.assign(token);
  authenticator_ = authenticator;
  identity_ = std::move(identity);
}

bool DecisionMemo::Matches(const std::shared_ptr<const FleetSnapshot>& snapshot,
                           const policy::CompiledPolicy& policy,
                           const policy::RequestFacts& facts) const {
  // Security: every input Decide reads, compared exactly (see the header);
  // the snapshot by its control block, which outlives it while held weakly.
  return valid_ && policy_ == &policy && facts.identity == identity_.get() &&
         !snapshot_.owner_before(snapshot) && !snapshot.owner_before(snapshot_) &&
         facts.bad_credentials == bad_credentials_ &&
         facts.browser_navigation == browser_navigation_ &&
         (facts.client_ip != nullptr) == has_ip_ &&
         (facts.client_ip == nullptr || *facts.client_ip == ip_) && facts.method == method_ &&
         facts.path == path_;
}

policy::Decision DecisionMemo::Decide(const std::shared_ptr<const FleetSnapshot>& snapshot,
                                      const policy::CompiledPolicy& policy,
                                      const policy::RequestFacts& facts,
                                      const std::shared_ptr<const auth::Identity>& identity) {
  if (Matches(snapshot, policy, facts)) return decision_;
  const policy::Decision decision = policy::Decide(policy, facts);
  valid_ = snapshot != nullptr && facts.identity == identity.get();
  if (valid_) {
    snapshot_ = snapshot;
    policy_ = &policy;
    method_.assign(facts.method);
    path_.assign(facts.path);
    identity_ = identity;
    has_ip_ = facts.client_ip != nullptr;
    ip_ = has_ip_ ? *facts.client_ip : policy::IpAddress{};
    bad_credentials_ = facts.bad_credentials;
    browser_navigation_ = facts.browser_navigation;
    decision_ = decision;
  } else {
    identity_.reset();  // nothing of an unremembered request is kept
  }
  return decision;
}

StatusOr<std::shared_ptr<const auth::Identity>> AuthenticateBearer(
    const std::shared_ptr<const auth::TokenAuthenticator>& authenticator, std::string_view token,
    int64_t now) {
  thread_local BearerMemo memo;
  thread_local auth::TokenCache cache;
  if (std::shared_ptr<const auth::Identity> known = memo.Recall(token, authenticator, now)) {
    // Byte-equal to a token that passed IsToken68 and verified below.
    return known;
  }
  // Security: anything but token68 is not a bearer token (RFC 6750 2.1).
  if (!IsToken68(token)) return UnauthenticatedError("malformed bearer token");
  StatusOr<std::shared_ptr<const auth::Identity>> identity =
      authenticator->Authenticate(token, now, cache);
  if (identity.ok()) memo.Remember(token, authenticator, *identity);
  return identity;
}

bool IsBrowserNavigation(const RequestHead& request) {
  if (request.method() != http::verb::get) return false;
  for (const auto& field : request) {
    if (field.name() == http::field::accept &&
        ContainsIgnoreCase(AsStd(field.value()), "text/html")) {
      return true;
    }
  }
  return false;
}

LocalResponse MakeLocalResponse(const RequestHead& request, int status, std::string_view reason,
                                std::string_view request_id, int64_t retry_after_seconds) {
  LocalResponse response;
  response.version(request.version());
  response.result(static_cast<unsigned>(status));
  response.set("X-Request-Id", AsBeast(request_id));
  response.set(http::field::cache_control, "no-store");
  response.set("X-Content-Type-Options", "nosniff");
  if (status == 401) {
    // RFC 6750 section 3.1: no error code when no credential was offered.
    response.set(http::field::www_authenticate,
                 reason == "invalid_token" ? R"(Bearer realm="gatehouse", error="invalid_token")"
                                           : R"(Bearer realm="gatehouse")");
  }
  if (status == 429) response.set(http::field::retry_after, std::to_string(retry_after_seconds));
  // The body names the reason label and the request id, nothing internal
  // (no policy, rule, claim or token detail): both are our own safe strings.
  const std::string_view text = StatusText(status);
  const std::string_view accept = AsStd(request[http::field::accept]);
  std::string body;
  if (ContainsIgnoreCase(accept, "text/html")) {
    response.set(http::field::content_type, "text/html; charset=utf-8");
    body = "<!doctype html><title>" + std::to_string(status) + " " + std::string(text) +
           "</title><h1>" + std::to_string(status) + " " + std::string(text) +
           "</h1><p>Reason: " + std::string(reason) +
           "</p><p>Request ID: " + std::string(request_id) + "</p>\n";
  } else if (ContainsIgnoreCase(accept, "application/json")) {
    response.set(http::field::content_type, "application/json");
    body = R"({"status":)" + std::to_string(status) + R"(,"reason":")" + std::string(reason) +
           R"(","request_id":")" + std::string(request_id) + "\"}\n";
  } else {
    response.set(http::field::content_type, "text/plain; charset=utf-8");
    body = std::to_string(status) + " " + std::string(text) + ": " + std::string(reason) +
           " (request id " + std::string(request_id) + ")\n";
  }
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

std::string NewRequestId() {
  std::string out(kRequestIdLength, '0');
  WriteRequestId(out.data());
  return out;
}

void WriteRequestId(char* out) {
  // Unique, not secret: a per-thread xoshiro256** generator seeded from the
  // OS CSPRNG (a few instructions per id, where mt19937_64 and a printf cost
  // ~300).
  thread_local std::array<uint64_t, 4> state = [] {
    std::array<uint64_t, 4> seed{};
    if (RAND_bytes(reinterpret_cast<unsigned char*>(seed.data()), sizeof(seed)) != 1) {
      std::random_device device;
      for (uint64_t& word : seed) word = (uint64_t{device()} << 32) | device();
    }
    if ((seed[0] | seed[1] | seed[2] | seed[3]) == 0) seed[0] = 1;  // the one state it avoids
    return seed;
  }();
  const auto next = [] {
    const auto rotl = [](uint64_t x, int k) { return (x << k) | (x >> (64 - k)); };
    const uint64_t result = rotl(state[1] * 5, 7) * 9;
    const uint64_t t = state[1] << 17;
    state[2] ^= state[0];
    state[3] ^= state[1];
    state[1] ^= state[2];
    state[0] ^= state[3];
    state[2] ^= t;
    state[3] = rotl(state[3], 45);
    return result;
  };
  // Two hex digits per table entry.
  static constexpr std::array<char, 512> kHexPairs = [] {
    std::array<char, 512> table{};
    constexpr char kHex[] = "0123456789abcdef";
    for (int i = 0; i < 256; ++i) {
      table[2 * i] = kHex[i >> 4];
      table[2 * i + 1] = kHex[i & 0xf];
    }
    return table;
  }();
  for (int half = 0; half < 2; ++half) {
    uint64_t bits = next();
    for (int k = 7; k >= 0; --k, bits >>= 8) {
      std::memcpy(&out[half * 16 + 2 * k], &kHexPairs[2 * (bits & 0xff)], 2);
    }
  }
}

}  // namespace gatehouse::server
