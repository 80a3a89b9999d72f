// Informer against a scripted fake transport: list + watch, resume from the
// last resourceVersion, bookmarks, relist on 410 (HTTP and ERROR event),
// backoff that grows and never hot-loops.
#include "operator/kube/informer.h"

#include <gtest/gtest.h>

#include <deque>

namespace gatehouse::kube {
namespace {

using nlohmann::json;

struct ScriptedWatch {
  int status = 200;
  std::vector<std::string> lines;
};

class FakeTransport : public KubeTransport {
 public:
  std::deque<StatusOr<KubeResponse>> lists;
  std::deque<ScriptedWatch> watches;
  std::vector<std::string> paths;

  StatusOr<KubeResponse> Send(const std::string& method, const std::string& path,
                              const std::string&) override {
    paths.push_back(method + " " + path);
    if (lists.empty()) return UnavailableError("no scripted list");
    StatusOr<KubeResponse> r = lists.front();
    lists.pop_front();
    return r;
  }
  StatusOr<int> Watch(const std::string& path, const std::function<bool(std::string_view)>& on_line,
                      std::string*) override {
    paths.push_back("WATCH " + path);
    if (watches.empty()) return UnavailableError("no scripted watch");
    ScriptedWatch w = watches.front();
    watches.pop_front();
    if (w.status != 200) return w.status;
    for (const std::string& line : w.lines) {
      if (!on_line(line)) break;
    }
    return 200;
  }
};

json Obj(const std::string& name, const std::string& rv, int generation = 1) {
  return {
      {"metadata",
       {{"namespace", "ns"}, {"name", name}, {"resourceVersion", rv}, {"generation", generation}}}};
}
KubeResponse List(const std::string& rv, std::vector<json> items) {
  return {200, json({{"metadata", {{"resourceVersion", rv}}}, {"items", items}}).dump()};
}
std::string Event(const std::string& type, const json& object) {
  return json({{"type", type}, {"object", object}}).dump();
}
std::string Bookmark(const std::string& rv) {
  return Event("BOOKMARK", {{"metadata", {{"resourceVersion", rv}}}});
}
std::string Gone() {
  return Event("ERROR", {{"kind", "Status"}, {"code", 410}, {"reason", "Expired"}});
}

std::vector<std::string> Names(const Informer& informer) {
  std::vector<std::string> out;
  for (const json& o : informer.Snapshot()) out.push_back(ObjectKey(o));
  return out;
}

struct Harness {
  FakeTransport transport;
  std::vector<std::chrono::milliseconds> sleeps;
  int changes = 0;
  std::unique_ptr<Informer> informer;
  explicit Harness(InformerOptions options = {.path = "/apis/g/v1/things"}) {
    informer = std::make_unique<Informer>(
        transport, std::move(options),
        [this](std::chrono::milliseconds d) {
          sleeps.push_back(d);
          if (sleeps.size() >= 6) informer->Stop();
        },
        [] { return 0.0; });
    informer->SetOnChange([this] { ++changes; });
  }
};

TEST(InformerTest, ListThenWatchAppliesEvents) {
  Harness h;
  h.transport.lists.push_back(List("10", {Obj("a", "5"), Obj("b", "6")}));
  h.transport.watches.push_back(
      {200,
       {Event("ADDED", Obj("c", "11")), Event("MODIFIED", Obj("a", "12", 2)),
        Event("DELETED", Obj("b", "13"))}});
  EXPECT_FALSE(h.informer->synced());
  ASSERT_TRUE(h.informer->Step().ok());
  EXPECT_TRUE(h.informer->synced());
  EXPECT_EQ(Names(*h.informer), (std::vector<std::string>{"ns/a", "ns/c"}));
  EXPECT_EQ(h.informer->Snapshot()[0]["metadata"]["generation"], 2);
  EXPECT_EQ(h.informer->resource_version(), "13");
  EXPECT_EQ(h.changes, 4);  // list + 3 events
  EXPECT_EQ(h.transport.paths[1],
            "WATCH /apis/g/v1/things?watch=1&allowWatchBookmarks=true&timeoutSeconds=300&"
            "resourceVersion=10");
}

TEST(InformerTest, BookmarkAdvancesResourceVersionAndResumeUsesIt) {
  Harness h;
  h.transport.lists.push_back(List("10", {Obj("a", "5")}));
  h.transport.watches.push_back({200, {Bookmark("40")}});
  h.transport.watches.push_back({200, {Event("ADDED", Obj("z", "41"))}});
  ASSERT_TRUE(h.informer->Step().ok());
  EXPECT_EQ(h.informer->resource_version(), "40");
  EXPECT_EQ(h.changes, 1);  // a bookmark is not a change
  ASSERT_TRUE(h.informer->Step().ok());
  EXPECT_EQ(h.informer->lists(), 1);  // resumed, no relist
  EXPECT_NE(h.transport.paths.back().find("resourceVersion=40"), std::string::npos);
  EXPECT_EQ(Names(*h.informer), (std::vector<std::string>{"ns/a", "ns/z"}));
}

TEST(InformerTest, HttpGoneRelists) {
  Harness h;
  h.transport.lists.push_back(List("10", {Obj("a", "5"), Obj("b", "6")}));
  h.transport.watches.push_back({410, {}});
  h.transport.lists.push_back(List("90", {Obj("b", "80")}));  // a was deleted meanwhile
  h.transport.watches.push_back({200, {Bookmark("91")}});
  ASSERT_TRUE(h.informer->Step().ok());
  EXPECT_EQ(h.informer->resource_version(), "");
  ASSERT_TRUE(h.informer->Step().ok());
  EXPECT_EQ(h.informer->lists(), 2);
  EXPECT_EQ(Names(*h.informer), (std::vector<std::string>{"ns/b"}));
  EXPECT_EQ(h.informer->resource_version(), "91");
}

TEST(InformerTest, ErrorEvent410Relists) {
  Harness h;
  h.transport.lists.push_back(List("10", {}));
  h.transport.watches.push_back(
      {200, {Event("ADDED", Obj("a", "11")), Gone(), Event("ADDED", Obj("never", "12"))}});
  h.transport.lists.push_back(List("20", {Obj("a", "11"), Obj("b", "19")}));
  h.transport.watches.push_back({200, {Bookmark("21")}});
  ASSERT_TRUE(h.informer->Step().ok());
  EXPECT_EQ(Names(*h.informer), (std::vector<std::string>{"ns/a"}));  // stopped at the ERROR
  ASSERT_TRUE(h.informer->Step().ok());
  EXPECT_EQ(h.informer->lists(), 2);
  EXPECT_EQ(Names(*h.informer), (std::vector<std::string>{"ns/a", "ns/b"}));
}

TEST(InformerTest, SelectorsAndTransformApply) {
  InformerOptions options{.path = "/api/v1/namespaces/p/endpointslices",
                          .label_selector = "kubernetes.io/service-name=gh-admin"};
  options.transform = [](json o) {
    o.erase("spec");
    return o;
  };
  Harness h(options);
  json with_spec = Obj("a", "1");
  with_spec["spec"] = {{"big", "x"}};
  h.transport.lists.push_back(List("10", {with_spec}));
  h.transport.watches.push_back({200, {Bookmark("11")}});
  ASSERT_TRUE(h.informer->Step().ok());
  EXPECT_EQ(
      h.transport.paths[0],
      "GET "
      "/api/v1/namespaces/p/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dgh-admin"
      "&limit=10000");
  EXPECT_FALSE(h.informer->Snapshot()[0].contains("spec"));
}

// Items are taken out of the parse one by one: only the "items" array's
// objects become cache entries (not objects nested in the list's metadata,
// not non-object items), whatever the field order; a body that is cut short
// or not a list fails the list and keeps the cache.
TEST(InformerTest, ListBodyShapes) {
  struct Case {
    std::string name;
    std::string body;
    bool want_ok;
    std::vector<std::string> want_names;
  };
  const std::string a = Obj("a", "1").dump();
  const std::string b = Obj("b", "2").dump();
  const std::vector<Case> cases = {
      {"items before metadata",
       R"({"items":[)" + a + "," + b + R"(],"metadata":{"resourceVersion":"9"}})",
       true,
       {"ns/a", "ns/b"}},
      {"metadata with nested objects is not an item",
       R"({"kind":"List","metadata":{"resourceVersion":"9","x":{"metadata":{"name":"m"}}},)"
       R"("items":[)" +
           a + "]}",
       true,
       {"ns/a"}},
      {"non-object items are ignored",
       R"({"metadata":{"resourceVersion":"9"},"items":[1,"x",)" + a + ",[" + b + "]]}",
       true,
       {"ns/a"}},
      {"objects nested inside an item stay in the item",
       R"({"metadata":{"resourceVersion":"9"},"items":[)" + a + "]}",
       true,
       {"ns/a"}},
      {"empty list", R"({"metadata":{"resourceVersion":"9"},"items":[]})", true, {}},
      {"cut short",
       R"({"metadata":{"resourceVersion":"9"},"items":[)" + a + ",",
       false,
       {"ns/old"}},
      {"not a list", R"({"metadata":{"resourceVersion":"9"},"items":{}})", false, {"ns/old"}},
      {"not JSON", "<html>", false, {"ns/old"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Harness h({.path = "/apis/g/v1/things"});
    h.transport.lists.push_back(List("5", {Obj("old", "5")}));
    h.transport.watches.push_back({410, {}});
    ASSERT_TRUE(h.informer->Step().ok());
    h.transport.lists.push_back(KubeResponse{200, c.body});
    h.transport.watches.push_back({200, {Bookmark("10")}});
    EXPECT_EQ(h.informer->Step().ok(), c.want_ok);
    EXPECT_EQ(Names(*h.informer), c.want_names);
    if (c.want_ok && !c.want_names.empty()) {
      // The object is whole: its metadata came through the parse intact.
      EXPECT_EQ(h.informer->Snapshot()[0]["metadata"]["resourceVersion"], "1");
    }
  }
}

// A large collection is listed in pages; the cache is the union, the
// watch starts from the list's resourceVersion, and snapshots share objects.
TEST(InformerTest, ListsPageByPage) {
  Harness h({.path = "/apis/g/v1/things", .page_size = 2});
  json first = json::parse(List("30", {Obj("a", "1"), Obj("b", "2")}).body);
  first["metadata"]["continue"] = "token/1";
  h.transport.lists.push_back(KubeResponse{200, first.dump()});
  h.transport.lists.push_back(List("30", {Obj("c", "3")}));
  h.transport.watches.push_back({200, {Bookmark("31")}});
  ASSERT_TRUE(h.informer->Step().ok());
  EXPECT_EQ(Names(*h.informer), (std::vector<std::string>{"ns/a", "ns/b", "ns/c"}));
  ASSERT_EQ(h.transport.paths.size(), 3u);
  EXPECT_EQ(h.transport.paths[0], "GET /apis/g/v1/things?limit=2");
  EXPECT_EQ(h.transport.paths[1], "GET /apis/g/v1/things?limit=2&continue=token%2F1");
  EXPECT_NE(h.transport.paths[2].find("resourceVersion=30"), std::string::npos);
  EXPECT_EQ(h.informer->SharedSnapshot()[0].get(), h.informer->SharedSnapshot()[0].get());
}

// A page that fails (e.g. 410 on an expired continue token) keeps the old
// cache and lists from the start next time.
TEST(InformerTest, FailedPageKeepsTheCacheAndRelistsFromTheStart) {
  Harness h({.path = "/apis/g/v1/things", .page_size = 1});
  h.transport.lists.push_back(List("5", {Obj("old", "5")}));
  h.transport.watches.push_back({410, {}});
  ASSERT_TRUE(h.informer->Step().ok());
  json first = json::parse(List("9", {Obj("a", "8")}).body);
  first["metadata"]["continue"] = "t";
  h.transport.lists.push_back(KubeResponse{200, first.dump()});
  h.transport.lists.push_back(KubeResponse{410, "{}"});
  EXPECT_FALSE(h.informer->Step().ok());
  EXPECT_EQ(Names(*h.informer), (std::vector<std::string>{"ns/old"}));
  EXPECT_EQ(h.transport.paths.back(), "GET /apis/g/v1/things?limit=1&continue=t");
  h.transport.lists.push_back(List("12", {Obj("new", "12")}));
  h.transport.watches.push_back({200, {Bookmark("13")}});
  ASSERT_TRUE(h.informer->Step().ok());
  EXPECT_EQ(h.transport.paths[h.transport.paths.size() - 2], "GET /apis/g/v1/things?limit=1");
  EXPECT_EQ(Names(*h.informer), (std::vector<std::string>{"ns/new"}));
}

TEST(InformerTest, FailuresBackOffExponentiallyAndNeverHotLoop) {
  Harness h;
  // Nothing scripted: every list fails. Run() must sleep between attempts.
  h.informer->Run();
  ASSERT_EQ(h.sleeps.size(), 6u);
  EXPECT_EQ(h.sleeps[0], std::chrono::milliseconds(100));  // jitter 0 -> half of 200 ms
  for (size_t i = 1; i < h.sleeps.size(); ++i) EXPECT_EQ(h.sleeps[i], h.sleeps[i - 1] * 2);
  EXPECT_EQ(h.transport.paths.size(), 6u);  // one attempt per sleep
}

TEST(InformerTest, EmptyWatchesCountAsFailures) {
  Harness h;
  h.transport.lists.push_back(List("10", {}));
  for (int i = 0; i < 10; ++i) h.transport.watches.push_back({200, {}});
  h.informer->Run();
  EXPECT_EQ(h.sleeps.size(), 6u);
  EXPECT_EQ(h.informer->lists(), 1);  // resumed each time, no relist storm
}

TEST(InformerTest, MalformedListIsAnError) {
  Harness h;
  h.transport.lists.push_back(KubeResponse{200, "{\"items\": 3}"});
  EXPECT_FALSE(h.informer->Step().ok());
  EXPECT_FALSE(h.informer->synced());
  h.transport.lists.push_back(KubeResponse{403, "{}"});
  EXPECT_FALSE(h.informer->Step().ok());
}

TEST(BackoffTest, BoundsAndCap) {
  Backoff b;
  EXPECT_EQ(b.Delay(0, 0.0).count(), 100);
  EXPECT_EQ(b.Delay(0, 1.0).count(), 200);
  EXPECT_EQ(b.Delay(3, 1.0).count(), 1600);
  EXPECT_EQ(b.Delay(50, 1.0).count(), 30000);
  EXPECT_EQ(b.Delay(50, 0.0).count(), 15000);
}

}  // namespace
}  // namespace gatehouse::kube
