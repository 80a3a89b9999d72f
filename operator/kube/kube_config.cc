#include "operator/kube/kube_config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <exception>
#include <fstream>
#include <sstream>

#include "proxy/policy/secret_store.h"

namespace gatehouse::kube {
namespace {

constexpr size_t kMaxConfigFileBytes = 4u << 20;

std::string Text(const YAML::Node& node, const char* key) {
  YAML::Node value = node[key];
  return value && value.IsScalar() ? value.as<std::string>() : "";
}

// The entry of `list` (clusters/users/contexts) whose name is `name`.
YAML::Node Named(const YAML::Node& list, const std::string& name, const char* inner) {
  if (!list || !list.IsSequence()) return YAML::Node();
  for (const YAML::Node& item : list) {
    if (item.IsMap() && Text(item, "name") == name) return item[inner];
  }
  return YAML::Node();
}

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path.front() == '/' || base_dir.empty()) return path;
  return base_dir + "/" + path;
}

// "<field>-data" (base64) wins over "<field>" (a file), as in kubectl.
StatusOr<std::string> DataOrFile(const YAML::Node& node, const std::string& field,
                                 const std::string& base_dir) {
  std::string data = Text(node, (field + "-data").c_str());
  if (!data.empty()) {
    StatusOr<std::string> decoded = policy::DecodeBase64Strict(data);
    if (!decoded.ok()) return InvalidArgumentError("kubeconfig: " + field + "-data is not base64");
    return decoded;
  }
  std::string file = Text(node, field.c_str());
  if (file.empty()) return std::string();
  return ReadSmallFile(Resolve(base_dir, file));
}

StatusOr<KubeConfig> FromNodes(const YAML::Node& cluster, const YAML::Node& user,
                               const YAML::Node& context, const std::string& base_dir) {
  KubeConfig config;
  config.server = Text(cluster, "server");
  while (!config.server.empty() && config.server.back() == '/') config.server.pop_back();
  if (config.server.empty()) return InvalidArgumentError("kubeconfig: cluster has no server");
  config.insecure_skip_tls_verify = Text(cluster, "insecure-skip-tls-verify") == "true";
  StatusOr<std::string> ca = DataOrFile(cluster, "certificate-authority", base_dir);
  if (!ca.ok()) return ca.status();
  config.ca_pem = *ca;
  if (user && user.IsMap()) {
    config.token = Text(user, "token");
    config.token_file = Resolve(base_dir, Text(user, "tokenFile"));
    StatusOr<std::string> cert = DataOrFile(user, "client-certificate", base_dir);
    StatusOr<std::string> key = DataOrFile(user, "client-key", base_dir);
    if (!cert.ok()) return cert.status();
    if (!key.ok()) return key.status();
    config.client_cert_pem = *cert;
    config.client_key_pem = *key;
  }
  if (context && context.IsMap() && !Text(context, "namespace").empty()) {
    config.namespace_name = Text(context, "namespace");
  }
  return config;
}

}  // namespace

StatusOr<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError("cannot read " + path);
  std::ostringstream out;
  out << in.rdbuf();
  std::string text = out.str();
  if (text.size() > kMaxConfigFileBytes) return ResourceExhaustedError(path + " is too large");
  return text;
}

StatusOr<KubeConfig> ParseKubeconfig(std::string_view yaml_text, const std::string& base_dir) {
  try {
    YAML::Node root = YAML::Load(std::string(yaml_text));
    if (!root.IsMap()) return InvalidArgumentError("kubeconfig: not a YAML map");
    std::string current = Text(root, "current-context");
    if (current.empty()) return InvalidArgumentError("kubeconfig: no current-context");
    YAML::Node context = Named(root["contexts"], current, "context");
    if (!context || !context.IsMap()) {
      return InvalidArgumentError("kubeconfig: context " + current + " not found");
    }
    YAML::Node cluster = Named(root["clusters"], Text(context, "cluster"), "cluster");
    if (!cluster || !cluster.IsMap()) return InvalidArgumentError("kubeconfig: cluster not found");
    YAML::Node user = Named(root["users"], Text(context, "user"), "user");
    return FromNodes(cluster, user, context, base_dir);
  } catch (const std::exception&) {
    // yaml-cpp messages may quote the document (tokens): report only the fact.
    return InvalidArgumentError("kubeconfig: not valid YAML");
  }
}

StatusOr<KubeConfig> LoadKubeconfigFile(const std::string& path) {
  StatusOr<std::string> text = ReadSmallFile(path);
  if (!text.ok()) return text.status();
  size_t slash = path.rfind('/');
  return ParseKubeconfig(*text, slash == std::string::npos ? "." : path.substr(0, slash));
}

StatusOr<KubeConfig> LoadInClusterConfig() {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || port == nullptr || *host == '\0') {
    return FailedPreconditionError(
        "not running in a cluster (KUBERNETES_SERVICE_HOST unset): pass --kubeconfig");
  }
  KubeConfig config;
  std::string h = host;
  if (h.find(':') != std::string::npos) h = "[" + h + "]";  // IPv6
  config.server = "https://" + h + ":" + port;
  std::string dir = kServiceAccountDir;
  config.token_file = dir + "/token";
  StatusOr<std::string> ca = ReadSmallFile(dir + "/ca.crt");
  if (!ca.ok()) return ca.status();
  config.ca_pem = *ca;
  if (StatusOr<std::string> ns = ReadSmallFile(dir + "/namespace"); ns.ok() && !ns->empty()) {
    config.namespace_name = *ns;
    while (!config.namespace_name.empty() && std::isspace(config.namespace_name.back())) {
      config.namespace_name.pop_back();
    }
  }
  return config;
}

}  // namespace gatehouse::kube
