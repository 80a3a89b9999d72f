// AddedFields: the header fields the gate adds to a forwarded request
// (X-Forwarded-*, X-Request-Id, the identity headers, the assertion), kept as
// ready-to-send "Name: value" CRLF lines instead of being inserted into
// Beast's field container (a tree insert, an allocation and a free per field,
// ~500 instructions each). The head writer appends them after the request's
// own fields (head_writer.h AppendRequestHead).
//
//   AddedFields added;
//   added.Add("X-Request-Id", id);           // false: refused, nothing written
//   added.Find("x-request-id");              // -> "abc..." (case-insensitive)
//   out.append(added.text());                // what the upstream receives
//   added.AddKnown("X-Forwarded-Proto", "https");   // name checked at compile time
//   added.AddAll(other);                     // lines built earlier by Add(), e.g. cached
//
// Security: the only ways in are Add() and AddKnown(), which refuse a name
// that is not an RFC 9110 token (AddKnown's names are checked when the
// program is compiled), a value holding a byte outside visible ASCII and
// space (CR, LF, NUL, HTAB, other controls, DEL, non-ASCII), and a name
// already present (any casing); AddAll() copies lines that came in that way
// and refuses a name already present too. So every line in text() is safe to
// put on the wire and each added name carries exactly one value. Bounded: 16
// names, 16 KiB. The caller still strips the client's copies of these names
// from the request first (identity_headers.h). Header-only: the gate and the
// data path both use it. The text buffer of a destroyed AddedFields is kept
// as its thread's spare (one per thread), so a request's fields cost no
// allocation; text() never shows more than the lines added to this object.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace gatehouse::server {
namespace added_fields_internal {

// RFC 9110 5.1 token characters.
constexpr std::array<bool, 256> MakeTokenTable() {
  std::array<bool, 256> table{};
  for (int c = '0'; c <= '9'; ++c) table[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) table[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) table[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) table[static_cast<unsigned char>(c)] = true;
  return table;
}

inline constexpr std::array<bool, 256> kTokenChar = MakeTokenTable();

// One spare text buffer per thread: the buffer of a destroyed AddedFields is
// kept for the next one, so a request's fields cost no allocation (the
// verdict that carries them dies on the same event loop that makes the
// next). At most one kInitialBytes buffer per thread.
//
// Trivially destructible on purpose: an AddedFields held by another
// thread_local (a per-thread line cache) may die after the thread's spare
// was freed, in whatever order the thread's destructors run. The reaper
// frees the spare when the thread ends and marks it reaped; a buffer
// released after that is freed at once instead of kept (it would leak).
struct SpareFieldBuffer {
  char* data = nullptr;
  bool reaped = false;
};
inline thread_local SpareFieldBuffer spare_field_buffer;

struct SpareFieldReaper {
  ~SpareFieldReaper() {
    delete[] spare_field_buffer.data;
    spare_field_buffer.data = nullptr;
    spare_field_buffer.reaped = true;
  }
};
inline thread_local SpareFieldReaper spare_field_reaper;

// Keeps `data` as this thread's spare; false when it cannot (one is kept
// already, or the thread is ending): the caller frees it.
inline bool KeepAsSpare(char* data) {
  SpareFieldBuffer& spare = spare_field_buffer;
  if (spare.data != nullptr || spare.reaped) return false;
  [[maybe_unused]] SpareFieldReaper* reaper = &spare_field_reaper;  // frees it at thread exit
  spare.data = data;
  return true;
}

}  // namespace added_fields_internal

