#include "proxy/auth/token_cache.h"

#include <cstring>
#include <utility>

#include "proxy/core/constant_time.h"

namespace gatehouse::auth {
namespace {

constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;

inline uint64_t Load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

inline uint64_t Mix(uint64_t h) {
  h ^= h >> 32;
  h *= 0xD6E8FEB86659FD93ull;
  h ^= h >> 32;
  return h;
}

}  // namespace

TokenCache::TokenCache(size_t max_entries) : max_entries_(max_entries == 0 ? 1 : max_entries) {
  index_.reserve(max_entries_);
}

uint64_t TokenCache::HashToken(std::string_view token) {
  // No memo of the last token here: the gate remembers its last bearer token
  // with the whole answer (request_gate.h BearerMemo), so a repeated token
  // does not get this far, and a fresh one would pay a compare for nothing.
  return ComputeHash(token);
}

uint64_t TokenCache::ComputeHash(std::string_view token) {
  // Four independent lanes over 32-byte blocks keep the multiplier pipeline
  // busy: an 800-byte token hashes in a few dozen nanoseconds. Collisions are
  // harmless for correctness (lookups compare the whole token).
  uint64_t a = 1, b = 2, c = 3, d = 4;
  const char* p = token.data();
  size_t n = token.size();
  while (n >= 32) {
    a = (a ^ Load64(p)) * kMul;
    b = (b ^ Load64(p + 8)) * kMul;
    c = (c ^ Load64(p + 16)) * kMul;
    d = (d ^ Load64(p + 24)) * kMul;
    a ^= a >> 29, b ^= b >> 29, c ^= c >> 29, d ^= d >> 29;
    p += 32;
    n -= 32;
  }
  uint64_t h = Mix(a) ^ (Mix(b + 1) * 3) ^ (Mix(c + 2) * 5) ^ (Mix(d + 3) * 7);
  while (n >= 8) {
    h = Mix((h ^ Load64(p)) * kMul);
    p += 8;
    n -= 8;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, p, n);
  return Mix((h ^ tail ^ (static_cast<uint64_t>(token.size()) << 56)) * kMul);
}

uint64_t TokenCache::CombineKey(uint64_t token_hash, uint64_t config_id) {
  return Mix(token_hash ^ (config_id * kMul + 0x632BE59BD9B4E019ull));
}

void TokenCache::Erase(std::unordered_map<uint64_t, List::iterator>::iterator it) {
  lru_.erase(it->second);
  index_.erase(it);
}

std::shared_ptr<const Identity> TokenCache::Lookup(uint64_t token_hash, std::string_view token,
                                                   uint64_t config_id, int64_t now) {
  auto it = index_.find(CombineKey(token_hash, config_id));
  if (it == index_.end()) return nullptr;
  const Entry& entry = *it->second;
  // Security: the full token and the config must match; the hash only finds
  // the slot. A colliding token is a miss, never someone else's identity.
  // Compared in constant time: the entry is another client's token.
  if (entry.config_id != config_id || !ConstantTimeEquals(entry.token, token)) return nullptr;
  if (now >= entry.identity->expires_at) {
    Erase(it);  // expired: the token must be verified (and rejected) again
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  return entry.identity;
}

void TokenCache::Insert(uint64_t token_hash, std::string_view token, uint64_t config_id,
                        std::shared_ptr<const Identity> identity, int64_t now) {
  if (!identity || now >= identity->expires_at) return;
  const uint64_t key = CombineKey(token_hash, config_id);
  if (auto it = index_.find(key); it != index_.end()) Erase(it);  // replace (or collision)
  while (index_.size() >= max_entries_) {
    auto victim = index_.find(lru_.back().key);
    Erase(victim);
  }
  lru_.push_front(Entry{key, config_id, std::string(token), std::move(identity)});
  index_.emplace(key, lru_.begin());
}

}  // namespace gatehouse::auth
