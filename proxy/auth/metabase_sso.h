// metabase_sso: the JWT that signs a user into Metabase (paid editions' JWT
// SSO): HS256 with the policy's shared secret, freshly issued.
//
//   std::string jwt = MintMetabaseToken(identity, shared_secret, now, jti);
//   // 302 /auth/sso?jwt=<jwt>&return_to=<sanitized path>
//
// Claims: iat = now, exp = now + kMetabaseTokenSeconds (Metabase accepts at
// most 180 s of age), jti, email, first_name, last_name, groups. Names come
// from given_name/family_name, else `name` split at its first space, else the
// email's local part as first name and "" as last name.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "proxy/auth/identity.h"

namespace gatehouse::auth {

inline constexpr int64_t kMetabaseTokenSeconds = 60;

// {first_name, last_name} as described above.
std::pair<std::string, std::string> MetabaseNames(const Identity& identity);

std::string MintMetabaseToken(const Identity& identity, std::string_view shared_secret, int64_t now,
                              std::string_view jti);

}  // namespace gatehouse::auth
