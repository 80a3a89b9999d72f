#include "proxy/auth/strict_json.h"

#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

namespace gatehouse::auth {
namespace {

using Json = nlohmann::json;

// Builds the DOM from SAX events so that duplicate keys and depth are checked
// while parsing, before any value is overwritten.
class StrictBuilder final : public nlohmann::json_sax<Json> {
 public:
  Json& root() { return root_; }
  const std::string& error() const { return error_; }

  bool null() override { return Put(Json(nullptr)); }
  bool boolean(bool v) override { return Put(Json(v)); }
  bool number_integer(number_integer_t v) override { return Put(Json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return Put(Json(v)); }
  bool number_float(number_float_t v, const string_t&) override { return Put(Json(v)); }
  bool string(string_t& v) override { return Put(Json(std::move(v))); }
  bool binary(binary_t&) override { return Fail("binary values are not JSON"); }

  bool start_object(std::size_t) override { return Open(Json::object()); }
  bool start_array(std::size_t) override { return Open(Json::array()); }
  bool end_object() override { return Close(); }
  bool end_array() override { return Close(); }

  bool key(string_t& k) override {
    Frame& frame = stack_.back();
    // Security: a duplicate key is how two parsers are made to disagree about
    // the same signed bytes; reject instead of picking one.
    if (!frame.keys.insert(k).second) return Fail("duplicate object key");
    pending_key_ = std::move(k);
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    if (error_.empty()) error_ = "malformed JSON";
    return false;
  }

 private:
  struct Frame {
    Json* value;
    std::unordered_set<std::string> keys;
  };

  bool Fail(std::string message) {
    error_ = std::move(message);
    return false;
  }

  // Places `v` into the current container (or as the root) and returns where it went.
  Json* Insert(Json v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    Json& parent = *stack_.back().value;
    if (parent.is_array()) {
      parent.push_back(std::move(v));
      return &parent.back();
    }
    Json& slot = parent[pending_key_];
    slot = std::move(v);
    return &slot;
  }

  bool Put(Json v) {
    Insert(std::move(v));
    return true;
  }

  bool Open(Json container) {
    if (static_cast<int>(stack_.size()) >= kMaxJsonDepth) return Fail("JSON nested too deeply");
    Json* where = Insert(std::move(container));
    stack_.push_back(Frame{where, {}});
    return true;
  }

  bool Close() {
    stack_.pop_back();
    return true;
  }

  Json root_;
  std::vector<Frame> stack_;
  std::string pending_key_;
  std::string error_;
};

}  // namespace

StatusOr<nlohmann::json> ParseStrictJson(std::string_view text, size_t max_bytes) {
  if (text.size() > max_bytes) return InvalidArgumentError("JSON document too large");
  StrictBuilder builder;
  bool ok = false;
  try {
    // strict = true: the whole input must be exactly one value.
    ok = Json::sax_parse(text.begin(), text.end(), &builder, Json::input_format_t::json,
                         /*strict=*/true, /*ignore_comments=*/false);
  } catch (const std::exception&) {
    ok = false;
  }
  if (!ok) {
    return InvalidArgumentError(builder.error().empty() ? "malformed JSON" : builder.error());
  }
  return std::move(builder.root());
}

}  // namespace gatehouse::auth
