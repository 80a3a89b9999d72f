#include "proxy/server/audit_log.h"

#include <gtest/gtest.h>
#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
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

TEST(AuditLogTest, AHostileByteAtAnyOffsetOfALongValueIsEscaped) {
  // The formatter copies plain runs 16 bytes at a time: a byte that needs
  // escaping must be caught at every offset of a block and in the tail, in
  // every string field.
  const std::string base = "metabase.analytics.example.com/api/card/1234/query/json-export";
  struct Bad {
    std::string bytes;
    std::string decoded;  // what a JSON parser must read back
  };
  const std::vector<Bad> bads = {
      {"\"", "\""},
      {"\\", "\\"},
      {"\n", "\n"},
      {"\r", "\r"},
      {std::string(1, '\0'), std::string(1, '\0')},
      {"\x1f", "\x1f"},
      {"\x7f", "\x7f"},
      {"\xff", "\xef\xbf\xbd"},
      {"\xc3", "\xef\xbf\xbd"},  // lone lead byte
      {"\x80", "\xef\xbf\xbd"},
      {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},  // surrogate
      {"\xc3\xa9", "\xc3\xa9"},                                  // valid UTF-8 passes through
  };
  for (size_t at = 0; at < base.size(); ++at) {
    for (const Bad& bad : bads) {
      std::string value = base;
      value.replace(at, 1, bad.bytes);
      std::string expected = base;
      expected.replace(at, 1, bad.decoded);
      SCOPED_TRACE("offset " + std::to_string(at) + ", byte " +
                   std::to_string(bad.bytes[0] & 0xff));
      AuditRecord r = Sample();
      r.host = value;
      r.email = value;
      r.request_id = value;
      const std::string line = FormatAuditLine(r);
      ASSERT_EQ(line.find('\n'), std::string::npos);
      for (char c : line) ASSERT_GE(static_cast<unsigned char>(c), 0x20) << line;
      const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      ASSERT_TRUE(j.is_object()) << line;
      EXPECT_EQ(j["host"], expected);
      EXPECT_EQ(j["email"], expected);
      EXPECT_EQ(j["request_id"], expected);
      EXPECT_EQ(j["status"], 200);  // the fields after the hostile ones are intact
      EXPECT_EQ(j["token_id"], "jti-1");
    }
  }
}

TEST(AuditLogTest, AppendsAfterWhatTheBufferHolds) {
  // The line is written into room reserved at the end of the batch buffer:
  // earlier lines stay byte for byte, and the buffer ends at the new line.
  std::string batch = "{\"earlier\":1}\n";
  const std::string earlier = batch;
  AppendAuditLine(batch, Sample());
  ASSERT_EQ(batch.substr(0, earlier.size()), earlier);
  EXPECT_EQ(batch.substr(earlier.size()), FormatAuditLine(Sample()));
  EXPECT_EQ(batch.back(), '}');
  AuditRecord huge = Sample();
  const std::string controls(5000, '\x01');  // worst case: six output bytes per input byte
  huge.sub = controls;
  const std::string line = FormatAuditLine(huge);
  const nlohmann::json j = nlohmann::json::parse(line);
  EXPECT_EQ(j["sub"], controls);
  EXPECT_EQ(j["upstream_ms"], 7);
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
  // The date part is cached per second: a later millisecond of the same
  // second and the next second must both come out right.
  EXPECT_EQ(FormatRfc3339Millis(system_clock::time_point(milliseconds(951782400999LL))),
            "2000-02-29T00:00:00.999Z");
  EXPECT_EQ(FormatRfc3339Millis(system_clock::time_point(milliseconds(951782401000LL))),
            "2000-02-29T00:00:01.000Z");
  EXPECT_EQ(FormatRfc3339Millis(system_clock::time_point(milliseconds(-1))),
            "1969-12-31T23:59:59.999Z");
}

// Every line of `text` as JSON; fails the test on a line that is not one object.
std::vector<nlohmann::json> ParseLines(const std::string& text) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    EXPECT_FALSE(line.empty()) << "empty line in the audit output";
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(j.is_object()) << line;
    lines.push_back(std::move(j));
  }
  return lines;
}

