#include "proxy/policy/policy_parser.h"

#include <map>
#include <memory>
#include <optional>
#include <utility>

#include "proxy/policy/policy_validator.h"
#include "proxy/policy/yaml_to_json.h"

namespace gatehouse::policy {
namespace {

using nlohmann::json;

PolicyError MakeError(const SourceLocation& source, std::string policy, std::string field,
                      std::string message) {
  PolicyError error;
  error.source = source;
  error.policy = std::move(policy);
  error.field = std::move(field);
  error.message = std::move(message);
  return error;
}

void AppendIssues(const validation::Issues& issues, const SourceLocation& source,
                  const std::string& policy, std::vector<PolicyError>* out) {
  for (const validation::FieldIssue& issue : issues.list()) {
    out->push_back(MakeError(source, policy, issue.field, issue.message));
  }
}

// A policy document in input order: validated already when the Secrets seen
// before it were enough, otherwise its JSON waits for every Secret.
struct PendingPolicy {
  std::optional<AccessPolicy> parsed;
  std::unique_ptr<json> object;  // set when `parsed` is not
  SourceLocation source;
};

// Everything read from the files before the remaining policies are validated.
struct Gathered {
  std::vector<PendingPolicy> policies;
  SecretStore secrets;
  std::vector<PolicyError> file_errors;      // YAML problems, in file order
  std::vector<PolicyError> document_errors;  // Secret and kind problems, in document order
};

void GatherSecret(const json& doc, const SourceLocation& source, Gathered* out) {
  validation::Issues issues;
  std::optional<ParsedSecret> secret = ParseSecretObject(doc, &issues);
  if (!secret) {
    AppendIssues(issues, source, "", &out->document_errors);
    return;
  }
  std::string key = secret->namespace_name + "/" + secret->name;
  if (!out->secrets.Add(secret->namespace_name, secret->name, std::move(secret->data))) {
    out->document_errors.push_back(
        MakeError(source, "", "metadata.name", "Secret " + key + " is defined more than once"));
  }
}

// Sorts one document by kind. Only the kind is read here; the validators
// check everything else (including apiVersion) with field paths.
//
// Scale: a policy is validated as soon as it is read when the Secrets seen so
// far resolve it, so only the JSON of policies that wait for a later Secret
// (or are invalid) stays alive; 10,000 policies no longer hold 10,000 JSON
// trees at once. The result is the same as validating after every Secret:
// SecretStore::Add never replaces a Secret and validation only looks Secrets
// up, so a lookup that succeeds now returns the same value later, and a
// policy that fails now is validated again, with every Secret, at the end.
void GatherDocument(json doc, const SourceLocation& source, Gathered* out) {
  if (doc.is_null()) return;  // an empty document ("---" twice, comments only)
  if (!doc.is_object()) {
    out->document_errors.push_back(
        MakeError(source, "", "", "a document must be a mapping (an object)"));
    return;
  }
  auto kind = doc.find("kind");
  if (kind == doc.end() || !kind->is_string()) {
    out->document_errors.push_back(
        MakeError(source, "", "kind", "is required (AccessPolicy or Secret)"));
    return;
  }
  const std::string& name = kind->get_ref<const std::string&>();
  if (name == "AccessPolicy") {
    PolicyObjectResult early = ParsePolicyObject(doc, out->secrets, source);
    PendingPolicy pending{std::move(early.policy), nullptr, source};
    if (!pending.parsed) pending.object = std::make_unique<json>(std::move(doc));
    out->policies.push_back(std::move(pending));
  } else if (name == "Secret") {
    GatherSecret(doc, source, out);
  } else {
    out->document_errors.push_back(
        MakeError(source, "", "kind",
                  "must be AccessPolicy or Secret (got " + validation::Quote(name) + ")"));
  }
}

Gathered GatherFiles(const std::vector<SourceFile>& files) {
  Gathered out;
  for (const SourceFile& file : files) {
    StatusOr<std::vector<json>> docs = YamlDocumentsToJson(file.content);
    if (!docs.ok()) {
      out.file_errors.push_back(MakeError({file.path, 0}, "", "", docs.status().message()));
      continue;
    }
    for (size_t i = 0; i < docs->size(); ++i) {
      GatherDocument(std::move((*docs)[i]), SourceLocation{file.path, static_cast<int>(i + 1)},
                     &out);
    }
  }
  return out;
}

}  // namespace

PolicyObjectResult ParsePolicyObject(const json& object, const SecretStore& secrets,
                                     const SourceLocation& source) {
  PolicyObjectResult result;
  PolicyValidation validation = ValidateAccessPolicy(object, secrets);
  if (!validation.issues.empty()) {
    const AccessPolicy& p = validation.policy;
    std::string key = p.name.empty() || p.namespace_name.empty() ? "" : p.Key();
    AppendIssues(validation.issues, source, key, &result.errors);
    return result;
  }
  validation.policy.source = source;
  result.policy = std::move(validation.policy);
  return result;
}

StatusOr<AccessPolicy> ParsePolicyJson(const json& object, const SecretStore& secrets) {
  PolicyObjectResult result = ParsePolicyObject(object, secrets);
  if (result.policy) return std::move(*result.policy);
  std::string message;
  for (const PolicyError& error : result.errors) {
    if (!message.empty()) message += "; ";
    message += error.FieldMessage();
  }
  return InvalidArgumentError(message);
}

ParseResult ParsePolicyFiles(const std::vector<SourceFile>& files) {
  Gathered gathered = GatherFiles(files);
  ParseResult result;
  result.errors = std::move(gathered.file_errors);
  for (PolicyError& error : gathered.document_errors) result.errors.push_back(std::move(error));
  std::map<std::string, SourceLocation> first_seen;  // namespace/name -> first document
  for (PendingPolicy& pending : gathered.policies) {
    PolicyObjectResult parsed;
    if (pending.parsed) {
      parsed.policy = std::move(pending.parsed);
    } else {
      parsed = ParsePolicyObject(*pending.object, gathered.secrets, pending.source);
      pending.object.reset();
    }
    // The key is known even for an invalid policy when its metadata was valid;
    // a later duplicate is reported even if the first copy was rejected.
    std::string key;
    if (parsed.policy) {
      key = parsed.policy->Key();
    } else if (!parsed.errors.empty() && !parsed.errors.front().policy.empty()) {
      key = parsed.errors.front().policy;
    }
    if (!key.empty()) {
      auto [it, inserted] = first_seen.emplace(key, pending.source);
      if (!inserted) {
        const SourceLocation& first = it->second;
        result.errors.push_back(
            MakeError(pending.source, key, "metadata.name",
                      "AccessPolicy " + key + " is already defined in " +
                          (first.file.empty() ? std::string("an earlier document") : first.file) +
                          ": document " + std::to_string(first.document)));
        continue;
      }
    }
    if (parsed.policy) {
      result.policies.push_back(std::move(*parsed.policy));
    } else {
      for (PolicyError& error : parsed.errors) result.errors.push_back(std::move(error));
    }
  }
  return result;
}

}  // namespace gatehouse::policy
