#include "proxy/auth/jwks_cache.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

#include "proxy/auth/fake_http_fetcher.h"
#include "proxy/auth/test_signer.h"

namespace gatehouse::auth {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kIssuer = "https://idp.example.com";
constexpr const char* kDiscovery = "https://idp.example.com/.well-known/openid-configuration";
constexpr const char* kJwks = "https://idp.example.com/keys";

IssuerConfig Config() {
  IssuerConfig c;
  c.issuer = kIssuer;
  c.audiences = {"gatehouse"};
  c.algorithms = AllJwsAlgorithms();
  return c;
}

class JwksCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fetcher_.Serve(kDiscovery, 200,
                   nlohmann::json{{"issuer", kIssuer}, {"jwks_uri", kJwks}}.dump());
    ServeKeys(signer_a_);
    cache_.SetFetchResultHook([this](std::string_view issuer, std::string_view result) {
      results_.push_back(std::string(issuer) + ":" + std::string(result));
    });
  }
  void ServeKeys(const TestSigner& signer) {
    fetcher_.Serve(kJwks, 200, JwksOf({signer.PublicJwk()}));
  }
  bool HasKid(const std::string& kid) {
    auto keys = cache_.Keys(Config());
    return keys && keys->HasKeyId(kid);
  }
  // Advances the fake clock and runs whatever is due.
  void AdvanceAndRun(milliseconds d) {
    time_.Advance(d);
    cache_.RunDueFetches();
  }

  static inline TestSigner signer_a_{JwsAlgorithm::kES256, "a"};
  static inline TestSigner signer_b_{JwsAlgorithm::kES256, "b"};
  FakeHttpFetcher fetcher_;
  FakeTimeSource time_;
  double jitter_ = 0.5;  // 0.8 + 0.4 * 0.5 = exactly the nominal backoff
  JwksCache cache_{fetcher_, time_, [this] { return jitter_; }};
  std::vector<std::string> results_;
};

TEST_F(JwksCacheTest, NoKeysBeforeFirstFetchThenDiscoveryAndJwks) {
  cache_.Track(Config());
  EXPECT_EQ(cache_.Keys(Config()), nullptr);  // never blocks, never fetches on the data path
  EXPECT_EQ(fetcher_.Count(kJwks), 0);
  cache_.RunDueFetches();
  EXPECT_TRUE(HasKid("a"));
  EXPECT_EQ(fetcher_.Count(kDiscovery), 1);
  EXPECT_EQ(results_, std::vector<std::string>{std::string(kIssuer) + ":success"});
}

TEST_F(JwksCacheTest, RefreshesAfterTtl) {
  cache_.Track(Config());
  cache_.RunDueFetches();
  ServeKeys(signer_b_);
  AdvanceAndRun(std::chrono::minutes(9));
  EXPECT_TRUE(HasKid("a"));
  EXPECT_EQ(fetcher_.Count(kJwks), 1);
  AdvanceAndRun(std::chrono::minutes(1));
  EXPECT_TRUE(HasKid("b"));
  EXPECT_EQ(fetcher_.Count(kJwks), 2);
}

TEST_F(JwksCacheTest, FailureKeepsLastGoodKeysAndBacksOffExponentially) {
  cache_.Track(Config());
  cache_.RunDueFetches();
  fetcher_.Fail(kJwks);
  AdvanceAndRun(std::chrono::minutes(10));  // fails
  EXPECT_TRUE(HasKid("a"));                 // last good keys kept
  // Expected retry delays: 1 s, 2 s, 4 s, ... capped at 300 s.
  const int64_t delays[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300};
  int fetches = fetcher_.Count(kJwks);
  for (int64_t d : delays) {
    SCOPED_TRACE(d);
    AdvanceAndRun(milliseconds(d * 1000 - 1));
    EXPECT_EQ(fetcher_.Count(kJwks), fetches) << "retried too early";
    AdvanceAndRun(milliseconds(1));
    EXPECT_EQ(fetcher_.Count(kJwks), ++fetches) << "did not retry on time";
  }
  ServeKeys(signer_b_);
  AdvanceAndRun(seconds(300));
  EXPECT_TRUE(HasKid("b"));
  EXPECT_EQ(results_.back(), std::string(kIssuer) + ":success");
  EXPECT_EQ(results_[1], std::string(kIssuer) + ":error");
}

TEST_F(JwksCacheTest, JitterScalesBackoff) {
  jitter_ = 0.0;  // 0.8 x
  cache_.Track(Config());
  fetcher_.Fail(kJwks);
  cache_.RunDueFetches();  // fails; retry in 800 ms
  AdvanceAndRun(milliseconds(799));
  EXPECT_EQ(fetcher_.Count(kJwks), 1);
  AdvanceAndRun(milliseconds(1));
  EXPECT_EQ(fetcher_.Count(kJwks), 2);
}

