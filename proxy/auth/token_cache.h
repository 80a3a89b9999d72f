// TokenCache: a bounded LRU cache of verified tokens for ONE thread.
//
// The server keeps one TokenCache per worker thread, so there are no locks;
// never share an instance between threads.
//
//   TokenCache cache(/*max_entries=*/4096);
//   uint64_t h = TokenCache::HashToken(token);
//   if (auto id = cache.Lookup(h, token, config_id, now)) return id;   // hit
//   ... verify ...
//   cache.Insert(h, token, config_id, identity, now);
//
// The key is the token's hash combined with the id of the IssuerConfig it was
// verified for (the same token verified for another config is another entry).
// Each entry keeps the whole token and compares it in full on lookup, so a
// hash collision can never return another token's identity. An entry is never
// returned at or after the token's `exp` (Identity::expires_at), and is never
// stored when already expired. Eviction: least recently used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "proxy/auth/identity.h"

namespace gatehouse::auth {

class TokenCache {
 public:
  explicit TokenCache(size_t max_entries = 4096);
  TokenCache(const TokenCache&) = delete;
  TokenCache& operator=(const TokenCache&) = delete;

  // A fast non-cryptographic 64-bit hash of the token bytes.
  static uint64_t HashToken(std::string_view token);

  // nullptr on a miss (absent, other token with the same hash, or expired).
  std::shared_ptr<const Identity> Lookup(uint64_t token_hash, std::string_view token,
                                         uint64_t config_id, int64_t now);
  void Insert(uint64_t token_hash, std::string_view token, uint64_t config_id,
              std::shared_ptr<const Identity> identity, int64_t now);

  size_t size() const { return index_.size(); }
  size_t max_entries() const { return max_entries_; }

 private:
  struct Entry {
    uint64_t key;
    uint64_t config_id;
    std::string token;
    std::shared_ptr<const Identity> identity;
  };
  using List = std::list<Entry>;

  static uint64_t ComputeHash(std::string_view token);
  static uint64_t CombineKey(uint64_t token_hash, uint64_t config_id);
  void Erase(std::unordered_map<uint64_t, List::iterator>::iterator it);

  size_t max_entries_;
  List lru_;  // front: most recently used
  std::unordered_map<uint64_t, List::iterator> index_;
};

}  // namespace gatehouse::auth
