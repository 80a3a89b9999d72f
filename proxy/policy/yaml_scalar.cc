#include "proxy/policy/yaml_scalar.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>

namespace gatehouse::policy {
namespace {

using nlohmann::json;

std::optional<bool> ParseBoolWord(std::string_view s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return std::nullopt;
}

bool AllDigits(std::string_view s, int base) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = base == 8    ? (c >= '0' && c <= '7')
              : base == 10 ? (c >= '0' && c <= '9')
                           : std::isxdigit(static_cast<unsigned char>(c)) != 0;
    if (!ok) return false;
  }
  return true;
}

// Core-schema integer: [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+. Values beyond
// int64 become doubles (the validator then reports them as out of range).
std::optional<json> ParseIntWord(std::string_view s) {
  int base = 10;
  bool negative = false;
  std::string_view digits = s;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
    base = s[1] == 'x' ? 16 : 8;
    digits = s.substr(2);
  } else if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    digits = s.substr(1);
  }
  if (!AllDigits(digits, base)) return std::nullopt;
  uint64_t magnitude = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude, base);
  if (ec == std::errc() && ptr == digits.data() + digits.size()) {
    constexpr uint64_t kMaxPositive = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    if (!negative && magnitude <= kMaxPositive) return json(static_cast<int64_t>(magnitude));
    if (negative && magnitude <= kMaxPositive + 1) {
      return json(magnitude == kMaxPositive + 1 ? std::numeric_limits<int64_t>::min()
                                                : -static_cast<int64_t>(magnitude));
    }
  }
  if (base == 10) return json(std::strtod(std::string(s).c_str(), nullptr));  // correctly rounded
  double approx = 0;
  for (char c : digits) {
    approx = approx * base +
             (std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : (c | 0x20) - 'a' + 10);
  }
  return json(negative ? -approx : approx);
}

// Core-schema float: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? and the
// .inf/.nan words. Checked by hand (no regex on this path).
std::optional<json> ParseFloatWord(std::string_view s) {
  std::string_view body = s;
  bool negative = false;
  if (!body.empty() && (body[0] == '-' || body[0] == '+')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (body == ".inf" || body == ".Inf" || body == ".INF") {
    return json(negative ? -std::numeric_limits<double>::infinity()
                         : std::numeric_limits<double>::infinity());
  }
  if (s == ".nan" || s == ".NaN" || s == ".NAN")
    return json(std::numeric_limits<double>::quiet_NaN());
  size_t i = 0, int_digits = 0, frac_digits = 0;
  while (i < body.size() && std::isdigit(static_cast<unsigned char>(body[i]))) ++i, ++int_digits;
  if (i < body.size() && body[i] == '.') {
    ++i;
    while (i < body.size() && std::isdigit(static_cast<unsigned char>(body[i]))) ++i, ++frac_digits;
  }
  if (int_digits == 0 && frac_digits == 0) return std::nullopt;
  if (i < body.size() && (body[i] == 'e' || body[i] == 'E')) {
    ++i;
    if (i < body.size() && (body[i] == '-' || body[i] == '+')) ++i;
    size_t exp_digits = 0;
    while (i < body.size() && std::isdigit(static_cast<unsigned char>(body[i]))) ++i, ++exp_digits;
    if (exp_digits == 0) return std::nullopt;
  }
  if (i != body.size()) return std::nullopt;
  // strtod needs a terminated buffer; the word is short (scalars are capped).
  std::string copy(s);
  return json(std::strtod(copy.c_str(), nullptr));
}

// A plain (unquoted, untagged) scalar resolved by the core schema.
json ResolvePlainScalar(std::string_view s) {
  if (IsYamlNullWord(s)) return nullptr;
  if (auto b = ParseBoolWord(s)) return *b;
  if (auto i = ParseIntWord(s)) return *i;
  if (auto f = ParseFloatWord(s)) return *f;
  return std::string(s);
}

}  // namespace

std::string PrintableYamlText(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return s.size() > 64 ? out + "..." : out;
}

bool IsYamlNullWord(std::string_view s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

StatusOr<json> ResolveYamlScalar(std::string_view text, std::string_view tag, bool plain) {
  if (tag.empty()) {
    if (plain) return ResolvePlainScalar(text);
    return json(std::string(text));  // quoted or block scalar: always a string
  }
  if (tag == "!") {
    // A bare `!` with no value at all was refused by the yaml-cpp reader; kept.
    if (plain && text.empty()) {
      return InvalidArgumentError("a scalar does not match its explicit YAML tag");
    }
    return json(std::string(text));
  }
  if (tag.substr(0, kYamlTagPrefix.size()) != kYamlTagPrefix) {
    return InvalidArgumentError(
        "unsupported YAML tag (only !!str, !!int, !!float, !!bool, "
        "!!null, !!map and !!seq are allowed)");
  }
  std::string_view kind = tag.substr(kYamlTagPrefix.size());
  std::optional<json> value;
  if (kind == "str") {
    value = json(std::string(text));
  } else if (kind == "int") {
    value = ParseIntWord(text);
  } else if (kind == "float") {
    value = ParseFloatWord(text);
    if (!value) value = ParseIntWord(text);
  } else if (kind == "bool") {
    if (auto b = ParseBoolWord(text)) value = json(*b);
  } else if (kind == "null") {
    if (IsYamlNullWord(text)) value = json(nullptr);
  }
  if (!value) return InvalidArgumentError("a scalar does not match its explicit YAML tag");
  return *value;
}

}  // namespace gatehouse::policy