TEST_F(JwksCacheTest, UnknownKidRefreshIsRateLimited) {
  cache_.Track(Config());
  cache_.RunDueFetches();
  ServeKeys(signer_b_);
  cache_.KeyIdNotFound(Config());
  cache_.RunDueFetches();
  EXPECT_TRUE(HasKid("b"));
  EXPECT_EQ(fetcher_.Count(kJwks), 2);
  for (int i = 0; i < 100; ++i) {  // a flood of junk kids within 30 s
    cache_.KeyIdNotFound(Config());
    AdvanceAndRun(milliseconds(100));
  }
  EXPECT_EQ(fetcher_.Count(kJwks), 2);
  AdvanceAndRun(seconds(20));
  cache_.KeyIdNotFound(Config());
  cache_.RunDueFetches();
  EXPECT_EQ(fetcher_.Count(kJwks), 3);
}

TEST_F(JwksCacheTest, DiscoveryProblemsAreErrors) {
  struct Case {
    const char* name;
    std::string discovery;
    int status;
  };
  const Case cases[] = {
      {"issuer mismatch", nlohmann::json{{"issuer", "https://evil"}, {"jwks_uri", kJwks}}.dump(),
       200},
      {"http jwks_uri",
       nlohmann::json{{"issuer", kIssuer}, {"jwks_uri", "http://idp.example.com/k"}}.dump(), 200},
      {"404", "", 404},
      {"not json", "<html>", 200},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    FakeHttpFetcher fetcher;
    fetcher.Serve(kDiscovery, c.status, c.discovery);
    fetcher.Serve(kJwks, 200, JwksOf({signer_a_.PublicJwk()}));
    std::vector<std::string> results;
    JwksCache cache(fetcher, time_, [] { return 0.5; });
    cache.SetFetchResultHook(
        [&](std::string_view, std::string_view r) { results.emplace_back(r); });
    cache.Track(Config());
    cache.RunDueFetches();
    EXPECT_EQ(cache.Keys(Config()), nullptr);
    EXPECT_EQ(results, std::vector<std::string>{"error"});
  }
}

TEST_F(JwksCacheTest, JwksUriOverrideSkipsDiscoveryAndMustBeSafe) {
  IssuerConfig config = Config();
  config.jwks_uri = "https://keys.example.net/jwks";
  fetcher_.Serve(config.jwks_uri, 200, JwksOf({signer_b_.PublicJwk()}));
  cache_.Track(config);
  cache_.RunDueFetches();
  ASSERT_NE(cache_.Keys(config), nullptr);
  EXPECT_TRUE(cache_.Keys(config)->HasKeyId("b"));
  EXPECT_EQ(fetcher_.Count(kDiscovery), 0);
  // Same issuer, other override: a separate entry.
  IssuerConfig insecure = Config();
  insecure.jwks_uri = "http://keys.example.net/jwks";
  fetcher_.Serve(insecure.jwks_uri, 200, JwksOf({signer_b_.PublicJwk()}));
  cache_.Track(insecure);
  cache_.RunDueFetches();
  EXPECT_EQ(cache_.Keys(insecure), nullptr);
  EXPECT_EQ(fetcher_.Count(insecure.jwks_uri), 0);
}

TEST_F(JwksCacheTest, RunDueFetchesReturnsNextDueTime) {
  cache_.Track(Config());
  const auto next = cache_.RunDueFetches();
  EXPECT_EQ(next, time_.MonotonicNow() + std::chrono::minutes(10));
  fetcher_.Fail(kJwks);
  cache_.RequestRefresh(Config());
  EXPECT_EQ(cache_.RunDueFetches(), time_.MonotonicNow() + seconds(1));
}

TEST_F(JwksCacheTest, WaitForKeysWakesWhenControlThreadFetches) {
  cache_.Track(Config());
  EXPECT_FALSE(cache_.WaitForKeys(Config(), milliseconds(1)));
  std::thread control([this] { cache_.RunDueFetches(); });
  EXPECT_TRUE(cache_.WaitForKeys(Config(), seconds(30)));
  control.join();
}

TEST_F(JwksCacheTest, WaitForWorkWakesOnRefreshRequest) {
  cache_.Track(Config());
  cache_.RunDueFetches();
  std::thread requester([this] { cache_.RequestRefresh(Config()); });
  cache_.WaitForWork(seconds(30));  // returns early because of the request
  requester.join();
  cache_.RunDueFetches();
  EXPECT_EQ(fetcher_.Count(kJwks), 2);
}

TEST_F(JwksCacheTest, ConcurrentReadersDuringFetches) {
  cache_.Track(Config());
  std::atomic<bool> stop{false};
  std::vector<std::thread> readers;
  std::atomic<int> seen{0};
  for (int i = 0; i < 4; ++i) {
    readers.emplace_back([&] {
      while (!stop) {
        if (auto k = cache_.Keys(Config())) seen += static_cast<int>(k->keys().size());
        cache_.KeyIdNotFound(Config());
      }
    });
  }
  for (int i = 0; i < 50; ++i) {
    ServeKeys(i % 2 ? signer_a_ : signer_b_);
    cache_.RequestRefresh(Config());
    cache_.RunDueFetches();
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_NE(cache_.Keys(Config()), nullptr);
}

}  // namespace
}  // namespace gatehouse::auth
