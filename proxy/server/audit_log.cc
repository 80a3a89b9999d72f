#include "proxy/server/audit_log.h"

#include <spdlog/async.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iterator>
#include <mutex>
#include <utility>
#include <vector>

#include "proxy/core/utf8.h"
#include "proxy/server/audit_batch_queue.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace gatehouse::server {
namespace {

// The line is written through a raw pointer into room reserved up front
// (AuditLineBound): no per-byte capacity checks, no temporaries.
char* WriteHex4(char* p, unsigned value) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::memcpy(p, "\\u00", 4);
  p[4] = kHex[(value >> 4) & 0xf];
  p[5] = kHex[value & 0xf];
  return p + 6;
}

bool IsPlainJsonByte(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

// End of the run of plain bytes (printable ASCII but '"' and '\') from `i`,
// sixteen bytes per step with GCC/Clang vector extensions (nearly every byte
// of a real line is plain). A short rest is padded with plain bytes, so a
// short string costs one step, not a loop over its bytes.
size_t PlainRunEnd(std::string_view s, size_t i) {
  using Bytes = unsigned char __attribute__((vector_size(16)));
  using Mask = signed char __attribute__((vector_size(16)));
  while (i < s.size()) {
    const size_t n = std::min<size_t>(16, s.size() - i);
    Bytes v;
    if (n == 16) {
      std::memcpy(&v, s.data() + i, sizeof(v));
    } else {
      unsigned char padded[16];
      std::memset(padded, 'a', sizeof(padded));
      std::memcpy(padded, s.data() + i, n);
      std::memcpy(&v, padded, sizeof(v));
    }
    // v - 0x20 < 0x5f  <=>  0x20 <= v < 0x7f (unsigned wrap-around).
    const Mask ok = ((v - static_cast<unsigned char>(0x20)) < 0x5f) & (v != '"') & (v != '\\');
    uint64_t halves[2];
    std::memcpy(halves, &ok, sizeof(halves));
    if ((halves[0] & halves[1]) == ~uint64_t{0}) {
      i += n;
      continue;
    }
    // The first byte that is not plain ends the run.
    while (IsPlainJsonByte(s[i])) ++i;
    return i;
  }
  return i;
}

// At most 6 output bytes per input byte (\u00XX) plus the quotes.
constexpr size_t StringBound(std::string_view s) { return 6 * s.size() + 2; }

uint64_t Load8(const char* p) {
  uint64_t w;
  std::memcpy(&w, p, sizeof(w));
  return w;
}

uint32_t Load4(const char* p) {
  uint32_t w;
  std::memcpy(&w, p, sizeof(w));
  return w;
}

#if defined(__SSE2__)
// Sixteen bytes at once: every byte in 0x20-0x7e and none '"' or '\'.
bool PlainBlock(__m128i v) {
  // b + 0x60 maps 0x20..0x7e onto -128..-34 (signed) and every other byte
  // above that: one signed compare tests the range.
  const __m128i in_range = _mm_cmplt_epi8(_mm_add_epi8(v, _mm_set1_epi8(0x60)), _mm_set1_epi8(-33));
  const __m128i special =
      _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
  return _mm_movemask_epi8(_mm_andnot_si128(special, in_range)) == 0xffff;
}
bool PlainWords(uint64_t low, uint64_t high) {
  return PlainBlock(_mm_set_epi64x(static_cast<int64_t>(high), static_cast<int64_t>(low)));
}
#else
bool PlainWord(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHighs = 0x8080808080808080ull;
  const auto has_zero = [](uint64_t v) { return (v - kOnes) & ~v & kHighs; };
  const uint64_t below = (w - kOnes * 0x20) & ~w;  // a byte < 0x20 sets its high bit
  const uint64_t above = (w + kOnes) | w;          // a byte >= 0x7f sets its high bit
  return (((below | above) & kHighs) | has_zero(w ^ (kOnes * '"')) |
          has_zero(w ^ (kOnes * '\\'))) == 0;
}
bool PlainWords(uint64_t low, uint64_t high) { return PlainWord(low) && PlainWord(high); }
#endif

// The whole string when it is plain (nearly every field of a real line), in
// whole blocks whose last one overlaps the one before (a string of 8-15
// bytes is two overlapping words, 4-7 bytes two overlapping halves): no
// byte-by-byte tail, no padding copy. False otherwise; the caller then
// writes the string again from `p`, escaping.
inline __attribute__((always_inline)) bool WritePlain(char* p, std::string_view s) {
  const size_t n = s.size();
#if defined(__SSE2__)
  if (n >= 16) {
    for (size_t i = 0;; i += 16) {
      if (i + 16 > n) i = n - 16;
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i));
      if (!PlainBlock(v)) return false;
      _mm_storeu_si128(reinterpret_cast<__m128i*>(p + i), v);
      if (i + 16 == n) return true;
    }
  }
