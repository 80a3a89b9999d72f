// gatehouse-operator: watches AccessPolicies, renders one fleet config, pushes
// it to every proxy and reports status (PRODUCT.md section 4).
#include <malloc.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "operator/cli/operator_runner.h"
#include "proxy/core/command_line.h"

namespace {

constexpr char kUsage[] =
    "usage: gatehouse-operator run [FLAGS]\n"
    "\n"
    "cluster mode (in-cluster config unless --kubeconfig):\n"
    "  --kubeconfig FILE        kubeconfig to use instead of the service account\n"
    "  --namespace NS           watch AccessPolicies (and Secrets) in NS only (default: all)\n"
    "  --proxy-namespace NS     namespace of the proxy fleet, its Lease and bootstrap\n"
    "                           (default: the kubeconfig / service account namespace)\n"
    "  --proxy-service NAME     admin Service whose EndpointSlices list the proxies\n"
    "                           (default gatehouse-proxy-admin; admin port named \"admin\")\n"
    "  --config-map NAME        Secret holding the last rendered config for proxies that\n"
    "                           start while the operator is down (default gatehouse-fleet-config)\n"
    "  --lease-name NAME        coordination.k8s.io Lease for leader election\n"
    "                           (default gatehouse-operator)\n"
    "  --identity ID            leader election identity (default $POD_NAME or host-pid)\n"
    "local mode (no cluster):\n"
    "  --policies DIR           folder of AccessPolicy (and Secret) YAML, polled every 500 ms\n"
    "  --proxy URL              a proxy admin URL; repeat for each proxy\n"
    "both:\n"
    "  --admin ADDR             /healthz /readyz /metrics (default 0.0.0.0:8081)\n"
    "  --push-ca FILE           CA that signs the proxies' admin certificates (mTLS push)\n"
    "  --push-cert FILE         the operator's client certificate\n"
    "  --push-key FILE          its private key\n"
    "  --push-server-name NAME  name the proxies' admin certificates carry (default in\n"
    "                           cluster mode: PROXY-SERVICE.PROXY-NAMESPACE.svc; in local\n"
    "                           mode: the --proxy URL's host)\n"
    "                           without the three, pushes go only to http:// loopback URLs\n";

}  // namespace

int main(int argc, char** argv) {
  // One malloc arena for every thread: cpprestsdk's pool and the status
  // writers would otherwise each get an arena of their own that keeps its
  // freed pages (measured, 5,000 policies: peak 133 MB -> 100 MB after the
  // status writes; the operator's threads mostly wait on the network).
  mallopt(M_ARENA_MAX, 1);
  spdlog::set_default_logger(spdlog::stderr_color_mt("gatehouse-operator"));
  std::vector<std::string> args =
      gatehouse::SplitFlagAssignments(std::vector<std::string>(argv + 1, argv + argc));
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << kUsage;
    return args.empty() ? 2 : 0;
  }
  if (args[0] != "run") {
    std::cerr << "gatehouse-operator: unknown command '" << args[0] << "'\n" << kUsage;
    return 2;
  }
  gatehouse::operator_cli::OperatorFlags flags;
  std::map<std::string, std::string*> single = {{"--kubeconfig", &flags.kubeconfig},
                                                {"--namespace", &flags.namespace_name},
                                                {"--proxy-namespace", &flags.proxy_namespace},
                                                {"--proxy-service", &flags.proxy_service},
                                                {"--config-map", &flags.config_map},
                                                {"--lease-name", &flags.lease_name},
                                                {"--identity", &flags.identity},
                                                {"--admin", &flags.admin},
                                                {"--push-ca", &flags.push_ca},
                                                {"--push-cert", &flags.push_cert},
                                                {"--push-key", &flags.push_key},
                                                {"--push-server-name", &flags.push_server_name},
                                                {"--policies", &flags.policies_dir}};
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--help") {
      std::cout << kUsage;
      return 0;
    }
    if (i + 1 >= args.size()) {
      std::cerr << "gatehouse-operator: " << args[i] << " needs a value\n";
      return 2;
    }
    if (args[i] == "--proxy") {
      flags.proxies.push_back(args[++i]);
    } else if (auto it = single.find(args[i]); it != single.end()) {
      *it->second = args[++i];
    } else {
      std::cerr << "gatehouse-operator: unknown flag '" << args[i] << "'\n" << kUsage;
      return 2;
    }
  }
  bool tls_parts = !flags.push_ca.empty() + !flags.push_cert.empty() + !flags.push_key.empty();
  if (tls_parts && (flags.push_ca.empty() || flags.push_cert.empty() || flags.push_key.empty())) {
    std::cerr << "gatehouse-operator: --push-ca, --push-cert and --push-key go together\n";
    return 2;
  }
  if (!flags.policies_dir.empty()) {
    if (flags.proxies.empty()) {
      std::cerr << "gatehouse-operator: local mode needs at least one --proxy URL\n";
      return 2;
    }
    return gatehouse::operator_cli::RunLocal(flags);
  }
  return gatehouse::operator_cli::RunCluster(flags);
}
