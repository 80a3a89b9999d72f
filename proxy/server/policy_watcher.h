// PolicyWatcher: local mode's reload trigger. Polls a folder of policy files
// once a `interval` (names, sizes and modification times of its entries) and
// calls `reload` when anything changed; Trigger() (SIGHUP) forces a reload.
// It reads no file contents itself: `reload` reads, parses and applies (and
// keeps the last good config when the new one is broken).
//
//   PolicyWatcher watcher("policies/", [&] { ReloadFromDisk(); });
//   watcher.Start();           // first fingerprint taken now; no initial reload
//   watcher.Trigger();         // from the SIGHUP handler's thread (not the handler itself)
//   watcher.Stop();
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace gatehouse::server {

class PolicyWatcher {
 public:
  PolicyWatcher(std::string directory, std::function<void()> reload,
                std::chrono::milliseconds interval = std::chrono::seconds(1));
  ~PolicyWatcher();

  void Start();
  void Trigger();
  void Stop();

  // "name size mtime\n" for each entry, sorted; "" when the folder is unreadable.
  static std::string Fingerprint(const std::string& directory);

 private:
  void Run();

  std::string directory_;
  std::function<void()> reload_;
  std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool triggered_ = false;
  std::thread thread_;
};

}  // namespace gatehouse::server
