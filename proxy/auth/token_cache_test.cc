#include "proxy/auth/token_cache.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace gatehouse::auth {
namespace {

constexpr int64_t kNow = 1700000000;

std::shared_ptr<const Identity> IdentityFor(const std::string& user, int64_t exp) {
  auto id = std::make_shared<Identity>();
  id->user = user;
  id->expires_at = exp;
  return id;
}

struct Step {
  const char* name;
  std::string token;
  uint64_t config;
  int64_t now;
  const char* expected_user;  // nullptr: miss
};

void CheckSteps(TokenCache& cache, const std::vector<Step>& steps) {
  for (const Step& s : steps) {
    SCOPED_TRACE(s.name);
    auto got = cache.Lookup(TokenCache::HashToken(s.token), s.token, s.config, s.now);
    if (s.expected_user == nullptr) {
      EXPECT_EQ(got, nullptr);
    } else {
      ASSERT_NE(got, nullptr);
      EXPECT_EQ(got->user, s.expected_user);
    }
  }
}

void Put(TokenCache& cache, const std::string& token, uint64_t config, const std::string& user,
         int64_t exp, int64_t now = kNow) {
  cache.Insert(TokenCache::HashToken(token), token, config, IdentityFor(user, exp), now);
}

TEST(TokenCacheTest, LookupTable) {
  TokenCache cache(16);
  Put(cache, "token-a", 1, "alice", kNow + 100);
  Put(cache, "token-b", 1, "bob", kNow + 100);
  Put(cache, "token-a", 2, "alice-for-config-2", kNow + 100);
  Put(cache, "token-expired", 1, "eve", kNow);  // already expired: not stored
  CheckSteps(cache, {
                        {"hit", "token-a", 1, kNow, "alice"},
                        {"other token", "token-b", 1, kNow, "bob"},
                        {"same token other config", "token-a", 2, kNow, "alice-for-config-2"},
                        {"unknown config", "token-a", 3, kNow, nullptr},
                        {"unknown token", "token-c", 1, kNow, nullptr},
                        {"prefix of token", "token-", 1, kNow, nullptr},
                        {"expired at insert", "token-expired", 1, kNow, nullptr},
                        {"last valid second", "token-a", 1, kNow + 99, "alice"},
                        {"at exp", "token-a", 1, kNow + 100, nullptr},
                        {"evicted after exp", "token-a", 1, kNow, nullptr},
                    });
  EXPECT_EQ(cache.size(), 2u);
}

TEST(TokenCacheTest, HashCollisionNeverReturnsAnotherIdentity) {
  // Force a collision by passing the same hash for two different tokens.
  TokenCache cache(16);
  const uint64_t hash = 42;
  cache.Insert(hash, "victim-token", 1, IdentityFor("victim", kNow + 100), kNow);
  EXPECT_EQ(cache.Lookup(hash, "attacker-token", 1, kNow), nullptr);
  ASSERT_NE(cache.Lookup(hash, "victim-token", 1, kNow), nullptr);
  // The colliding token replaces the slot; the victim then misses (re-verified), never mixes up.
  cache.Insert(hash, "attacker-token", 1, IdentityFor("attacker", kNow + 100), kNow);
  EXPECT_EQ(cache.Lookup(hash, "victim-token", 1, kNow), nullptr);
  EXPECT_EQ(cache.Lookup(hash, "attacker-token", 1, kNow)->user, "attacker");
}

TEST(TokenCacheTest, EvictsLeastRecentlyUsed) {
  TokenCache cache(3);
  Put(cache, "t1", 1, "u1", kNow + 100);
  Put(cache, "t2", 1, "u2", kNow + 100);
  Put(cache, "t3", 1, "u3", kNow + 100);
  CheckSteps(cache, {{"touch t1", "t1", 1, kNow, "u1"}});
  Put(cache, "t4", 1, "u4", kNow + 100);  // evicts t2, the least recently used
  EXPECT_EQ(cache.size(), 3u);
  CheckSteps(cache, {
                        {"t1 kept", "t1", 1, kNow, "u1"},
                        {"t2 evicted", "t2", 1, kNow, nullptr},
                        {"t3 kept", "t3", 1, kNow, "u3"},
                        {"t4 stored", "t4", 1, kNow, "u4"},
                    });
  for (int i = 0; i < 100; ++i) Put(cache, "bulk" + std::to_string(i), 1, "b", kNow + 100);
  EXPECT_EQ(cache.size(), 3u);
}

TEST(TokenCacheTest, HashDependsOnEveryByte) {
  std::string token(800, 'a');
  const uint64_t base = TokenCache::HashToken(token);
  for (size_t i = 0; i < token.size(); i += 7) {
    std::string changed = token;
    changed[i] = 'b';
    EXPECT_NE(TokenCache::HashToken(changed), base) << i;
  }
  EXPECT_NE(TokenCache::HashToken(token + "a"), base);
  EXPECT_NE(TokenCache::HashToken(""), TokenCache::HashToken(std::string(1, '\0')));
}

TEST(TokenCacheTest, HashIsTheSameInAnyOrderOfAsking) {
  // The hash is a function of the bytes alone: asking in any order, and
  // again, gives every token its own hash, as a first computation does.
  const std::string a(700, 'a');
  std::string b = a;
  b[350] = 'b';  // same length, one byte apart
  const uint64_t hash_a = TokenCache::HashToken(a);
  const uint64_t hash_b = TokenCache::HashToken(b);
  EXPECT_NE(hash_a, hash_b);
  const std::vector<std::pair<const std::string*, uint64_t>> asks = {
      {&a, hash_a}, {&a, hash_a}, {&b, hash_b}, {&b, hash_b}, {&a, hash_a}};
  for (const auto& [token, want] : asks) EXPECT_EQ(TokenCache::HashToken(*token), want);
  EXPECT_NE(TokenCache::HashToken(a.substr(0, 699)), hash_a);
  // Large tokens too.
  const std::string large(20000, 'x');
  EXPECT_EQ(TokenCache::HashToken(large), TokenCache::HashToken(large));
  EXPECT_EQ(TokenCache::HashToken(a), hash_a);
}

}  // namespace
}  // namespace gatehouse::auth
