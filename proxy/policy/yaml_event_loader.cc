#include "proxy/policy/yaml_event_loader.h"

#include <yaml.h>

#include <algorithm>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "proxy/core/utf8.h"
#include "proxy/policy/yaml_scalar.h"

namespace gatehouse::policy {
namespace {

using nlohmann::json;

constexpr size_t kMaxKeyBytes = 256;

// Frees one libyaml event however the handler returns.
class EventGuard {
 public:
  explicit EventGuard(yaml_event_t* event) : event_(event) {}
  ~EventGuard() { yaml_event_delete(event_); }
  EventGuard(const EventGuard&) = delete;
  EventGuard& operator=(const EventGuard&) = delete;

 private:
  yaml_event_t* event_;
};

std::string_view CharsOf(const yaml_char_t* s) {
  return s == nullptr ? std::string_view() : std::string_view(reinterpret_cast<const char*>(s));
}

std::string Position(const yaml_mark_t& mark) {
  return "line " + std::to_string(mark.line + 1) + ", column " + std::to_string(mark.column + 1);
}

// A node an anchor names, kept so that its aliases can expand it.
struct AnchoredNode {
  json value;
  Status value_error;              // an untypable scalar: an error only where used as a value
  std::optional<std::string> key;  // its text, when the node can serve as a mapping key
  size_t nodes = 1;                // nodes an expansion adds
  int height = 0;                  // levels below the node
};

// One open sequence or mapping.
struct Frame {
  json value;               // array or object
  std::string anchor;       // "" when none
  std::string key;          // mapping: the key waiting for its value
  bool want_key = false;    // mapping: the next node is a key
  int depth = 0;            // of this node (the document root is 0)
  size_t nodes_before = 0;  // the document's node count before this node
  int deepest = 0;          // the deepest node inside, absolute
};

class Loader {
 public:
  Loader(std::string_view text, const YamlLimits& limits) : limits_(limits) {
    yaml_parser_initialize(&parser_);
    yaml_parser_set_encoding(&parser_, YAML_UTF8_ENCODING);
    yaml_parser_set_input_string(&parser_, reinterpret_cast<const unsigned char*>(text.data()),
                                 text.size());
  }
  ~Loader() { yaml_parser_delete(&parser_); }
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  StatusOr<std::vector<json>> Run();

 private:
  static bool IsNodeEvent(yaml_event_type_t type) {
    return type == YAML_SCALAR_EVENT || type == YAML_ALIAS_EVENT ||
           type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT ||
           type == YAML_SEQUENCE_END_EVENT || type == YAML_MAPPING_END_EVENT;
  }
  void StartDocument();
  void StopBuilding(const Status& status);
  bool InKeyPosition() const { return !stack_.empty() && stack_.back().want_key; }
  int NextDepth() const { return static_cast<int>(stack_.size()); }

  Status OnNodeEvent(const yaml_event_t& event);
  Status OnScalar(const yaml_event_t& event);
  void RememberScalar(std::string_view anchor, std::optional<std::string_view> key_text,
                      const StatusOr<json>& value);
  Status OnAlias(const yaml_event_t& event);
  Status OnCollectionStart(const yaml_event_t& event, bool mapping);
  Status OnCollectionEnd();
  Status AcceptKey(std::string key);
  Status CountNode(int depth);
  void Place(json value, int deepest);
  void SkipEvent(const yaml_event_t& event);
  Status SyntaxError() const;
  Status TooDeep() const;
  StatusOr<std::vector<json>> Outcome();

