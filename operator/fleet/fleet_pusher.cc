#include "operator/fleet/fleet_pusher.h"

#include <cpprest/containerstream.h>
#include <cpprest/http_client.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ssl.hpp>
#include <cctype>
#include <chrono>
#include <exception>
#include <map>
#include <mutex>
#include <random>
#include <system_error>
#include <thread>

#include "operator/fleet/joined_read_buffer.h"

namespace gatehouse::fleet {
namespace {

namespace http = web::http;
using nlohmann::json;

constexpr size_t kMaxAnswerBytes = 64 * 1024;

bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  if (host.rfind("127.", 0) != 0) return false;
  for (char c : host) {
    if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.') return false;
  }
  return true;
}

json ParseAnswer(http::http_response& response) {
  concurrency::streams::container_buffer<std::string> buffer;
  auto body = response.body();
  size_t total = 0;
  while (size_t n = body.read(buffer, 16 * 1024).get()) {
    total += n;
    if (total > kMaxAnswerBytes) return json();
  }
  return json::parse(buffer.collection(), nullptr, false);
}

}  // namespace

Status CheckPushTarget(const std::string& url, bool tls) {
  try {
    web::uri uri(url);
    if (uri.scheme() == "https" && tls) return Status::Ok();
    if (uri.scheme() == "http" && IsLoopbackHost(uri.host())) return Status::Ok();
  } catch (const std::exception&) {
    return InvalidArgumentError("not a URL: " + url);
  }
  return PermissionDeniedError(
      "refusing to push to " + url +
      ": the config carries secrets; use --push-ca/--push-cert/--push-key (https) or a loopback "
      "http:// address");
}

