// `gatehouse-proxy validate FILE|DIR...`: parse and compile exactly as a proxy
// would load them; print every error, one a line, and exit 1 if there is any.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace gatehouse::cli {

int RunValidate(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace gatehouse::cli