  yaml_parser_t parser_;
  const YamlLimits& limits_;
  std::vector<json> docs_;
  std::vector<Frame> stack_;
  std::unordered_map<std::string, AnchoredNode> anchors_;  // this document's
  size_t documents_ = 0;
  size_t nodes_ = 0;      // this document's, after alias expansion
  bool building_ = true;  // false after a problem: the rest is only scanned
  int open_ = 0;          // open collections while scanning
  Status problem_;        // the first problem ("document N: ...")
  Status fatal_;          // an undefined alias: reported like a syntax error
};

StatusOr<std::vector<json>> Loader::Run() {
  while (true) {
    yaml_event_t event;
    if (!yaml_parser_parse(&parser_, &event)) return SyntaxError();
    EventGuard guard(&event);
    if (event.type == YAML_STREAM_END_EVENT) return Outcome();
    if (event.type == YAML_DOCUMENT_START_EVENT) {
      StartDocument();
      continue;
    }
    if (!IsNodeEvent(event.type)) continue;  // stream start, document end
    if (!building_) {
      SkipEvent(event);
      if (!fatal_.ok()) return fatal_;
      // Past the depth limit nothing can be built any more; stopping here
      // keeps libyaml's own stacks small on a "[[[[..." bomb.
      if (open_ > limits_.max_depth + 1) return Outcome();
      continue;
    }
    Status status = OnNodeEvent(event);
    if (!fatal_.ok()) return fatal_;
    if (!status.ok()) StopBuilding(status);
  }
}

void Loader::StartDocument() {
  // Counted before anything is built, so a file of a million tiny documents
  // stops being materialised at the limit.
  if (++documents_ > limits_.max_documents) building_ = false;
  nodes_ = 0;
  anchors_.clear();  // anchors are scoped to their document
  stack_.clear();
  open_ = 0;
}

// The first problem ends building: it is kept (naming its document) and the
// rest of the text is only scanned, for a syntax error that would win.
void Loader::StopBuilding(const Status& status) {
  problem_ =
      Status(status.code(), "document " + std::to_string(documents_) + ": " + status.message());
  building_ = false;
  docs_.clear();
  open_ = static_cast<int>(stack_.size());
  // The open collections' anchors stay defined for the scan.
  for (const Frame& frame : stack_) {
    if (!frame.anchor.empty()) anchors_.try_emplace(frame.anchor);
  }
  stack_.clear();
}

StatusOr<std::vector<json>> Loader::Outcome() {
  if (documents_ > limits_.max_documents) {
    return ResourceExhaustedError("file has more than " + std::to_string(limits_.max_documents) +
                                  " documents");
  }
  if (!problem_.ok()) return problem_;
  return std::move(docs_);
}

// After a problem: only anchors are tracked (an undefined alias is still a
// syntax-class error) and nesting, to stop a depth bomb early.
void Loader::SkipEvent(const yaml_event_t& event) {
  std::string_view anchor;
  switch (event.type) {
    case YAML_SCALAR_EVENT:
      anchor = CharsOf(event.data.scalar.anchor);
      break;
    case YAML_SEQUENCE_START_EVENT:
      ++open_;
      anchor = CharsOf(event.data.sequence_start.anchor);
      break;
    case YAML_MAPPING_START_EVENT:
      ++open_;
      anchor = CharsOf(event.data.mapping_start.anchor);
      break;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
      --open_;
      break;
    case YAML_ALIAS_EVENT:
      if (!anchors_.contains(std::string(CharsOf(event.data.alias.anchor)))) {
        fatal_ = InvalidArgumentError("YAML syntax error at " + Position(event.start_mark) +
                                      ": the referenced anchor is not defined");
      }
      break;
    default:
      break;
  }
  if (!anchor.empty()) anchors_.try_emplace(std::string(anchor));
}

Status Loader::OnNodeEvent(const yaml_event_t& event) {
  switch (event.type) {
    case YAML_SCALAR_EVENT:
      return OnScalar(event);
    case YAML_ALIAS_EVENT:
      return OnAlias(event);
    case YAML_SEQUENCE_START_EVENT:
      return OnCollectionStart(event, false);
    case YAML_MAPPING_START_EVENT:
      return OnCollectionStart(event, true);
    default:
      return OnCollectionEnd();
  }
}

// The visit count and depth of one more node, checked in the order the
// yaml-cpp reader checked them. Aliases add a whole subtree (OnAlias).
Status Loader::CountNode(int depth) {
  if (++nodes_ > limits_.max_nodes) {
    return ResourceExhaustedError("document has more than " + std::to_string(limits_.max_nodes) +
                                  " nodes (after alias expansion)");
  }
  if (depth > limits_.max_depth) return TooDeep();
  return Status::Ok();
}

Status Loader::TooDeep() const {
  return ResourceExhaustedError("document is nested deeper than " +
                                std::to_string(limits_.max_depth) + " levels");
}

Status Loader::OnScalar(const yaml_event_t& event) {
  const auto& scalar = event.data.scalar;
  std::string_view text(reinterpret_cast<const char*>(scalar.value), scalar.length);
  std::string_view tag = CharsOf(scalar.tag);
  std::string_view anchor = CharsOf(scalar.anchor);
  bool plain = scalar.style == YAML_PLAIN_SCALAR_STYLE;
  // An untagged plain null word (or nothing at all) is a null node, not a
  // scalar: it can be neither a key nor typed by a tag.
  bool null_node = plain && tag.empty() && IsYamlNullWord(text);
  if (InKeyPosition()) {
    if (null_node) return InvalidArgumentError("a mapping key is not a scalar");
    if (!anchor.empty()) RememberScalar(anchor, text, ResolveYamlScalar(text, tag, plain));
    return AcceptKey(std::string(text));
  }
  int depth = NextDepth();
  Status counted = CountNode(depth);
  if (!counted.ok()) return counted;
  StatusOr<json> value = json(nullptr);
  if (!null_node) {
    if (text.size() > limits_.max_scalar_bytes) {
      return ResourceExhaustedError("a scalar is longer than " +
                                    std::to_string(limits_.max_scalar_bytes) + " bytes");
    }
    // The file is valid UTF-8, but escapes in double quotes make new bytes.
    if (!IsValidUtf8(text)) return InvalidArgumentError("a scalar is not valid UTF-8");
    value = ResolveYamlScalar(text, tag, plain);
    if (!value.ok()) return value.status();
  }
  if (!anchor.empty())
    RememberScalar(anchor, null_node ? std::nullopt : std::optional(text), value);
  Place(std::move(*value), depth);
  return Status::Ok();
}

void Loader::RememberScalar(std::string_view anchor, std::optional<std::string_view> key_text,
                            const StatusOr<json>& value) {
  AnchoredNode& node = anchors_[std::string(anchor)];
  node = AnchoredNode{};
  if (key_text) node.key = std::string(*key_text);
  if (value.ok()) {
    node.value = *value;
  } else {
    node.value_error = value.status();
  }
}

Status Loader::OnAlias(const yaml_event_t& event) {
  std::string name(CharsOf(event.data.alias.anchor));
  // An alias inside the node its anchor names is a cycle: infinitely deep.
  for (const Frame& frame : stack_) {
    if (frame.anchor == name) return TooDeep();
  }
  auto found = anchors_.find(name);
  if (found == anchors_.end()) {
    fatal_ = InvalidArgumentError("YAML syntax error at " + Position(event.start_mark) +
                                  ": the referenced anchor is not defined");
    return fatal_;
  }
  const AnchoredNode& node = found->second;
  if (InKeyPosition()) {
    if (!node.key) return InvalidArgumentError("a mapping key is not a scalar");
    return AcceptKey(*node.key);
  }
  // Billion laughs: the expansion is counted before it is copied.
  int depth = NextDepth();
  if (nodes_ + node.nodes > limits_.max_nodes) {
    return ResourceExhaustedError("document has more than " + std::to_string(limits_.max_nodes) +
                                  " nodes (after alias expansion)");
  }
  nodes_ += node.nodes;
  if (depth + node.height > limits_.max_depth) return TooDeep();
  if (!node.value_error.ok()) return node.value_error;
  Place(node.value, depth + node.height);
  return Status::Ok();
}

Status Loader::OnCollectionStart(const yaml_event_t& event, bool mapping) {
  if (InKeyPosition()) return InvalidArgumentError("a mapping key is not a scalar");
  int depth = NextDepth();
  size_t nodes_before = nodes_;
  Status counted = CountNode(depth);
  if (!counted.ok()) return counted;
  Frame frame;
  frame.value = mapping ? json::object() : json::array();
  frame.anchor = std::string(mapping ? CharsOf(event.data.mapping_start.anchor)
                                     : CharsOf(event.data.sequence_start.anchor));
  frame.want_key = mapping;
  frame.depth = depth;
  frame.nodes_before = nodes_before;
  frame.deepest = depth;
  stack_.push_back(std::move(frame));
  return Status::Ok();
}

Status Loader::OnCollectionEnd() {
  Frame frame = std::move(stack_.back());
  stack_.pop_back();
  if (!frame.anchor.empty()) {
    AnchoredNode& node = anchors_[frame.anchor];
    node = AnchoredNode{};
    node.value = frame.value;
    node.nodes = nodes_ - frame.nodes_before;
    node.height = frame.deepest - frame.depth;
  }
  Place(std::move(frame.value), frame.deepest);
  return Status::Ok();
}

Status Loader::AcceptKey(std::string key) {
  if (key.size() > kMaxKeyBytes) {
    return ResourceExhaustedError("a mapping key is longer than 256 bytes");
  }
  if (!IsValidUtf8(key)) return InvalidArgumentError("a mapping key is not valid UTF-8");
  Frame& top = stack_.back();
  // Kubernetes decodes strictly: a key given twice is an error, never "last
  // wins", because the two copies can hide a change from a reviewer.
  if (top.value.contains(key)) {
    return InvalidArgumentError("mapping key '" + PrintableYamlText(key) +
                                "' appears more than once");
  }
  top.key = std::move(key);
  top.want_key = false;
  return Status::Ok();
}

void Loader::Place(json value, int deepest) {
  if (stack_.empty()) {
    docs_.push_back(std::move(value));
    return;
  }
  Frame& top = stack_.back();
  top.deepest = std::max(top.deepest, deepest);
  if (top.value.is_array()) {
    top.value.push_back(std::move(value));
    return;
  }
  top.value.emplace(std::move(top.key), std::move(value));
  top.key.clear();
  top.want_key = true;
}

// libyaml's problem and context are fixed strings: no input bytes are echoed.
Status Loader::SyntaxError() const {
  if (parser_.error == YAML_MEMORY_ERROR) return ResourceExhaustedError("YAML: out of memory");
  std::string problem = parser_.problem != nullptr ? parser_.problem : "malformed YAML";
  if (parser_.error != YAML_SCANNER_ERROR && parser_.error != YAML_PARSER_ERROR) {
    return InvalidArgumentError("YAML syntax error: " + problem);
  }
  std::string message = "YAML syntax error at " + Position(parser_.problem_mark) + ": " + problem;
  if (parser_.context != nullptr) {
    message += " (" + std::string(parser_.context) + " at " + Position(parser_.context_mark) + ")";
  }
  return InvalidArgumentError(message);
}

}  // namespace

StatusOr<std::vector<json>> LoadYamlDocuments(std::string_view text, const YamlLimits& limits) {
  Loader loader(text, limits);
  return loader.Run();
}

}  // namespace gatehouse::policy
