// StatusWriter against a fake API: merge patches carry only the difference
// and the cached resourceVersion, no-op writes are skipped, 409 re-reads and
// recomputes, 404 is "gone", and batches run concurrently and stop when told.
#include "operator/kube/status_writer.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <mutex>

namespace gatehouse::kube {
namespace {

using nlohmann::json;

struct Sent {
  std::string method;
  std::string path;
  json body;
};

// Answers PATCH with the scripted statuses (200 once the script runs out) and
// GET with `fresh`. Thread-safe: the batch test calls it from several threads.
class FakeApi : public KubeTransport {
 public:
  std::deque<int> patch_statuses;
  json fresh;
  bool fail_transport = false;

  StatusOr<KubeResponse> Send(const std::string& method, const std::string& path,
                              const std::string& body) override {
    std::lock_guard<std::mutex> lock(mu_);
    sent_.push_back({method, path, body.empty() ? json() : json::parse(body)});
    if (fail_transport) return UnavailableError("API request failed: " + method);
    if (method == "GET") return KubeResponse{200, fresh.dump()};
    int status = 200;
    if (!patch_statuses.empty()) {
      status = patch_statuses.front();
      patch_statuses.pop_front();
    }
    return KubeResponse{status, "{}"};
  }
  StatusOr<int> Watch(const std::string&, const std::function<bool(std::string_view)>&,
                      std::string*) override {
    return UnavailableError("no watch here");
  }
  std::vector<Sent> sent() {
    std::lock_guard<std::mutex> lock(mu_);
    return sent_;
  }

 private:
  std::mutex mu_;
  std::vector<Sent> sent_;
};

json StatusWith(int generation, const std::string& ready, std::optional<int> config_version) {
  json s = {{"observedGeneration", generation},
            {"proxies", {{"inSync", 1}, {"total", 2}}},
            {"conditions", {{{"type", "Ready"}, {"status", ready}}}}};
  if (config_version) s["configVersion"] = *config_version;
  return s;
}

TEST(CreateMergePatchTest, Scenarios) {
  struct Case {
    std::string name;
    json from;
    json to;
    json want;
  };
  const std::vector<Case> cases = {
      {"equal objects: empty patch", StatusWith(1, "True", 3), StatusWith(1, "True", 3),
       json::object()},
      {"changed scalar only",
       StatusWith(1, "True", 3),
       StatusWith(2, "True", 3),
       {{"observedGeneration", 2}}},
      {"removed field becomes null",
       StatusWith(1, "True", 3),
       StatusWith(1, "True", std::nullopt),
       {{"configVersion", nullptr}}},
      {"added field",
       StatusWith(1, "True", std::nullopt),
       StatusWith(1, "True", 4),
       {{"configVersion", 4}}},
      {"arrays replaced whole",
       StatusWith(1, "True", 3),
       StatusWith(1, "False", 3),
       {{"conditions", {{{"type", "Ready"}, {"status", "False"}}}}}},
      {"nested objects diffed",
       {{"proxies", {{"inSync", 1}, {"total", 2}}}},
       {{"proxies", {{"inSync", 2}, {"total", 2}}}},
       {{"proxies", {{"inSync", 2}}}}},
      {"from null: the whole target", json(), StatusWith(1, "True", 3), StatusWith(1, "True", 3)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    json patch = CreateMergePatch(c.from, c.to);
    EXPECT_EQ(patch, c.want);
    // Applying the patch (RFC 7386) to `from` gives `to`.
    json applied = c.from;
    applied.merge_patch(patch);
    EXPECT_EQ(applied, c.to);
  }
}

StatusTarget Target(const json& stored) { return {"team-a", "app", "41", stored}; }

TEST(StatusWriterTest, PatchCarriesTheDifferenceAndTheResourceVersion) {
  FakeApi api;
  StatusWriter writer(api, kAccessPolicyPath, "accesspolicies");
  json stored = StatusWith(1, "False", 3);
  json want = StatusWith(1, "True", 3);
  auto r = writer.Write(Target(stored), [&](const json&) { return want; });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, WriteResult::kWritten);
  std::vector<Sent> sent = api.sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].method, "PATCH");
  EXPECT_EQ(sent[0].path,
            "/apis/gatehouse.dev/v1alpha1/namespaces/team-a/accesspolicies/app/status");
  EXPECT_EQ(sent[0].body["metadata"], json({{"resourceVersion", "41"}}));
  EXPECT_EQ(sent[0].body["status"], CreateMergePatch(stored, want));
  EXPECT_FALSE(sent[0].body.contains("spec"));  // never the object itself
}

