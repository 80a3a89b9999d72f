#include "proxy/policy/policy_validator_fields.h"

#include <algorithm>
#include <limits>

namespace gatehouse::policy::validation {

using nlohmann::json;

void Issues::Add(std::string field, std::string message) {
  if (truncated_) return;
  if (list_.size() + 1 >= kMaxIssues) {
    list_.push_back({"", "too many errors; the rest are not reported"});
    truncated_ = true;
    return;
  }
  list_.push_back({std::move(field), std::move(message)});
}

std::string Quote(std::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  constexpr size_t kMax = 64;
  std::string out = "'";
  for (char ch : value.substr(0, kMax)) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out += ch;
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (value.size() > kMax) out += "...";
  return out + "'";
}

std::string Child(std::string_view path, std::string_view field) {
  std::string out(path);
  if (!out.empty()) out += '.';
  out += field;
  return out;
}

std::string Index(std::string_view path, size_t index) {
  return std::string(path) + "[" + std::to_string(index) + "]";
}

std::string Key(std::string_view path, std::string_view key) {
  std::string quoted = Quote(key);  // keys are user text too
  return std::string(path) + "[" + quoted.substr(1, quoted.size() - 2) + "]";
}

namespace {

// The path of a field is built only when there is something to report: a
// 10,000-policy fleet config reads ~500,000 fields, almost all of them valid.
template <typename PathFn>
std::optional<std::string> ReadStringAt(const json& value, const PathFn& path,
                                        const StringRule& rule, Issues* issues) {
  if (!value.is_string()) {
    issues->Add(path(), "must be a string");
    return std::nullopt;
  }
  const std::string& s = value.get_ref<const std::string&>();
  if (s.empty() && !rule.allow_empty) {
    issues->Add(path(), "must not be empty");
    return std::nullopt;
  }
  if (s.size() > rule.max_bytes) {
    issues->Add(path(), "must be at most " + std::to_string(rule.max_bytes) + " characters");
    return std::nullopt;
  }
  if (rule.check != nullptr && !s.empty()) {
    std::string problem = rule.check(s);
    if (!problem.empty()) {
      issues->Add(path(), std::move(problem));
      return std::nullopt;
    }
  }
  return s;
}

}  // namespace

std::optional<std::string> ReadString(const json& value, const std::string& path,
                                      const StringRule& rule, Issues* issues) {
  return ReadStringAt(
      value, [&] { return path; }, rule, issues);
}

std::optional<std::vector<std::string>> ReadStringList(const json& value, const std::string& path,
                                                       const ListRule& rule, Issues* issues) {
  if (!value.is_array()) {
    issues->Add(path, "must be a list");
    return std::nullopt;
  }
  if (value.size() > rule.max_items) {
    issues->Add(path, "must have at most " + std::to_string(rule.max_items) + " items");
    return std::nullopt;
  }
  if (value.size() < rule.min_items) {
    issues->Add(path, "must have at least " + std::to_string(rule.min_items) +
                          (rule.min_items == 1 ? " item" : " items"));
    return std::nullopt;
  }
  std::vector<std::string> out;
  out.reserve(value.size());
  bool ok = true;
  for (size_t i = 0; i < value.size(); ++i) {
    std::optional<std::string> item = ReadStringAt(
        value[i], [&] { return Index(path, i); }, rule.item, issues);
    if (!item) {
      ok = false;
      continue;
    }
    if (rule.unique && std::find(out.begin(), out.end(), *item) != out.end()) {
      issues->Add(Index(path, i), "duplicate value " + Quote(*item));
      ok = false;
      continue;
    }
    out.push_back(std::move(*item));
  }
  if (!ok) return std::nullopt;
  return out;
}

ObjectReader::ObjectReader(const json* value, std::string path, Issues* issues,
                           std::initializer_list<std::string_view> known_fields, bool required)
    : path_(std::move(path)), issues_(issues) {
  if (value == nullptr || value->is_null()) {
    if (required) issues_->Add(path_, "is required");
    return;
  }
  if (!value->is_object()) {
    issues_->Add(path_, "must be an object");
    return;
  }
  object_ = value;
  // Typo protection: `form:` instead of `from:` must not silently drop a condition.
  for (const auto& [key, member] : value->items()) {
    if (std::find(known_fields.begin(), known_fields.end(), key) == known_fields.end()) {
      std::string quoted = Quote(key);
      issues_->Add(Child(path_, quoted.substr(1, quoted.size() - 2)), "unknown field");
    }
  }
}

const json* ObjectReader::Get(std::string_view key) const {
  if (object_ == nullptr) return nullptr;
  auto it = object_->find(key);
  if (it == object_->end() || it->is_null()) return nullptr;
  return &*it;
}

bool ObjectReader::Require(std::string_view key) const {
  if (Get(key) != nullptr) return true;
  if (object_ != nullptr) issues_->Add(FieldPath(key), "is required");
  return false;
}

std::optional<std::string> ObjectReader::String(std::string_view key, const StringRule& rule,
                                                bool required) const {
  if (required ? !Require(key) : Get(key) == nullptr) return std::nullopt;
  return ReadStringAt(
      *Get(key), [&] { return FieldPath(key); }, rule, issues_);
}

std::optional<int64_t> ObjectReader::Int(std::string_view key, const IntRule& rule,
                                         bool required) const {
  if (required ? !Require(key) : Get(key) == nullptr) return std::nullopt;
  const json& v = *Get(key);
  auto range = [&] {
    return "between " + std::to_string(rule.min) + " and " + std::to_string(rule.max);
  };
  // nlohmann parses non-negative JSON integers as unsigned; above int64 they
  // are out of every range used here.
  if (v.is_number_unsigned() &&
      v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    issues_->Add(FieldPath(key), "must be " + range());
    return std::nullopt;
  }
  if (!v.is_number_integer()) {
    issues_->Add(FieldPath(key), "must be an integer");
    return std::nullopt;
  }
  int64_t n = v.get<int64_t>();
  if (n < rule.min || n > rule.max) {
    issues_->Add(FieldPath(key), "must be " + range());
    return std::nullopt;
  }
  return n;
}

std::optional<bool> ObjectReader::Bool(std::string_view key) const {
  const json* v = Get(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_boolean()) {
    issues_->Add(FieldPath(key), "must be a boolean (true or false)");
    return std::nullopt;
  }
  return v->get<bool>();
}

std::optional<size_t> ObjectReader::OneOf(std::string_view key,
                                          std::initializer_list<std::string_view> allowed,
                                          bool required) const {
  std::optional<std::string> value = String(key, {.max_bytes = 64}, required);
  if (!value) return std::nullopt;
  std::string names;
  size_t index = 0;
  for (std::string_view candidate : allowed) {
    if (*value == candidate) return index;  // exact case: `allow` is a typo, not Allow
    names += (index++ == 0 ? "" : ", ") + std::string(candidate);
  }
  issues_->Add(FieldPath(key), "must be one of " + names + " (got " + Quote(*value) + ")");
  return std::nullopt;
}

std::optional<std::vector<std::string>> ObjectReader::StringList(std::string_view key,
                                                                 const ListRule& rule,
                                                                 bool required) const {
  if (required ? !Require(key) : Get(key) == nullptr) return std::nullopt;
  return ReadStringList(*Get(key), FieldPath(key), rule, issues_);
}

ObjectReader ObjectReader::Object(std::string_view key,
                                  std::initializer_list<std::string_view> known_fields,
                                  bool required) const {
  if (object_ == nullptr) return ObjectReader(nullptr, FieldPath(key), issues_, known_fields);
  return ObjectReader(Get(key), FieldPath(key), issues_, known_fields, required);
}

const json* ObjectReader::List(std::string_view key, size_t min_items, size_t max_items,
                               bool required) const {
  if (required ? !Require(key) : Get(key) == nullptr) return nullptr;
  const json* v = Get(key);
  if (!v->is_array()) {
    issues_->Add(FieldPath(key), "must be a list");
    return nullptr;
  }
  if (v->size() > max_items) {
    issues_->Add(FieldPath(key), "must have at most " + std::to_string(max_items) + " items");
    return nullptr;
  }
  if (v->size() < min_items) {
    issues_->Add(FieldPath(key), "must have at least " + std::to_string(min_items) +
                                     (min_items == 1 ? " item" : " items"));
    return nullptr;
  }
  return v;
}

}  // namespace gatehouse::policy::validation
