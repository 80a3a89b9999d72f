// KeyWaiter (key_waiter.h) alone, and the gate waiting in it for an
// issuer's first keys: parked off the calling thread, resumed when the keys
// arrive, bounded by the deadline, 503 without a waiter.
#include "proxy/server/key_waiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <utility>

#include "proxy/server/request_gate.h"
#include "proxy/server/request_gate_test_util.h"

namespace gatehouse::server {
namespace {

using testing::Added;
using testing::GateHarness;
using testing::GateResult;

// Polls `done` for up to 5 s of real time (the waiter runs on its own thread).
template <typename Pred>
bool Eventually(Pred done) {
  for (int i = 0; i < 500 && !done(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

// An idle waiter must not wake on a timer: with a 1 ms poll interval the old
// polling loop woke ~30 times in 30 ms; now it sleeps until Park().
TEST(KeyWaiterTest, IdleWaiterNeverWakes) {
  testing::FakeKeys keys;
  FakeTimeSource time(1700000000);
  KeyWaiter waiter(keys, time, std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(waiter.wakeups(), 0u);
  EXPECT_EQ(waiter.parked(), 0u);
}

TEST(KeyWaiterTest, ParkedWaiterResumesWhenKeysArriveThenGoesIdle) {
  testing::FakeKeys keys;
  FakeTimeSource time(1700000000);
  KeyWaiter waiter(keys, time, std::chrono::milliseconds(1));
  std::atomic<int> resumed{0};
  waiter.Park(testing::TestIssuer(), time.MonotonicNow() + std::chrono::seconds(5),
              [&] { ++resumed; });
  // Still parked while no keys and no deadline: it polls (wakes) meanwhile.
  ASSERT_TRUE(Eventually([&] { return waiter.wakeups() >= 3; }));
  EXPECT_EQ(resumed.load(), 0);
  EXPECT_EQ(waiter.parked(), 1u);
  auth::TestSigner idp(auth::JwsAlgorithm::kES256, "k1");
  keys.Publish(auth::JwksOf({idp.PublicJwk()}));
  ASSERT_TRUE(Eventually([&] { return resumed.load() == 1; }));
  EXPECT_EQ(waiter.parked(), 0u);
  // The list is empty again: no more wake-ups.
  const size_t after = waiter.wakeups();
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(waiter.wakeups(), after);
  EXPECT_EQ(resumed.load(), 1);
}

TEST(KeyWaiterTest, ParkedWaiterResumesAtItsDeadline) {
  testing::FakeKeys keys;
  FakeTimeSource time(1700000000);
  KeyWaiter waiter(keys, time, std::chrono::milliseconds(1));
  std::atomic<int> resumed{0};
  waiter.Park(testing::TestIssuer(), time.MonotonicNow() + std::chrono::seconds(5),
              [&] { ++resumed; });
  time.Advance(std::chrono::seconds(4));
  ASSERT_TRUE(Eventually([&] { return waiter.wakeups() >= 3; }));
  EXPECT_EQ(resumed.load(), 0);  // 4 s < 5 s: still waiting
  time.Advance(std::chrono::seconds(2));
  ASSERT_TRUE(Eventually([&] { return resumed.load() == 1; }));
  EXPECT_EQ(waiter.parked(), 0u);
}

TEST(KeyWaiterTest, DestructorResumesEveryParkedRequest) {
  testing::FakeKeys keys;
  FakeTimeSource time(1700000000);
  std::atomic<int> resumed{0};
  {
    KeyWaiter waiter(keys, time, std::chrono::hours(1));
    for (int i = 0; i < 3; ++i) {
      waiter.Park(testing::TestIssuer(), time.MonotonicNow() + std::chrono::hours(1),
                  [&] { ++resumed; });
    }
  }
  EXPECT_EQ(resumed.load(), 3);
}

TEST(RequestGateTest, WithoutWaiterMissingKeysAnswer503) {
  GateHarness h(/*load_config=*/false);
  ASSERT_TRUE(h.store().ApplyPolicies(testing::ParseOrDie(testing::StandardPolicies())).ok());
  RequestHead head = GateHarness::Head("GET", "app.example.com", "/api/x");
  head.set(http::field::authorization, "Bearer " + h.Token({"readers"}));
  GateResult r = h.Run(head);
  ASSERT_TRUE(r.verdict.local_response);
  EXPECT_EQ(r.verdict.local_response->result_int(), 503u);
}

// A gate with a KeyWaiter and no keys yet: a bearer request is parked. Check()
// returns at once; `release` then makes the keys appear or time run out, and
// the verdict arrives later from the waiter's thread.
struct ParkedCheck {
  bool answered_at_once = false;
  bool answered = false;
  GateResult result;
};

template <typename Release>
ParkedCheck CheckWhileKeysMissing(GateHarness& h, RequestHead& head, Release release) {
  ParkedCheck out;
  std::atomic<bool> called{false};
  h.gate().Check(head, GateHarness::Client(), [&](GateVerdict v) {
    out.result.verdict = std::move(v);
    called = true;
  });
  out.answered_at_once = called.load();
  release();
  for (int i = 0; i < 500 && !called.load(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  out.answered = called.load();
  return out;
}

RequestHead ReadersRequest(GateHarness& h) {
  EXPECT_TRUE(h.store().ApplyPolicies(testing::ParseOrDie(testing::StandardPolicies())).ok());
  RequestHead head = GateHarness::Head("GET", "app.example.com", "/api/x");
  head.set(http::field::authorization, "Bearer " + h.Token({"readers"}));
  return head;
}

TEST(RequestGateTest, FirstKeysAreAwaitedOffTheCallingThread) {
  GateHarness h(/*load_config=*/false, /*with_waiter=*/true);
  RequestHead head = ReadersRequest(h);
  ParkedCheck c = CheckWhileKeysMissing(
      h, head, [&] { h.keys().Publish(auth::JwksOf({h.idp().PublicJwk()})); });
  EXPECT_FALSE(c.answered_at_once);  // parked, the event loop is free
  ASSERT_TRUE(c.answered);
  EXPECT_FALSE(c.result.verdict.local_response);
  EXPECT_EQ(Added(c.result.verdict, "X-Forwarded-User"), "alice");
}

TEST(RequestGateTest, FirstKeysWaitIsBounded) {
  GateHarness h(/*load_config=*/false, /*with_waiter=*/true);
  RequestHead head = ReadersRequest(h);
  ParkedCheck c = CheckWhileKeysMissing(h, head, [&] {
    h.time().Advance(std::chrono::seconds(6));  // past the 5 s bound (fake clock)
  });
  EXPECT_FALSE(c.answered_at_once);
  ASSERT_TRUE(c.answered);
  ASSERT_TRUE(c.result.verdict.local_response);
  EXPECT_EQ(c.result.verdict.local_response->result_int(), 503u);
}

}  // namespace
}  // namespace gatehouse::server
