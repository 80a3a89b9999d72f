// CpprestFetcher + JwksCache + JwtVerifier against a real OpenID provider
// (npm oidc-provider, run by node from proxy/auth/testdata/oidc_server.mjs):
// discovery over HTTP on loopback, the JWKS, and an RS256 JWT access token
// the provider issued.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "proxy/auth/cpprest_fetcher.h"
#include "proxy/auth/jwks_cache.h"
#include "proxy/auth/jwt_verifier.h"
#include "proxy/auth/token_authenticator.h"
#include "proxy/core/time_source.h"

namespace gatehouse::auth {
namespace {

using Json = nlohmann::json;

// Runs the provider script; kills it on destruction.
class OidcServer {
 public:
  OidcServer() {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      // The server must not outlive a test binary that crashes or is killed.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      dup2(fds[1], STDOUT_FILENO);
      close(fds[0]);
      close(fds[1]);
      if (chdir(GATEHOUSE_E2E_DIR) != 0) _exit(127);
      execl(GATEHOUSE_NODE, "node", GATEHOUSE_OIDC_SERVER_SCRIPT, GATEHOUSE_E2E_DIR, nullptr);
      _exit(127);
    }
    close(fds[1]);
    out_ = fds[0];
  }
  ~OidcServer() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) close(out_);
  }

  // The JSON after "READY " on the script's stdout, or null after `timeout_ms`.
  Json WaitReady(int timeout_ms) {
    std::string buffer;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, 200) <= 0) continue;
      char chunk[4096];
      const ssize_t n = read(out_, chunk, sizeof(chunk));
      if (n <= 0) return nullptr;
      buffer.append(chunk, static_cast<size_t>(n));
      const size_t ready = buffer.find("READY ");
      const size_t end = ready == std::string::npos ? ready : buffer.find('\n', ready);
      if (end != std::string::npos) {
        return Json::parse(buffer.substr(ready + 6, end - ready - 6), nullptr, false);
      }
    }
    return nullptr;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
};

TEST(JwksIntegrationTest, VerifiesAccessTokenFromRealOidcProvider) {
  OidcServer server;
  const Json ready = server.WaitReady(60000);
  ASSERT_TRUE(ready.is_object()) << "oidc-provider did not start";
  IssuerConfig config;
  config.issuer = ready["issuer"];
  config.audiences = {"gatehouse"};
  config.algorithms = {JwsAlgorithm::kRS256};
  const std::string token = ready["access_token"];

  CpprestFetcher fetcher;
  SystemTimeSource time;
  JwksCache cache(fetcher, time, [] { return 0.5; });
  std::vector<std::string> results;
  cache.SetFetchResultHook([&](std::string_view, std::string_view r) { results.emplace_back(r); });
  cache.Track(config);
  cache.RunDueFetches();
  ASSERT_EQ(results, std::vector<std::string>{"success"});
  std::shared_ptr<const JsonWebKeySet> keys = cache.Keys(config);
  ASSERT_NE(keys, nullptr);
  EXPECT_TRUE(keys->HasKeyId("local-rs256"));

  StatusOr<std::shared_ptr<const Identity>> id = VerifyJwt(token, config, *keys, time.NowSeconds());
  ASSERT_TRUE(id.ok()) << id.status().message();
  EXPECT_EQ((*id)->user, "gatehouse-test");  // client_credentials: sub is the client id
  EXPECT_FALSE((*id)->token_id.empty());

  // Through the authenticator, and a wrong audience is refused.
  TokenAuthenticator auth({config}, cache);
  TokenCache token_cache;
  EXPECT_TRUE(auth.Authenticate(token, time.NowSeconds(), token_cache).ok());
  IssuerConfig other = config;
  other.audiences = {"not-gatehouse"};
  EXPECT_FALSE(VerifyJwt(token, other, *keys, time.NowSeconds()).ok());
}

TEST(JwksIntegrationTest, FetcherReportsUnreachableAndHttpStatus) {
  OidcServer server;
  const Json ready = server.WaitReady(60000);
  ASSERT_TRUE(ready.is_object());
  const std::string issuer = ready["issuer"];
  CpprestFetcher fetcher(std::chrono::seconds(5));
  StatusOr<HttpResponse> missing = fetcher.Get(issuer + "/no-such-path");
  ASSERT_TRUE(missing.ok()) << missing.status().message();
  EXPECT_EQ(missing->status, 404);
  // A port nothing listens on (the kernel refuses): kUnavailable, URL without query.
  StatusOr<HttpResponse> refused = fetcher.Get("http://127.0.0.1:1/jwks?secret=abc");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(refused.status().message().find("secret"), std::string::npos);
  // Body limit.
  CpprestFetcher tiny(std::chrono::seconds(5), 16);
  StatusOr<HttpResponse> big = tiny.Get(issuer + "/.well-known/openid-configuration");
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace gatehouse::auth
