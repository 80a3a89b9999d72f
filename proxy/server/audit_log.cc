#include "proxy/server/audit_log.h"

#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <ctime>
#include <mutex>

namespace gatehouse::server {
namespace {

void AppendHex4(std::string& out, unsigned value) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += "\\u00";
  out.push_back(kHex[(value >> 4) & 0xf]);
  out.push_back(kHex[value & 0xf]);
}

// Length of the valid UTF-8 sequence at s[i], or 0.
size_t Utf8Length(std::string_view s, size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  size_t n = 0;
  if (b >= 0xc2 && b <= 0xdf)
    n = 2;
  else if (b >= 0xe0 && b <= 0xef)
    n = 3;
  else if (b >= 0xf0 && b <= 0xf4)
    n = 4;
  else
    return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
  }
  const auto b1 = static_cast<unsigned char>(s[i + 1]);
  if (b == 0xe0 && b1 < 0xa0) return 0;  // overlong
  if (b == 0xed && b1 > 0x9f) return 0;  // surrogates
  if (b == 0xf0 && b1 < 0x90) return 0;  // overlong
  if (b == 0xf4 && b1 > 0x8f) return 0;  // above U+10FFFF
  return n;
}

void AppendString(std::string& out, std::string_view s) {
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (c < 0x20 || c == 0x7f) {
      AppendHex4(out, c);
      ++i;
    } else if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (size_t n = Utf8Length(s, i); n > 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\\ufffd";  // invalid byte: replaced, never passed through
      ++i;
    }
  }
  out.push_back('"');
}

void AppendKey(std::string& out, std::string_view key, bool first = false) {
  if (!first) out.push_back(',');
  out.push_back('"');
  out.append(key);
  out += "\":";
}

}  // namespace

std::string FormatRfc3339Millis(std::chrono::system_clock::time_point ts) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(ts.time_since_epoch());
  const std::time_t seconds = static_cast<std::time_t>(ms.count() / 1000);
  int millis = static_cast<int>(ms.count() % 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[96];  // room for any int the format could print
  std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buffer;
}

std::string FormatAuditLine(const AuditRecord& r) {
  namespace f = audit_fields;
  std::string out;
  out.reserve(384);
  out.push_back('{');
  AppendKey(out, f::kTs, true);
  AppendString(out, FormatRfc3339Millis(r.ts));
  const std::pair<std::string_view, std::string_view> head[] = {
      {f::kRequestId, r.request_id}, {f::kPolicy, r.policy}, {f::kRule, r.rule},
      {f::kDecision, r.decision},    {f::kReason, r.reason}, {f::kSub, r.sub},
      {f::kEmail, r.email},          {f::kMethod, r.method}, {f::kHost, r.host}};
  for (const auto& [key, value] : head) {
    AppendKey(out, key);
    AppendString(out, value);
  }
  AppendKey(out, f::kPath);
  // Never the query: it may carry secrets (?token=..., signed URLs).
  AppendString(out, r.path.substr(0, r.path.find('?')));
  AppendKey(out, f::kStatus);
  out += std::to_string(r.status);
  AppendKey(out, f::kClientIp);
  AppendString(out, r.client_ip);
  AppendKey(out, f::kTokenId);
  AppendString(out, r.token_id);
  AppendKey(out, f::kGateUs);
  out += std::to_string(r.gate_us);
  AppendKey(out, f::kUpstreamMs);
  out += std::to_string(r.upstream_ms);
  out.push_back('}');
  return out;
}

std::unique_ptr<AuditLog> AuditLog::Stdout(size_t queue_size) {
  auto pool = std::make_shared<spdlog::details::thread_pool>(queue_size, 1);
  auto sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
  auto logger = std::make_shared<spdlog::async_logger>(
      "gatehouse.audit", sink, pool, spdlog::async_overflow_policy::overrun_oldest);
  logger->set_pattern("%v");
  logger->set_level(spdlog::level::info);
  // No flush per line: a write(2) per request cost ~14% of a core in the proxy
  // benchmark. Lines are flushed in batches by stdio's buffer and at least
  // every kAuditFlushInterval by a flusher thread, so an idle proxy's last lines
  // still appear promptly.
  logger->flush_on(spdlog::level::off);
  auto log = std::make_unique<AuditLog>(std::move(logger), std::move(pool));
  log->flusher_ = std::jthread([raw = log.get()](std::stop_token stop) {
    std::mutex mu;
    std::condition_variable_any wake;
    std::unique_lock lock(mu);
    while (!stop.stop_requested()) {
      wake.wait_for(lock, stop, kAuditFlushInterval, [] { return false; });  // a stop wakes it
      raw->Flush();
    }
  });
  return log;
}

AuditLog::AuditLog(std::shared_ptr<spdlog::logger> logger,
                   std::shared_ptr<spdlog::details::thread_pool> pool)
    : pool_(std::move(pool)), logger_(std::move(logger)) {}

AuditLog::~AuditLog() {
  if (flusher_.joinable()) {
    flusher_.request_stop();
    flusher_.join();
  }
  Flush();
}

void AuditLog::Write(const AuditRecord& record) {
  try {
    logger_->info(FormatAuditLine(record));
  } catch (...) {
    // spdlog reports its own errors; an audit failure never fails a request.
  }
}

void AuditLog::Flush() {
  try {
    logger_->flush();
  } catch (...) {
  }
}

uint64_t AuditLog::dropped() const { return pool_ ? pool_->overrun_counter() : 0; }

}  // namespace gatehouse::server
