// AuditLog: one JSON line per decision (PRODUCT.md section 7), written through
// spdlog's asynchronous logger so the data path never blocks on stdout.
//
//   AuditLog audit = AuditLog::Stdout(/*queue_size=*/8192);
//   AuditRecord r{.ts = time.Now(), .request_id = id, .policy = "ns/name", ...};
//   audit.Write(r);
//   audit.dropped();   // lines discarded because the queue was full
//
// Field names are declared once (audit_fields below). The line never holds a
// token, cookie or Authorization value: the record has no field for them, and
// `path` is written without its query string (callers pass the normalized
// path; FormatAuditLine also cuts at '?'). Overflow policy: when the queue is
// full the oldest queued line is discarded and counted (spdlog's
// overrun_oldest), never blocking a worker thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

namespace spdlog {
class logger;
namespace details {
class thread_pool;
}
}  // namespace spdlog

namespace gatehouse::server {

namespace audit_fields {
inline constexpr std::string_view kTs = "ts";
inline constexpr std::string_view kRequestId = "request_id";
inline constexpr std::string_view kPolicy = "policy";
inline constexpr std::string_view kRule = "rule";
inline constexpr std::string_view kDecision = "decision";
inline constexpr std::string_view kReason = "reason";
inline constexpr std::string_view kSub = "sub";
inline constexpr std::string_view kEmail = "email";
inline constexpr std::string_view kMethod = "method";
inline constexpr std::string_view kHost = "host";
inline constexpr std::string_view kPath = "path";
inline constexpr std::string_view kStatus = "status";
inline constexpr std::string_view kClientIp = "client_ip";
inline constexpr std::string_view kTokenId = "token_id";
inline constexpr std::string_view kGateUs = "gate_us";
inline constexpr std::string_view kUpstreamMs = "upstream_ms";
}  // namespace audit_fields

struct AuditRecord {
  std::chrono::system_clock::time_point ts;
  std::string_view request_id;
  std::string_view policy;
  std::string_view rule;
  std::string_view decision;  // allow | deny
  std::string_view reason;
  std::string_view sub;
  std::string_view email;
  std::string_view method;
  std::string_view host;
  std::string_view path;  // without the query
  int status = 0;
  std::string_view client_ip;
  std::string_view token_id;
  int64_t gate_us = 0;
  int64_t upstream_ms = 0;
};

// The JSON line (no trailing newline). Strings are escaped; invalid UTF-8 and
// control bytes become \uXXXX escapes, so a hostile Host cannot forge a line.
std::string FormatAuditLine(const AuditRecord& record);

// "2024-05-01T12:00:00.123Z"
std::string FormatRfc3339Millis(std::chrono::system_clock::time_point ts);

inline constexpr std::chrono::milliseconds kAuditFlushInterval{200};

class AuditLog {
 public:
  // Asynchronous logger writing to stdout with a bounded queue.
  static std::unique_ptr<AuditLog> Stdout(size_t queue_size = 8192);
  // Any spdlog logger (tests use a synchronous ostream sink); `pool` may be null.
  AuditLog(std::shared_ptr<spdlog::logger> logger,
           std::shared_ptr<spdlog::details::thread_pool> pool);
  ~AuditLog();

  void Write(const AuditRecord& record);
  void Flush();
  // Lines discarded because the async queue was full.
  uint64_t dropped() const;

 private:
  std::shared_ptr<spdlog::details::thread_pool> pool_;
  std::shared_ptr<spdlog::logger> logger_;
  std::jthread flusher_;  // Stdout(): flushes every kFlushInterval
};

}  // namespace gatehouse::server
