#include "proxy/policy/yaml_to_json.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <limits>
#include <optional>
#include <string>

namespace gatehouse::policy {
namespace {

using nlohmann::json;

constexpr std::string_view kTagPrefix = "tag:yaml.org,2002:";

// Strict UTF-8 (no overlongs, no surrogates, <= U+10FFFF): JSON output and
// error messages must never carry bytes a downstream decoder could misread.
bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int extra = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;  // truncated sequence
    for (int k = 1; k <= extra; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

// A key for an error message: printable ASCII only, capped, so hostile bytes
// cannot forge log lines.
std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return s.size() > 64 ? out + "..." : out;
}

bool IsNullWord(std::string_view s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

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
json ResolvePlainScalar(const std::string& s) {
  if (IsNullWord(s)) return nullptr;
  if (auto b = ParseBoolWord(s)) return *b;
  if (auto i = ParseIntWord(s)) return *i;
  if (auto f = ParseFloatWord(s)) return *f;
  return s;
}

// yaml-cpp 0.7 loops forever (allocating until OOM) when a ',' starts a token
// outside any flow collection ("- a\n," or a document that is just ","); found
// by policy_parse_fuzzer. Such a comma is never valid YAML (',' cannot start
// a plain scalar), so the input is rejected before yaml-cpp sees it. The scan
// follows quotes, comments, flow depth and block scalars just enough to not
// flag commas that are content.
class CommaHazardScanner {
 public:
  explicit CommaHazardScanner(std::string_view text) : text_(text) {}

  Status Scan() {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == '\n') {
        in_plain_ = in_property_ = false;
        StartLine();
        continue;
      }
      bool token_start = pos_ == 0 || IsBlank(text_[pos_ - 1]) || text_[pos_ - 1] == '\n' ||
                         (flow_depth_ > 0 && (text_[pos_ - 1] == '[' || text_[pos_ - 1] == '{' ||
                                              text_[pos_ - 1] == ',')) ||
                         boundary_;
      boundary_ = false;
      if (token_start && !in_plain_ && (c == '\'' || c == '"')) {
        SkipQuoted(c);
        boundary_ = true;  // yaml-cpp starts a new token right after the closing quote
        continue;
      }
      if (token_start && c == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
        continue;
      }
      if (flow_depth_ > 0) {
        if (c == '[' || c == '{') ++flow_depth_;
        if (c == ']' || c == '}') boundary_ = --flow_depth_ == 0;
        ++pos_;
        continue;
      }
      Status status = ScanBlockChar(c, token_start);
      if (!status.ok()) return status;
      ++pos_;
    }
    return Status::Ok();
  }

 private:
  static bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

  bool NextIsBlank() const {
    return pos_ + 1 >= text_.size() || IsBlank(text_[pos_ + 1]) || text_[pos_ + 1] == '\n';
  }

  // One character outside flow collections. A ',' is content only inside a
  // plain scalar ("a: x, y"); anywhere else yaml-cpp would see a flow entry.
  Status ScanBlockChar(char c, bool token_start) {
    if (IsBlank(c)) {
      in_property_ = false;  // a plain scalar may contain blanks; a property may not
    } else if (c == ',') {
      if (!in_plain_) {
        return InvalidArgumentError("YAML syntax error at line " + std::to_string(line_) +
                                    ": ',' outside a flow collection");
      }
    } else if ((c == '-' || c == '?' || c == ':') && NextIsBlank()) {
      in_plain_ = false;  // an indicator ends the scalar before it
    } else if (token_start && !in_plain_ && (c == '&' || c == '*' || c == '!')) {
      in_property_ = true;
    } else if (token_start && !in_plain_ && (c == '[' || c == '{')) {
      ++flow_depth_;
    } else if (token_start && !in_plain_ && (c == '|' || c == '>')) {
      block_parent_indent_ = indent_;
    } else if (!in_property_) {
      in_plain_ = true;
    }
    return Status::Ok();
  }