std::shared_ptr<spdlog::logger> StreamLogger(std::ostringstream& out) {
  return std::make_shared<spdlog::logger>("audit-test",
                                          std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
}

AuditRecord Numbered(int n, std::string& id) {
  AuditRecord r = Sample();
  id = "req-" + std::to_string(n);
  r.request_id = id;
  return r;
}

TEST(AuditLogTest, BatchesReachTheLoggerWhenFullOrFlushed) {
  struct Scenario {
    const char* name;
    std::size_t batch_bytes;
    int lines;
    int visible_before_flush_at_least;
    int visible_before_flush_at_most;
  };
  const Scenario scenarios[] = {
      {"below one batch: nothing until Flush", 64 * 1024, 10, 0, 0},
      {"a batch per line: every line at once", 1, 10, 10, 10},
      {"several batches: all but the partial last one", 2000, 40, 20, 39},
  };
  for (const Scenario& s : scenarios) {
    SCOPED_TRACE(s.name);
    std::ostringstream out;
    AuditLog audit(StreamLogger(out), nullptr, {.batch_bytes = s.batch_bytes});
    std::string id;
    for (int i = 0; i < s.lines; ++i) audit.Write(Numbered(i, id));
    const auto before = ParseLines(out.str());
    EXPECT_GE(static_cast<int>(before.size()), s.visible_before_flush_at_least);
    EXPECT_LE(static_cast<int>(before.size()), s.visible_before_flush_at_most);
    audit.Flush();
    const auto after = ParseLines(out.str());
    ASSERT_EQ(static_cast<int>(after.size()), s.lines);
    for (int i = 0; i < s.lines; ++i) EXPECT_EQ(after[i]["request_id"], "req-" + std::to_string(i));
    EXPECT_EQ(audit.dropped(), 0u);
  }
}

TEST(AuditLogTest, AThreadBufferNeverGrowsPastItsBoundLinesAreDiscardedAndCounted) {
  std::ostringstream out;
  // Batches never fill up (batch_bytes above the bound): the bound decides.
  const std::size_t bound = 4 * FormatAuditLine(Sample()).size() + 10;
  AuditLog audit(StreamLogger(out), nullptr, {.batch_bytes = 1 << 20, .max_thread_bytes = bound});
  std::string id;
  for (int i = 0; i < 10; ++i) audit.Write(Numbered(i, id));
  EXPECT_EQ(audit.dropped(), 6u);
  audit.Flush();
  const auto lines = ParseLines(out.str());
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[3]["request_id"], "req-3");  // the first lines are kept, later ones counted
}

TEST(AuditLogTest, ConcurrentWritersThroughTheAsyncLoggerLoseNothingAtShutdown) {
  // A queue of one batch and tiny batches: hand-overs often find the queue
  // full, lines wait in their thread's buffer, and the destructor must still
  // deliver every one of them, each a whole JSON object on its own line.
  std::ostringstream out;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 500;
  {
    auto pool = std::make_shared<spdlog::details::thread_pool>(2, 1);
    auto logger = std::make_shared<spdlog::async_logger>(
        "audit-async-test", std::make_shared<spdlog::sinks::ostream_sink_mt>(out), pool,
        spdlog::async_overflow_policy::overrun_oldest);
    AuditLog audit(logger, pool,
                   {.batch_bytes = 1024, .max_thread_bytes = 8 << 20, .max_queued_batches = 1});
    std::vector<std::thread> writers;
    for (int t = 0; t < kThreads; ++t) {
      writers.emplace_back([&audit, t] {
        std::string id;
        for (int i = 0; i < kPerThread; ++i) audit.Write(Numbered(t * kPerThread + i, id));
      });
    }
    for (auto& w : writers) w.join();
    EXPECT_EQ(audit.dropped(), 0u);
  }
  const auto lines = ParseLines(out.str());
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kPerThread));
  std::set<std::string> ids;
  for (const auto& line : lines) ids.insert(line["request_id"].get<std::string>());
  EXPECT_EQ(ids.size(), static_cast<size_t>(kThreads * kPerThread));
}

TEST(AuditLogTest, AppendAuditLineMatchesFormatAuditLine) {
  std::string out = "prefix";
  AppendAuditLine(out, Sample());
  EXPECT_EQ(out, "prefix" + FormatAuditLine(Sample()));
}

TEST(AuditLogTest, TheLineIsByteForByteTheContractFormat) {
  EXPECT_EQ(FormatAuditLine(Sample()),
            R"({"ts":"2023-11-14T22:13:20.123Z","request_id":"0123456789abcdef0123456789abcdef",)"
            R"("policy":"analytics/metabase","rule":"analysts-read","decision":"allow",)"
            R"("reason":"allowed","sub":"user-1","email":"a@example.com","method":"GET",)"
            R"("host":"metabase.example.com","path":"/api/card/1","status":200,)"
            R"("client_ip":"10.0.0.7","token_id":"jti-1","gate_us":42,"upstream_ms":7})");
}

