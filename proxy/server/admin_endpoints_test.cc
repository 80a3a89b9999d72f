#include "proxy/server/admin_endpoints.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "proxy/policy/fleet_config.h"
#include "proxy/server/request_gate_test_util.h"

namespace gatehouse::server {
namespace {

using testing::FakeKeys;
using testing::ParseOrDie;

AdminRequest Request(http::verb method, const std::string& target, std::string body = "") {
  AdminRequest r{method, AsBeast(target), 11};
  r.body() = std::move(body);
  r.prepare_payload();
  return r;
}

ClientInfo From(const std::string& ip) {
  ClientInfo c;
  c.address = *policy::ParseIpAddress(ip);
  c.address_text = ip;
  return c;
}

std::string Fleet(int64_t version) {
  return policy::SerializeFleetConfig(policy::MakeFleetConfig(
      version, ParseOrDie(testing::PolicyYaml("app", "a.example.com", "",
                                              "    - {name: r, action: Allow}\n"))));
}

struct Call {
  std::string scenario;
  http::verb method;
  std::string target;
  std::string body;
  std::string client;
  unsigned status;
  std::string body_contains;
};

TEST(AdminEndpointsTest, Endpoints) {
  FakeKeys keys;
  ProxyMetrics metrics;
  ConfigStore store(keys, &metrics);
  AdminEndpoints admin(store, metrics, {.admin_address = "127.0.0.1"});
  const std::vector<Call> calls = {
      {"healthz", http::verb::get, "/healthz", "", "127.0.0.1", 200, "ok"},
      {"not ready before a config", http::verb::get, "/readyz", "", "127.0.0.1", 503, "no config"},
      {"no config yet", http::verb::get, "/v1/config", "", "127.0.0.1", 404, "no config"},
      {"push from another host refused", http::verb::put, "/v1/config", Fleet(3), "10.0.0.9", 403,
       "loopback"},
      {"still not ready", http::verb::get, "/readyz", "", "127.0.0.1", 503, ""},
      {"push from loopback", http::verb::put, "/v1/config", Fleet(3), "127.0.0.1", 200,
       "\"version\":3"},
      {"ready", http::verb::get, "/readyz", "", "10.0.0.9", 200, "ready"},
      {"version in force", http::verb::get, "/v1/config", "", "10.0.0.9", 200, "\"version\":3"},
      {"older push: 409", http::verb::put, "/v1/config", Fleet(2), "::1", 409, "not newer"},
      {"invalid push: 400, old stays", http::verb::put, "/v1/config", "{\"version\":4}", "::1", 400,
       "\"version\":3"},
      {"ipv4-mapped loopback may push", http::verb::put, "/v1/config", Fleet(4), "::ffff:127.0.0.1",
       200, "\"version\":4"},
      {"metrics", http::verb::get, "/metrics", "", "10.0.0.9", 200, "gatehouse_config_version 4"},
      {"unknown path", http::verb::get, "/nope", "", "127.0.0.1", 404, ""},
      {"wrong method", http::verb::post, "/healthz", "", "127.0.0.1", 405, ""},
  };
  for (const Call& c : calls) {
    SCOPED_TRACE(c.scenario);
    LocalResponse r = admin.Handle(Request(c.method, c.target, c.body), From(c.client));
    EXPECT_EQ(r.result_int(), c.status) << r.body();
    EXPECT_NE(r.body().find(c.body_contains), std::string::npos) << r.body();
  }
}

struct PushCase {
  std::string scenario;
  AdminEndpointOptions options;
  std::string client;
  bool tls;
  bool cert_verified;
  http::verb method;
  std::string target;
  unsigned status;
  std::string body_contains;
};

// Who may replace the config: every refused push must leave the store empty.
TEST(AdminEndpointsTest, PushAuthentication) {
  const AdminEndpointOptions loopback_bound{.admin_address = "127.0.0.1"};
  const AdminEndpointOptions mtls{.push_auth = PushAuth::kClientCertificate,
                                  .admin_address = "0.0.0.0"};
  const http::verb put = http::verb::put;
  const std::vector<PushCase> cases = {
      {"loopback admin, loopback peer", loopback_bound, "127.0.0.1", false, false, put,
       "/v1/config", 200, "\"version\":5"},
      {"loopback admin, v6 loopback",
       {.admin_address = "::1"},
       "::1",
       false,
       false,
       put,
       "/v1/config",
       200,
       "\"version\":5"},
      {"loopback admin, remote peer", loopback_bound, "10.0.0.9", false, false, put, "/v1/config",
       403, "only from loopback"},
      {"wildcard admin, loopback peer",
       {.admin_address = "0.0.0.0"},
       "127.0.0.1",
       false,
       false,
       put,
       "/v1/config",
       403,
       "not bound to a loopback"},
      {"v6 wildcard admin",
       {.admin_address = "::"},
       "::1",
       false,
       false,
       put,
       "/v1/config",
       403,
       "not bound to a loopback"},
      {"pod address admin",
       {.admin_address = "10.1.2.3"},
       "127.0.0.1",
       false,
       false,
       put,
       "/v1/config",
       403,
       "--push-ca"},
      {"unset admin address denies",
       {},
       "127.0.0.1",
       false,
       false,
       put,
       "/v1/config",
       403,
       "not bound"},
      {"host name is not an address",
       {.admin_address = "localhost"},
       "127.0.0.1",
       false,
       false,
       put,
       "/v1/config",
       403,
       "not bound"},
      {"mtls: verified client cert from anywhere", mtls, "10.0.0.9", true, true, put, "/v1/config",
       200, "\"version\":5"},
      {"mtls: no client cert, even from loopback", mtls, "127.0.0.1", true, false, put,
       "/v1/config", 403, "client certificate"},
      {"mtls: flag without TLS is not trusted", mtls, "127.0.0.1", false, true, put, "/v1/config",
       403, "client certificate"},
      {"mtls: probes need no cert", mtls, "10.0.0.9", true, false, http::verb::get, "/healthz", 200,
       "ok"},
      {"mtls: scrapes need no cert", mtls, "10.0.0.9", true, false, http::verb::get, "/metrics",
       200, "gatehouse_config_version"},
      {"mtls: version readable without cert", mtls, "10.0.0.9", true, false, http::verb::get,
       "/v1/config", 404, "no config"},
  };
  for (const PushCase& c : cases) {
    SCOPED_TRACE(c.scenario);
    FakeKeys keys;
    ProxyMetrics metrics;
    ConfigStore store(keys, &metrics);
    AdminEndpoints admin(store, metrics, c.options);
    int hook_calls = 0;
    admin.SetPushHook([&](const StatusOr<ConfigVersion>&) { ++hook_calls; });
    ClientInfo client = From(c.client);
    client.tls = c.tls;
    client.client_cert_verified = c.cert_verified;
    const std::string body = c.method == put ? Fleet(5) : "";
    LocalResponse r = admin.Handle(Request(c.method, c.target, body), client);
    EXPECT_EQ(r.result_int(), c.status) << r.body();
    EXPECT_NE(r.body().find(c.body_contains), std::string::npos) << r.body();
    const bool applied = store.Current() != nullptr;
    EXPECT_EQ(applied, c.method == put && c.status == 200);
    EXPECT_EQ(hook_calls, c.method == put ? 1 : 0) << "every push is reported, refused or not";

    // The head-only pre-check agrees: an allowed push may send a large body,
    // a refused one gets the same 403 before its body is read, and nothing
    // else may send more than the small limit.
    AdminEndpoints precheck(store, metrics, c.options);
    const AdminBodyAdmission admission = precheck.AdmitBody(Request(c.method, c.target), client);
    const bool refused_push = c.method == put && c.status == 403;
    EXPECT_EQ(admission.large_body, c.method == put && c.status == 200);
    ASSERT_EQ(admission.refusal.has_value(), refused_push);
    if (refused_push) {
      EXPECT_EQ(admission.refusal->result_int(), 403u);
      EXPECT_NE(admission.refusal->body().find(c.body_contains), std::string::npos);
    }
  }
}

// Only PUT /v1/config may be admitted with a large body, whoever asks.
TEST(AdminEndpointsTest, AdmitBodyOnlyForConfigPuts) {
  FakeKeys keys;
  ProxyMetrics metrics;
  ConfigStore store(keys, &metrics);
  AdminEndpoints admin(store, metrics, {.admin_address = "127.0.0.1"});
  struct Head {
    std::string scenario;
    http::verb method;
    std::string target;
    bool large;
  };
  const std::vector<Head> heads = {
      {"config push", http::verb::put, "/v1/config", true},
      {"config push with a query", http::verb::put, "/v1/config?dry=1", true},
      {"post to config", http::verb::post, "/v1/config", false},
      {"patch to config", http::verb::patch, "/v1/config", false},
      {"get config", http::verb::get, "/v1/config", false},
      {"similar path", http::verb::put, "/v1/configs", false},
      {"trailing slash", http::verb::put, "/v1/config/", false},
      {"other path", http::verb::put, "/metrics", false},
      {"unknown path", http::verb::put, "/nope", false},
  };
  for (const Head& h : heads) {
    SCOPED_TRACE(h.scenario);
    const AdminBodyAdmission admission =
        admin.AdmitBody(Request(h.method, h.target), From("127.0.0.1"));
    EXPECT_EQ(admission.large_body, h.large);
    EXPECT_FALSE(admission.refusal.has_value());
  }
}

TEST(AdminEndpointsTest, DescribePushAuth) {
  EXPECT_NE(DescribePushAuth({.push_auth = PushAuth::kClientCertificate}).find("mTLS"),
            std::string::npos);
  EXPECT_NE(DescribePushAuth({.admin_address = "127.0.0.1"}).find("loopback only"),
            std::string::npos);
  EXPECT_NE(DescribePushAuth({.admin_address = "0.0.0.0"}).find("REFUSED"), std::string::npos);
}

TEST(AdminEndpointsTest, IsLoopback) {
  for (const char* ip : {"127.0.0.1", "127.8.9.1", "::1", "::ffff:127.0.0.1"}) {
    EXPECT_TRUE(IsLoopback(*policy::ParseIpAddress(ip))) << ip;
  }
  for (const char* ip : {"10.0.0.1", "::2", "::ffff:10.0.0.1", "128.0.0.1", "fe80::1"}) {
    EXPECT_FALSE(IsLoopback(*policy::ParseIpAddress(ip))) << ip;
  }
}

}  // namespace
}  // namespace gatehouse::server
