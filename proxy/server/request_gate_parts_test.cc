// The gate's parts around the decision table (request_gate_test.cc): waiting
// for an issuer's first keys (KeyWaiter, alone and through the gate), bearer
// credential extraction, and request ids.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

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

auth::IssuerConfig TestIssuer() {
  auth::IssuerConfig config;
  config.issuer = testing::kIssuer;
  config.audiences = {"gatehouse"};
  return config;
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
  waiter.Park(TestIssuer(), time.MonotonicNow() + std::chrono::seconds(5), [&] { ++resumed; });
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
  waiter.Park(TestIssuer(), time.MonotonicNow() + std::chrono::seconds(5), [&] { ++resumed; });
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
      waiter.Park(TestIssuer(), time.MonotonicNow() + std::chrono::hours(1), [&] { ++resumed; });
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

TEST(RequestGateTest, ExtractBearer) {
  struct Case {
    std::string scenario;
    std::vector<std::string> values;
    CredentialKind kind;
    std::string token;
  };
  const std::vector<Case> cases = {
      {"none", {}, CredentialKind::kNone, ""},
      {"bearer", {"Bearer abc.def-_~+/="}, CredentialKind::kBearer, "abc.def-_~+/="},
      {"BEARER, extra spaces", {"BEARER   abc  "}, CredentialKind::kBearer, "abc"},
      {"empty token", {"Bearer "}, CredentialKind::kInvalid, ""},
      {"no space", {"Bearerabc"}, CredentialKind::kInvalid, ""},
      {"two tokens in one header", {"Bearer a b"}, CredentialKind::kInvalid, ""},
      {"comma-joined", {"Bearer a, Bearer b"}, CredentialKind::kInvalid, ""},
      {"two headers", {"Bearer a", "Bearer a"}, CredentialKind::kInvalid, ""},
      {"basic", {"Basic YQ=="}, CredentialKind::kInvalid, ""},
      {"bearer in lowercase", {"bearer abc"}, CredentialKind::kBearer, "abc"},
      {"scheme with a non-ASCII byte", {"Be\xc3\xa4rer abc"}, CredentialKind::kInvalid, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.scenario);
    RequestHead head = GateHarness::Head("GET", "h", "/");
    for (const std::string& v : c.values) head.insert(http::field::authorization, AsBeast(v));
    BearerCredential got = ExtractBearer(head);
    EXPECT_EQ(got.kind, c.kind);
    EXPECT_EQ(got.token, c.token);
  }
}

TEST(RequestGateTest, ExtractBearerFindsABadByteAnywhereInALongToken) {
  // The scan takes 16 bytes per step: a byte outside token68 must be caught
  // at every offset of a block and in the tail, and '=' only at the end.
  const std::string good =
      "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXN0dWZm-_~+/0123456789";
  const std::vector<std::string> bad_bytes = {" ",
                                              "\t",
                                              std::string(1, '\0'),
                                              "\x7f",
                                              "\x80",
                                              "\xff",
                                              ",",
                                              "\"",
                                              "=",
                                              ";",
                                              "\r\n",
                                              "@",
                                              "[",
                                              "`",
                                              "{",
                                              ":",
                                              std::string("/\0", 2)};
  for (size_t at = 0; at < good.size(); ++at) {
    for (const std::string& bad : bad_bytes) {
      std::string token = good;
      token.replace(at, 1, bad);
      SCOPED_TRACE("offset " + std::to_string(at) + ", byte " + std::to_string(bad[0] & 0xff));
      RequestHead head = GateHarness::Head("GET", "h", "/");
      head.insert(http::field::authorization, AsBeast("Bearer " + token));
      const BearerCredential got = ExtractBearer(head);
      // Beast trims the value's trailing whitespace; a space at the very end
      // is therefore gone before the scan, as for any header value.
      // A last '=' is token68 padding; spaces after the scheme are skipped.
      const bool last = at + 1 == good.size();
      const bool still_valid =
          (last && (bad == " " || bad == "\t" || bad == "=")) || (at == 0 && bad == " ");
      EXPECT_EQ(got.kind, still_valid ? CredentialKind::kBearer : CredentialKind::kInvalid);
    }
  }
  RequestHead head = GateHarness::Head("GET", "h", "/");
  head.insert(http::field::authorization, AsBeast("Bearer " + good + "=="));
  EXPECT_EQ(ExtractBearer(head).kind, CredentialKind::kBearer);
  EXPECT_EQ(ExtractBearer(head).token, good + "==");
}

TEST(RequestGateTest, RequestIdsAre32HexDigitsAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    const std::string id = NewRequestId();
    ASSERT_EQ(id.size(), 32u);
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
    EXPECT_TRUE(seen.insert(id).second) << "repeated id " << id;
  }
  // Every hex digit shows up in every position over 10,000 ids (a stuck
  // nibble would be a broken formatter, not bad luck).
  for (size_t pos = 0; pos < 32; ++pos) {
    std::set<char> digits;
    for (const std::string& id : seen) digits.insert(id[pos]);
    EXPECT_EQ(digits.size(), 16u) << pos;
  }
}

TEST(RequestGateTest, ExtractBearerRemembersOnlyByteEqualTokens) {
  // The last token that passed is remembered per thread: a token of the
  // same length one byte apart must still be scanned, and refused.
  struct Ask {
    std::string scenario;
    std::string token;
    CredentialKind kind;
  };
  const std::vector<Ask> asks = {
      {"good", "abc.def", CredentialKind::kBearer},
      {"good again", "abc.def", CredentialKind::kBearer},
      {"same length, a comma", "abc,def", CredentialKind::kInvalid},
      {"same length, a NUL", std::string("abc\0def", 7), CredentialKind::kInvalid},
      {"same length, a quote", "abc\"def", CredentialKind::kInvalid},
      {"good after bad ones", "abc.def", CredentialKind::kBearer},
      {"same length, '=' inside", "abc=def", CredentialKind::kInvalid},
      {"shorter", "abc.de", CredentialKind::kBearer},
  };
  for (const Ask& ask : asks) {
    SCOPED_TRACE(ask.scenario);
    RequestHead head = GateHarness::Head("GET", "h", "/");
    head.insert(http::field::authorization, AsBeast("Bearer " + ask.token));
    const BearerCredential got = ExtractBearer(head);
    EXPECT_EQ(got.kind, ask.kind);
    if (ask.kind == CredentialKind::kBearer) {
      EXPECT_EQ(got.token, ask.token);
    }
  }
}

}  // namespace
}  // namespace gatehouse::server
