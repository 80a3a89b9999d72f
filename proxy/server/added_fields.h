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
//
// Security: the only way in is Add(), which refuses a name that is not an
// RFC 9110 token, a value holding a byte outside visible ASCII and space
// (CR, LF, NUL, HTAB, other controls, DEL, non-ASCII), and a name already
// present (any casing), so every line in text() is safe to put on the wire
// and each added name carries exactly one value. Bounded: 16 names, 16 KiB. The caller still strips
// the client's copies of these names from the request first (identity_headers.h). Header-only: the
// gate and the data path both use it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

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

}  // namespace added_fields_internal

// An RFC 9110 token, e.g. a field name or a method (one table lookup per byte).
inline bool IsHttpToken(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!added_fields_internal::kTokenChar[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

class AddedFields {
 public:
  // At most this many names, and this many bytes in all (the gate adds 8).
  static constexpr std::size_t kMaxFields = 16;
  static constexpr std::size_t kMaxBytes = 16 * 1024;

  // Appends "name: value" CRLF. False, and nothing appended, when the name is
  // not a token, the value has an unsafe byte, the name is already there or
  // the limits above would be passed.
  bool Add(std::string_view name, std::string_view value) {
    if (count_ == kMaxFields || !IsHttpToken(name) || !IsSafeValue(value) ||
        text_.size() + name.size() + value.size() + 4 > kMaxBytes || Find(name).has_value()) {
      return false;
    }
    if (text_.capacity() < kInitialBytes) text_.reserve(kInitialBytes);  // one allocation
    Span& span = spans_[count_++];
    span.name_at = static_cast<uint16_t>(text_.size());
    span.name_size = static_cast<uint16_t>(name.size());
    text_.append(name);
    text_.append(": ", 2);
    span.value_at = static_cast<uint16_t>(text_.size());
    span.value_size = static_cast<uint16_t>(value.size());
    text_.append(value);
    text_.append("\r\n", 2);
    return true;
  }

  // The value added under `name` (ASCII case-insensitive), or nullopt.
  std::optional<std::string_view> Find(std::string_view name) const {
    const std::string_view text = text_;
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
  std::string_view text() const { return text_; }
  bool empty() const { return text_.empty(); }
  void clear() {
    text_.clear();
    count_ = 0;
  }

  // Visible ASCII and space only (HTAB too is refused: no value the gate
  // adds has one). Eight bytes per step: an assertion is ~600 bytes.
  static bool IsSafeValue(std::string_view value) {
    constexpr uint64_t kOnes = 0x0101010101010101ull;
    constexpr uint64_t kHighs = 0x8080808080808080ull;
    std::size_t i = 0;
    for (; i + 8 <= value.size(); i += 8) {
      uint64_t w;
      std::memcpy(&w, value.data() + i, 8);
      // A byte below 0x20, or at/above 0x7f, sets its high bit here.
      const uint64_t below = (w - kOnes * 0x20) & ~w;
      const uint64_t above = (w + kOnes * 0x01) | w;
      if (((below | above) & kHighs) != 0) return false;
    }
    for (; i < value.size(); ++i) {
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

  static bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      const auto x = static_cast<unsigned char>(a[i]);
      const auto y = static_cast<unsigned char>(b[i]);
      if (x == y) continue;
      const unsigned lx = x | 0x20u;
      if (lx != (y | 0x20u) || lx < 'a' || lx > 'z') return false;
    }
    return true;
  }

  std::string text_;
  std::array<Span, kMaxFields> spans_{};
  std::size_t count_ = 0;
};

}  // namespace gatehouse::server
