// AuditBatchQueue: how AuditLog::ToFile() (and Stdout()) move a thread's
// batch of audit lines to spdlog's logger thread and the emptied buffer back,
// without copying a line on the way.
//
//   auto batches = std::make_shared<AuditBatchQueue>(stdout);
//   batches->Push(std::move(buffer), used);  // writer: a full batch, by handle
//   AuditLineBuffer next = batches->TakeSpare();  // writer: a written buffer back
//   batches->WriteAll();  // logger thread (or the destructor): fwrite + fflush
//
// The async logger's sink (BatchSink, audit_batch_queue.cc) calls WriteAll()
// for each one-byte "batches are waiting" message AuditLog sends, so spdlog
// only wakes its worker; the lines never pass through spdlog's message buffers
// or formatter. AuditLog::ToFile() and Stdout(), defined in
// audit_batch_queue.cc, wire the queue, the sink, the logger and the flusher
// thread together; AuditLog itself (audit_log.h) uses the queue only through
// Push(), TakeSpare() and WriteAll().
#pragma once

#include <cstddef>
#include <cstdio>
#include <deque>
#include <mutex>
#include <utility>
#include <vector>

#include "proxy/server/audit_log.h"

namespace gatehouse::server {

// Batches handed over by TryHandOver, written by the logger's worker in the
// order they came. A batch is a thread's whole buffer: its first `used`
// bytes are complete lines, each ending in '\n'; the rest is room. Written
// buffers come back as spares, so a thread that takes one does not allocate.
class AuditBatchQueue {
 public:
  explicit AuditBatchQueue(std::FILE* out) : out_(out) {}

  void Push(AuditLineBuffer buffer, std::size_t used) {
    std::lock_guard lock(mu_);
    ready_.push_back({std::move(buffer), used});
  }
  // A written buffer (its old bytes are room, never written again), or an
  // empty one when none came back yet.
  AuditLineBuffer TakeSpare() {
    std::lock_guard lock(mu_);
    if (spares_.empty()) return {};
    AuditLineBuffer spare = std::move(spares_.back());
    spares_.pop_back();
    return spare;
  }
  // Every waiting batch, oldest first (one writer: the logger's worker, or
  // the destructor once the worker is gone), then a flush of the stream.
  void WriteAll() {
    std::unique_lock lock(mu_);
    while (!ready_.empty()) {
      Batch batch = std::move(ready_.front());
      ready_.pop_front();
      lock.unlock();
      std::fwrite(batch.buffer.bytes.get(), 1, batch.used, out_);
      lock.lock();
      if (spares_.size() < kMaxSpares) spares_.push_back(std::move(batch.buffer));
    }
    lock.unlock();
    std::fflush(out_);
  }
  void Flush() { std::fflush(out_); }

 private:
  struct Batch {
    AuditLineBuffer buffer;
    std::size_t used;
  };
  static constexpr std::size_t kMaxSpares = 4;
  std::FILE* const out_;
  std::mutex mu_;
  std::deque<Batch> ready_;
  std::vector<AuditLineBuffer> spares_;
};

}  // namespace gatehouse::server