#else
  if (n >= 16) {
    for (size_t i = 0;; i += 16) {
      if (i + 16 > n) i = n - 16;
      const uint64_t low = Load8(s.data() + i);
      const uint64_t high = Load8(s.data() + i + 8);
      if (!PlainWords(low, high)) return false;
      std::memcpy(p + i, &low, 8);
      std::memcpy(p + i + 8, &high, 8);
      if (i + 16 == n) return true;
    }
  }
#endif
  if (n >= 8) {
    const uint64_t low = Load8(s.data());
    const uint64_t high = Load8(s.data() + n - 8);
    if (!PlainWords(low, high)) return false;
    std::memcpy(p, &low, 8);
    std::memcpy(p + n - 8, &high, 8);
    return true;
  }
  if (n >= 4) {
    const uint32_t low = Load4(s.data());
    const uint32_t high = Load4(s.data() + n - 4);
    const uint64_t both = uint64_t{low} | uint64_t{high} << 32;
    if (!PlainWords(both, both)) return false;
    std::memcpy(p, &low, 4);
    std::memcpy(p + n - 4, &high, 4);
    return true;
  }
  for (size_t i = 0; i < n; ++i) {
    if (!IsPlainJsonByte(s[i])) return false;
    p[i] = s[i];
  }
  return true;
}

// `s` escaped (without the quotes). Out of line: the rare path.
__attribute__((noinline)) char* WriteEscaped(char* p, std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t run = PlainRunEnd(s, i);
    std::memcpy(p, s.data() + i, run - i);
    p += run - i;
    i = run;
    if (i == s.size()) break;
    // Security: every other byte is escaped or replaced, so no client-sent
    // byte can end the string, the line, or make the line invalid UTF-8.
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      *p++ = '\\';
      *p++ = static_cast<char>(c);
      ++i;
    } else if (c < 0x20 || c == 0x7f) {
      p = WriteHex4(p, c);
      ++i;
    } else if (size_t n = Utf8SequenceLength(s, i); n > 0) {
      std::memcpy(p, s.data() + i, n);
      p += n;
      i += n;
    } else {
      std::memcpy(p, "\\ufffd", 6);  // invalid byte: replaced, never passed through
      p += 6;
      ++i;
    }
  }
  return p;
}

// A JSON string. Inlined into the line writer: twelve calls per line.
inline __attribute__((always_inline)) char* WriteString(char* p, std::string_view s) {
  *p++ = '"';
  p = WritePlain(p, s) ? p + s.size() : WriteEscaped(p, s);
  *p++ = '"';
  return p;
}

template <size_t N>
char* WriteLiteral(char* p, const char (&text)[N]) {
  std::memcpy(p, text, N - 1);
  return p + N - 1;
}

constexpr size_t kIntBound = 24;

char* WriteInt(char* p, int64_t value) {
  const auto [end, ec] = std::to_chars(p, p + kIntBound, value);
  return ec == std::errc() ? end : p;
}

constexpr size_t kTimestampBound = 96;

