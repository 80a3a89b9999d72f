#include "proxy/cli/serve_command.h"

#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>

#include "proxy/auth/cpprest_fetcher.h"
#include "proxy/auth/jwks_cache.h"
#include "proxy/auth/session_cookie.h"
#include "proxy/cli/policy_sources.h"
#include "proxy/core/gzip.h"
#include "proxy/core/random_source.h"
#include "proxy/core/time_source.h"
#include "proxy/policy/fleet_config.h"
#include "proxy/policy/policy_parser.h"
#include "proxy/server/admin_endpoints.h"
#include "proxy/server/admin_server.h"
#include "proxy/server/assertion_signer.h"
#include "proxy/server/audit_log.h"
#include "proxy/server/config_store.h"
#include "proxy/server/jwks_refresher.h"
#include "proxy/server/login_flow.h"
#include "proxy/server/net_options.h"
#include "proxy/server/policy_watcher.h"
#include "proxy/server/proxy_metrics.h"
#include "proxy/server/proxy_server.h"
#include "proxy/server/request_gate.h"

namespace gatehouse::cli {
namespace {

using server::ConfigStore;

constexpr char kUsage[] =
    "usage: gatehouse-proxy serve (--policies DIR | --bootstrap FILE)\n"
    "           [--listen ADDR] [--admin ADDR] [--threads N] [--tls-cert F --tls-key F]\n"
    "           [--signing-key F] [--drain-seconds N] [--session-keys F]\n"
    "           [--header-timeout SECONDS]\n"
    "           [--push-ca F --push-cert F --push-key F]\n"
    "  ADDR is HOST:PORT ([V6]:PORT); defaults 0.0.0.0:8080 and 0.0.0.0:9901.\n"
    "  --push-*: the admin port serves HTTPS with --push-cert/--push-key and accepts\n"
    "  config pushes only with a client certificate issued by --push-ca; without\n"
    "  them pushes are plain HTTP and accepted only on a loopback --admin address.\n";

struct ServeOptions {
  std::string policies_dir;
  std::string bootstrap_file;
  std::string listen = "0.0.0.0:8080";
  std::string admin = "0.0.0.0:9901";
  int threads = 0;
  std::string tls_cert;
  std::string tls_key;
  std::string signing_key;
  std::string session_keys;  // browser sessions: one key per line, the first encrypts
  int drain_seconds = 25;
  int header_timeout_seconds = 10;  // slowloris: the whole request head within this
  std::string push_ca;
  std::string push_cert;
  std::string push_key;
};

StatusOr<int> ParseInt(const std::string& flag, const std::string& text, int min, int max) {
  try {
    size_t used = 0;
    const int v = std::stoi(text, &used);
    if (used == text.size() && v >= min && v <= max) return v;
  } catch (...) {
  }
  return InvalidArgumentError(flag + " must be a number from " + std::to_string(min) + " to " +
                              std::to_string(max));
}

StatusOr<ServeOptions> ParseArgs(const std::vector<std::string>& args) {
  ServeOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (i + 1 >= args.size()) return InvalidArgumentError("unknown or incomplete flag " + a);
    const std::string& v = args[++i];
    if (a == "--policies")
      o.policies_dir = v;
    else if (a == "--bootstrap")
      o.bootstrap_file = v;
    else if (a == "--listen")
      o.listen = v;
    else if (a == "--admin")
      o.admin = v;
    else if (a == "--tls-cert")
      o.tls_cert = v;
    else if (a == "--tls-key")
      o.tls_key = v;
    else if (a == "--signing-key")
      o.signing_key = v;
    else if (a == "--session-keys")
      o.session_keys = v;
    else if (a == "--push-ca")
      o.push_ca = v;
    else if (a == "--push-cert")
      o.push_cert = v;
    else if (a == "--push-key")
      o.push_key = v;
    else if (a == "--header-timeout") {
      StatusOr<int> n = ParseInt(a, v, 1, 3600);
      if (!n.ok()) return n.status();
      o.header_timeout_seconds = *n;
    } else if (a == "--threads" || a == "--drain-seconds") {
      StatusOr<int> n = ParseInt(a, v, a == "--threads" ? 1 : 0, a == "--threads" ? 256 : 3600);
      if (!n.ok()) return n.status();
      (a == "--threads" ? o.threads : o.drain_seconds) = *n;
    } else {
      return InvalidArgumentError("unknown flag " + a);
    }
  }
  if (o.policies_dir.empty() == o.bootstrap_file.empty()) {
    return InvalidArgumentError("give exactly one of --policies DIR or --bootstrap FILE");
  }
  if (o.tls_cert.empty() != o.tls_key.empty()) {
    return InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  if (o.push_ca.empty() != o.push_cert.empty() || o.push_ca.empty() != o.push_key.empty()) {
    return InvalidArgumentError("--push-ca, --push-cert and --push-key go together");
  }
  return o;
}

// "host:port" or "[v6]:port" -> host, port.
Status SplitAddress(const std::string& text, std::string* host, uint16_t* port) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos) return InvalidArgumentError("address needs :PORT: " + text);
  std::string h = text.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  StatusOr<int> p = ParseInt("port of " + text, text.substr(colon + 1), 0, 65535);
  if (!p.ok()) return p.status();
  *host = h.empty() ? "0.0.0.0" : h;
  *port = static_cast<uint16_t>(*p);
  return Status::Ok();
}

StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidArgumentError(path + ": cannot be opened for reading");
  std::ostringstream body;
  body << in.rdbuf();
  return body.str();
}

// Local mode: read, parse and apply the folder; a broken folder keeps the last good config.
void ReloadPolicies(const std::string& dir, ConfigStore& store, server::ProxyMetrics& metrics) {
  policy::ParseResult parsed;
  {
    // The files' bytes live only in this scope: freed before the compile in
    // ApplyPolicies (~9 MB at 10,000 policies off the reload's peak).
    StatusOr<std::vector<policy::SourceFile>> files = ReadPolicySources({dir});
    if (!files.ok()) {
      metrics.ConfigApplied(false, 0);
      spdlog::error("policies not reloaded, the last good config stays: {}",
                    files.status().message());
      return;
    }
    parsed = policy::ParsePolicyFiles(*files);
  }
  if (!parsed.ok()) {
    metrics.ConfigApplied(false, 0);
    for (const policy::PolicyError& e : parsed.errors)
      spdlog::error("policy error: {}", e.ToString());
    spdlog::error("policies not reloaded ({} errors), the last good config stays",
                  parsed.errors.size());
    return;
  }
  StatusOr<server::ConfigVersion> applied = store.ApplyPolicies(std::move(parsed.policies));
  if (!applied.ok()) {
    spdlog::error("policies not reloaded, the last good config stays: {}",
                  applied.status().message());
  } else if (applied->changed) {
    spdlog::info("config version {} in force (sha256 {})", applied->version, applied->sha256);
  }
}

// --session-keys FILE, or one ephemeral key (sessions die with the process).
StatusOr<auth::SessionKeySet> LoadSessionKeys(const ServeOptions& o, RandomSource& random) {
  if (o.session_keys.empty()) {
    spdlog::warn(
        "no --session-keys: generated an EPHEMERAL session key; browser sessions do not "
        "survive a restart and are not shared with other proxies");
    return auth::SessionKeySet::Generate(random);
  }
  StatusOr<std::string> text = ReadFile(o.session_keys);
  if (!text.ok()) return text.status();
  return auth::SessionKeySet::Parse(*text);  // errors name the line, never a key
}

StatusOr<std::unique_ptr<server::AssertionSigner>> LoadSigner(const ServeOptions& o) {
  if (!o.signing_key.empty()) {
    StatusOr<std::string> pem = ReadFile(o.signing_key);
    if (!pem.ok()) return pem.status();
    return server::AssertionSigner::FromPem(*pem);
  }
  spdlog::warn(
      "no --signing-key: generated an EPHEMERAL assertion key; upstreams must fetch "
      "/.well-known/gatehouse/jwks.json again after every restart");
  return server::AssertionSigner::Generate();
}

sigset_t ServeSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace

