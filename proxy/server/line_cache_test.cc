// IdentityLineCache and ForwardingLineCache (identity_headers.h): each must
// give exactly the lines a rebuild gives (AddIdentityHeaders,
// AddForwardingHeaders), whatever changes between calls.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/policy/ip_block.h"
#include "proxy/server/identity_headers.h"
#include "proxy/server/identity_headers_test_util.h"

namespace gatehouse::server {
namespace {

using identity_test::Added;
using identity_test::AddedNames;
using identity_test::Renamed;
using identity_test::Sent;

// The line cache must give exactly what AddIdentityHeaders gives, for every
// change of its inputs, and never reuse lines for other inputs.
TEST(IdentityLineCacheTest, GivesWhatARebuildGivesForEveryInput) {
  const IdentityHeaderNames defaults = IdentityHeaderNames::From({});
  const IdentityHeaderNames renamed = IdentityHeaderNames::From(Renamed());
  IdentityHeaderNames unnamed = IdentityHeaderNames::From(Renamed());
  unnamed.id = 0;  // not from From(): never cached
  auto alice = std::make_shared<const auth::Identity>(
      auth::Identity{.user = "alice", .email = "a@example.com", .groups = {"g1", "g2"}});
  auto alice_again = std::make_shared<const auth::Identity>(*alice);
  auto alice_fewer_groups = std::make_shared<const auth::Identity>(
      auth::Identity{.user = "alice", .email = "a@example.com", .groups = {"g1"}});
  auto alice_other_email = std::make_shared<const auth::Identity>(
      auth::Identity{.user = "alice", .email = "b@example.com", .groups = {"g1"}});
  auto other_user = std::make_shared<const auth::Identity>(
      auth::Identity{.user = "alicia", .email = "b@example.com", .groups = {"g1"}});
  auto bob = std::make_shared<const auth::Identity>(auth::Identity{.user = "bob"});
  auto hostile = std::make_shared<const auth::Identity>(
      auth::Identity{.user = "eve\r\nX-Admin: 1", .email = "e@x", .groups = {"a,b", "ok"}});
  struct Row {
    std::string scenario;
    const IdentityHeaderNames* names;
    std::shared_ptr<const auth::Identity> identity;
    std::string assertion;
    uint64_t serial;
    std::vector<Sent> before;  // already in the added fields
  };
  const std::vector<Row> rows = {
      {"first", &defaults, alice, "jwt-1", 1, {{"X-Request-Id", "r"}}},
      {"same again (reused)", &defaults, alice, "jwt-1", 1, {{"X-Request-Id", "r"}}},
      {"new assertion", &defaults, alice, "jwt-2", 2, {}},
      {"other identity object, same claims", &defaults, alice_again, "jwt-2", 2, {}},
      {"same user, fewer groups", &defaults, alice_fewer_groups, "jwt-2", 2, {}},
      {"same user, other email", &defaults, alice_other_email, "jwt-2", 2, {}},
      {"other user, same email", &defaults, other_user, "jwt-2", 2, {}},
      {"other identity", &defaults, bob, "jwt-2", 2, {}},
      {"renamed headers", &renamed, bob, "jwt-2", 2, {}},
      {"names not from From()", &unnamed, alice, "jwt-2", 2, {}},
      {"no assertion", &defaults, alice, "", 0, {}},
      {"hostile claims", &defaults, hostile, "jwt-3", 3, {}},
      {"hostile claims again (reused)", &defaults, hostile, "jwt-3", 3, {}},
      {"a name already added: one by one",
       &defaults,
       alice,
       "jwt-4",
       4,
       {{"X-Forwarded-Email", "gate"}}},
      {"back to the first", &defaults, alice, "jwt-1", 1, {{"X-Request-Id", "r"}}},
  };
  IdentityLineCache cache;
  for (const Row& row : rows) {
    SCOPED_TRACE(row.scenario);
    AddedFields want;
    AddedFields got;
    for (const Sent& s : row.before) {
      ASSERT_TRUE(want.Add(s.name, s.value));
      ASSERT_TRUE(got.Add(s.name, s.value));
    }
    AddIdentityHeaders(*row.names, *row.identity, row.assertion, want);
    cache.AddTo(*row.names, row.identity, row.assertion, row.serial, got);
    EXPECT_EQ(got.text(), want.text());
    EXPECT_EQ(got.text().find("X-Admin"), std::string_view::npos);
    EXPECT_EQ(AddedNames(got).size(), AddedNames(want).size());
  }
}

// The forwarding line cache must give exactly what AddForwardingHeaders
// gives, for every change of its inputs, and never reuse lines for others.
TEST(ForwardingLineCacheTest, GivesWhatARebuildGivesForEveryInput) {
  const auto client = [](const std::string& ip, bool tls) {
    ClientInfo c;
    c.address = *policy::ParseIpAddress(ip);
    c.address_text = ip;
    c.tls = tls;
    return c;
  };
  struct Row {
    std::string scenario;
    std::string host;
    ClientInfo client;
    std::string request_id;
    std::vector<Sent> before;  // already in the added fields
  };
  const std::vector<Row> rows = {
      {"first", "app.example.com", client("10.0.0.1", false), "r1", {}},
      {"same again (reused), new request id",
       "app.example.com",
       client("10.0.0.1", false),
       "r2",
       {}},
      {"other client", "app.example.com", client("10.0.0.2", false), "r3", {}},
      {"same client over TLS", "app.example.com", client("10.0.0.2", true), "r4", {}},
      {"other host", "APP.example.com:8443", client("10.0.0.2", true), "r5", {}},
      {"a host one byte apart", "APP.example.com:8444", client("10.0.0.2", true), "r6", {}},
      {"no host", "", client("10.0.0.2", true), "r7", {}},
      {"a host with CR LF", "a\r\nX-Admin: 1", client("10.0.0.2", true), "r8", {}},
      {"the same hostile host again", "a\r\nX-Admin: 1", client("10.0.0.2", true), "r9", {}},
      {"IPv6 client", "app.example.com", client("2001:db8::1", false), "r10", {}},
      {"a name already added: one by one",
       "app.example.com",
       client("2001:db8::1", false),
       "r11",
       {{"X-Forwarded-Proto", "gate"}}},
      {"back to the first", "app.example.com", client("10.0.0.1", false), "r12", {}},
  };
  ForwardingLineCache cache;
  for (const Row& row : rows) {
    SCOPED_TRACE(row.scenario);
    AddedFields want;
    AddedFields got;
    for (const Sent& s : row.before) {
      ASSERT_TRUE(want.Add(s.name, s.value));
      ASSERT_TRUE(got.Add(s.name, s.value));
    }
    AddForwardingHeaders(row.host, row.client, row.request_id, want);
    cache.AddTo(row.host, row.client, row.request_id, got);
    EXPECT_EQ(got.text(), want.text());
    EXPECT_EQ(Added(got, "X-Request-Id"), row.request_id);
    EXPECT_EQ(got.text().find("X-Admin"), std::string_view::npos);
  }
}

}  // namespace
}  // namespace gatehouse::server