char* WriteRfc3339Millis(char* p, std::chrono::system_clock::time_point ts) {
  const int64_t total_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(ts.time_since_epoch()).count();
  // Floor division: a time before 1970 still gets milliseconds in [0, 999].
  const int64_t seconds = total_ms / 1000 - (total_ms % 1000 < 0 ? 1 : 0);
  const int millis = static_cast<int>(total_ms - seconds * 1000);
  // Formatting the date costs a gmtime and a printf: done once per second per
  // thread, the milliseconds are appended by hand.
  thread_local bool cache_valid = false;
  thread_local int64_t cached_seconds = 0;
  thread_local char cached[80];
  thread_local std::size_t cached_length = 0;
  if (!cache_valid || seconds != cached_seconds) {
    const std::time_t t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    const int n =
        std::snprintf(cached, sizeof(cached), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached_length =
        static_cast<std::size_t>(std::clamp(n, 0, static_cast<int>(sizeof(cached)) - 1));
    cached_seconds = seconds;
    cache_valid = true;
  }
  std::memcpy(p, cached, cached_length);
  p += cached_length;
  const char frac[] = {'.', static_cast<char>('0' + millis / 100),
                       static_cast<char>('0' + millis / 10 % 10),
                       static_cast<char>('0' + millis % 10), 'Z'};
  std::memcpy(p, frac, sizeof(frac));
  return p + sizeof(frac);
}

std::atomic<uint64_t> next_log_id{1};
constexpr int kShutdownWaitMs = 5000;

}  // namespace

std::string FormatRfc3339Millis(std::chrono::system_clock::time_point ts) {
  std::string out(kTimestampBound, '\0');
  out.resize(static_cast<size_t>(WriteRfc3339Millis(out.data(), ts) - out.data()));
  return out;
}

std::string FormatAuditLine(const AuditRecord& r) {
  std::string out;
  AppendAuditLine(out, r);
  return out;
}

// The keys with their punctuation, spelled once from audit_fields.
#define GATEHOUSE_AUDIT_KEY(prefix, name) prefix "\"" name "\":"

namespace {

// Never the query: it may carry secrets (?token=..., signed URLs).
std::string_view PathWithoutQuery(std::string_view path) { return path.substr(0, path.find('?')); }

// Room WriteAuditLine may use for `r` (an upper bound).
size_t AuditLineBound(const AuditRecord& r) {
  const std::string_view strings[] = {r.request_id, r.policy, r.rule,      r.decision,
                                      r.reason,     r.sub,    r.email,     r.method,
                                      r.host,       r.path,   r.client_ip, r.token_id};
  size_t bound = 256 + kTimestampBound + 3 * kIntBound;  // keys, punctuation, numbers
  for (std::string_view s : strings) bound += StringBound(s);
  return bound;
}

// Writes the line at `p` (AuditLineBound(r) bytes of room); returns its end.
char* WriteAuditLine(char* p, const AuditRecord& r) {
  namespace f = audit_fields;
  const std::string_view path = PathWithoutQuery(r.path);
  static_assert(f::kTs == "ts" && f::kRequestId == "request_id" && f::kPolicy == "policy" &&
                f::kRule == "rule" && f::kDecision == "decision" && f::kReason == "reason" &&
                f::kSub == "sub" && f::kEmail == "email" && f::kMethod == "method" &&
                f::kHost == "host" && f::kPath == "path" && f::kStatus == "status" &&
                f::kClientIp == "client_ip" && f::kTokenId == "token_id" &&
                f::kGateUs == "gate_us" && f::kUpstreamMs == "upstream_ms");
  p = WriteLiteral(p, GATEHOUSE_AUDIT_KEY("{", "ts") "\"");
  p = WriteRfc3339Millis(p, r.ts);
  p = WriteLiteral(p, "\"" GATEHOUSE_AUDIT_KEY(",", "request_id"));
  p = WriteString(p, r.request_id);
  p = WriteLiteral(p, GATEHOUSE_AUDIT_KEY(",", "policy"));
  p = WriteString(p, r.policy);
  p = WriteLiteral(p, GATEHOUSE_AUDIT_KEY(",", "rule"));
  p = WriteString(p, r.rule);
  p = WriteLiteral(p, GATEHOUSE_AUDIT_KEY(",", "decision"));
  p = WriteString(p, r.decision);
  p = WriteLiteral(p, GATEHOUSE_AUDIT_KEY(",", "reason"));
  p = WriteString(p, r.reason);
  p = WriteLiteral(p, GATEHOUSE_AUDIT_KEY(",", "sub"));
  p = WriteString(p, r.sub);
  p = WriteLiteral(p, GATEHOUSE_AUDIT_KEY(",", "email"));
  p = WriteString(p, r.email);
  p = WriteLiteral(p, GATEHOUSE_AUDIT_KEY(",", "method"));
  p = WriteString(p, r.method);
  p = WriteLiteral(p, GATEHOUSE_AUDIT_KEY(",", "host"));
  p = WriteString(p, r.host);
  p = WriteLiteral(p, GATEHOUSE_AUDIT_KEY(",", "path"));
  p = WriteString(p, path);
  p = WriteLiteral(p, GATEHOUSE_AUDIT_KEY(",", "status"));
  p = WriteInt(p, r.status);
  p = WriteLiteral(p, GATEHOUSE_AUDIT_KEY(",", "client_ip"));
  p = WriteString(p, r.client_ip);
  p = WriteLiteral(p, GATEHOUSE_AUDIT_KEY(",", "token_id"));
  p = WriteString(p, r.token_id);
  p = WriteLiteral(p, GATEHOUSE_AUDIT_KEY(",", "gate_us"));
  p = WriteInt(p, r.gate_us);
  p = WriteLiteral(p, GATEHOUSE_AUDIT_KEY(",", "upstream_ms"));
  p = WriteInt(p, r.upstream_ms);
  *p++ = '}';
  return p;
}

}  // namespace

