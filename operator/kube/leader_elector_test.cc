// LeaderElector: two candidates over an in-memory Lease with optimistic
// concurrency and fake clocks: only one leads, a standby takes over after the
// lease duration, a leader that cannot renew steps down within the deadline.
#include "operator/kube/leader_elector.h"

#include <gtest/gtest.h>

namespace gatehouse::kube {
namespace {

using nlohmann::json;
using std::chrono::seconds;

// One Lease object with resourceVersion checks, shared by both candidates.
class LeaseServer : public KubeTransport {
 public:
  bool down = false;
  std::optional<json> lease;
  int rv = 0;

  StatusOr<KubeResponse> Send(const std::string& method, const std::string&,
                              const std::string& body) override {
    if (down) return UnavailableError("down");
    if (method == "GET") {
      if (!lease) return KubeResponse{404, "{}"};
      return KubeResponse{200, lease->dump()};
    }
    json incoming = json::parse(body);
    if (method == "POST") {
      if (lease) return KubeResponse{409, "{}"};
    } else if (!lease || incoming["metadata"].value("resourceVersion", "") !=
                             (*lease)["metadata"].value("resourceVersion", "")) {
      return KubeResponse{409, "{}"};
    }
    incoming["metadata"]["resourceVersion"] = std::to_string(++rv);
    lease = incoming;
    return KubeResponse{200, incoming.dump()};
  }
  StatusOr<int> Watch(const std::string&, const std::function<bool(std::string_view)>&,
                      std::string*) override {
    return 404;
  }
  std::string holder() const { return lease ? (*lease)["spec"].value("holderIdentity", "") : ""; }
};

struct Candidate {
  FakeTimeSource time;
  LeaderElector elector;
  Candidate(LeaseServer& server, const std::string& id)
      : elector(server, {.ns = "gh", .identity = id}, time) {}
  void Advance(seconds s) { time.Advance(s); }
};

TEST(LeaderElectorTest, OnlyOneLeadsAndStandbyTakesOverAfterExpiry) {
  LeaseServer server;
  Candidate a(server, "a"), b(server, "b");
  EXPECT_TRUE(a.elector.TryAcquireOrRenew());
  EXPECT_FALSE(b.elector.TryAcquireOrRenew());
  EXPECT_EQ(server.holder(), "a");
  // a keeps renewing: b never takes over however long it waits.
  for (int i = 0; i < 20; ++i) {
    a.Advance(seconds(2));
    b.Advance(seconds(2));
    EXPECT_TRUE(a.elector.TryAcquireOrRenew());
    EXPECT_FALSE(b.elector.TryAcquireOrRenew());
  }
  // a dies. Within the lease duration b still waits...
  b.Advance(seconds(14));
  EXPECT_FALSE(b.elector.TryAcquireOrRenew());
  // ...and after it, b takes over.
  b.Advance(seconds(2));
  EXPECT_TRUE(b.elector.TryAcquireOrRenew());
  EXPECT_EQ(server.holder(), "b");
  EXPECT_EQ((*server.lease)["spec"]["leaseTransitions"], 1);
  // a comes back: it sees b's lease and is not leader.
  a.Advance(seconds(30));
  EXPECT_FALSE(a.elector.TryAcquireOrRenew());
  EXPECT_FALSE(a.elector.leading());
}

TEST(LeaderElectorTest, LeaderThatCannotRenewStepsDownBeforeExpiry) {
  LeaseServer server;
  Candidate a(server, "a");
  ASSERT_TRUE(a.elector.TryAcquireOrRenew());
  server.down = true;
  a.Advance(seconds(8));
  EXPECT_TRUE(a.elector.TryAcquireOrRenew());  // within the renew deadline
  a.Advance(seconds(3));
  EXPECT_FALSE(a.elector.TryAcquireOrRenew());  // 11 s > 10 s deadline < 15 s lease
}

TEST(LeaderElectorTest, ReleaseHandsOverAtOnce) {
  LeaseServer server;
  Candidate a(server, "a"), b(server, "b");
  ASSERT_TRUE(a.elector.TryAcquireOrRenew());
  a.elector.Release();
  EXPECT_FALSE(a.elector.leading());
  EXPECT_TRUE(b.elector.TryAcquireOrRenew());
}

TEST(LeaderElectorTest, MicroTimeFormat) {
  auto t = std::chrono::system_clock::time_point(std::chrono::microseconds(1714564800123456));
  EXPECT_EQ(FormatMicroTime(t), "2024-05-01T12:00:00.123456Z");
}

}  // namespace
}  // namespace gatehouse::kube
