// PolicyError: one thing wrong with one policy document, named precisely
// enough that a user can fix it without reading our code:
//
//   policies/metabase.yaml: document 2 (analytics/metabase): spec.rules[2].paths[0]: '**' must be
//   the last segment
//
// The parser and the compiler both report these; `validate` prints one a line,
// the operator turns the first into the policy's Accepted=False message.
#pragma once

#include <string>

#include "proxy/policy/access_policy.h"

namespace gatehouse::policy {

enum class PolicyErrorReason { kInvalid, kConflict };

struct PolicyError {
  SourceLocation source;
  std::string policy;   // "namespace/name", "" when the document has no usable name
  std::string field;    // "spec.rules[2].paths[0]", "" for whole-document problems
  std::string message;  // what is wrong and, where it helps, what is expected
  PolicyErrorReason reason = PolicyErrorReason::kInvalid;

  // "Invalid" or "Conflict": the reason of the policy's Accepted=False condition.
  const char* ReasonName() const {
    return reason == PolicyErrorReason::kConflict ? "Conflict" : "Invalid";
  }

  // "field: message" (the Accepted condition's message).
  std::string FieldMessage() const { return field.empty() ? message : field + ": " + message; }

  // "file: document N (ns/name): field: message", leaving out what is unknown.
  std::string ToString() const {
    std::string where = source.file;
    auto add = [&where](const std::string& part) {
      if (!where.empty()) where += where.back() == ')' || part.front() == '(' ? " " : ": ";
      where += part;
    };
    if (source.document > 0) add("document " + std::to_string(source.document));
    if (!policy.empty()) add("(" + policy + ")");
    return where.empty() ? FieldMessage() : where + ": " + FieldMessage();
  }
  friend bool operator==(const PolicyError&, const PolicyError&) = default;
};

}  // namespace gatehouse::policy
