// Local mode: folder -> render -> push, no cluster.
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <thread>

#include "operator/cli/operator_metrics.h"
#include "operator/cli/operator_runner.h"
#include "operator/cli/reconcile_shell.h"
#include "proxy/cli/policy_sources.h"

namespace gatehouse::operator_cli {
namespace {

// Names, sizes and mtimes of the folder's entries: a change means re-read.
std::string FolderSignature(const std::string& dir) {
  std::string out;
  std::error_code ec;
  std::vector<std::string> lines;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    struct stat st {};
    if (::stat(entry.path().c_str(), &st) != 0) continue;
    lines.push_back(entry.path().filename().string() + ":" + std::to_string(st.st_size) + ":" +
                    std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec));
  }
  std::sort(lines.begin(), lines.end());
  for (const std::string& l : lines) out += l + "\n";
  return ec ? "unreadable" : out;
}

}  // namespace

int RunLocal(const OperatorFlags& flags) {
  fleet::FleetPusher pusher({.ca_file = flags.push_ca,
                             .cert_file = flags.push_cert,
                             .key_file = flags.push_key,
                             .server_name = flags.push_server_name});
  if (Status s = pusher.Validate(flags.proxies); !s.ok()) {
    spdlog::error("{}", s.message());
    return 2;
  }
  OperatorMetrics metrics;
  ReconcileShell shell(metrics, pusher);
  shell.tracker().SetMembers(flags.proxies);
  AdminServer admin(metrics, [] { return true; });
  if (Status s = admin.Start(flags.admin); !s.ok()) {
    spdlog::error("{}", s.message());
    return 2;
  }
  InstallStopHandlers();
  std::string last_signature;
  auto next_poll = std::chrono::steady_clock::now();
  spdlog::info("local mode: watching {} and pushing to {} proxies", flags.policies_dir,
               flags.proxies.size());
  while (!StopRequested()) {
    auto now = std::chrono::steady_clock::now();
    if (now >= next_poll) {
      next_poll = now + std::chrono::milliseconds(500);
      std::string signature = FolderSignature(flags.policies_dir);
      if (signature != last_signature) {
        last_signature = signature;
        StatusOr<std::vector<policy::SourceFile>> files =
            cli::ReadPolicySources({flags.policies_dir});
        if (!files.ok()) {
          spdlog::error("reading {}: {}", flags.policies_dir, files.status().message());
          metrics.reconciles_error.Increment();
        } else {
          policy::ParseResult parsed = policy::ParsePolicyFiles(*files);
          std::vector<policy::PolicyError> unattributed;
          shell.SetCandidates(
              reconcile::CandidatesFromParse(parsed.policies, parsed.errors, &unattributed));
          for (const auto& e : unattributed) spdlog::warn("{}", e.ToString());
        }
      }
    }
    shell.RenderAndPush();
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  spdlog::info("stopping");
  return 0;
}

}  // namespace gatehouse::operator_cli