// An RFC 9110 token, e.g. a field name or a method (one table lookup per byte).
constexpr bool IsHttpToken(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!added_fields_internal::kTokenChar[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

// A field name that is an RFC 9110 token, checked when the program is
// compiled: a literal that is not a token does not compile. For the gate's
// own fixed names, so Add() need not scan them again on every request.
class KnownFieldName {
 public:
  consteval KnownFieldName(const char* name) : name_(name) {  // NOLINT: implicit by design
    if (!IsHttpToken(name_)) throw "not an RFC 9110 token";   // a compile error
  }
  constexpr std::string_view view() const { return name_; }

 private:
  std::string_view name_;
};

class AddedFields {
 public:
  // At most this many names, and this many bytes in all (the gate adds 8).
  static constexpr std::size_t kMaxFields = 16;
  static constexpr std::size_t kMaxBytes = 16 * 1024;

  AddedFields() = default;
  ~AddedFields() { Release(); }
  AddedFields(AddedFields&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)),
        capacity_(std::exchange(other.capacity_, 0)),
        count_(std::exchange(other.count_, 0)),
        name_bits_(std::exchange(other.name_bits_, 0)),
        spans_(other.spans_) {}
  AddedFields& operator=(AddedFields&& other) noexcept {
    if (this != &other) {
      Release();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
      capacity_ = std::exchange(other.capacity_, 0);
      count_ = std::exchange(other.count_, 0);
      name_bits_ = std::exchange(other.name_bits_, 0);
      spans_ = other.spans_;
    }
    return *this;
  }
  AddedFields(const AddedFields& other) { *this = other; }
  AddedFields& operator=(const AddedFields& other) {
    if (this != &other) {
      clear();
      AddAll(other);
    }
    return *this;
  }

  // Appends "name: value" CRLF. False, and nothing appended, when the name is
  // not a token, the value has an unsafe byte, the name is already there or
  // the limits above would be passed.
  bool Add(std::string_view name, std::string_view value) {
    return IsHttpToken(name) && AddTokenName(name, value);
  }
  // The same for a name known to be a token (checked at compile time).
  // Inlined: the name's length and bytes are then constants at the caller.
  inline __attribute__((always_inline)) bool AddKnown(KnownFieldName name, std::string_view value) {
    return AddTokenName(name.view(), value);
  }

  // Appends every line of `other`, in order: all of them, or (false) none
  // when a name is already here or the limits would be passed. Each line of
  // `other` went through Add(), so its name and value are already checked.
  bool AddAll(const AddedFields& other) {
    if (count_ + other.count_ > kMaxFields || size_ + other.size_ > kMaxBytes) return false;
    const std::string_view other_text = other.text();
    // No shared name bit: no name of `other` is here (the usual case).
    if ((name_bits_ & other.name_bits_) != 0) {
      for (std::size_t i = 0; i < other.count_; ++i) {
        const Span& span = other.spans_[i];
        if (Find(other_text.substr(span.name_at, span.name_size)).has_value()) return false;
      }
    }
    char* p = Room(other.size_);
    const auto shift = static_cast<uint16_t>(size_);
    for (std::size_t i = 0; i < other.count_; ++i) {
      Span span = other.spans_[i];
      span.name_at = static_cast<uint16_t>(span.name_at + shift);
      span.value_at = static_cast<uint16_t>(span.value_at + shift);
      spans_[count_++] = span;
    }
    name_bits_ |= other.name_bits_;
    if (other.size_ != 0) std::memcpy(p, other.data_, other.size_);
    size_ += other.size_;
    return true;
  }

  // The value added under `name` (ASCII case-insensitive), or nullopt.
  std::optional<std::string_view> Find(std::string_view name) const {
    if (name.empty() || (name_bits_ & NameBit(name)) == 0) return std::nullopt;
    const std::string_view text = this->text();
    for (std::size_t i = 0; i < count_; ++i) {
      const Span& span = spans_[i];
      if (span.name_size == name.size() &&
          EqualsIgnoreCase(text.substr(span.name_at, span.name_size), name)) {
        return text.substr(span.value_at, span.value_size);
      }
    }
    return std::nullopt;
  }

  // Every added line, each ending in CRLF ("" when none).
  std::string_view text() const { return {data_ == nullptr ? "" : data_, size_}; }
  bool empty() const { return size_ == 0; }
  void clear() {
    size_ = 0;
    count_ = 0;
    name_bits_ = 0;
  }

  // Visible ASCII and space only (HTAB too is refused: no value the gate
  // adds has one). Sixteen bytes per step (SSE2), else eight: an assertion
  // is ~600 bytes, a request id 32.
  static bool IsSafeValue(std::string_view value) {
    constexpr uint64_t kOnes = 0x0101010101010101ull;
    constexpr uint64_t kHighs = 0x8080808080808080ull;
    const auto unsafe = [](uint64_t w) {
      // A byte below 0x20, or at/above 0x7f, sets its high bit here.
      const uint64_t below = (w - kOnes * 0x20) & ~w;
      const uint64_t above = (w + kOnes * 0x01) | w;
      return ((below | above) & kHighs) != 0;
    };
#if defined(__SSE2__)
    if (value.size() >= 16) {
      // b + 0x60 maps 0x20..0x7e onto -128..-34 (signed) and every other
      // byte above that: one signed compare tests the range. The last step
      // overlaps the one before: no byte-by-byte tail.
      const __m128i shift = _mm_set1_epi8(0x60);
      const __m128i limit = _mm_set1_epi8(-33);
      for (std::size_t i = 0;; i += 16) {
        if (i + 16 > value.size()) i = value.size() - 16;
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(value.data() + i));
        if (_mm_movemask_epi8(_mm_cmplt_epi8(_mm_add_epi8(v, shift), limit)) != 0xffff) {
          return false;
        }
        if (i + 16 == value.size()) return true;
      }
    }
#endif
    if (value.size() >= 8) {
      // The last step overlaps the one before: no byte-by-byte tail.
      for (std::size_t i = 0;; i += 8) {
        if (i + 8 > value.size()) i = value.size() - 8;
        if (unsafe(Load8(value.data() + i))) return false;
        if (i + 8 == value.size()) return true;
      }
    }
    for (std::size_t i = 0; i < value.size(); ++i) {
      const auto u = static_cast<unsigned char>(value[i]);
      if (u < 0x20 || u > 0x7e) return false;
    }
    return true;
  }

 private:
  static constexpr std::size_t kInitialBytes = 1024;
  struct Span {
    uint16_t name_at = 0, name_size = 0, value_at = 0, value_size = 0;
  };

  // From the length and the last byte (case folded); `name` is not empty.
  static uint64_t NameBit(std::string_view name) {
    const auto last = static_cast<unsigned char>(name.back()) | 0x20u;
    return uint64_t{1} << ((name.size() * 7 + last) & 63);
  }

  static uint64_t Load8(const char* p) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    return w;
  }

  // Add() once the name is known to be a token.
  // Inlined: the gate's fixed names are then copied as constants.
  inline __attribute__((always_inline)) bool AddTokenName(std::string_view name,
                                                          std::string_view value) {
    const std::size_t line = name.size() + value.size() + 4;
    if (count_ == kMaxFields || !IsSafeValue(value) || size_ + line > kMaxBytes ||
        Find(name).has_value()) {
      return false;
    }
    char* p = Room(line);
    Span& span = spans_[count_++];
    span.name_at = static_cast<uint16_t>(size_);
    span.name_size = static_cast<uint16_t>(name.size());
    span.value_at = static_cast<uint16_t>(size_ + name.size() + 2);
    span.value_size = static_cast<uint16_t>(value.size());
    std::memcpy(p, name.data(), name.size());
    p += name.size();
    std::memcpy(p, ": ", 2);
    p += 2;
    if (!value.empty()) std::memcpy(p, value.data(), value.size());
    p += value.size();
    std::memcpy(p, "\r\n", 2);
    size_ += line;
    name_bits_ |= NameBit(name);
    return true;
  }

  // Where `bytes` more go (size_ + bytes <= kMaxBytes); size_ is not changed.
  char* Room(std::size_t bytes) {
    if (size_ + bytes > capacity_) {
      std::size_t capacity = capacity_ == 0 ? kInitialBytes : 2 * capacity_;
      while (capacity < size_ + bytes) capacity *= 2;
      char* data = nullptr;
      if (capacity == kInitialBytes && added_fields_internal::spare_field_buffer.data != nullptr) {
        data = std::exchange(added_fields_internal::spare_field_buffer.data, nullptr);
      } else {
        data = new char[capacity];
      }
      if (size_ != 0) std::memcpy(data, data_, size_);
      Release();
      data_ = data;
      capacity_ = capacity;
    }
    return data_ + size_;
  }

  // Frees the buffer, or keeps it as this thread's spare.
  void Release() {
    if (data_ == nullptr) return;
    if (capacity_ != kInitialBytes || !added_fields_internal::KeepAsSpare(data_)) delete[] data_;
    data_ = nullptr;
    capacity_ = 0;
  }

  static bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    // Quick reject, eight bytes per step (the last step overlaps): bytes that
    // differ in a bit other than the case bit (0x20) never match. The exact
    // test below runs only for names this cannot tell apart.
    constexpr uint64_t kCaseBits = 0x2020202020202020ull;
    if (a.size() >= 8) {
      for (std::size_t i = 0;; i += 8) {
        if (i + 8 > a.size()) i = a.size() - 8;
        if (((Load8(a.data() + i) ^ Load8(b.data() + i)) & ~kCaseBits) != 0) return false;
        if (i + 8 == a.size()) break;
      }
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
      const auto x = static_cast<unsigned char>(a[i]);
      const auto y = static_cast<unsigned char>(b[i]);
      if (x == y) continue;
      const unsigned lx = x | 0x20u;
      if (lx != (y | 0x20u) || lx < 'a' || lx > 'z') return false;
    }
    return true;
  }

  char* data_ = nullptr;  // capacity_ bytes; the first size_ are the lines
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
  std::size_t count_ = 0;
  // One bit per added name, picked by NameBit(): names equal ignoring case
  // set the same bit, so a clear bit proves a name absent without a compare.
  uint64_t name_bits_ = 0;
  std::array<Span, kMaxFields> spans_{};
};

}  // namespace gatehouse::server
