// The operator's two run modes (thin I/O shells around reconcile/):
//
//   OperatorFlags flags = ...;                // operator_flags (main.cc)
//   return flags.policies_dir.empty() ? RunCluster(flags) : RunLocal(flags);
//
// Local mode polls a folder of AccessPolicy YAML (mtimes every 500 ms),
// renders, pushes to the --proxy URLs and logs per-policy acceptance. Cluster
// mode runs informers, leader election, the bootstrap Secret, pushes and
// status writes. Both stop on SIGTERM/SIGINT.
#pragma once

#include <string>
#include <vector>

namespace gatehouse::operator_cli {

struct OperatorFlags {
  // Cluster mode.
  std::string kubeconfig;
  std::string namespace_name;   // "" = every namespace
  std::string proxy_namespace;  // "" = the kubeconfig / service account namespace
  std::string proxy_service = "gatehouse-proxy-admin";
  std::string config_map = "gatehouse-fleet-config";
  std::string lease_name = "gatehouse-operator";
  std::string identity;  // "" = $POD_NAME or hostname-pid
  // Both.
  std::string admin = "0.0.0.0:8081";
  std::string push_ca, push_cert, push_key;
  std::string push_server_name;  // "" = cluster: the admin Service's DNS name; local: URL host
  // Local mode.
  std::string policies_dir;
  std::vector<std::string> proxies;
};

int RunLocal(const OperatorFlags& flags);
int RunCluster(const OperatorFlags& flags);

}  // namespace gatehouse::operator_cli
