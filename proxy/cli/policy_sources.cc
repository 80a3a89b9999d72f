#include "proxy/cli/policy_sources.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

namespace gatehouse::cli {
namespace {

namespace fs = std::filesystem;

bool IsPolicyFileName(const fs::path& path) {
  const std::string name = path.filename().string();
  if (name.empty() || name.front() == '.') return false;
  const std::string ext = path.extension().string();
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

StatusOr<policy::SourceFile> ReadOne(const fs::path& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) return InvalidArgumentError(path.string() + ": " + ec.message());
  if (size > kMaxPolicyFileBytes) {
    return ResourceExhaustedError(path.string() + ": file is larger than " +
                                  std::to_string(kMaxPolicyFileBytes >> 20) + " MiB");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidArgumentError(path.string() + ": cannot be opened for reading");
  std::ostringstream content;
  content << in.rdbuf();
  return policy::SourceFile{path.string(), content.str()};
}

}  // namespace

StatusOr<std::vector<policy::SourceFile>> ReadPolicySources(const std::vector<std::string>& paths) {
  std::vector<policy::SourceFile> files;
  for (const std::string& arg : paths) {
    std::error_code ec;
    const fs::path path(arg);
    if (fs::is_directory(path, ec)) {
      std::vector<fs::path> names;
      for (const auto& entry : fs::directory_iterator(path, ec)) {
        if (IsPolicyFileName(entry.path()) && entry.is_regular_file(ec))
          names.push_back(entry.path());
      }
      if (ec) return InvalidArgumentError(arg + ": " + ec.message());
      std::sort(names.begin(), names.end());
      for (const fs::path& name : names) {
        StatusOr<policy::SourceFile> file = ReadOne(name);
        if (!file.ok()) return file.status();
        files.push_back(std::move(*file));
      }
    } else if (fs::exists(path, ec)) {
      StatusOr<policy::SourceFile> file = ReadOne(path);
      if (!file.ok()) return file.status();
      files.push_back(std::move(*file));
    } else {
      return NotFoundError(arg + ": no such file or folder");
    }
  }
  return files;
}

}  // namespace gatehouse::cli
