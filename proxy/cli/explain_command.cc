#include "proxy/cli/explain_command.h"

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <sstream>

#include "proxy/auth/cpprest_fetcher.h"
#include "proxy/auth/jwks_cache.h"
#include "proxy/auth/jwt_claims.h"
#include "proxy/auth/jwt_verifier.h"
#include "proxy/auth/strict_json.h"
#include "proxy/cli/policy_sources.h"
#include "proxy/core/time_source.h"
#include "proxy/policy/path_normalizer.h"
#include "proxy/policy/policy_compiler.h"
#include "proxy/policy/policy_engine.h"
#include "proxy/policy/policy_parser.h"

namespace gatehouse::cli {
namespace {

constexpr char kUsage[] =
    "usage: gatehouse-proxy explain --policies DIR (--claims JSON | --token JWT [--jwks FILE])\n"
    "                               [--client-ip IP] [--browser] [-o text|json] METHOD URL\n"
    "  Prints the decision, status, policy, rule and reason the proxy would produce.\n"
    "  Without --claims or --token the request is anonymous.\n";

struct ExplainOptions {
  std::vector<std::string> policy_paths;
  std::optional<std::string> claims_json;
  std::optional<std::string> token;
  std::optional<std::string> jwks_file;
  std::string client_ip = "127.0.0.1";
  bool browser = false;
  bool json_output = false;
  std::string method;
  std::string url;
};

StatusOr<ExplainOptions> ParseArgs(const std::vector<std::string>& args) {
  ExplainOptions o;
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](const char* flag) -> StatusOr<std::string> {
      if (i + 1 >= args.size()) return InvalidArgumentError(std::string(flag) + " needs a value");
      return args[++i];
    };
    StatusOr<std::string> v = std::string();
    if (a == "--policies") {
      if (!(v = value("--policies")).ok()) return v.status();
      o.policy_paths.push_back(*v);
    } else if (a == "--claims") {
      if (!(v = value("--claims")).ok()) return v.status();
      o.claims_json = *v;
    } else if (a == "--token") {
      if (!(v = value("--token")).ok()) return v.status();
      o.token = *v;
    } else if (a == "--jwks") {
      if (!(v = value("--jwks")).ok()) return v.status();
      o.jwks_file = *v;
    } else if (a == "--client-ip") {
      if (!(v = value("--client-ip")).ok()) return v.status();
      o.client_ip = *v;
    } else if (a == "-o" || a == "--output") {
      if (!(v = value("-o")).ok()) return v.status();
      if (*v != "text" && *v != "json") return InvalidArgumentError("-o must be text or json");
      o.json_output = *v == "json";
    } else if (a == "--browser") {
      o.browser = true;
    } else if (a.size() > 1 && a[0] == '-') {
      return InvalidArgumentError("unknown flag " + a);
    } else {
      positional.push_back(a);
    }
  }
  if (o.policy_paths.empty()) return InvalidArgumentError("--policies is required");
  if (o.claims_json && o.token) return InvalidArgumentError("give --claims or --token, not both");
  if (o.jwks_file && !o.token) return InvalidArgumentError("--jwks goes with --token");
  if (positional.size() != 2) return InvalidArgumentError("expected METHOD URL");
  o.method = positional[0];
  o.url = positional[1];
  return o;
}

struct TargetUrl {
  std::string host;    // authority as a Host header would carry it
  std::string target;  // path and query
};

StatusOr<TargetUrl> SplitUrl(const std::string& url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) {
    return InvalidArgumentError("URL must be absolute, like https://host/path: " + url);
  }
  const size_t host_start = scheme_end + 3;
  const size_t path_start = url.find_first_of("/?", host_start);
  TargetUrl out;
  out.host = url.substr(host_start, path_start - host_start);
  out.target = path_start == std::string::npos ? "/" : url.substr(path_start);
  if (!out.target.empty() && out.target.front() == '?') out.target.insert(0, "/");
  if (out.host.empty()) return InvalidArgumentError("URL has no host: " + url);
  return out;
}

// The issuer config whose claim names apply: the one named by `iss`, else the first.
auth::IssuerConfig PickIssuer(const policy::CompiledPolicy& p, std::string_view iss) {
  const auto& issuers = p.source.spec.authentication.issuers;
  for (const auth::IssuerConfig& c : issuers) {
    if (c.issuer == iss) return c;
  }
  return issuers.empty() ? auth::IssuerConfig{} : issuers.front();
}

StatusOr<std::shared_ptr<const auth::JsonWebKeySet>> LoadKeys(const ExplainOptions& o,
                                                              const auth::IssuerConfig& config,
                                                              const TimeSource& time) {
  if (o.jwks_file) {
    std::ifstream in(*o.jwks_file, std::ios::binary);
    if (!in) return InvalidArgumentError(*o.jwks_file + ": cannot be opened for reading");
    std::ostringstream body;
    body << in.rdbuf();
    return auth::JsonWebKeySet::Parse(body.str());
  }
  auth::CpprestFetcher fetcher;
  auth::JwksCache cache(fetcher, time, [] { return 0.5; });
  cache.Track(config);
  cache.RunDueFetches();  // blocking: this is a CLI, not the data path
  std::shared_ptr<const auth::JsonWebKeySet> keys = cache.Keys(config);
  if (!keys) return UnavailableError("could not fetch the signing keys of " + config.issuer);
  return keys;
}

// Identity for the request, or the reason the offered credential was rejected.
struct Credential {
  std::shared_ptr<const auth::Identity> identity;
  std::string rejected;  // non-empty: a credential was offered and did not verify
};

