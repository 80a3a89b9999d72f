#include "proxy/policy/yaml_to_json.h"

#include <exception>
#include <string>

#include "proxy/core/utf8.h"
#include "proxy/policy/yaml_comma_scanner.h"
#include "proxy/policy/yaml_scalar.h"

namespace gatehouse::policy {
namespace {

// Whole-file checks before any YAML is read. Accept UTF-8 text only (a YAML
// reader would otherwise guess UTF-16/32 from NUL bytes and BOMs, after which
// our byte-level checks would no longer see what it sees); YAML forbids C0
// controls other than tab, LF and CR anyway.
Status CheckText(std::string_view content, const YamlLimits& limits) {
  if (content.size() > limits.max_file_bytes) {
    return ResourceExhaustedError("file is larger than " + std::to_string(limits.max_file_bytes) +
                                  " bytes");
  }
  if (!IsValidUtf8(content)) return InvalidArgumentError("file is not valid UTF-8");
  for (char c : content) {
    unsigned char u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t' && c != '\n' && c != '\r') || u == 0x7f) {
      return InvalidArgumentError("file contains control characters");
    }
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::vector<nlohmann::json>> YamlDocumentsToJson(std::string_view content,
                                                          const YamlLimits& limits) {
  Status text = CheckText(content, limits);
  if (!text.ok()) return text;
  StatusOr<std::vector<nlohmann::json>> docs = [&]() -> StatusOr<std::vector<nlohmann::json>> {
    try {
      return LoadYamlDocuments(content, limits);
    } catch (const std::exception& e) {  // allocation failure building the JSON
      return ResourceExhaustedError(std::string("YAML could not be read: ") + e.what());
    }
  }();
  if (docs.ok()) return docs;
  // A stray comma is never valid YAML, so it can only explain a failure; it
  // used to be checked before reading, and its message still wins over the
  // reader's. Scanning only failed files keeps the pass off the happy path.
  Status commas = CheckStrayCommas(content);
  if (!commas.ok()) return commas;
  return docs;
}

}  // namespace gatehouse::policy