#undef GATEHOUSE_AUDIT_KEY

void AppendAuditLine(std::string& out, const AuditRecord& r) {
  const size_t start = out.size();
  out.resize(start + AuditLineBound(r));
  char* end = WriteAuditLine(out.data() + start, r);
  out.resize(static_cast<size_t>(end - out.data()));
}

AuditLog::AuditLog(std::shared_ptr<spdlog::logger> logger,
                   std::shared_ptr<spdlog::details::thread_pool> pool, AuditBatchLimits limits)
    : id_(next_log_id.fetch_add(1, std::memory_order_relaxed)),
      limits_(limits),
      pool_(std::move(pool)),
      logger_(std::move(logger)) {
  logger_->set_pattern("%v");  // the message is the line(s); spdlog adds the last newline
  logger_->set_level(spdlog::level::info);
}

AuditLog::~AuditLog() {
  if (flusher_.joinable()) {
    flusher_.request_stop();
    flusher_.join();
  }
  // Every pending line goes out: the queue is drained when the pool (ours
  // alone once the logger is gone) joins its worker.
  HandOverAll(/*wait_for_room=*/true);
  FlushLogger(/*wait_for_room=*/true);
  logger_.reset();
  pool_.reset();
  // The worker is gone; a batch whose message spdlog dropped is written now.
  if (handed_ != nullptr) handed_->WriteAll();
}

AuditLog::ThreadBuffer& AuditLog::BufferOfThisThread() {
  // A thread's buffer is found without a lock after its first line; the log's
  // id (never reused) keeps a cache entry from outliving its log.
  thread_local uint64_t cached_id = 0;
  thread_local ThreadBuffer* cached = nullptr;
  if (cached_id == id_) return *cached;
  const std::thread::id me = std::this_thread::get_id();
  std::lock_guard lock(buffers_mu_);
  auto it = std::find_if(buffers_.begin(), buffers_.end(),
                         [&](const auto& entry) { return entry.first == me; });
  if (it == buffers_.end()) {
    buffers_.emplace_back(me, std::make_unique<ThreadBuffer>());
    it = std::prev(buffers_.end());
  }
  cached_id = id_;
  cached = it->second.get();
  return *cached;
}

bool AuditLog::QueueFull() const {
  return pool_ && pool_->queue_size() >= limits_.max_queued_batches;
}