StatusOr<Credential> ResolveCredential(const ExplainOptions& o, const policy::CompiledPolicy* p,
                                       const TimeSource& time) {
  Credential c;
  if (o.claims_json) {
    StatusOr<nlohmann::json> claims = auth::ParseStrictJson(*o.claims_json);
    if (!claims.ok() || !claims->is_object()) {
      return InvalidArgumentError("--claims must be a JSON object");
    }
    const std::string iss = claims->value("iss", "");
    const auth::IssuerConfig config = p ? PickIssuer(*p, iss) : auth::IssuerConfig{};
    StatusOr<std::shared_ptr<const auth::Identity>> id =
        auth::IdentityFromClaims(std::move(*claims), config);
    if (!id.ok())
      c.rejected = id.status().message();
    else
      c.identity = std::move(*id);
    return c;
  }
  if (!o.token || p == nullptr) return c;
  StatusOr<std::string> iss = auth::PeekIssuer(*o.token);
  if (!iss.ok()) {
    c.rejected = iss.status().message();
    return c;
  }
  const auto& issuers = p->source.spec.authentication.issuers;
  auto it = std::find_if(issuers.begin(), issuers.end(),
                         [&](const auth::IssuerConfig& i) { return i.issuer == *iss; });
  if (it == issuers.end()) {
    c.rejected = "issuer is not trusted by policy " + p->key;
    return c;
  }
  StatusOr<std::shared_ptr<const auth::JsonWebKeySet>> keys = LoadKeys(o, *it, time);
  if (!keys.ok()) return keys.status();
  StatusOr<std::shared_ptr<const auth::Identity>> id =
      auth::VerifyJwt(*o.token, *it, **keys, time.NowSeconds());
  if (!id.ok())
    c.rejected = id.status().message();
  else
    c.identity = std::move(*id);
  return c;
}

nlohmann::json DescribeIdentity(const auth::Identity* id) {
  if (id == nullptr) return nullptr;
  return {{"user", id->user}, {"email", id->email}, {"groups", id->groups}, {"issuer", id->issuer}};
}

void Print(const ExplainOptions& o, const policy::Decision& d, const std::string& path,
           const Credential& c, std::ostream& out) {
  nlohmann::json j = {
      {"decision", d.DecisionLabel()},
      {"status", d.http_status},
      {"policy", d.PolicyKey()},
      {"rule", d.rule},
      {"reason", d.ReasonLabel()},
      {"path", path},
      {"identity", DescribeIdentity(c.identity.get())},
  };
  if (d.reason == policy::DecisionReason::kAuditWouldDeny) {
    j["wouldDeny"] = policy::ReasonLabel(d.audit_reason);
  }
  if (!c.rejected.empty()) j["credentialRejected"] = c.rejected;
  if (o.json_output) {
    out << j.dump(2) << "\n";
    return;
  }
  for (const char* key : {"decision", "status", "reason", "policy", "rule", "path"}) {
    std::string value = j[key].is_string() ? j[key].get<std::string>() : j[key].dump();
    out << key << std::string(10 - std::string_view(key).size(), ' ')
        << (value.empty() ? "-" : value) << "\n";
  }
  if (j.contains("wouldDeny")) out << "would deny: " << j["wouldDeny"].get<std::string>() << "\n";
  if (c.identity) out << "identity  " << j["identity"].dump() << "\n";
  if (!c.rejected.empty()) out << "credential rejected: " << c.rejected << "\n";
}

}  // namespace

int RunExplain(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (!args.empty() && (args.front() == "--help" || args.front() == "-h")) {
    out << kUsage;
    return 0;
  }
  StatusOr<ExplainOptions> o = ParseArgs(args);
  StatusOr<TargetUrl> url = o.ok() ? SplitUrl(o->url) : StatusOr<TargetUrl>(o.status());
  if (!url.ok()) {
    err << "error: " << url.status().message() << "\n" << kUsage;
    return 1;
  }
  StatusOr<std::vector<policy::SourceFile>> files = ReadPolicySources(o->policy_paths);
  if (!files.ok()) {
    err << "error: " << files.status().message() << "\n";
    return 1;
  }
  policy::ParseResult parsed = policy::ParsePolicyFiles(*files);
  policy::CompileResult compiled = policy::CompilePolicies(std::move(parsed.policies));
  for (const auto& e : parsed.errors) err << "warning: left out: " << e.ToString() << "\n";
  for (const auto& e : compiled.errors) err << "warning: left out: " << e.ToString() << "\n";

  StatusOr<policy::IpAddress> ip = policy::ParseIpAddress(o->client_ip);
  if (!ip.ok()) {
    err << "error: --client-ip: " << ip.status().message() << "\n";
    return 1;
  }
  StatusOr<policy::NormalizedPath> path = policy::NormalizePath(url->target);
  if (!path.ok()) {
    // The proxy answers 400 before routing: nothing is matched against a path it cannot trust.
    Print(*o, policy::MakeDecision(policy::DecisionReason::kBadRequest, nullptr, ""), url->target,
          Credential{}, out);
    err << "path rejected: " << path.status().message() << "\n";
    return 0;
  }
  const policy::CompiledPolicy* routed = policy::Route(*compiled.set, url->host, path->path);
  SystemTimeSource time;
  StatusOr<Credential> credential = ResolveCredential(*o, routed, time);
  if (!credential.ok()) {
    err << "error: " << credential.status().message() << "\n";
    return 1;
  }
  policy::RequestFacts facts{.method = o->method,
                             .host = url->host,
                             .path = path->path,
                             .client_ip = &*ip,
                             .identity = credential->identity.get(),
                             .bad_credentials = !credential->rejected.empty(),
                             .browser_navigation = o->browser};
  Print(*o, policy::Evaluate(*compiled.set, facts), path->path, *credential, out);
  return 0;
}

}  // namespace gatehouse::cli