  // At a '\n': moves to the next line, skipping block scalar content lines
  // (those indented deeper than the line that opened the block scalar).
  void StartLine() {
    while (pos_ < text_.size() && text_[pos_] == '\n') {
      ++pos_;
      ++line_;
      size_t start = pos_;
      while (pos_ < text_.size() && text_[pos_] == ' ') ++pos_;
      indent_ = static_cast<int>(pos_ - start);
      bool blank = pos_ >= text_.size() || text_[pos_] == '\n' || text_[pos_] == '\r';
      if (block_parent_indent_ >= 0 && (blank || indent_ > block_parent_indent_)) {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;  // content line
        continue;
      }
      block_parent_indent_ = -1;
      return;
    }
  }

  void SkipQuoted(char quote) {
    ++pos_;
    while (pos_ < text_.size()) {
      char c = text_[pos_++];
      if (c == '\n') ++line_;
      if (quote == '"' && c == '\\') {
        ++pos_;
      } else if (c == quote) {
        if (quote == '\'' && pos_ < text_.size() && text_[pos_] == '\'') {
          ++pos_;  // '' is an escaped quote
          continue;
        }
        return;
      }
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
  int line_ = 1;
  int indent_ = 0;
  int flow_depth_ = 0;
  int block_parent_indent_ = -1;  // >= 0 while inside a block scalar
  bool in_property_ = false;      // inside an &anchor, *alias or !tag
  bool in_plain_ = false;         // inside a plain (unquoted) scalar
  bool boundary_ = false;         // the previous token just ended (quote or flow end)
};

class Converter {
 public:
  explicit Converter(const YamlLimits& limits) : limits_(limits) {}

  StatusOr<json> Convert(const YAML::Node& node, int depth);

 private:
  StatusOr<json> ConvertScalar(const YAML::Node& node);
  StatusOr<json> ConvertMap(const YAML::Node& node, int depth);
  StatusOr<json> ConvertSequence(const YAML::Node& node, int depth);

  const YamlLimits& limits_;
  size_t nodes_ = 0;
};

StatusOr<json> Converter::Convert(const YAML::Node& node, int depth) {
  // Aliases make yaml-cpp share one node from many places, so a tiny file can
  // expand into billions of nodes here: count every visit, not every node.
  if (++nodes_ > limits_.max_nodes) {
    return ResourceExhaustedError("document has more than " + std::to_string(limits_.max_nodes) +
                                  " nodes (after alias expansion)");
  }
  if (depth > limits_.max_depth) {
    return ResourceExhaustedError("document is nested deeper than " +
                                  std::to_string(limits_.max_depth) + " levels");
  }
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      if (!node.Tag().empty() && node.Tag() != "?" && node.Tag() != "!" &&
          node.Tag() != std::string(kTagPrefix) + "null") {
        return InvalidArgumentError("unsupported YAML tag on a null value");
      }
      return json(nullptr);
    case YAML::NodeType::Scalar:
      return ConvertScalar(node);
    case YAML::NodeType::Sequence:
      return ConvertSequence(node, depth);
    case YAML::NodeType::Map:
      return ConvertMap(node, depth);
  }
  return InternalError("unknown YAML node type");
}

StatusOr<json> Converter::ConvertScalar(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  if (text.size() > limits_.max_scalar_bytes) {
    return ResourceExhaustedError("a scalar is longer than " +
                                  std::to_string(limits_.max_scalar_bytes) + " bytes");
  }
  if (!IsValidUtf8(text)) return InvalidArgumentError("a scalar is not valid UTF-8");
  const std::string& tag = node.Tag();
  if (tag == "!") return json(text);  // quoted or block scalar: always a string
  if (tag == "?" || tag.empty()) return ResolvePlainScalar(text);
  if (tag.rfind(kTagPrefix, 0) != 0) {
    return InvalidArgumentError(
        "unsupported YAML tag (only !!str, !!int, !!float, !!bool, "
        "!!null, !!map and !!seq are allowed)");
  }
  std::string_view kind = std::string_view(tag).substr(kTagPrefix.size());
  std::optional<json> value;
  if (kind == "str") {
    value = json(text);
  } else if (kind == "int") {
    value = ParseIntWord(text);
  } else if (kind == "float") {
    value = ParseFloatWord(text);
    if (!value) value = ParseIntWord(text);
  } else if (kind == "bool") {
    if (auto b = ParseBoolWord(text)) value = json(*b);
  } else if (kind == "null") {
    if (IsNullWord(text)) value = json(nullptr);
  }
  if (!value) return InvalidArgumentError("a scalar does not match its explicit YAML tag");
  return *value;
}

StatusOr<json> Converter::ConvertMap(const YAML::Node& node, int depth) {
  json out = json::object();
  for (const auto& entry : node) {
    // Kubernetes decodes strictly: a key given twice is an error, never "last wins",
    // because the two copies can hide a change from a reviewer.
    if (!entry.first.IsScalar()) return InvalidArgumentError("a mapping key is not a scalar");
    const std::string& key = entry.first.Scalar();
    if (key.size() > 256) return ResourceExhaustedError("a mapping key is longer than 256 bytes");
    if (!IsValidUtf8(key)) return InvalidArgumentError("a mapping key is not valid UTF-8");
    if (out.contains(key)) {
      return InvalidArgumentError("mapping key '" + Printable(key) + "' appears more than once");
    }
    StatusOr<json> value = Convert(entry.second, depth + 1);
    if (!value.ok()) return value.status();
    out[key] = std::move(*value);
  }
  return out;
}

StatusOr<json> Converter::ConvertSequence(const YAML::Node& node, int depth) {
  json out = json::array();
  for (const auto& item : node) {
    StatusOr<json> value = Convert(item, depth + 1);
    if (!value.ok()) return value.status();
    out.push_back(std::move(*value));
  }
  return out;
}

}  // namespace

StatusOr<nlohmann::json> YamlNodeToJson(const YAML::Node& node, const YamlLimits& limits) {
  try {
    Converter converter(limits);
    return converter.Convert(node, 0);
  } catch (const std::exception& e) {
    return InvalidArgumentError(std::string("YAML: ") + e.what());
  }
}

StatusOr<std::vector<nlohmann::json>> YamlDocumentsToJson(std::string_view content,
                                                          const YamlLimits& limits) {
  if (content.size() > limits.max_file_bytes) {
    return ResourceExhaustedError("file is larger than " + std::to_string(limits.max_file_bytes) +
                                  " bytes");
  }
  // yaml-cpp guesses UTF-16/32 from NUL bytes and BOMs, after which our own
  // byte-level checks would no longer see what it sees: accept UTF-8 text only
  // (YAML forbids C0 controls other than tab, LF and CR anyway).
  if (!IsValidUtf8(content)) return InvalidArgumentError("file is not valid UTF-8");
  for (char c : content) {
    unsigned char u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t' && c != '\n' && c != '\r') || u == 0x7f) {
      return InvalidArgumentError("file contains control characters");
    }
  }
  Status hazard = CommaHazardScanner(content).Scan();
  if (!hazard.ok()) return hazard;
  std::vector<YAML::Node> nodes;
  try {
    nodes = YAML::LoadAll(std::string(content));
  } catch (const YAML::Exception& e) {
    // e.msg and the mark describe the syntax; no document bytes are echoed.
    if (e.mark.is_null()) return InvalidArgumentError("YAML syntax error: " + e.msg);
    return InvalidArgumentError("YAML syntax error at line " + std::to_string(e.mark.line + 1) +
                                ", column " + std::to_string(e.mark.column + 1) + ": " + e.msg);
  } catch (const std::exception& e) {
    return InvalidArgumentError(std::string("YAML could not be read: ") + e.what());
  }
  if (nodes.size() > limits.max_documents) {
    return ResourceExhaustedError("file has more than " + std::to_string(limits.max_documents) +
                                  " documents");
  }
  std::vector<nlohmann::json> out;
  out.reserve(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    StatusOr<nlohmann::json> doc = YamlNodeToJson(nodes[i], limits);
    if (!doc.ok()) {
      return Status(doc.status().code(),
                    "document " + std::to_string(i + 1) + ": " + doc.status().message());
    }
    out.push_back(std::move(*doc));
  }
  return out;
}

}  // namespace gatehouse::policy
