// Gate: the seam between the proxy's data path (listener, parsing, upstream
// pool, streaming: proxy_server.h) and the decision logic (route,
// authenticate, authorize, rate-limit, identity headers, audit, metrics:
// request_gate.h).
//
// The data path calls Check() once per request, after reading the request
// head and before reading any body byte:
//
//   gate.Check(request_head, client, [&](GateVerdict verdict) {
//     if (verdict.local_response) WriteLocal(*verdict.local_response);   // 401/403/302/404/429...
//     else Forward(*verdict.upstream, verdict.upstream_target, request_head,
//                  verdict.added_fields);  // client copies stripped; gate's fields apart
//     ... when the exchange is over: gate.Finish(verdict, outcome);
//   });
//
// Division of labour:
// - The gate owns every security header: it removes client-sent identity
//   headers, X-Gatehouse-*, Authorization (unless forwardToken), the session
//   cookie from `request_head`, and puts the identity headers, the assertion,
//   X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host and X-Request-Id in
//   `verdict.added_fields` (validated lines, added_fields.h), which the data
//   path sends after the request's own fields on every head it forwards
//   (first try, retry, WebSocket upgrade).
// - The data path owns HTTP mechanics: framing, smuggling checks (it never
//   calls Check() for a request it cannot frame safely: it answers 400 and
//   closes), hop-by-hop headers (RFC 9110 section 7.6.1), Host for the
//   upstream, timeouts, WebSocket upgrades, 502/504 on upstream failure.
#pragma once

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "proxy/policy/ip_block.h"
#include "proxy/server/added_fields.h"
#include "proxy/server/header_arena.h"
#include "proxy/server/request_head.h"

namespace gatehouse::server {

namespace http = boost::beast::http;

// A whole admin-port request (head and body), as AdminHandler::Handle gets it.
using AdminRequest = http::request<http::string_body, HeadFields>;
// An admin-port request's head, before its body is read (Beast's: the admin
// port parses with Beast, the data path with ParseRequestHead).
using AdminHead = http::request_header<HeadFields>;
using LocalResponse = http::response<http::string_body>;

struct ClientInfo {
  policy::IpAddress address;  // the TCP peer; client-sent X-Forwarded-For is never trusted
  std::string address_text;   // for X-Forwarded-For and the audit line
  bool tls = false;           // the listener's scheme, for X-Forwarded-Proto
  // Admin port only: the TLS peer presented a client certificate that verified
  // against the push CA (admin_server.h). Always false on the listener.
  bool client_cert_verified = false;
};

// Where a policy's traffic goes. Built once per config snapshot, shared by requests.
struct UpstreamTarget {
  std::string scheme;  // "http" or "https"
  std::string host;    // name or address to connect to
  uint16_t port = 0;
  std::string base_path;              // prepended to the request path; "" for none
  std::string host_header;            // Host sent upstream ("metabase.analytics.svc:3000")
  std::chrono::seconds timeout{600};  // response headers and each idle gap of the body
  std::string pool_key;  // "scheme://host:port": connections with the same key are reused
};

// Opaque per-request state the gate needs again in Finish() (audit, metrics).
struct GateContext {
  explicit GateContext(const void* kind = nullptr) : kind(kind) {}
  virtual ~GateContext() = default;
  // Names the gate implementation that made it (the address of a constant of
  // its own), so its Finish() recognizes its contexts without RTTI.
  const void* const kind;
};

struct GateVerdict {
  // Set: answer with this and forward nothing. The data path adds
  // Connection: close when the request still has an unread body.
  std::optional<LocalResponse> local_response;
  // Otherwise: forward to this upstream with this request-target (already
  // normalized, base path applied, query preserved).
  std::shared_ptr<const UpstreamTarget> upstream;
  std::string upstream_target;
  // The fields the gate adds to the forwarded request (one value per name,
  // every byte checked); the client's copies are already gone from the head.
  AddedFields added_fields;
  std::unique_ptr<GateContext> context;
};

struct ExchangeOutcome {
  int status = 0;  // what the client was sent (502/504 when the upstream failed)
  std::chrono::microseconds gate_time{0};      // until the verdict
  std::chrono::microseconds upstream_time{0};  // request sent -> response complete; 0 if local
  bool client_aborted = false;                 // the client went away mid-exchange
  uint64_t response_bytes = 0;
};

class Gate {
 public:
  // Takes the verdict by rvalue reference: a callback may take it by value
  // or keep it where it is, without another move on the way.
  using Done = std::function<void(GateVerdict&&)>;
  virtual ~Gate() = default;

  // Decides one request. Calls `done` exactly once, either before returning or
  // later on the calling strand (e.g. when an issuer's first keys arrive); it
  // never blocks the event loop.
  virtual void Check(RequestHead& request, const ClientInfo& client, Done done) = 0;

  // The exchange is over: write the audit line and metrics.
  virtual void Finish(GateVerdict& verdict, const ExchangeOutcome& outcome) = 0;
};

// What the admin port may read of one request's body, decided from the
// request head before any body byte is read (AdminHandler::AdmitBody).
struct AdminBodyAdmission {
  // Set: sent as the answer; the body is never read and the connection closes.
  std::optional<LocalResponse> refusal;
  // The body may exceed AdminOptions::max_small_body_bytes (up to
  // max_body_bytes). Only for requests that need it from clients allowed to.
  bool large_body = false;
};

// The admin port's request handler (health, readiness, metrics, config push).
class AdminHandler {
 public:
  virtual ~AdminHandler() = default;
  // Called with the head of each request before any body byte is read. The
  // default admits small bodies only (deny by default).
  virtual AdminBodyAdmission AdmitBody(const AdminHead& /*head*/, const ClientInfo& /*client*/) {
    return {};
  }
  // Bodies of admin requests are read whole (bounded by the server); answers are small.
  virtual LocalResponse Handle(const AdminRequest& request, const ClientInfo& client) = 0;
};

}  // namespace gatehouse::server
