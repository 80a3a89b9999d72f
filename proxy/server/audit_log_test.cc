#include "proxy/server/audit_log.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace gatehouse::server {
namespace {

const std::vector<std::string> kFields = {
    "ts",     "request_id", "policy", "rule",   "decision",  "reason",   "sub",     "email",
    "method", "host",       "path",   "status", "client_ip", "token_id", "gate_us", "upstream_ms"};

AuditRecord Sample() {
  return AuditRecord{
      .ts = std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000123LL)),
      .request_id = "0123456789abcdef0123456789abcdef",
      .policy = "analytics/metabase",
      .rule = "analysts-read",
      .decision = "allow",
      .reason = "allowed",
      .sub = "user-1",
      .email = "a@example.com",
      .method = "GET",
      .host = "metabase.example.com",
      .path = "/api/card/1",
      .status = 200,
      .client_ip = "10.0.0.7",
      .token_id = "jti-1",
      .gate_us = 42,
      .upstream_ms = 7};
}

TEST(AuditLogTest, LineHasExactlyTheContractFields) {
  const std::string line = FormatAuditLine(Sample());
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const nlohmann::json j = nlohmann::json::parse(line);
  std::vector<std::string> keys;
  for (const auto& [key, value] : j.items()) keys.push_back(key);
  std::vector<std::string> want = kFields;
  std::sort(want.begin(), want.end());
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, want);
  EXPECT_EQ(j["ts"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(j["status"], 200);
  EXPECT_EQ(j["gate_us"], 42);
  EXPECT_EQ(j["upstream_ms"], 7);
  EXPECT_EQ(j["policy"], "analytics/metabase");
  EXPECT_EQ(j["token_id"], "jti-1");
}

TEST(AuditLogTest, HostileValuesCannotBreakTheLine) {
  AuditRecord r = Sample();
  const std::string host = "evil.com\"}\n{\"decision\":\"allow";
  const std::string bad_utf8 = "a\xff\xc0\xae\x01z";
  r.host = host;
  r.sub = bad_utf8;
  const std::string line = FormatAuditLine(r);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const nlohmann::json j = nlohmann::json::parse(line);  // still one valid object
  EXPECT_EQ(j["host"], host);
  EXPECT_EQ(j["sub"], "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\x01z");
}

TEST(AuditLogTest, NoQueryStringTokenOrCookieEverAppears) {
  // The record has no field for Authorization or Cookie; the path loses its query.
  AuditRecord r = Sample();
  r.path = "/api/export?token=SECRET-QUERY-TOKEN&sig=abc";
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  auto logger = std::make_shared<spdlog::logger>("audit-test", sink);
  logger->set_pattern("%v");
  AuditLog audit(logger, nullptr);
  audit.Write(r);
  audit.Flush();
  const std::string text = out.str();
  EXPECT_NE(text.find("\"path\":\"/api/export\""), std::string::npos) << text;
  EXPECT_EQ(text.find("SECRET-QUERY-TOKEN"), std::string::npos);
  EXPECT_EQ(text.back(), '\n');
  EXPECT_EQ(audit.dropped(), 0u);
}

TEST(AuditLogTest, Rfc3339WithMilliseconds) {
  using std::chrono::milliseconds;
  using std::chrono::system_clock;
  EXPECT_EQ(FormatRfc3339Millis(system_clock::time_point(milliseconds(0))),
            "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Millis(system_clock::time_point(milliseconds(951782400005LL))),
            "2000-02-29T00:00:00.005Z");
}

}  // namespace
}  // namespace gatehouse::server