int RunServe(const std::vector<std::string>& args, std::ostream& err) {
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    err << kUsage;
    return 0;
  }
  StatusOr<ServeOptions> parsed = ParseArgs(args);
  if (!parsed.ok()) {
    err << "gatehouse-proxy serve: " << parsed.status().message() << "\n" << kUsage;
    return 2;
  }
  const ServeOptions& o = *parsed;
  server::NetOptions net;
  server::AdminOptions admin_options;
  if (Status s = SplitAddress(o.listen, &net.listen_address, &net.listen_port);
      !s.ok() ||
      !(s = SplitAddress(o.admin, &admin_options.listen_address, &admin_options.listen_port))
           .ok()) {
    err << "gatehouse-proxy serve: " << s.message() << "\n";
    return 2;
  }
  net.threads = o.threads;
  net.header_timeout = std::chrono::seconds(o.header_timeout_seconds);
  net.tls_cert_file = o.tls_cert;
  net.tls_key_file = o.tls_key;

  // Logs to stderr; stdout carries only audit lines.
  auto logger = std::make_shared<spdlog::logger>("gatehouse",
                                                 std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);

  // Every thread started below inherits the blocked mask; sigwait takes them here.
  const sigset_t signals = ServeSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  StatusOr<std::unique_ptr<server::AssertionSigner>> signer = LoadSigner(o);
  if (!signer.ok()) {
    err << "gatehouse-proxy serve: " << signer.status().message() << "\n";
    return 1;
  }
  SystemTimeSource time;
  auth::CpprestFetcher fetcher;
  std::mt19937_64 jitter_engine{std::random_device{}()};
  std::mutex jitter_mu;
  auth::JwksCache jwks(fetcher, time, [&] {
    std::lock_guard<std::mutex> lock(jitter_mu);
    return std::uniform_real_distribution<double>(0.0, 1.0)(jitter_engine);
  });
  server::ProxyMetrics metrics;
  server::JwksRefresher refresher(jwks, time, &metrics);
  ConfigStore store(jwks, &metrics);
  OsRandomSource random;
  StatusOr<auth::SessionKeySet> session_keys = LoadSessionKeys(o, random);
  if (!session_keys.ok()) {
    err << "gatehouse-proxy serve: " << session_keys.status().message() << "\n";
    return 1;
  }
  auth::SessionCodec session_codec(std::move(*session_keys), random);
  auth::CpprestFetcher login_fetcher(std::chrono::seconds(5));  // sign-in calls to the IdP
  server::LoginFlow login({.codec = session_codec,
                           .fetcher = login_fetcher,
                           .keys = jwks,
                           .time = time,
                           .random = random});
  store.SetApplyHook([&](const server::FleetSnapshot& s) {
    refresher.Track(s);
    login.Track(s);
  });
  std::unique_ptr<server::AuditLog> audit = server::AuditLog::Stdout();
  server::KeyWaiter waiter(jwks, time);
  server::RequestGate gate({.store = store,
                            .signer = **signer,
                            .audit = audit.get(),
                            .metrics = metrics,
                            .time = time,
                            .waiter = &waiter,
                            .login = &login});
  const bool push_mtls = !o.push_ca.empty();
  if (push_mtls) {
    admin_options.tls_cert_file = o.push_cert;
    admin_options.tls_key_file = o.push_key;
  }
  const server::AdminEndpointOptions push_auth{
      .push_auth = push_mtls ? server::PushAuth::kClientCertificate : server::PushAuth::kLoopback,
      .admin_address = admin_options.listen_address};
  server::AdminEndpoints admin_handler(store, metrics, push_auth);
  admin_handler.SetPushHook([](const StatusOr<server::ConfigVersion>& r) {
    if (r.ok())
      spdlog::info("config push: version {} in force", r->version);
    else
      spdlog::error("config push refused: {}", r.status().message());
  });

  if (!o.policies_dir.empty()) {
    ReloadPolicies(o.policies_dir, store, metrics);
  } else {
    // The operator stores the bootstrap gzipped (the API caps a Secret at 1 MiB).
    StatusOr<std::string> bytes = ReadFile(o.bootstrap_file);
    if (bytes.ok()) bytes = GunzipIfCompressed(*bytes, policy::kMaxFleetConfigBytes);
    StatusOr<server::ConfigVersion> applied = bytes.ok()
                                                  ? store.ApplyFleetConfig(*bytes)
                                                  : StatusOr<server::ConfigVersion>(bytes.status());
    if (applied.ok())
      spdlog::info("bootstrap config version {} in force", applied->version);
    else
      spdlog::error("bootstrap config not loaded, waiting for a push: {}",
                    applied.status().message());
  }

  refresher.Start();
  server::ProxyServer proxy(gate, net);
  server::AdminServer admin(admin_handler, admin_options, o.push_ca);
  if (Status s = proxy.Start(); !s.ok()) {
    err << "gatehouse-proxy serve: listener: " << s.message() << "\n";
    return 1;
  }
  if (Status s = admin.Start(); !s.ok()) {
    err << "gatehouse-proxy serve: admin: " << s.message() << "\n";
    return 1;
  }
  std::optional<server::PolicyWatcher> watcher;
  if (!o.policies_dir.empty()) {
    watcher.emplace(o.policies_dir, [&] { ReloadPolicies(o.policies_dir, store, metrics); });
    watcher->Start();
  }
  spdlog::info("{}", server::DescribePushAuth(push_auth));
  spdlog::info("listening on {}:{}, admin on {}:{}", net.listen_address, proxy.port(),
               admin_options.listen_address, admin.port());

  while (true) {
    int signal_number = 0;
    if (sigwait(&signals, &signal_number) != 0) continue;
    if (signal_number == SIGHUP) {
      if (watcher) {
        spdlog::info("SIGHUP: reloading {}", o.policies_dir);
        watcher->Trigger();
      }
      continue;
    }
    break;
  }
  spdlog::info("draining for up to {} s", o.drain_seconds);
  const bool drained =
      proxy.Drain(std::chrono::steady_clock::now() + std::chrono::seconds(o.drain_seconds));
  if (watcher) watcher->Stop();
  admin.Stop();
  refresher.Stop();
  audit->Flush();
  spdlog::info(drained ? "drained, exiting" : "drain deadline passed, exiting");
  return 0;
}

}  // namespace gatehouse::cli
