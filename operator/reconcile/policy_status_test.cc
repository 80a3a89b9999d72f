// PolicyStatus: the conditions table, lastTransitionTime stability and the
// no-op write detection.
#include "operator/reconcile/policy_status.h"

#include <gtest/gtest.h>

namespace gatehouse::reconcile {
namespace {

using nlohmann::json;
using std::chrono::seconds;
using std::chrono::system_clock;

const system_clock::time_point kT0(seconds(1714564800));  // 2024-05-01T12:00:00Z
const system_clock::time_point kT1 = kT0 + seconds(90);

PolicyOutcome Accepted(int64_t generation, int64_t since) {
  return {"ns/p", generation, true, "Valid", "", generation, since};
}
PolicyOutcome Refused(const std::string& reason, int64_t generation, int64_t kept_generation,
                      int64_t since) {
  return {"ns/p", generation, false, reason, "spec.hosts[0]: bad", kept_generation, since};
}

struct StatusCase {
  std::string name;
  PolicyOutcome outcome;
  std::vector<ProxyView> fleet;
  std::string accepted;  // "status/reason"
  std::string ready;     // "status/reason/message"
  int in_sync;
  int64_t config_version;
};

std::string Describe(const Condition& c, bool with_message) {
  return c.status + "/" + c.reason + (with_message ? "/" + c.message : "");
}

void CheckStatus(const StatusCase& c) {
  PolicyStatus s = ComputePolicyStatus(c.outcome, c.fleet, json(), kT0);
  ASSERT_EQ(s.conditions.size(), 2u);
  EXPECT_EQ(s.conditions[0].type, "Accepted");
  EXPECT_EQ(Describe(s.conditions[0], false), c.accepted);
  EXPECT_EQ(s.conditions[1].type, "Ready");
  EXPECT_EQ(Describe(s.conditions[1], true), c.ready);
  EXPECT_EQ(s.in_sync, c.in_sync);
  EXPECT_EQ(s.total, static_cast<int>(c.fleet.size()));
  EXPECT_EQ(s.config_version, c.config_version);
  EXPECT_EQ(s.observed_generation, c.outcome.generation);
  for (const Condition& cond : s.conditions) {
    EXPECT_EQ(cond.observed_generation, c.outcome.generation);
    EXPECT_EQ(cond.last_transition_time, "2024-05-01T12:00:00Z");
  }
}

class PolicyStatusTableTest : public testing::TestWithParam<StatusCase> {};
TEST_P(PolicyStatusTableTest, Conditions) { CheckStatus(GetParam()); }

INSTANTIATE_TEST_SUITE_P(
    Cases, PolicyStatusTableTest,
    testing::Values(
        StatusCase{"AllInSync",
                   Accepted(3, 5),
                   {{5, true}, {6, true}, {5, true}},
                   "True/Valid",
                   "True/Enforced/3/3 proxies",
                   3,
                   5},
        StatusCase{"OneBehind",
                   Accepted(3, 5),
                   {{5, true}, {4, true}, {5, true}},
                   "True/Valid",
                   "False/Pending/2/3 proxies",
                   2,
                   5},
        StatusCase{"BehindAndUnreachable",
                   Accepted(3, 5),
                   {{5, true}, {4, false}},
                   "True/Valid",
                   "False/Unreachable/1/2 proxies",
                   1,
                   5},
        StatusCase{"UnreachableButInSyncCounts",
                   Accepted(3, 5),
                   {{5, false}, {5, true}},
                   "True/Valid",
                   "True/Enforced/2/2 proxies",
                   2,
                   5},
        StatusCase{
            "NoFleet", Accepted(1, 1), {}, "True/Valid", "False/NoProxies/0/0 proxies", 0, 1},
        StatusCase{"InvalidNoHistory",
                   Refused("Invalid", 1, 0, 0),
                   {{4, true}},
                   "False/Invalid",
                   "False/NotAccepted/generation 1 is not accepted",
                   0,
                   0},
        StatusCase{"InvalidKeepsPrevious",
                   Refused("Invalid", 4, 3, 2),
                   {{2, true}, {1, true}},
                   "False/Invalid",
                   "False/NotAccepted/generation 4 is not accepted; generation 3 stays in force "
                   "(1/2 proxies)",
                   1,
                   2},
        StatusCase{"Conflict",
                   Refused("Conflict", 2, 0, 0),
                   {{1, true}},
                   "False/Conflict",
                   "False/NotAccepted/generation 2 is not accepted",
                   0,
                   0}),
    [](const testing::TestParamInfo<StatusCase>& info) { return info.param.name; });

TEST(PolicyStatusTest, MessageNamesTheField) {
  PolicyStatus s = ComputePolicyStatus(Refused("Invalid", 2, 0, 0), {}, json(), kT0);
  EXPECT_EQ(s.conditions[0].message, "spec.hosts[0]: bad");
}

TEST(PolicyStatusTest, LongMessagesAreCut) {
  PolicyOutcome o = Refused("Invalid", 1, 0, 0);
  o.message = std::string(5000, 'x');
  PolicyStatus s = ComputePolicyStatus(o, {}, json(), kT0);
  EXPECT_LE(s.conditions[0].message.size(), kMaxConditionMessageBytes);
}

TEST(PolicyStatusTest, TransitionTimeChangesOnlyWhenStatusFlips) {
  std::vector<ProxyView> behind = {{1, true}, {2, true}};
  std::vector<ProxyView> synced = {{2, true}, {2, true}};
  json first = PolicyStatusToJson(ComputePolicyStatus(Accepted(2, 2), behind, json(), kT0));
  // Later, still pending (message changes 1/2 -> 1/2): both times stay.
  PolicyStatus still = ComputePolicyStatus(Accepted(2, 2), behind, first, kT1);
  EXPECT_EQ(still.conditions[0].last_transition_time, "2024-05-01T12:00:00Z");
  EXPECT_EQ(still.conditions[1].last_transition_time, "2024-05-01T12:00:00Z");
  // Ready flips to True: only Ready's time moves.
  PolicyStatus flipped = ComputePolicyStatus(Accepted(2, 2), synced, first, kT1);
  EXPECT_EQ(flipped.conditions[0].last_transition_time, "2024-05-01T12:00:00Z");
  EXPECT_EQ(flipped.conditions[1].last_transition_time, "2024-05-01T12:01:30Z");
  EXPECT_EQ(flipped.conditions[1].status, "True");
}

TEST(PolicyStatusTest, NoOpWritesAreDetected) {
  std::vector<ProxyView> fleet = {{2, true}};
  json stored = PolicyStatusToJson(ComputePolicyStatus(Accepted(2, 2), fleet, json(), kT0));
  json same = PolicyStatusToJson(ComputePolicyStatus(Accepted(2, 2), fleet, stored, kT1));
  EXPECT_FALSE(StatusNeedsWrite(stored, same));
  json more =
      PolicyStatusToJson(ComputePolicyStatus(Accepted(2, 2), {{2, true}, {1, true}}, stored, kT1));
  EXPECT_TRUE(StatusNeedsWrite(stored, more));
  json newer = PolicyStatusToJson(ComputePolicyStatus(Accepted(3, 3), fleet, stored, kT1));
  EXPECT_TRUE(StatusNeedsWrite(stored, newer));
  EXPECT_TRUE(StatusNeedsWrite(json(), same));
  EXPECT_TRUE(StatusNeedsWrite(json::object(), same));
}

TEST(PolicyStatusTest, JsonShape) {
  json j = PolicyStatusToJson(ComputePolicyStatus(Accepted(3, 42), {{42, true}}, json(), kT0));
  EXPECT_EQ(j["observedGeneration"], 3);
  EXPECT_EQ(j["configVersion"], 42);
  EXPECT_EQ(j["proxies"], json({{"inSync", 1}, {"total", 1}}));
  EXPECT_EQ(j["conditions"][1]["message"], "1/1 proxies");
  json refused =
      PolicyStatusToJson(ComputePolicyStatus(Refused("Invalid", 1, 0, 0), {}, json(), kT0));
  EXPECT_FALSE(refused.contains("configVersion"));
}

}  // namespace
}  // namespace gatehouse::reconcile
