// gatehouse-proxy: the Gatehouse auth proxy and its policy tools.
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/cli/explain_command.h"
#include "proxy/cli/serve_command.h"
#include "proxy/cli/validate_command.h"
#include "proxy/core/command_line.h"

namespace {

constexpr char kUsage[] =
    "usage: gatehouse-proxy COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  serve ...              run the proxy (serve --help)\n"
    "  validate FILE|DIR...   check AccessPolicy files; exit 1 with field-level errors\n"
    "  explain ...            show the decision for one request (explain --help)\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args =
      gatehouse::SplitFlagAssignments(std::vector<std::string>(argv + 1, argv + argc));
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << kUsage;
    return args.empty() ? 2 : 0;
  }
  const std::string command = args[0];
  args.erase(args.begin());
  if (command == "serve") return gatehouse::cli::RunServe(args, std::cerr);
  if (command == "validate") return gatehouse::cli::RunValidate(args, std::cout, std::cerr);
  if (command == "explain") return gatehouse::cli::RunExplain(args, std::cout, std::cerr);
  std::cerr << "gatehouse-proxy: unknown command '" << command << "'\n" << kUsage;
  return 2;
}
