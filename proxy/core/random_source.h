// RandomSource: the only way core code gets random bytes (session keys,
// cookie nonces, OIDC state/nonce/PKCE verifiers, token ids), so tests can
// make them deterministic.
//
//   OsRandomSource os;               // binaries: OpenSSL RAND_bytes (the OS CSPRNG)
//   FakeRandomSource fake(7);        // tests: a repeatable byte stream from a seed
//   std::string nonce = os.Bytes(12);
//
// Bytes() never fails silently: when the CSPRNG cannot deliver, OsRandomSource
// aborts the process rather than hand out predictable secrets.
#pragma once

#include <openssl/rand.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace gatehouse {

class RandomSource {
 public:
  virtual ~RandomSource() = default;
  // Fills out[0..n) with random bytes. Thread-safe.
  virtual void Fill(unsigned char* out, size_t n) = 0;

  std::string Bytes(size_t n) {
    std::string out(n, '\0');
    if (n > 0) Fill(reinterpret_cast<unsigned char*>(out.data()), n);
    return out;
  }
};

class OsRandomSource final : public RandomSource {
 public:
  void Fill(unsigned char* out, size_t n) override {
    // Security: a failing CSPRNG must never degrade into predictable secrets.
    if (RAND_bytes(out, static_cast<int>(n)) != 1) std::abort();
  }
};

// Tests only: splitmix64 over a counter; the same seed gives the same bytes.
class FakeRandomSource final : public RandomSource {
 public:
  explicit FakeRandomSource(uint64_t seed = 1) : state_(seed) {}
  void Fill(unsigned char* out, size_t n) override {
    for (size_t i = 0; i < n; ++i) {
      uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      out[i] = static_cast<unsigned char>(z ^ (z >> 31));
    }
  }

 private:
  std::atomic<uint64_t> state_;
};

}  // namespace gatehouse
