#include "proxy/server/audit_batch_queue.h"

#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <stop_token>
#include <thread>
#include <utility>

namespace gatehouse::server {
namespace {

// The async logger's sink for ToFile(): a message only says "batches are
// waiting" (its text is ignored); the batches themselves never pass through
// spdlog's message buffers or formatter.
class BatchSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit BatchSink(std::shared_ptr<AuditBatchQueue> batches) : batches_(std::move(batches)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg&) override { batches_->WriteAll(); }
  void flush_() override { batches_->Flush(); }

 private:
  std::shared_ptr<AuditBatchQueue> batches_;
};

}  // namespace

std::unique_ptr<AuditLog> AuditLog::Stdout(AuditBatchLimits limits) {
  return ToFile(stdout, limits);
}

std::unique_ptr<AuditLog> AuditLog::ToFile(std::FILE* out, AuditBatchLimits limits) {
  // The queue holds batches, not lines; one slot more than the hand-over
  // limit, so spdlog's own overflow policy never has to act.
  auto pool = std::make_shared<spdlog::details::thread_pool>(limits.max_queued_batches + 1, 1);
  auto batches = std::make_shared<AuditBatchQueue>(out);
  auto logger = std::make_shared<spdlog::async_logger>(
      "gatehouse.audit", std::make_shared<BatchSink>(batches), pool,
      spdlog::async_overflow_policy::overrun_oldest);
  // No flush per message: stdio's buffer and the flusher below batch the
  // write(2)s, so an idle proxy's last lines still appear within flush_interval.
  logger->flush_on(spdlog::level::off);
  auto log = std::make_unique<AuditLog>(std::move(logger), std::move(pool), limits);
  log->handed_ = std::move(batches);
  log->flusher_ = std::jthread([raw = log.get()](std::stop_token stop) {
    std::mutex mu;
    std::condition_variable_any wake;
    std::unique_lock lock(mu);
    while (!stop.stop_requested()) {
      wake.wait_for(lock, stop, raw->limits_.flush_interval, [] { return false; });
      raw->HandOverAll(/*wait_for_room=*/false);
      // Flushed only when something was written since: an idle proxy's
      // logger worker stays asleep. No room now: the next round flushes.
      if (raw->unflushed_.exchange(false, std::memory_order_relaxed) &&
          !raw->FlushLogger(/*wait_for_room=*/false)) {
        raw->unflushed_.store(true, std::memory_order_relaxed);
      }
    }
  });
  return log;
}

}  // namespace gatehouse::server
