// KubeConfig: where the API server is and how to authenticate to it, read
// from a kubeconfig file (--kubeconfig) or from the in-cluster service
// account. This is the I/O shell: it reads files and the environment.
//
//   StatusOr<KubeConfig> config = flags.kubeconfig.empty() ? LoadInClusterConfig()
//                                                          : LoadKubeconfigFile(flags.kubeconfig);
//   KubeClient client(*config);
//
// A token file (in-cluster, or a kubeconfig `tokenFile`) is re-read by the
// client on every request, so bound service-account token rotation works.
#pragma once

#include <string>
#include <string_view>

#include "proxy/core/status.h"

namespace gatehouse::kube {

struct KubeConfig {
  std::string server;      // https://host:port (no trailing slash)
  std::string token;       // static bearer token, or ""
  std::string token_file;  // re-read on each request when set
  std::string ca_pem;      // trust only this CA when set
  std::string client_cert_pem;
  std::string client_key_pem;
  bool insecure_skip_tls_verify = false;
  std::string namespace_name = "default";  // the current context's namespace
};

inline constexpr char kServiceAccountDir[] = "/var/run/secrets/kubernetes.io/serviceaccount";

// Parses kubeconfig YAML; files it names (certificate-authority, client-key...)
// are read relative to `base_dir`. Credentials never appear in error messages.
StatusOr<KubeConfig> ParseKubeconfig(std::string_view yaml_text, const std::string& base_dir);
StatusOr<KubeConfig> LoadKubeconfigFile(const std::string& path);
// KUBERNETES_SERVICE_HOST/PORT and the mounted service account.
StatusOr<KubeConfig> LoadInClusterConfig();

StatusOr<std::string> ReadSmallFile(const std::string& path);

}  // namespace gatehouse::kube
