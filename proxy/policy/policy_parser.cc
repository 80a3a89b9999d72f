#include "proxy/policy/policy_parser.h"

#include <map>
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

struct PendingPolicy {
  const json* object;
  SourceLocation source;
};

// Everything read from the files before policies are validated.
struct Gathered {
  std::vector<json> documents;  // owns the JSON the pending entries point into
  std::vector<PendingPolicy> policies;
  SecretStore secrets;
  std::vector<PolicyError> errors;
};

void GatherSecret(const json& doc, const SourceLocation& source, Gathered* out) {
  validation::Issues issues;
  std::optional<ParsedSecret> secret = ParseSecretObject(doc, &issues);
  if (!secret) {
    AppendIssues(issues, source, "", &out->errors);
    return;
  }
  std::string key = secret->namespace_name + "/" + secret->name;
  if (!out->secrets.Add(secret->namespace_name, secret->name, std::move(secret->data))) {
    out->errors.push_back(
        MakeError(source, "", "metadata.name", "Secret " + key + " is defined more than once"));
  }
}

// Sorts one document by kind. Only the kind is read here; the validators
// check everything else (including apiVersion) with field paths.
void GatherDocument(const json& doc, const SourceLocation& source, Gathered* out) {
  if (doc.is_null()) return;  // an empty document ("---" twice, comments only)
  if (!doc.is_object()) {
    out->errors.push_back(MakeError(source, "", "", "a document must be a mapping (an object)"));
    return;
  }
  auto kind = doc.find("kind");
  if (kind == doc.end() || !kind->is_string()) {
    out->errors.push_back(MakeError(source, "", "kind", "is required (AccessPolicy or Secret)"));
    return;
  }
  const std::string& name = kind->get_ref<const std::string&>();
  if (name == "AccessPolicy") {
    out->policies.push_back({&doc, source});
  } else if (name == "Secret") {
    GatherSecret(doc, source, out);
  } else {
    out->errors.push_back(
        MakeError(source, "", "kind",
                  "must be AccessPolicy or Secret (got " + validation::Quote(name) + ")"));
  }
}

Gathered GatherFiles(const std::vector<SourceFile>& files) {
  Gathered out;
  std::vector<std::pair<size_t, SourceLocation>> placed;  // document index -> where
  for (const SourceFile& file : files) {
    StatusOr<std::vector<json>> docs = YamlDocumentsToJson(file.content);
    if (!docs.ok()) {
      out.errors.push_back(MakeError({file.path, 0}, "", "", docs.status().message()));
      continue;
    }
    for (size_t i = 0; i < docs->size(); ++i) {
      placed.emplace_back(out.documents.size(), SourceLocation{file.path, static_cast<int>(i + 1)});
      out.documents.push_back(std::move((*docs)[i]));
    }
  }
  // Pointers into `documents` are taken only now that it no longer grows.
  for (const auto& [index, source] : placed) GatherDocument(out.documents[index], source, &out);
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
  result.errors = std::move(gathered.errors);
  std::map<std::string, SourceLocation> first_seen;  // namespace/name -> first document
  for (const PendingPolicy& pending : gathered.policies) {
    PolicyObjectResult parsed =
        ParsePolicyObject(*pending.object, gathered.secrets, pending.source);
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