void AuditLog::Write(const AuditRecord& record) {
  ThreadBuffer& buffer = BufferOfThisThread();
  std::lock_guard lock(buffer.mu);
  // The line is written straight into the batch, in room made beforehand
  // (zero-filled once per growth, not once per line).
  const std::size_t room = AuditLineBound(record) + 1;  // and the newline
  if (buffer.used + room > buffer.lines.capacity) {
    // Doubling, from a batch's size, up to the bound a thread's lines may reach.
    std::size_t size = std::max(limits_.batch_bytes + 1024, 2 * buffer.lines.capacity);
    size = std::max(std::min(size, limits_.max_thread_bytes + room), buffer.used + room);
    AuditLineBuffer grown{std::unique_ptr<char[]>(new char[size]), size};
    if (buffer.used != 0) std::memcpy(grown.bytes.get(), buffer.lines.bytes.get(), buffer.used);
    buffer.lines = std::move(grown);
  }
  char* start = buffer.lines.bytes.get() + buffer.used;
  char* end = WriteAuditLine(start, record);
  *end++ = '\n';
  const auto line = static_cast<std::size_t>(end - start);
  if (buffer.used + line > limits_.max_thread_bytes) {
    // The logger cannot keep up (stdout blocked): discard and count rather
    // than grow without bound or block the event loop.
    discarded_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  buffer.used += line;
  // No room in the queue: the lines wait here for the next hand-over.
  if (buffer.used >= limits_.batch_bytes && !QueueFull()) TryHandOver(buffer);
}

bool AuditLog::TryHandOver(ThreadBuffer& buffer) {
  // The room check and the enqueue are one step: writers on several threads
  // that each saw room must not fill the queue past it together, or spdlog's
  // overflow policy would drop a batch (the queue has one slot more than
  // max_queued_batches, kept for the flush message).
  std::lock_guard lock(enqueue_mu_);
  if (buffer.used == 0 || QueueFull()) return false;
  try {
    if (handed_ != nullptr) {
      // The batch itself moves to the sink (a spare of at least its size
      // takes its place here);
      // spdlog carries a one-byte message that wakes the worker.
      AuditLineBuffer next = handed_->TakeSpare();
      if (next.capacity < buffer.lines.capacity) {
        // None back from the worker yet: a new one, not zero-filled.
        next = {std::unique_ptr<char[]>(new char[buffer.lines.capacity]), buffer.lines.capacity};
      }
      handed_->Push(std::exchange(buffer.lines, std::move(next)), buffer.used);
      logger_->info("b");
    } else {
      // Without the last newline: spdlog ends the message with one.
      logger_->info(std::string_view(buffer.lines.bytes.get(), buffer.used - 1));
    }
  } catch (...) {
    // spdlog reports its own errors; an audit failure never fails a request.
  }
  buffer.used = 0;  // the room stays for the next batch
  unflushed_.store(true, std::memory_order_relaxed);
  return true;
}

void AuditLog::HandOverAll(bool wait_for_room) {
  std::lock_guard lock(buffers_mu_);
  for (auto& [thread, buffer] : buffers_) {
    // At shutdown the worker is given time to make room (bounded); otherwise
    // a full queue leaves the lines in the thread's buffer for the next round.
    for (int waited_ms = 0; wait_for_room && QueueFull() && waited_ms < kShutdownWaitMs;
         ++waited_ms) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::lock_guard buffer_lock(buffer->mu);
    TryHandOver(*buffer);
  }
}

bool AuditLog::FlushLogger(bool wait_for_room) {
  // The flush is a message in the same queue: it takes the slot batches leave
  // free, and waits (bounded, never on an event loop) when that one is taken.
  for (int waited_ms = 0;; ++waited_ms) {
    {
      std::lock_guard lock(enqueue_mu_);
      if (!pool_ || pool_->queue_size() <= limits_.max_queued_batches) {
        try {
          logger_->flush();
        } catch (...) {
        }
        return true;
      }
    }
    if (!wait_for_room || waited_ms >= kShutdownWaitMs) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void AuditLog::Flush() {
  HandOverAll(/*wait_for_room=*/true);
  FlushLogger(/*wait_for_room=*/true);
}

uint64_t AuditLog::dropped() const {
  return discarded_.load(std::memory_order_relaxed) + (pool_ ? pool_->overrun_counter() : 0);
}

}  // namespace gatehouse::server
