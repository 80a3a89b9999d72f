// TrustOnly: after it runs, a context trusts the given CAs and nothing it
// trusted before (the system store cpprestsdk loads first); a bundle that is
// empty or partly broken leaves a context that trusts nothing.
#include "operator/kube/trust_store.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <vector>

namespace gatehouse::kube {
namespace {

struct Key {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey{
      EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), &EVP_PKEY_free};
};
using Cert = std::unique_ptr<X509, decltype(&X509_free)>;

// A certificate for `name`, signed by `issuer_key` under `issuer_name`
// (self-signed when they are the subject's own).
Cert MakeCert(const std::string& name, EVP_PKEY* key, const std::string& issuer_name,
              EVP_PKEY* issuer_key, bool ca) {
  Cert cert(X509_new(), &X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()),
                   static_cast<long>(name.size()) + (ca ? 1 : 2));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), key);
  auto set_name = [](X509_NAME* n, const std::string& cn) {
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  };
  set_name(X509_get_subject_name(cert.get()), name);
  set_name(X509_get_issuer_name(cert.get()), issuer_name);
  if (ca) {
    X509_EXTENSION* ext =
        X509V3_EXT_conf_nid(nullptr, nullptr, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(cert.get(), issuer_key, EVP_sha256());
  return cert;
}

std::string Pem(X509* cert) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

// Two independent CAs, a leaf under each.
struct Pki {
  Key ca_a_key, ca_b_key, leaf_key;
  Cert ca_a = MakeCert("ca-a", ca_a_key.pkey.get(), "ca-a", ca_a_key.pkey.get(), true);
  Cert ca_b = MakeCert("ca-b", ca_b_key.pkey.get(), "ca-b", ca_b_key.pkey.get(), true);
  Cert leaf_a = MakeCert("api-a", leaf_key.pkey.get(), "ca-a", ca_a_key.pkey.get(), false);
  Cert leaf_b = MakeCert("api-b", leaf_key.pkey.get(), "ca-b", ca_b_key.pkey.get(), false);
};

using Ctx = std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)>;

// A client context that already trusts `preloaded`, as cpprestsdk's does
// (it loads the system store before the callback runs).
Ctx ContextTrusting(X509* preloaded) {
  Ctx ctx(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free);
  X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx.get()), preloaded);
  return ctx;
}

bool Verifies(SSL_CTX* ctx, X509* leaf) {
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> check(X509_STORE_CTX_new(),
                                                                        &X509_STORE_CTX_free);
  X509_STORE_CTX_init(check.get(), SSL_CTX_get_cert_store(ctx), leaf, nullptr);
  return X509_verify_cert(check.get()) == 1;
}

int StoredObjects(SSL_CTX* ctx) {
  return sk_X509_OBJECT_num(X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx)));
}

TEST(TrustOnlyTest, TrustsTheGivenCaAndNothingPreloaded) {
  Pki pki;
  Ctx ctx = ContextTrusting(pki.ca_b.get());
  ASSERT_TRUE(Verifies(ctx.get(), pki.leaf_b.get()));  // the preloaded store vouches for B
  ASSERT_TRUE(TrustOnly(ctx.get(), Pem(pki.ca_a.get())).ok());
  EXPECT_TRUE(Verifies(ctx.get(), pki.leaf_a.get()));
  // The attack: a server whose certificate comes from another (e.g. public) CA.
  EXPECT_FALSE(Verifies(ctx.get(), pki.leaf_b.get()));
  EXPECT_EQ(StoredObjects(ctx.get()), 1);
}

TEST(TrustOnlyTest, EveryCertificateOfABundle) {
  Pki pki;
  Ctx ctx = ContextTrusting(pki.ca_a.get());
  ASSERT_TRUE(TrustOnly(ctx.get(), Pem(pki.ca_a.get()) + Pem(pki.ca_b.get())).ok());
  EXPECT_TRUE(Verifies(ctx.get(), pki.leaf_a.get()));
  EXPECT_TRUE(Verifies(ctx.get(), pki.leaf_b.get()));
  EXPECT_EQ(StoredObjects(ctx.get()), 2);
}

TEST(TrustOnlyTest, UnusableBundlesTrustNothing) {
  Pki pki;
  const std::string good = Pem(pki.ca_b.get());
  std::string truncated = good.substr(0, good.size() / 2);
  std::string corrupted = good;  // a byte no base64 holds, inside the block
  corrupted[corrupted.size() / 2] = '!';
  const struct {
    const char* name;
    std::string pem;
  } cases[] = {
      {"empty", ""},
      {"not PEM", "this is not a certificate\n"},
      {"good then truncated", good + truncated},
      {"good then corrupted", good + corrupted},
      {"a key, not a certificate",
       "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Ctx ctx = ContextTrusting(pki.ca_b.get());
    EXPECT_FALSE(TrustOnly(ctx.get(), c.pem).ok());
    // Not even the bundle's good part, nor what was trusted before.
    EXPECT_FALSE(Verifies(ctx.get(), pki.leaf_b.get()));
    EXPECT_EQ(StoredObjects(ctx.get()), 0);
  }
}

TEST(TrustOnlyTest, NoContext) { EXPECT_FALSE(TrustOnly(nullptr, "").ok()); }

}  // namespace
}  // namespace gatehouse::kube
