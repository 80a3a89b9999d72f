#include "proxy/cli/validate_command.h"

#include <ostream>

#include "proxy/cli/policy_sources.h"
#include "proxy/policy/policy_compiler.h"
#include "proxy/policy/policy_parser.h"

namespace gatehouse::cli {

int RunValidate(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty() || args.front() == "--help" || args.front() == "-h") {
    err << "usage: gatehouse-proxy validate FILE|DIR...\n"
           "  Checks AccessPolicy (and Secret) documents exactly as a proxy loads them.\n"
           "  Prints every error as 'file: document N (namespace/name): field: problem'.\n";
    return args.empty() ? 2 : 0;
  }
  StatusOr<std::vector<policy::SourceFile>> files = ReadPolicySources(args);
  if (!files.ok()) {
    err << "error: " << files.status().message() << "\n";
    return 1;
  }
  policy::ParseResult parsed = policy::ParsePolicyFiles(*files);
  // Compile what parsed, so conflicts and compile-time checks are reported too:
  // what `validate` accepts is exactly what a proxy will serve.
  policy::CompileResult compiled = policy::CompilePolicies(std::move(parsed.policies));
  std::vector<policy::PolicyError> errors = std::move(parsed.errors);
  errors.insert(errors.end(), compiled.errors.begin(), compiled.errors.end());
  for (const policy::PolicyError& e : errors) err << e.ToString() << "\n";

  const size_t accepted = compiled.set->policies().size();
  if (!errors.empty()) {
    err << errors.size() << (errors.size() == 1 ? " error" : " errors") << "; " << accepted
        << (accepted == 1 ? " policy" : " policies") << " valid\n";
    return 1;
  }
  out << accepted << (accepted == 1 ? " policy" : " policies") << " valid in " << files->size()
      << (files->size() == 1 ? " file" : " files") << "\n";
  return 0;
}

}  // namespace gatehouse::cli
