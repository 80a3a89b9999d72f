// AuditLog: one JSON line per decision (PRODUCT.md section 7), written through
// spdlog's asynchronous logger so the data path never blocks on stdout.
//
//   std::unique_ptr<AuditLog> audit = AuditLog::Stdout();
//   AuditRecord r{.ts = time.Now(), .request_id = id, .policy = "ns/name", ...};
//   audit->Write(r);     // appends to this thread's batch: no lock contention, no wake-up
//   audit->Flush();      // hands every batch over and flushes (shutdown, tests)
//   audit->dropped();    // lines discarded because the bounded buffers were full
//
// Batching: each writing thread appends lines to its own buffer; a buffer goes
// to the logger as one message (many newline-separated lines) when it reaches
// AuditBatchLimits::batch_bytes, and Stdout()'s flusher hands partial buffers
// over every flush_interval. spdlog's worker is then woken once per batch
// instead of once per request (a condition-variable notify per line cost the
// single-core proxy ~13% in context switches). Memory is bounded: at most
// max_queued_batches batches wait in the logger's queue and each thread's
// buffer holds at most max_thread_bytes; beyond that a line is discarded and
// counted, never blocking an event loop. The destructor hands everything over
// and drains the queue, so no line is lost at shutdown.
//
// Field names are declared once (audit_fields below). The line never holds a
// token, cookie or Authorization value: the record has no field for them, and
// `path` is written without its query string (callers pass the normalized
// path; FormatAuditLine also cuts at '?').
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

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
// The same line appended to `out` (no allocation when `out` has room).
void AppendAuditLine(std::string& out, const AuditRecord& record);

// "2024-05-01T12:00:00.123Z"
std::string FormatRfc3339Millis(std::chrono::system_clock::time_point ts);

struct AuditBatchLimits {
  std::size_t batch_bytes = 64 * 1024;            // a thread's buffer is handed over at this size
  std::size_t max_thread_bytes = 512 * 1024;      // a thread's buffer never grows beyond this
  std::size_t max_queued_batches = 128;           // batches waiting for the logger's worker
  std::chrono::milliseconds flush_interval{100};  // Stdout(): partial batches go out this often
};

// Batches on their way from the writing threads to the logger's worker
// (audit_batch_queue.h): moved, never copied.
class AuditBatchQueue;

// Bytes a thread writes its lines into: allocated, never zero-filled.
struct AuditLineBuffer {
  std::unique_ptr<char[]> bytes;
  std::size_t capacity = 0;
};

class AuditLog {
 public:
  // Asynchronous logger writing to stdout, with a flusher thread.
  static std::unique_ptr<AuditLog> Stdout(AuditBatchLimits limits = {});
  // The same to any open stream (tests: a temporary file). A batch travels
  // to the logger's worker by handle: spdlog carries a one-byte message and
  // the worker's sink writes the batch itself, so no line is copied on the
  // way (the event loop no longer copies each batch into a log message, nor
  // the worker into its formatter).
  static std::unique_ptr<AuditLog> ToFile(std::FILE* out, AuditBatchLimits limits = {});
  // Any spdlog logger (tests use a synchronous ostream sink). `pool` is the
  // async logger's thread pool (its queue length bounds the batches in
  // flight), or null for a synchronous logger. No flusher: lines reach the
  // logger when a batch fills up or on Flush().
  AuditLog(std::shared_ptr<spdlog::logger> logger,
           std::shared_ptr<spdlog::details::thread_pool> pool, AuditBatchLimits limits = {});
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  void Write(const AuditRecord& record);
  // Hands every thread's pending lines to the logger (waiting, bounded, for
  // room in its queue) and flushes it.
  void Flush();
  // Lines discarded because the bounded buffers were full.
  uint64_t dropped() const;

 private:
  struct ThreadBuffer {
    std::mutex mu;          // the owning thread and the flusher only: practically uncontended
    AuditLineBuffer lines;  // the first `used` bytes are complete lines; the rest is room
    std::size_t used = 0;
  };

  ThreadBuffer& BufferOfThisThread();
  // Passes the buffer's lines (complete, each ending in '\n') to the logger as
  // one message and empties it, when the queue has room; false (lines kept) otherwise.
  bool TryHandOver(ThreadBuffer& buffer);
  bool QueueFull() const;
  void HandOverAll(bool wait_for_room);
  // False when the queue had no slot for the flush message.
  bool FlushLogger(bool wait_for_room);

  const uint64_t id_;  // tells this log apart from earlier ones in thread-local caches
  const AuditBatchLimits limits_;
  std::shared_ptr<spdlog::details::thread_pool> pool_;
  std::shared_ptr<spdlog::logger> logger_;
  std::mutex buffers_mu_;
  std::mutex enqueue_mu_;  // makes "is there room?" and the enqueue one step
  std::vector<std::pair<std::thread::id, std::unique_ptr<ThreadBuffer>>> buffers_;
  std::atomic<uint64_t> discarded_{0};
  std::shared_ptr<AuditBatchQueue> handed_;  // ToFile(): batches by handle; null: by copy
  std::atomic<bool> unflushed_{false};       // handed over since the logger's last flush
  std::jthread flusher_;  // Stdout(): hands partial batches over every flush_interval
};

}  // namespace gatehouse::server
