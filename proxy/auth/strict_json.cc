#include "proxy/auth/strict_json.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>

#include "proxy/core/utf8.h"

namespace gatehouse::auth {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kMalformed = "malformed JSON";

// The UTF-8 bytes of one code point (a scalar value: surrogates never get here).
void AppendUtf8(uint32_t code, std::string* out) {
  if (code < 0x80) {
    out->push_back(static_cast<char>(code));
  } else if (code < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (code >> 6)));
    out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else if (code < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (code >> 12)));
    out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (code >> 18)));
    out->push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
  }
}

// A single-pass recursive-descent parser over the bytes (RFC 8259) that
// builds the nlohmann DOM in place. It accepts exactly what nlohmann's strict
// parser accepts (a leading UTF-8 BOM included; numbers typed the same way:
// unsigned, signed, or double when there is a fraction, an exponent or an
// integer overflow), and additionally refuses duplicate keys and nesting
// deeper than kMaxJsonDepth. Recursion is bounded by that depth.
class StrictParser {
 public:
  explicit StrictParser(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  std::string_view error() const { return error_; }

  bool ParseDocument(Json* out) {
    if (end_ - p_ >= 3 && static_cast<unsigned char>(p_[0]) == 0xEF &&
        static_cast<unsigned char>(p_[1]) == 0xBB && static_cast<unsigned char>(p_[2]) == 0xBF) {
      p_ += 3;
    }
    SkipWhitespace();
    if (!ParseValue(out, 0)) return false;
    SkipWhitespace();
    return p_ == end_ || Fail(kMalformed);  // exactly one value
  }

 private:
  bool Fail(std::string_view message) {
    if (error_.empty()) error_ = message;
    return false;
  }

  void SkipWhitespace() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  bool ParseValue(Json* out, int depth) {
    if (p_ == end_) return Fail(kMalformed);
    switch (*p_) {
      case '{':
        return ParseObject(out, depth);
      case '[':
        return ParseArray(out, depth);
      case '"': {
        std::string text;
        if (!ParseString(&text)) return false;
        *out = std::move(text);
        return true;
      }
      case 't':
        return ParseLiteral("true", Json(true), out);
      case 'f':
        return ParseLiteral("false", Json(false), out);
      case 'n':
        return ParseLiteral("null", Json(nullptr), out);
      default:
        return ParseNumber(out);
    }
  }

  bool ParseLiteral(std::string_view word, Json value, Json* out) {
    if (static_cast<size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word) {
      return Fail(kMalformed);
    }
    p_ += word.size();
    *out = std::move(value);
    return true;
  }

  bool ParseObject(Json* out, int depth) {
    if (depth >= kMaxJsonDepth) return Fail("JSON nested too deeply");
    ++p_;  // '{'
    *out = Json::object();
    auto& members = out->get_ref<Json::object_t&>();
    SkipWhitespace();
    if (p_ != end_ && *p_ == '}') {
      ++p_;
      return true;
    }
    while (true) {
      if (p_ == end_ || *p_ != '"') return Fail(kMalformed);
      std::string key;
      if (!ParseString(&key)) return false;
      // Security: a duplicate key is how two parsers are made to disagree
      // about the same signed bytes; reject instead of picking one.
      if (members.find(key) != members.end()) return Fail("duplicate object key");
      SkipWhitespace();
      if (p_ == end_ || *p_ != ':') return Fail(kMalformed);
      ++p_;
      SkipWhitespace();
      Json& slot = members.emplace(std::move(key), nullptr).first->second;
      if (!ParseValue(&slot, depth + 1)) return false;
      SkipWhitespace();
      if (p_ == end_) return Fail(kMalformed);
      if (*p_ == '}') {
        ++p_;
        return true;
      }
      if (*p_ != ',') return Fail(kMalformed);
      ++p_;
      SkipWhitespace();
    }
  }

  bool ParseArray(Json* out, int depth) {
    if (depth >= kMaxJsonDepth) return Fail("JSON nested too deeply");
    ++p_;  // '['
    *out = Json::array();
    auto& items = out->get_ref<Json::array_t&>();
    SkipWhitespace();
    if (p_ != end_ && *p_ == ']') {
      ++p_;
      return true;
    }
    while (true) {
      items.emplace_back(nullptr);
      if (!ParseValue(&items.back(), depth + 1)) return false;
      SkipWhitespace();
      if (p_ == end_) return Fail(kMalformed);
      if (*p_ == ']') {
        ++p_;
        return true;
      }
      if (*p_ != ',') return Fail(kMalformed);
      ++p_;
      SkipWhitespace();
    }
  }

  bool ParseString(std::string* out);
  bool ParseEscape(std::string* out);
  bool ParseHex4(uint32_t* value);
  bool CopyUtf8Sequence(std::string* out);
  bool ParseNumber(Json* out);

  const char* p_;
  const char* const end_;
  std::string_view error_;
};

// p_ at the opening quote. Printable ASCII runs are copied in one append;
// escapes and multi-byte UTF-8 are checked one sequence at a time.
bool StrictParser::ParseString(std::string* out) {
  ++p_;
  while (true) {
    const char* run = p_;
    while (p_ != end_) {
      const auto c = static_cast<unsigned char>(*p_);
      if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') break;
      ++p_;
    }
    out->append(run, static_cast<size_t>(p_ - run));
    if (p_ == end_) return Fail(kMalformed);  // unterminated
    const auto c = static_cast<unsigned char>(*p_);
    if (c == '"') {
      ++p_;
      return true;
    }
    if (c < 0x20) return Fail(kMalformed);  // raw control characters are not JSON
    if (c == '\\') {
      if (!ParseEscape(out)) return false;
    } else if (!CopyUtf8Sequence(out)) {
      return false;
    }
  }
}

bool StrictParser::ParseHex4(uint32_t* value) {
  if (end_ - p_ < 4) return Fail(kMalformed);
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    const char c = *p_++;
    v <<= 4;
    if (c >= '0' && c <= '9') {
      v |= static_cast<uint32_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      v |= static_cast<uint32_t>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      v |= static_cast<uint32_t>(c - 'A' + 10);
    } else {
      return Fail(kMalformed);
    }
  }
  *value = v;
  return true;
}

