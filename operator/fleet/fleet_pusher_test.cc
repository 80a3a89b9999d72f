// FleetPusher's pure parts: the plaintext-push refusal and EndpointSlice reading.
#include "operator/fleet/fleet_pusher.h"

#include <gtest/gtest.h>

namespace gatehouse::fleet {
namespace {

using nlohmann::json;

struct TargetCase {
  std::string url;
  bool tls;
  bool allowed;
};

TEST(FleetPusherTest, PlainHttpOnlyToLoopback) {
  const TargetCase cases[] = {
      {"http://127.0.0.1:9901", false, true}, {"http://127.1.2.3:9901", false, true},
      {"http://localhost:9901", false, true}, {"http://[::1]:9901", false, true},
      {"http://10.0.0.5:9901", false, false}, {"http://127.0.0.1.evil.com:1", false, false},
      {"http://10.0.0.5:9901", true, false},  {"https://10.0.0.5:9901", false, false},
      {"https://10.0.0.5:9901", true, true},  {"ftp://127.0.0.1:1", false, false},
  };
  for (const TargetCase& c : cases) {
    Status s = CheckPushTarget(c.url, c.tls);
    EXPECT_EQ(s.ok(), c.allowed) << c.url << " tls=" << c.tls << " " << s.ToString();
  }
}

TEST(FleetPusherTest, EndpointSlicesGiveAdminUrlsIncludingNotReady) {
  json slice = {
      {"addressType", "IPv4"},
      {"ports", {{{"name", "http"}, {"port", 8080}}, {{"name", "admin"}, {"port", 9901}}}},
      {"endpoints",
       {{{"addresses", {"10.0.0.2"}}, {"conditions", {{"ready", true}}}},
        {{"addresses", {"10.0.0.1"}}, {"conditions", {{"ready", false}}}},
        {{"addresses", {"10.0.0.3"}}, {"conditions", {{"terminating", true}}}}}}};
  json v6 = {{"addressType", "IPv6"},
             {"ports", {{{"name", "admin"}, {"port", 9901}}}},
             {"endpoints", {{{"addresses", {"fd00::1"}}}}}};
  json no_admin = {{"ports", {{{"name", "http"}, {"port", 8080}}}},
                   {"endpoints", {{{"addresses", {"10.9.9.9"}}}}}};
  EXPECT_EQ(ProxiesFromEndpointSlices({slice, v6, no_admin, slice}, "https"),
            (std::vector<std::string>{"https://10.0.0.1:9901", "https://10.0.0.2:9901",
                                      "https://[fd00::1]:9901"}));
}

}  // namespace
}  // namespace gatehouse::fleet
