#include "proxy/server/policy_watcher.h"

#include <algorithm>
#include <filesystem>
#include <vector>

namespace gatehouse::server {

PolicyWatcher::PolicyWatcher(std::string directory, std::function<void()> reload,
                             std::chrono::milliseconds interval)
    : directory_(std::move(directory)), reload_(std::move(reload)), interval_(interval) {}

PolicyWatcher::~PolicyWatcher() { Stop(); }

std::string PolicyWatcher::Fingerprint(const std::string& directory) {
  namespace fs = std::filesystem;
  std::vector<std::string> lines;
  std::error_code ec;
  for (fs::directory_iterator it(directory, ec), end; !ec && it != end; it.increment(ec)) {
    // Follow symlinks: Kubernetes ConfigMap mounts swap a `..data` link.
    std::error_code entry_ec;
    const fs::path& p = it->path();
    const auto size = fs::is_regular_file(p, entry_ec) ? fs::file_size(p, entry_ec) : 0;
    const auto mtime = fs::last_write_time(p, entry_ec).time_since_epoch().count();
    lines.push_back(p.filename().string() + " " + std::to_string(size) + " " +
                    std::to_string(mtime));
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const std::string& line : lines) out += line + "\n";
  return out;
}

void PolicyWatcher::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Run(); });
}

void PolicyWatcher::Trigger() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    triggered_ = true;
  }
  cv_.notify_all();
}

void PolicyWatcher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PolicyWatcher::Run() {
  std::string last = Fingerprint(directory_);
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, interval_, [this] { return stop_ || triggered_; });
    if (stop_) break;
    const bool forced = triggered_;
    triggered_ = false;
    lock.unlock();
    std::string now = Fingerprint(directory_);
    if (forced || now != last) {
      last = std::move(now);
      reload_();
    }
    lock.lock();
  }
}

}  // namespace gatehouse::server
