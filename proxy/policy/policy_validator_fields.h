// Field-level building blocks of the AccessPolicy / Secret validators: an
// issue list with field paths, and an ObjectReader that reads typed members of
// one JSON object, reports wrong types, limits and unknown fields at the exact
// path, and never throws.
//
//   Issues issues;
//   ObjectReader spec(doc.contains("spec") ? &doc["spec"] : nullptr, "spec", &issues,
//                     {"hosts", "pathPrefix", ...});       // unknown keys reported here
//   std::optional<int64_t> t = spec.Int("timeoutSeconds", {.min = 1, .max = 86400});
//   // issues now holds e.g. {"spec.timeoutSeconds", "must be between 1 and 86400"}
//
// Conventions (shared with the CRD): a member that is null counts as absent;
// messages name the expectation ("must be a boolean", "must have at most 64
// items"); user text is echoed only through Quote(), which escapes and caps it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gatehouse::policy::validation {

struct FieldIssue {
  std::string field;    // "spec.rules[2].paths[0]"
  std::string message;  // "'**' must be the last segment"
  friend bool operator==(const FieldIssue&, const FieldIssue&) = default;
};

// Every problem found in one document. Capped so a hostile document cannot
// produce megabytes of errors; the cap itself is reported as the last issue.
class Issues {
 public:
  static constexpr size_t kMaxIssues = 100;
  void Add(std::string field, std::string message);
  bool empty() const { return list_.empty(); }
  size_t size() const { return list_.size(); }
  const std::vector<FieldIssue>& list() const { return list_; }

 private:
  std::vector<FieldIssue> list_;
  bool truncated_ = false;
};

// A syntax check: "" when `value` is fine, otherwise what is wrong with it.
using TextCheck = std::string (*)(std::string_view value);

// 'value' for a message: printable ASCII only (others as \xNN), at most 64 bytes.
std::string Quote(std::string_view value);
// Path helpers: Child("spec", "hosts") == "spec.hosts"; Index("spec.hosts", 2) ==
// "spec.hosts[2]"; Key("spec.x.claims", "dept") == "spec.x.claims[dept]".
std::string Child(std::string_view path, std::string_view field);
std::string Index(std::string_view path, size_t index);
std::string Key(std::string_view path, std::string_view key);

struct StringRule {
  size_t max_bytes = 256;
  bool allow_empty = false;
  TextCheck check = nullptr;  // applied after the length checks
};

struct IntRule {
  int64_t min = 0;
  int64_t max = 0;
};

struct ListRule {
  size_t min_items = 0;
  size_t max_items = 64;
  bool unique = false;  // exact-byte duplicates are errors
  StringRule item;
};

// Checks one scalar/list value (not a member); used by ObjectReader and for map values.
std::optional<std::string> ReadString(const nlohmann::json& value, const std::string& path,
                                      const StringRule& rule, Issues* issues);
std::optional<std::vector<std::string>> ReadStringList(const nlohmann::json& value,
                                                       const std::string& path,
                                                       const ListRule& rule, Issues* issues);

class ObjectReader {
 public:
  // `value` may be null (absent): the reader is then empty and reports nothing
  // unless `required`. A non-object reports "must be an object".
  ObjectReader(const nlohmann::json* value, std::string path, Issues* issues,
               std::initializer_list<std::string_view> known_fields, bool required = false);

  bool present() const { return object_ != nullptr; }
  const std::string& path() const { return path_; }
  std::string FieldPath(std::string_view key) const { return Child(path_, key); }
  Issues* issues() const { return issues_; }

  // The member, or nullptr when absent, null, or this reader is empty.
  const nlohmann::json* Get(std::string_view key) const;
  // Reports "<path>.<key>: is required" when the member is absent.
  bool Require(std::string_view key) const;

  std::optional<std::string> String(std::string_view key, const StringRule& rule,
                                    bool required = false) const;
  std::optional<int64_t> Int(std::string_view key, const IntRule& rule,
                             bool required = false) const;
  std::optional<bool> Bool(std::string_view key) const;
  // A string that must be exactly one of `allowed` (case-sensitive): its index.
  std::optional<size_t> OneOf(std::string_view key, std::initializer_list<std::string_view> allowed,
                              bool required = false) const;
  std::optional<std::vector<std::string>> StringList(std::string_view key, const ListRule& rule,
                                                     bool required = false) const;
  // A member that must be an object: an ObjectReader for it (empty when absent).
  ObjectReader Object(std::string_view key, std::initializer_list<std::string_view> known_fields,
                      bool required = false) const;
  // A member that must be a list of at most `max_items`: the list or nullptr.
  const nlohmann::json* List(std::string_view key, size_t min_items, size_t max_items,
                             bool required = false) const;

 private:
  const nlohmann::json* object_ = nullptr;
  std::string path_;
  Issues* issues_;
};

}  // namespace gatehouse::policy::validation
