#include "operator/kube/trust_store.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <climits>
#include <memory>

namespace gatehouse::kube {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};

// Every certificate of `pem` added to `store`; the number added, or an error.
StatusOr<int> AddCertificates(X509_STORE* store, std::string_view pem) {
  if (pem.size() > INT_MAX) return InvalidArgumentError("CA bundle too large");
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr) return InternalError("CA bundle: out of memory");
  int added = 0;
  while (true) {
    std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (cert == nullptr) {
      // The end of the bundle reads as "no start line"; anything else is a broken block.
      const unsigned long err = ERR_peek_last_error();
      const bool at_end =
          ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
      ERR_clear_error();
      if (!at_end) return InvalidArgumentError("CA bundle: a certificate does not parse");
      break;
    }
    if (X509_STORE_add_cert(store, cert.get()) != 1) {
      ERR_clear_error();  // the same certificate twice is harmless; others are errors
      continue;
    }
    ++added;
  }
  if (added == 0) return InvalidArgumentError("CA bundle: no certificate");
  return added;
}

}  // namespace

Status TrustOnly(SSL_CTX* ctx, std::string_view ca_pem) {
  if (ctx == nullptr) return InvalidArgumentError("no TLS context");
  X509_STORE* store = X509_STORE_new();
  if (store == nullptr) return InternalError("trust store: out of memory");
  // Swapped in first: whatever happens next, the system store is gone.
  SSL_CTX_set_cert_store(ctx, store);  // takes `store`, frees the previous one
  StatusOr<int> added = AddCertificates(store, ca_pem);
  if (!added.ok()) {
    // Deny by default: a partly read bundle is not trusted in part.
    SSL_CTX_set_cert_store(ctx, X509_STORE_new());
    return added.status();
  }
  return Status::Ok();
}

}  // namespace gatehouse::kube