// p_ at the backslash.
bool StrictParser::ParseEscape(std::string* out) {
  ++p_;
  if (p_ == end_) return Fail(kMalformed);
  const char c = *p_++;
  switch (c) {
    case '"':
    case '\\':
    case '/':
      out->push_back(c);
      return true;
    case 'b':
      out->push_back('\b');
      return true;
    case 'f':
      out->push_back('\f');
      return true;
    case 'n':
      out->push_back('\n');
      return true;
    case 'r':
      out->push_back('\r');
      return true;
    case 't':
      out->push_back('\t');
      return true;
    case 'u':
      break;
    default:
      return Fail(kMalformed);
  }
  uint32_t code = 0;
  if (!ParseHex4(&code)) return false;
  if (code >= 0xDC00 && code <= 0xDFFF) return Fail(kMalformed);  // lone low surrogate
  if (code >= 0xD800 && code <= 0xDBFF) {
    // Security: a high surrogate must be followed by a low one; a lone half
    // would decode to bytes that are not UTF-8.
    uint32_t low = 0;
    if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return Fail(kMalformed);
    p_ += 2;
    if (!ParseHex4(&low)) return false;
    if (low < 0xDC00 || low > 0xDFFF) return Fail(kMalformed);
    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
  }
  AppendUtf8(code, out);
  return true;
}

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
// U+10FFFF, no stray continuation bytes. p_ at a lead byte >= 0x80.
bool StrictParser::CopyUtf8Sequence(std::string* out) {
  const std::size_t n =
      Utf8SequenceLength(std::string_view(p_, static_cast<std::size_t>(end_ - p_)), 0);
  if (n == 0) return Fail(kMalformed);
  out->append(p_, n);
  p_ += n;
  return true;
}

// RFC 8259 number grammar; typed as nlohmann types it: an integer without
// fraction or exponent is unsigned (or signed when negative) if it fits,
// anything else a double (underflow gives what strtod gives; a value that
// overflows to infinity is refused).
bool StrictParser::ParseNumber(Json* out) {
  const char* start = p_;
  bool is_integer = true;
  if (p_ != end_ && *p_ == '-') ++p_;
  auto digit = [this] { return p_ != end_ && *p_ >= '0' && *p_ <= '9'; };
  if (!digit()) return Fail(kMalformed);
  if (*p_ == '0') {
    ++p_;  // a leading zero stands alone ("01" is two values)
  } else {
    while (digit()) ++p_;
  }
  if (p_ != end_ && *p_ == '.') {
    is_integer = false;
    ++p_;
    if (!digit()) return Fail(kMalformed);
    while (digit()) ++p_;
  }
  if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
    is_integer = false;
    ++p_;
    if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
    if (!digit()) return Fail(kMalformed);
    while (digit()) ++p_;
  }
  if (is_integer) {
    if (*start == '-') {
      int64_t v = 0;
      if (std::from_chars(start, p_, v).ec == std::errc()) {
        *out = v;
        return true;
      }
    } else {
      uint64_t v = 0;
      if (std::from_chars(start, p_, v).ec == std::errc()) {
        *out = v;
        return true;
      }
    }
  }
  double d = 0;
  const auto result = std::from_chars(start, p_, d);
  if (result.ec == std::errc::result_out_of_range) {
    // Overflow or underflow: what strtod gives (+-HUGE_VAL, or the tiny value).
    const std::string token(start, p_);
    d = std::strtod(token.c_str(), nullptr);
  } else if (result.ec != std::errc()) {
    return Fail(kMalformed);
  }
  if (!std::isfinite(d)) return Fail(kMalformed);  // 1e400: refused, as nlohmann does
  *out = d;
  return true;
}

}  // namespace

StatusOr<nlohmann::json> ParseStrictJson(std::string_view text, size_t max_bytes) {
  if (text.size() > max_bytes) return InvalidArgumentError("JSON document too large");
  Json root;
  StrictParser parser(text);
  bool ok = false;
  try {
    ok = parser.ParseDocument(&root);
  } catch (const std::exception&) {  // allocation failure
    ok = false;
  }
  if (!ok) {
    return InvalidArgumentError(std::string(parser.error().empty() ? kMalformed : parser.error()));
  }
  return root;
}

}  // namespace gatehouse::auth
