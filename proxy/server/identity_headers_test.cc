// identity_headers.h without its line caches (line_cache_test.cc): what the
// strip removes (every casing and spelling), the identity and forwarding
// lines the gate adds, and that claims can never inject a field.
#include "proxy/server/identity_headers.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "proxy/server/identity_headers_test_util.h"

namespace gatehouse::server {
namespace {

using identity_test::Added;
using identity_test::AddedNames;
using identity_test::Renamed;
using identity_test::Sent;

struct StripCase {
  std::string scenario;
  policy::IdentityHeadersSpec spec;
  std::vector<Sent> sent;
  std::vector<std::string> must_be_gone;  // any casing
  std::vector<std::string> must_stay;
};

RequestHead HeadWith(const std::vector<Sent>& sent) {
  RequestHead head;
  head.method(http::verb::get);
  head.target("/x");
  head.set(http::field::host, "app.example.com");
  for (const Sent& s : sent) head.insert(std::string_view(s.name), std::string_view(s.value));
  return head;
}

void CheckStrip(const StripCase& c) {
  SCOPED_TRACE(c.scenario);
  RequestHead head = HeadWith(c.sent);
  StripClientHeaders(head, IdentityHeaderNames::From(c.spec));
  for (const std::string& name : c.must_be_gone) {
    EXPECT_EQ(head.count(std::string_view(name)), 0u) << name;
  }
  for (const std::string& name : c.must_stay) {
    EXPECT_EQ(head.count(std::string_view(name)), 1u) << name;
  }
  // Nothing whose value was a spoof survived under any name.
  for (const auto& field : head) {
    EXPECT_EQ(AsStd(field.value()).find("spoof"), std::string_view::npos)
        << AsStd(field.name_string());
  }
}

TEST(IdentityHeadersTest, StripsEveryCasingAndRepetition) {
  const std::vector<StripCase> cases = {
      {"default names in many casings, repeated",
       {},
       {{"X-Forwarded-User", "spoof1"},
        {"x-forwarded-user", "spoof2"},
        {"X-FORWARDED-USER", "spoof3"},
        {"x-FoRwArDeD-eMaIl", "spoof4"},
        {"X-Forwarded-Groups", "spoof5"},
        {"X-Forwarded-Groups", "spoof6"},
        {"x-gatehouse-assertion", "spoof7"},
        {"Accept", "text/plain"}},
       {"X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Groups", "X-Gatehouse-Assertion"},
       {"Accept", "Host"}},
      {"renamed headers: the new and the default names both go",
       Renamed(),
       {{"x-auth-user", "spoof1"},
        {"X-AUTH-EMAIL", "spoof2"},
        {"X-Auth-Groups", "spoof3"},
        {"x-auth-assertion", "spoof4"},
        {"X-Forwarded-User", "spoof5"},
        {"X-Forwarded-Email", "spoof6"}},
       {"X-Auth-User", "X-Auth-Email", "X-Auth-Groups", "X-Auth-Assertion", "X-Forwarded-User",
        "X-Forwarded-Email"},
       {}},
      {"any X-Gatehouse-* header",
       {},
       {{"X-Gatehouse-Anything", "spoof1"},
        {"x-gatehouse-session", "spoof2"},
        {"X-GATEHOUSE-", "spoof3"},
        {"X-Gatehousefoo", "kept"}},
       {"X-Gatehouse-Anything", "x-gatehouse-session", "X-GATEHOUSE-"},
       {"X-Gatehousefoo"}},
      {"forwarding headers and Authorization",
       {},
       {{"X-Forwarded-For", "spoof1"},
        {"x-forwarded-for", "spoof2"},
        {"X-Forwarded-Proto", "spoof3"},
        {"X-Forwarded-Host", "spoof4"},
        {"X-Real-IP", "spoof5"},
        {"Forwarded", "spoof6"},
        {"x-request-id", "spoof7"},
        {"Authorization", "Bearer spoof8"},
        {"authorization", "Bearer spoof9"}},
       {"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Real-IP", "Forwarded",
        "X-Request-Id", "Authorization"},
       {}},
      {"underscore spellings that CGI-style upstreams read as the dashed names",
       Renamed(),
       {{"X_Forwarded_User", "spoof1"},
        {"x_auth_email", "spoof2"},
        {"X-Auth_Groups", "spoof3"},
        {"X_GATEHOUSE_ASSERTION", "spoof4"},
        {"x_gatehouse_anything", "spoof5"},
        {"X_Forwarded_For", "spoof6"},
        {"X_Request_Id", "spoof7"},
        {"X_Custom_Header", "kept"}},
       {"X_Forwarded_User", "x_auth_email", "X-Auth_Groups", "X_GATEHOUSE_ASSERTION",
        "x_gatehouse_anything", "X_Forwarded_For", "X_Request_Id"},
       {"X_Custom_Header"}},
      {"near misses: same length or first byte as a protected name, but another name",
       {},
       {{"X-Forwarded-Fox", "kept"},   // the length of x-forwarded-for
        {"Y-Forwarded-For", "kept"},   // the length, another first byte
        {"X-Forwarded-Forx", "kept"},  // one byte longer
        {"X-Forwarded-Fo", "kept"},    // one byte shorter
        {"Authorizatio", "kept"},
        {"Forwarded-", "kept"},
        {"X-Forwarded-For", "spoof1"},  // between the near misses: still removed
        {"Authorization", "Bearer spoof2"},
        {"X-Real-IP ", "kept"}},
       {"X-Forwarded-For", "Authorization"},
       {"X-Forwarded-Fox", "Y-Forwarded-For", "X-Forwarded-Forx", "X-Forwarded-Fo", "Authorizatio",
        "Forwarded-"}},
      {"a name longer than 63 bytes that starts like a protected one",
       {},
       {{"X-Forwarded-User-" + std::string(60, 'a'), "kept"}, {"X-Forwarded-User", "spoof1"}},
       {"X-Forwarded-User"},
       {"X-Forwarded-User-" + std::string(60, 'a')}},
  };
  for (const StripCase& c : cases) CheckStrip(c);
}

// Names Beast knows (Host, Authorization, Forwarded...) are decided by a table
// built from the same rules: every one of them, in three casings, must be
// removed exactly when the rules say so, with the policy's own names on top.
TEST(IdentityHeadersTest, EveryNameBeastKnowsIsDecidedByTheRules) {
  policy::IdentityHeadersSpec known_names;  // identity headers renamed to names Beast knows
  known_names.user = "From";
  known_names.email = "Via";
  known_names.groups = "Warning";
  known_names.assertion = "X-Gatehouse-Assertion";
  const std::vector<std::string> fixed = {
      "x-forwarded-user", "x-forwarded-email", "x-forwarded-groups", "x-gatehouse-assertion",
      "x-forwarded-for",  "x-forwarded-proto", "x-forwarded-host",   "x-real-ip",
      "forwarded",        "x-request-id",      "authorization"};
  struct Case {
    std::string scenario;
    policy::IdentityHeadersSpec spec;
    std::vector<std::string> also_removed;  // lowercase
  };
  const std::vector<Case> cases = {
      {"default names", {}, {}},
      {"forwardToken keeps Authorization", {.forward_token = true}, {}},
      {"identity headers named like standard fields", known_names, {"from", "via", "warning"}},
  };
  const auto lower = [](std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  const auto upper = [](std::string s) {
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.scenario);
    const IdentityHeaderNames names = IdentityHeaderNames::From(c.spec);
    size_t removed = 0;
    for (unsigned i = 1; i <= static_cast<unsigned>(http::field::xref); ++i) {
      const std::string name(AsStd(http::to_string(static_cast<http::field>(i))));
      const std::string folded = lower(name);
      bool want_removed =
          folded.rfind("x-gatehouse-", 0) == 0 ||
          std::find(fixed.begin(), fixed.end(), folded) != fixed.end() ||
          std::find(c.also_removed.begin(), c.also_removed.end(), folded) != c.also_removed.end();
      if (folded == "authorization" && c.spec.forward_token) want_removed = false;
      for (const std::string& spelled : {name, lower(name), upper(name)}) {
        RequestHead head;
        head.method(http::verb::get);
        head.target("/x");
        head.insert(std::string_view(spelled), "v");
        ASSERT_EQ(static_cast<unsigned>(head.begin()->name()), i) << spelled;
        StripClientHeaders(head, names);
        EXPECT_EQ(head.count(std::string_view(name)), want_removed ? 0u : 1u) << spelled;
      }
      removed += want_removed ? 1 : 0;
    }
    // The table is not vacuous: Authorization and Forwarded are names Beast knows.
    EXPECT_GE(removed, c.spec.forward_token ? 1u : 2u);
  }
}

TEST(IdentityHeadersTest, IdentityHeadersGoToTheAddedFieldsOnly) {
  // After the strip, the client's copies (any casing or spelling) are gone
  // from the head and the gate's values live in the added lines, once each.
  RequestHead head = HeadWith({{"x-forwarded-user", "spoof1"},
                               {"X-FORWARDED-EMAIL", "spoof2"},
                               {"X_Forwarded_Groups", "spoof3"},
                               {"X-Gatehouse-Assertion", "spoof4"},
                               {"X-Forwarded-User", "spoof5"}});
  const IdentityHeaderNames names = IdentityHeaderNames::From({});
  StripClientHeaders(head, names);
  for (const auto& field : head) {
    EXPECT_EQ(AsStd(field.value()).find("spoof"), std::string_view::npos)
        << AsStd(field.name_string());
  }
  AddedFields added;
  const auth::Identity identity{.user = "alice", .email = "a@example.com", .groups = {"g1", "g2"}};
  AddIdentityHeaders(names, identity, "signed", added);
  EXPECT_EQ(Added(added, "X-Forwarded-User"), "alice");
  EXPECT_EQ(Added(added, "X-Forwarded-Email"), "a@example.com");
  EXPECT_EQ(Added(added, "X-Forwarded-Groups"), "g1,g2");
  EXPECT_EQ(Added(added, "X-Gatehouse-Assertion"), "signed");
  EXPECT_EQ(AddedNames(added).size(), 4u);
  // Adding again never gives a name a second value.
  AddIdentityHeaders(names, identity, "other", added);
  EXPECT_EQ(AddedNames(added).size(), 4u);
  EXPECT_EQ(Added(added, "X-Gatehouse-Assertion"), "signed");
  // The groups buffer is reused between calls: a shorter list leaves nothing behind.
  AddedFields second;
  const auth::Identity one_group{.user = "bob", .groups = {"x"}};
  AddIdentityHeaders(names, one_group, "", second);
  EXPECT_EQ(Added(second, "X-Forwarded-Groups"), "x");
  EXPECT_FALSE(second.Find("X-Forwarded-Email"));
  EXPECT_FALSE(second.Find("X-Gatehouse-Assertion"));
}

TEST(IdentityHeadersTest, ForwardTokenKeepsAuthorization) {
  policy::IdentityHeadersSpec spec;
  spec.forward_token = true;
  RequestHead head = HeadWith({{"Authorization", "Bearer abc"}, {"X-Forwarded-User", "eve"}});
  StripClientHeaders(head, IdentityHeaderNames::From(spec));
  EXPECT_EQ(AsStd(head[http::field::authorization]), "Bearer abc");
  EXPECT_EQ(head.count("X-Forwarded-User"), 0u);
}

TEST(IdentityHeadersTest, ForwardingHeadersComeFromTheConnection) {
  RequestHead head = HeadWith({{"x-forwarded-for", "6.6.6.6"}, {"X_FORWARDED_HOST", "evil"}});
  head.set(http::field::host, "App.Example.com:8443");
  ClientInfo client;
  client.address_text = "10.1.2.3";
  client.tls = true;
  StripClientHeaders(head, IdentityHeaderNames::From({}));
  AddedFields added;
  AddForwardingHeaders(head, client, "abc123", added);
  EXPECT_EQ(Added(added, "X-Forwarded-For"), "10.1.2.3");
  EXPECT_EQ(Added(added, "X-Forwarded-Proto"), "https");
  EXPECT_EQ(Added(added, "X-Forwarded-Host"), "App.Example.com:8443");
  EXPECT_EQ(Added(added, "X-Request-Id"), "abc123");
  EXPECT_EQ(added.text().find("evil"), std::string_view::npos);
  EXPECT_EQ(added.text().find("6.6.6.6"), std::string_view::npos);
  for (const auto& field : head) {
    EXPECT_EQ(AsStd(field.value()).find("evil"), std::string_view::npos);
  }
  AddedFields plain;
  client.tls = false;
  AddForwardingHeaders(head, client, "def", plain);
  EXPECT_EQ(Added(plain, "X-Forwarded-Proto"), "http");
  // A Host with a control byte is not echoed as X-Forwarded-Host.
  head.set(http::field::host, std::string("a\x01b"));
  AddedFields hostile;
  AddForwardingHeaders(head, client, "ghi", hostile);
  EXPECT_FALSE(hostile.Find("X-Forwarded-Host"));
  EXPECT_EQ(Added(hostile, "X-Request-Id"), "ghi");
}

struct ValueCase {
  std::string scenario;
  auth::Identity identity;
  std::string user;  // expected; "" = header absent
  std::string email;
  std::string groups;
};

TEST(IdentityHeadersTest, UnsafeValuesAreDroppedNeverInjected) {
  const std::vector<ValueCase> cases = {
      {"plain",
       {.user = "alice", .email = "a@example.com", .groups = {"a", "b"}},
       "alice",
       "a@example.com",
       "a,b"},
      {"CRLF in user", {.user = "alice\r\nX-Admin: 1", .email = "a@x.com"}, "", "a@x.com", ""},
      {"NUL in email", {.user = "bob", .email = std::string("b\0c@x.com", 9)}, "bob", "", ""},
      {"comma and LF in groups",
       {.user = "u", .groups = {"ok", "a,b", "c\nd", "", "fine"}},
       "u",
       "",
       "ok,fine"},
      {"non-ASCII user", {.user = "j\xc3\xa9r\xc3\xb4me"}, "", "", ""},
  };
  for (const ValueCase& c : cases) {
    SCOPED_TRACE(c.scenario);
    IdentityHeaderNames names = IdentityHeaderNames::From({});
    AddedFields added;
    AddIdentityHeaders(names, c.identity, "jwt", added);
    EXPECT_EQ(added.Find("x-forwarded-user").has_value(), !c.user.empty());
    EXPECT_EQ(Added(added, "x-forwarded-user"), c.user);
    EXPECT_EQ(Added(added, "x-forwarded-email"), c.email);
    EXPECT_EQ(Added(added, "x-forwarded-groups"), c.groups);
    EXPECT_EQ(Added(added, "x-gatehouse-assertion"), "jwt");
    // Whatever the claims held, no line carries a control byte.
    for (char ch : added.text().substr(0, added.text().size() - 2)) {
      if (ch == '\r' || ch == '\n') continue;  // line ends, checked next
      EXPECT_TRUE(static_cast<unsigned char>(ch) >= 0x20 && ch != 0x7f);
    }
    EXPECT_EQ(AddedNames(added).size(),
              1u + !c.user.empty() + !c.email.empty() + !c.groups.empty());
  }
}

TEST(StripGatehouseCookies, SessionAndLoginCookiesNeverReachTheUpstream) {
  struct Row {
    std::string scenario;
    std::vector<std::string> cookie_headers;
    std::vector<std::string> expected;  // Cookie headers left, in order
  };
  const std::vector<Row> rows = {
      {"only others", {"a=1; b=2"}, {"a=1; b=2"}},
      {"session in the middle", {"a=1; gatehouse_session=SECRET; b=2"}, {"a=1; b=2"}},
      {"every own cookie",
       {"gatehouse_session=S; __Host-gatehouse_session=S; gatehouse_login=L; "
        "__Host-gatehouse_login=L"},
       {}},
      {"two Cookie headers", {"gatehouse_session=S", "x=1;gatehouse_login=L"}, {"x=1"}},
      {"spaces around the name", {"a=1;  gatehouse_session =S ;b=2"}, {"a=1; b=2"}},
      {"similar names stay",
       {"gatehouse_session2=x; my_gatehouse_session=y"},
       {"gatehouse_session2=x; my_gatehouse_session=y"}},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(r.scenario);
    RequestHead head;
    for (const std::string& c : r.cookie_headers) head.insert(http::field::cookie, c);
    StripClientHeaders(head, IdentityHeaderNames::From({}));
    std::vector<std::string> left;
    for (const auto& f : head) {
      if (f.name() == http::field::cookie) left.emplace_back(f.value());
    }
    EXPECT_EQ(left, r.expected);
  }
}

TEST(IdentityHeadersTest, StripThenAddLeavesExactlyOneGateValuePerName) {
  // The gate's path: strip, then add without looking for copies. Every name
  // added must have been stripped, whatever casing or spelling the client used.
  const std::vector<policy::IdentityHeadersSpec> specs = {{}, Renamed()};
  for (const policy::IdentityHeadersSpec& spec : specs) {
    SCOPED_TRACE(spec.user);
    const IdentityHeaderNames names = IdentityHeaderNames::From(spec);
    std::vector<Sent> sent;
    for (const std::string& name :
         {names.user, names.email, names.groups, names.assertion, std::string("X-Forwarded-For"),
          std::string("x-forwarded-proto"), std::string("X_FORWARDED_HOST"),
          std::string("X-REQUEST-ID")}) {
      sent.push_back({name, "spoof"});
      std::string upper = name;
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      sent.push_back({upper, "spoof"});
    }
    RequestHead head = HeadWith(sent);
    ClientInfo client;
    client.address_text = "10.0.0.9";
    head.set(http::field::host, "app.example.com");
    StripClientHeaders(head, names);
    AddedFields added;
    AddForwardingHeaders(head, client, "rid", added);
    const auth::Identity identity{.user = "alice", .email = "a@example.com", .groups = {"g"}};
    AddIdentityHeaders(names, identity, "signed", added);
    for (const std::string& name :
         {names.user, names.email, names.groups, names.assertion, std::string("X-Forwarded-For"),
          std::string("X-Forwarded-Proto"), std::string("X-Forwarded-Host"),
          std::string("X-Request-Id")}) {
      EXPECT_EQ(head.count(std::string_view(name)), 0u) << name << ": the client's copies are gone";
      EXPECT_TRUE(added.Find(name).has_value()) << name;
    }
    EXPECT_EQ(AddedNames(added).size(), 8u) << "one line per name";
    EXPECT_EQ(added.text().find("spoof"), std::string_view::npos);
    for (const auto& field : head) {
      EXPECT_EQ(AsStd(field.value()).find("spoof"), std::string_view::npos)
          << AsStd(field.name_string());
    }
  }
}

TEST(IdentityHeadersTest, FirstFieldValueIsWhatTheFieldLookupGives) {
  RequestHead head = HeadWith({{"User-Agent", "wrk"}});
  EXPECT_EQ(FirstFieldValue(head, http::field::host), AsStd(head[http::field::host]));
  EXPECT_EQ(FirstFieldValue(head, http::field::accept), "");
  head.insert(http::field::host, "second.example.com");
  EXPECT_EQ(FirstFieldValue(head, http::field::host), AsStd(head[http::field::host]));
  EXPECT_EQ(FirstFieldValue(head, http::field::host), "app.example.com");
}

}  // namespace
}  // namespace gatehouse::server
