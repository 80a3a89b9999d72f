#include "proxy/auth/jwt_claims.h"

#include <cmath>
#include <optional>
#include <string>
#include <utility>

namespace gatehouse::auth {
namespace {

using Json = nlohmann::json;

// Far beyond any real date, far from int64 overflow when the skew is added.
constexpr int64_t kMaxNumericDate = int64_t{1} << 52;

// NumericDate (RFC 7519 2): a JSON number of seconds, possibly fractional.
// A string such as "1700000000" is not a NumericDate. Returns nullopt when the
// value is not a usable number; clamps to +-kMaxNumericDate.
std::optional<int64_t> NumericDate(const Json& value) {
  if (!value.is_number()) return std::nullopt;
  double seconds;
  if (value.is_number_unsigned()) {
    seconds = static_cast<double>(value.get<uint64_t>());
  } else if (value.is_number_integer()) {
    seconds = static_cast<double>(value.get<int64_t>());
  } else {
    seconds = value.get<double>();
  }
  if (!std::isfinite(seconds)) return std::nullopt;
  if (seconds > static_cast<double>(kMaxNumericDate)) return kMaxNumericDate;
  if (seconds < -static_cast<double>(kMaxNumericDate)) return -kMaxNumericDate;
  return static_cast<int64_t>(std::floor(seconds));
}

Status CheckTimes(const Json& payload, int64_t now, int64_t* expires_at) {
  auto exp = payload.find("exp");
  // A token without an expiry would be valid forever: required.
  if (exp == payload.end()) return UnauthenticatedError("token has no exp");
  std::optional<int64_t> exp_value = NumericDate(*exp);
  if (!exp_value) return UnauthenticatedError("token exp is not a number");
  if (!(now < *exp_value + kClockSkewSeconds)) return UnauthenticatedError("token expired");
  *expires_at = *exp_value;
  if (auto nbf = payload.find("nbf"); nbf != payload.end()) {
    std::optional<int64_t> v = NumericDate(*nbf);
    if (!v) return UnauthenticatedError("token nbf is not a number");
    if (!(now >= *v - kClockSkewSeconds)) return UnauthenticatedError("token not yet valid");
  }
  if (auto iat = payload.find("iat"); iat != payload.end()) {
    std::optional<int64_t> v = NumericDate(*iat);
    if (!v) return UnauthenticatedError("token iat is not a number");
    // Issued in the future: a clock far off or a forged timeline; refuse.
    if (*v > now + kClockSkewSeconds) return UnauthenticatedError("token issued in the future");
  }
  return Status::Ok();
}

Status CheckAudience(const Json& payload, const IssuerConfig& config) {
  auto aud = payload.find("aud");
  if (aud == payload.end()) return UnauthenticatedError("token has no aud");
  auto trusted = [&](const Json& v) {
    if (!v.is_string()) return false;
    for (const std::string& a : config.audiences) {
      if (v.get_ref<const std::string&>() == a) return true;
    }
    return false;
  };
  if (aud->is_string()) {
    if (trusted(*aud)) return Status::Ok();
  } else if (aud->is_array()) {
    for (const Json& v : *aud) {
      if (!v.is_string()) return UnauthenticatedError("token aud is malformed");
    }
    for (const Json& v : *aud) {
      if (trusted(v)) return Status::Ok();
    }
  } else {
    return UnauthenticatedError("token aud is malformed");
  }
  // Security: a token minted for another service must not open this one.
  return UnauthenticatedError("token audience not accepted");
}

std::string StringClaim(const Json& payload, const std::string& name) {
  auto it = payload.find(name);
  if (it == payload.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

std::vector<std::string> Groups(const Json& payload, const std::string& name) {
  std::vector<std::string> groups;
  auto it = payload.find(name);
  if (it == payload.end()) return groups;
  if (it->is_string()) {
    groups.push_back(it->get<std::string>());
  } else if (it->is_array()) {
    for (const Json& g : *it) {
      if (g.is_string()) groups.push_back(g.get<std::string>());
    }
  }
  return groups;
}

// The identity the claims describe; checks only that the user claim is there.
StatusOr<std::shared_ptr<Identity>> ExtractIdentity(Json payload, const IssuerConfig& config) {
  auto identity = std::make_shared<Identity>();
  identity->user = StringClaim(payload, config.user_claim);
  if (identity->user.empty()) return UnauthenticatedError("token has no user claim");
  identity->issuer = config.issuer;
  identity->subject = StringClaim(payload, "sub");
  // Security: an unverified address must never satisfy an email rule. Only an
  // explicit false drops it; IdPs that omit email_verified vouch by issuing.
  // Some IdPs send the string "false"; that is read as unverified too.
  auto verified = payload.find("email_verified");
  const bool unverified =
      verified != payload.end() &&
      ((verified->is_boolean() && !verified->get<bool>()) || *verified == "false");
  if (!unverified) {
    identity->email = StringClaim(payload, config.email_claim);
  }
  identity->groups = Groups(payload, config.groups_claim);
  identity->token_id = StringClaim(payload, "jti");
  if (auto exp = payload.find("exp"); exp != payload.end() && exp->is_number_integer()) {
    identity->expires_at = exp->get<int64_t>();
  }
  identity->claims = std::move(payload);
  return identity;
}

StatusOr<std::shared_ptr<const Identity>> BuildIdentity(Json payload, const IssuerConfig& config,
                                                        int64_t now) {
  if (!payload.is_object()) return UnauthenticatedError("token payload is not an object");
  auto iss = payload.find("iss");
  // Security: exact comparison, no normalisation: "https://idp/" != "https://idp".
  if (iss == payload.end() || !iss->is_string() || *iss != config.issuer) {
    return UnauthenticatedError("token issuer not accepted");
  }
  int64_t expires_at = 0;
  if (Status s = CheckTimes(payload, now, &expires_at); !s.ok()) return s;
  if (Status s = CheckAudience(payload, config); !s.ok()) return s;
  StatusOr<std::shared_ptr<Identity>> identity = ExtractIdentity(std::move(payload), config);
  if (!identity.ok()) return identity.status();
  (*identity)->expires_at = expires_at;
  return std::shared_ptr<const Identity>(std::move(*identity));
}

}  // namespace

StatusOr<std::shared_ptr<const Identity>> ValidateJwtClaims(Json payload,
                                                            const IssuerConfig& config,
                                                            int64_t now) {
  try {
    return BuildIdentity(std::move(payload), config, now);
  } catch (const std::exception&) {
    return UnauthenticatedError("token claims unreadable");
  }
}

StatusOr<std::shared_ptr<const Identity>> IdentityFromClaims(Json claims,
                                                             const IssuerConfig& config) {
  if (!claims.is_object()) return InvalidArgumentError("claims must be a JSON object");
  try {
    StatusOr<std::shared_ptr<Identity>> identity = ExtractIdentity(std::move(claims), config);
    if (!identity.ok()) return identity.status();
    return std::shared_ptr<const Identity>(std::move(*identity));
  } catch (const std::exception&) {
    return InvalidArgumentError("claims unreadable");
  }
}

}  // namespace gatehouse::auth
