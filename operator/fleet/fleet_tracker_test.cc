// FleetTracker: membership, due proxies (new at once, drift rechecks,
// unreachable with backoff), states, version floor and the status view.
#include "operator/fleet/fleet_tracker.h"

#include <gtest/gtest.h>

#include <functional>

namespace gatehouse::fleet {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Strings = std::vector<std::string>;

const policy::FleetConfig kV3{3, "sha3", "{}"};
const std::chrono::steady_clock::time_point kT0(seconds(1000));

TEST(FleetTrackerTest, NewMembersAreDueAtOnceAndGoneOnesForgotten) {
  FleetTracker t;
  t.SetMembers({"http://127.0.0.1:1", "http://127.0.0.1:2"});
  EXPECT_EQ(t.Due(kV3, kT0), (Strings{"http://127.0.0.1:1", "http://127.0.0.1:2"}));
  t.RecordReport("http://127.0.0.1:1", 3, "sha3", kV3, kT0);
  t.SetMembers({"http://127.0.0.1:1", "http://127.0.0.1:3"});
  EXPECT_EQ(t.Due(kV3, kT0), (Strings{"http://127.0.0.1:3"}));
  EXPECT_EQ(t.records().size(), 2u);
}

TEST(FleetTrackerTest, InSyncIsRecheckedForDrift) {
  FleetTracker t(seconds(5));
  t.SetMembers({"a"});
  t.RecordReport("a", 3, "sha3", kV3, kT0);
  EXPECT_EQ(t.Counts()[ProxyState::kInSync], 1);
  EXPECT_TRUE(t.Due(kV3, kT0 + seconds(4)).empty());
  EXPECT_EQ(t.Due(kV3, kT0 + seconds(5)), Strings{"a"});
  // A new config makes it due at once.
  policy::FleetConfig v4{4, "sha4", "{}"};
  EXPECT_EQ(t.Due(v4, kT0 + seconds(1)), Strings{"a"});
}

TEST(FleetTrackerTest, StaleIsDueAtOnceUnreachableBacksOff) {
  FleetTracker t;
  t.SetMembers({"a", "b"});
  t.RecordReport("a", 2, "sha2", kV3, kT0);
  t.RecordFailure("b", kT0, 1.0);  // 200 ms
  EXPECT_EQ(t.Counts()[ProxyState::kStale], 1);
  EXPECT_EQ(t.Due(kV3, kT0), Strings{"a"});
  EXPECT_EQ(t.Due(kV3, kT0 + milliseconds(200)), (Strings{"a", "b"}));
  t.RecordFailure("b", kT0, 1.0);  // 400 ms
  t.RecordFailure("b", kT0, 1.0);  // 800 ms
  EXPECT_EQ(t.Due(kV3, kT0 + milliseconds(799)), Strings{"a"});
  EXPECT_EQ(t.Counts()[ProxyState::kUnreachable], 1);
  // Answering again resets the backoff.
  t.RecordReport("b", 3, "sha3", kV3, kT0);
  EXPECT_EQ(t.records().at("b").failures, 0);
  EXPECT_EQ(t.Counts()[ProxyState::kInSync], 1);
}

TEST(FleetTrackerTest, VersionFloorKeepsProxiesFromRefusingUs) {
  FleetTracker t;
  t.SetMembers({"a", "b", "c"});
  EXPECT_EQ(t.VersionFloor("x"), 0);
  t.RecordReport("a", 7, "x", kV3, kT0);  // our content at 7: keep 7
  EXPECT_EQ(t.VersionFloor("x"), 7);
  t.RecordReport("b", 9, "y", kV3, kT0);  // other content at 9: go above
  EXPECT_EQ(t.VersionFloor("x"), 10);
}

// Skipping the query must never skip a check: only a proxy that answered and
// runs other content is pushed blind (its PUT answer is the report).
TEST(FleetTrackerTest, QueriesFirstUnlessTheProxyIsKnownToRunAnotherConfig) {
  struct Case {
    const char* name;
    std::function<void(FleetTracker&)> setup;
    bool needs_query;
  };
  const policy::FleetConfig v4{4, "sha4", "{}"};
  const Case cases[] = {
      {"new member: nothing known", [](FleetTracker&) {}, true},
      {"reported the current config: a drift recheck asks",
       [&](FleetTracker& t) { t.RecordReport("a", 4, "sha4", v4, kT0); }, true},
      {"reported an older config: push at once",
       [&](FleetTracker& t) { t.RecordReport("a", 3, "sha3", v4, kT0); }, false},
      {"reported a newer version of other content: push at once, the 409 reports it",
       [&](FleetTracker& t) { t.RecordReport("a", 9, "other", v4, kT0); }, false},
      {"same version, other content: push at once",
       [&](FleetTracker& t) { t.RecordReport("a", 4, "other", v4, kT0); }, false},
      {"unreachable last time (may be a new pod): ask",
       [&](FleetTracker& t) {
         t.RecordReport("a", 3, "sha3", v4, kT0);
         t.RecordFailure("a", kT0, 0.5);
       },
       true},
  };
  for (const Case& c : cases) {
    FleetTracker t;
    t.SetMembers({"a"});
    c.setup(t);
    EXPECT_EQ(t.NeedsQuery("a", v4), c.needs_query) << c.name;
  }
  FleetTracker t;
  EXPECT_TRUE(t.NeedsQuery("not-a-member", v4));
}

TEST(FleetTrackerTest, ViewFeedsStatus) {
  FleetTracker t;
  t.SetMembers({"a", "b"});
  t.RecordReport("a", 3, "sha3", kV3, kT0);
  t.RecordFailure("b", kT0, 0.5);
  std::vector<reconcile::ProxyView> view = t.View();
  ASSERT_EQ(view.size(), 2u);
  EXPECT_EQ(view[0].version, 3);
  EXPECT_TRUE(view[0].reachable);
  EXPECT_FALSE(view[1].reachable);
  EXPECT_STREQ(ProxyStateName(ProxyState::kUnreachable), "unreachable");
}

}  // namespace
}  // namespace gatehouse::fleet