TEST(AuditLogTest, EveryLengthAndOffsetIsCopiedOrEscapedExactly) {
  // Plain strings are copied in whole blocks by length class (0-3, 4-7, 8-15,
  // 16 and more, the last block overlapping): each length must come out
  // byte for byte, and a byte needing escape must be caught at each offset.
  const std::string plain = "abcdefghijklmnopqrstuvwxyz0123456789-._~ABCDEFGHIJ";
  const std::vector<std::pair<std::string, std::string>> bads = {
      {"\"", R"(\")"},       {"\\", R"(\\)"},
      {"\n", R"(\u000a)"},   {std::string(1, '\0'), R"(\u0000)"},
      {"\x7f", R"(\u007f)"}, {"\xff", R"(\ufffd)"}};
  for (size_t length = 0; length <= 40; ++length) {
    const std::string value = plain.substr(0, length);
    AuditRecord r = Sample();
    r.rule = value;
    EXPECT_NE(FormatAuditLine(r).find(R"("rule":")" + value + R"(","decision")"), std::string::npos)
        << length;
    for (size_t at = 0; at < length; ++at) {
      for (const auto& [bad, escaped] : bads) {
        std::string hostile = value;
        hostile.replace(at, 1, bad);
        r.rule = hostile;
        const std::string want = R"("rule":")" + value.substr(0, at) + escaped +
                                 value.substr(at + 1) + R"(","decision")";
        EXPECT_NE(FormatAuditLine(r).find(want), std::string::npos)
            << "length " << length << ", offset " << at << ": " << FormatAuditLine(r);
      }
    }
  }
}

// ToFile(): batches reach the stream by handle. Several writers, tiny
// batches and a one-batch queue: every line arrives exactly as
// FormatAuditLine writes it, each thread's lines in its order, none twice.
TEST(AuditLogTest, BatchesByHandleArriveWholeInOrderAndByteForByte) {
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 400;
  {
    std::unique_ptr<AuditLog> audit = AuditLog::ToFile(
        file, {.batch_bytes = 900, .max_thread_bytes = 8 << 20, .max_queued_batches = 1});
    std::vector<std::thread> writers;
    for (int t = 0; t < kThreads; ++t) {
      writers.emplace_back([&audit, t] {
        std::string id;
        for (int i = 0; i < kPerThread; ++i) audit->Write(Numbered(t * kPerThread + i, id));
      });
    }
    for (auto& w : writers) w.join();
    EXPECT_EQ(audit->dropped(), 0u);
  }  // the destructor delivers what is still buffered
  std::rewind(file);
  std::string text;
  char chunk[4096];
  for (size_t n; (n = std::fread(chunk, 1, sizeof(chunk), file)) > 0;) text.append(chunk, n);
  std::fclose(file);
  std::vector<std::string> lines;
  for (size_t start = 0; start < text.size();) {
    const size_t end = text.find('\n', start);
    ASSERT_NE(end, std::string::npos) << "the output ends in a partial line";
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kPerThread));
  std::vector<int> next(kThreads, 0);
  std::string id;
  for (const std::string& line : lines) {
    const nlohmann::json parsed = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(parsed.is_discarded()) << line;
    const int n = std::stoi(parsed["request_id"].get<std::string>().substr(4));
    const int thread = n / kPerThread;
    EXPECT_EQ(n % kPerThread, next[thread]++) << "out of order in thread " << thread;
    EXPECT_EQ(line, FormatAuditLine(Numbered(n, id)));
  }
}

TEST(AuditLogTest, BatchesByHandleAppearOnFlush) {
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  std::unique_ptr<AuditLog> audit =
      AuditLog::ToFile(file, {.flush_interval = std::chrono::hours(1)});
  std::string id;
  for (int i = 0; i < 3; ++i) audit->Write(Numbered(i, id));
  audit->Flush();
  // The worker writes asynchronously: wait (bounded) for the three lines.
  std::string want;
  for (int i = 0; i < 3; ++i) want += FormatAuditLine(Numbered(i, id)) + "\n";
  std::string text;
  for (int tries = 0; tries < 500 && text != want; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::fflush(file);
    std::rewind(file);
    text.clear();
    char chunk[4096];
    for (size_t n; (n = std::fread(chunk, 1, sizeof(chunk), file)) > 0;) text.append(chunk, n);
  }
  EXPECT_EQ(text, want);
  audit.reset();
  std::fclose(file);
}

}  // namespace
}  // namespace gatehouse::server
