// Checks JwtVerifier against tokens minted by an independent implementation
// (jose, plus one openssl CLI signature): e2e/tools/mint-jwt-vectors.mjs writes
// the file named by GATEHOUSE_JWT_VECTORS (ctest runs it as a fixture).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "proxy/auth/jwt_verifier.h"

namespace gatehouse::auth {
namespace {

using Json = nlohmann::json;

Json LoadVectors() {
  const char* path = std::getenv("GATEHOUSE_JWT_VECTORS");
  if (path == nullptr) {
    ADD_FAILURE() << "GATEHOUSE_JWT_VECTORS is not set (run through ctest)";
    return Json();
  }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return Json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
}

IssuerConfig ConfigFor(const Json& vectors, const Json& c) {
  IssuerConfig config;
  config.issuer = vectors["issuer"];
  config.audiences = {vectors["audience"].get<std::string>()};
  config.algorithms = AllJwsAlgorithms();
  if (c.contains("allowed_algs")) {
    config.algorithms.clear();
    for (const Json& name : c["allowed_algs"]) {
      JwsAlgorithm alg;
      EXPECT_TRUE(ParseJwsAlgorithm(name.get<std::string>(), &alg));
      config.algorithms.push_back(alg);
    }
  }
  return config;
}

void CheckCase(const Json& vectors, const JsonWebKeySet& keys, const Json& c) {
  SCOPED_TRACE(c["name"].get<std::string>());
  StatusOr<std::shared_ptr<const Identity>> got =
      VerifyJwt(c["token"].get<std::string>(), ConfigFor(vectors, c), keys, vectors["now"]);
  if (c["expect"] == "valid") {
    ASSERT_TRUE(got.ok()) << got.status().message();
    if (c.contains("sub")) {
      EXPECT_EQ((*got)->user, c["sub"]);
    }
    if (c.contains("email")) {
      EXPECT_EQ((*got)->email, c["email"]);
    }
  } else {
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), StatusCode::kUnauthenticated);
    if (c.contains("reason")) {
      EXPECT_NE(got.status().message().find(c["reason"].get<std::string>()), std::string::npos)
          << got.status().message();
    }
  }
}

TEST(JwtVectorsTest, EveryCaseHasItsExpectedOutcome) {
  const Json vectors = LoadVectors();
  ASSERT_TRUE(vectors.is_object()) << "vector file missing or unreadable";
  StatusOr<std::shared_ptr<const JsonWebKeySet>> keys =
      JsonWebKeySet::Parse(vectors["jwks"].dump());
  ASSERT_TRUE(keys.ok()) << keys.status().message();
  EXPECT_EQ((*keys)->keys().size(), 4u);
  EXPECT_TRUE((*keys)->skipped().empty());
  const Json& cases = vectors["cases"];
  ASSERT_GE(cases.size(), 35u);
  int valid = 0;
  for (const Json& c : cases) {
    CheckCase(vectors, **keys, c);
    valid += c["expect"] == "valid" ? 1 : 0;
  }
  EXPECT_GE(valid, 7);  // one per algorithm at least
  EXPECT_GE(
      std::count_if(cases.begin(), cases.end(), [](const Json& c) { return c.contains("reason"); }),
      25);
}

}  // namespace
}  // namespace gatehouse::auth