std::vector<std::string> ProxiesFromEndpointSlices(const std::vector<json>& slices,
                                                   const std::string& scheme) {
  std::vector<std::string> out;
  for (const json& slice : slices) {
    int port = 0;
    for (const json& p : slice.value("ports", json::array())) {
      if (p.is_object() && p.value("name", "") == "admin") port = p.value("port", 0);
    }
    if (port <= 0 || port > 65535) continue;
    bool ipv6 = slice.value("addressType", "IPv4") == "IPv6";
    for (const json& endpoint : slice.value("endpoints", json::array())) {
      if (!endpoint.is_object()) continue;
      // Terminating endpoints are leaving; every other one is a proxy to serve.
      if (endpoint.value("conditions", json::object()).value("terminating", false)) continue;
      for (const json& address : endpoint.value("addresses", json::array())) {
        if (!address.is_string()) continue;
        std::string host = address.get<std::string>();
        if (ipv6) host = "[" + host + "]";
        out.push_back(scheme + "://" + host + ":" + std::to_string(port));
      }
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

struct FleetPusher::Clients {
  std::mutex mu;
  std::map<std::string, std::shared_ptr<http::client::http_client>> by_url;
};

namespace {

std::shared_ptr<http::client::http_client> NewClient(const std::string& url, const PushTls& tls) {
  http::client::http_client_config cfg;
  cfg.set_timeout(std::chrono::seconds(5));
  cfg.set_validate_certificates(true);
  if (tls.enabled()) {
    cfg.set_ssl_context_callback([tls](boost::asio::ssl::context& ctx) {
      // cpprestsdk loaded the system store first; replace it so that only
      // the push CA can vouch for a proxy (a public CA never can).
      SSL_CTX_set_cert_store(ctx.native_handle(), X509_STORE_new());
      ctx.load_verify_file(tls.ca_file);
      ctx.use_certificate_chain_file(tls.cert_file);
      ctx.use_private_key_file(tls.key_file, boost::asio::ssl::context::pem);
    });
  }
  return std::make_shared<http::client::http_client>(web::uri(url), cfg);
}

}  // namespace

FleetPusher::FleetPusher(PushTls tls, int max_parallel)
    : tls_(std::move(tls)), max_parallel_(max_parallel), clients_(std::make_unique<Clients>()) {}

FleetPusher::~FleetPusher() = default;

Status FleetPusher::Validate(const std::vector<std::string>& urls) const {
  for (const std::string& url : urls) {
    Status s = CheckPushTarget(url, tls_.enabled());
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

namespace {

using Client = http::client::http_client;

// cpprestsdk checks the certificate against the Host header when one is set.
http::http_request ConfigRequest(const http::method& method, const PushTls& tls) {
  http::http_request r(method);
  r.set_request_uri("/v1/config");
  if (tls.enabled() && !tls.server_name.empty()) r.headers().add("Host", tls.server_name);
  return r;
}

// GET /v1/config: which config the proxy runs. A proxy without one answers
// 404 and counts as version 0.
void Query(Client& client, const PushTls& tls, int64_t* version, std::string* sha256) {
  http::http_response got = client.request(ConfigRequest(http::methods::GET, tls)).get();
  json state = ParseAnswer(got);
  if (got.status_code() == 200 && state.is_object()) {
    *version = state.value("version", int64_t{0});
    *sha256 = state.value("sha256", "");
  }
}

}  // namespace

FleetPusher::Answer FleetPusher::CheckAndPush(const std::string& url, bool query_first,
                                              const policy::FleetConfig& config,
                                              const std::string& header) {
  Answer answer;
  Status allowed = CheckPushTarget(url, tls_.enabled());
  if (!allowed.ok()) {
    answer.error = allowed.message();
    return answer;
  }
  try {
    std::shared_ptr<Client> client;
    {
      std::lock_guard<std::mutex> lock(clients_->mu);
      auto& cached = clients_->by_url[url];
      if (cached == nullptr) cached = NewClient(url, tls_);
      client = cached;
    }
    if (query_first) {
      Query(*client, tls_, &answer.version, &answer.sha256);
      answer.reached = true;
      // Skip needless pushes: a proxy already on our content keeps its version.
      if (answer.version == config.version && answer.sha256 == config.sha256) return answer;
    }
    auto start = std::chrono::steady_clock::now();
    http::http_request put = ConfigRequest(http::methods::PUT, tls_);
    // The envelope is the header line then the content, read in place: no
    // joined copy of a config of many MB, none per proxy. Both outlive the
    // request, which completes before this returns.
    put.set_body(JoinedBody(header, config.content), header.size() + config.content.size(),
                 "application/json");
    http::http_response pushed = client->request(put).get();
    json reply = ParseAnswer(pushed);
    answer.push_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    answer.reached = true;
    if (pushed.status_code() == 200) {
      answer.pushed = true;
      answer.version = config.version;
      answer.sha256 = config.sha256;
    } else if (pushed.status_code() == 409 && reply.is_object()) {
      // The proxy holds a newer version: report it so the next render goes above.
      answer.version = std::max(answer.version, reply.value("version", int64_t{0}));
      answer.sha256 = reply.value("sha256", answer.sha256);
      answer.error = "proxy holds a newer config version";
    } else {
      answer.reached = false;
      answer.error = "push refused: HTTP " + std::to_string(pushed.status_code());
    }
  } catch (const std::exception&) {
    answer.reached = false;
    answer.error = "unreachable";
  }
  if (!answer.reached) {
    // A broken connection (or a refused push) starts over with a fresh client.
    std::lock_guard<std::mutex> lock(clients_->mu);
    clients_->by_url.erase(url);
  }
  return answer;
}

std::vector<FleetPusher::Answer> FleetPusher::RunAll(
    const std::vector<std::pair<std::string, bool>>& jobs, const policy::FleetConfig& config,
    const std::string& header) {
  std::vector<Answer> answers(jobs.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < jobs.size(); i = next++) {
      answers[i] = CheckAndPush(jobs[i].first, jobs[i].second, config, header);
    }
  };
  size_t workers = std::min(jobs.size(), static_cast<size_t>(std::max(1, max_parallel_)));
  std::vector<std::thread> threads;
  for (size_t w = 1; w < workers; ++w) {
    try {
      threads.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // no more threads: the ones running (and this one) take the rest
    }
  }
  work();
  for (std::thread& t : threads) t.join();
  return answers;
}

PushRound FleetPusher::Sync(const policy::FleetConfig& config, FleetTracker* tracker) {
  PushRound round;
  {
    // Proxies that left the fleet close their connections.
    std::lock_guard<std::mutex> lock(clients_->mu);
    std::erase_if(clients_->by_url,
                  [&](const auto& entry) { return !tracker->records().count(entry.first); });
  }
  std::vector<std::pair<std::string, bool>> jobs;
  for (std::string& url : tracker->Due(config, std::chrono::steady_clock::now())) {
    bool query_first = tracker->NeedsQuery(url, config);
    jobs.emplace_back(std::move(url), query_first);
  }
  if (jobs.empty()) return round;
  std::vector<Answer> answers = RunAll(jobs, config, policy::FleetConfigHeader(config));
  thread_local std::mt19937_64 rng{std::random_device{}()};
  auto done = std::chrono::steady_clock::now();
  for (size_t i = 0; i < jobs.size(); ++i) {
    const std::string& url = jobs[i].first;
    const Answer& a = answers[i];
    ++round.checked;
    if (a.reached) {
      tracker->RecordReport(url, a.version, a.sha256, config, done);
    } else {
      tracker->RecordFailure(url, done, std::uniform_real_distribution<double>(0, 1)(rng));
      ++round.failed;
    }
    if (a.pushed) ++round.pushed;
    if (a.push_seconds > 0 && observe_) observe_(a.push_seconds);
    if (!a.error.empty()) round.errors.push_back(url + ": " + a.error);
  }
  return round;
}

}  // namespace gatehouse::fleet