TEST(StatusWriterTest, Outcomes) {
  struct Case {
    std::string name;
    std::deque<int> patch_statuses;
    bool desired_changes;
    bool fail_transport;
    bool want_ok;
    WriteResult want;
    std::vector<std::string> want_methods;
  };
  const std::vector<Case> cases = {
      {"no change: nothing sent", {}, false, false, true, WriteResult::kUnchanged, {}},
      {"written", {200}, true, false, true, WriteResult::kWritten, {"PATCH"}},
      {"object gone", {404}, true, false, true, WriteResult::kGone, {"PATCH"}},
      {"conflict: re-read and retry",
       {409, 200},
       true,
       false,
       true,
       WriteResult::kWritten,
       {"PATCH", "GET", "PATCH"}},
      {"refused (422) is an error", {422}, true, false, false, WriteResult::kUnchanged, {"PATCH"}},
      {"endless conflicts give up",
       {409, 409, 409, 409},
       true,
       false,
       false,
       WriteResult::kUnchanged,
       {"PATCH", "GET", "PATCH", "GET", "PATCH", "GET", "PATCH", "GET"}},
      {"transport failure is an error", {}, true, true, false, WriteResult::kUnchanged, {"PATCH"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    FakeApi api;
    api.patch_statuses = c.patch_statuses;
    api.fail_transport = c.fail_transport;
    api.fresh = {{"metadata", {{"resourceVersion", "42"}}}, {"status", StatusWith(1, "False", 3)}};
    StatusWriter writer(api, kAccessPolicyPath, "accesspolicies");
    json want = StatusWith(1, "True", 3);
    auto r = writer.Write(Target(StatusWith(1, "False", 3)),
                          [&](const json& stored) -> std::optional<json> {
                            if (!c.desired_changes) return std::nullopt;
                            return stored == want ? std::nullopt : std::optional<json>(want);
                          });
    EXPECT_EQ(r.ok(), c.want_ok);
    if (c.want_ok) {
      EXPECT_EQ(*r, c.want);
    }
    std::vector<std::string> methods;
    for (const Sent& s : api.sent()) methods.push_back(s.method);
    EXPECT_EQ(methods, c.want_methods);
  }
}

TEST(StatusWriterTest, ConflictRecomputesFromTheFreshObject) {
  FakeApi api;
  api.patch_statuses = {409, 200};
  // Someone else wrote configVersion 5 meanwhile; the retry patches from there.
  api.fresh = {{"metadata", {{"resourceVersion", "50"}}}, {"status", StatusWith(1, "True", 5)}};
  StatusWriter writer(api, kAccessPolicyPath, "accesspolicies");
  std::vector<json> seen;
  auto r = writer.Write(Target(StatusWith(1, "False", 3)), [&](const json& stored) {
    seen.push_back(stored);
    return StatusWith(2, "True", 5);
  });
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1], StatusWith(1, "True", 5));
  std::vector<Sent> sent = api.sent();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[2].body["metadata"]["resourceVersion"], "50");
  EXPECT_EQ(sent[2].body["status"], json({{"observedGeneration", 2}}));
}

TEST(StatusWriterTest, WriteAllCountsEveryTargetOnceAcrossThreads) {
  FakeApi api;
  StatusWriter writer(api, kAccessPolicyPath, "accesspolicies");
  std::vector<StatusTarget> targets;
  for (int i = 0; i < 100; ++i) {
    targets.push_back(
        {"ns", "p" + std::to_string(i), std::to_string(i), StatusWith(1, "False", 1)});
  }
  // Every third target already has the status it should have.
  auto desired = [](size_t i, const json& stored) -> std::optional<json> {
    if (i % 3 == 0) return std::nullopt;
    return StatusWith(1, "True", 1) == stored ? std::nullopt
                                              : std::optional<json>(StatusWith(1, "True", 1));
  };
  StatusBatchResult r = writer.WriteAll(targets, desired, 8, [] { return true; });
  EXPECT_EQ(r.written, 66);
  EXPECT_EQ(r.unchanged, 34);
  EXPECT_EQ(r.skipped, 0);
  EXPECT_TRUE(r.errors.empty());
  std::map<std::string, int> per_path;
  for (const Sent& s : api.sent()) ++per_path[s.path];
  EXPECT_EQ(per_path.size(), 66u);
  for (const auto& [path, n] : per_path) EXPECT_EQ(n, 1) << path;
}

TEST(StatusWriterTest, WriteAllStopsStartingWritesWhenToldTo) {
  FakeApi api;
  StatusWriter writer(api, kAccessPolicyPath, "accesspolicies");
  std::vector<StatusTarget> targets(10, Target(json()));
  std::atomic<int> asked{0};
  // Leadership is lost after the third check: no write starts after that.
  auto keep_going = [&] { return ++asked <= 3; };
  StatusBatchResult r = writer.WriteAll(
      targets,
      [](size_t, const json&) {
        return std::optional<json>(json{{"a", 1}});
      },
      1, keep_going);
  EXPECT_EQ(r.written, 3);
  EXPECT_EQ(r.skipped, 7);
  EXPECT_EQ(api.sent().size(), 3u);
}

TEST(StatusWriterTest, ErrorsNameTheObjectNotItsContent) {
  FakeApi api;
  api.patch_statuses = {500};
  StatusWriter writer(api, kAccessPolicyPath, "accesspolicies");
  StatusBatchResult r = writer.WriteAll(
      {Target(json())},
      [](size_t, const json&) {
        return std::optional<json>(json{{"secretish", "s3cr3t"}});
      },
      4, nullptr);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("team-a/app"), std::string::npos);
  EXPECT_EQ(r.errors[0].find("s3cr3t"), std::string::npos);
}

}  // namespace
}  // namespace gatehouse::kube
