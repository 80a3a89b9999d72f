#include "proxy/policy/yaml_comma_scanner.h"

#include <string>

namespace gatehouse::policy {
namespace {

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

}  // namespace

Status CheckStrayCommas(std::string_view text) { return CommaHazardScanner(text).Scan(); }

}  // namespace gatehouse::policy
