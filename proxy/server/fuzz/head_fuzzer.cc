// Fuzzes both head parsers with the same bytes, and checks what the relay
// would write: whatever an upstream sends, the head the client gets parses
// again cleanly, with the same status, and carries none of the fields the
// relay must drop. A crash, sanitizer report or broken invariant aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/server/request_head_parser.h"
#include "proxy/server/response_head.h"

namespace {

using gatehouse::server::AppendRelayedResponseHead;
using gatehouse::server::HeadStatus;
using gatehouse::server::ParseRequestHead;
using gatehouse::server::ParseResponseHead;
using gatehouse::server::RelayField;
using gatehouse::server::RequestHead;
using gatehouse::server::RequestHeadResult;
using gatehouse::server::ResponseField;
using gatehouse::server::ResponseHead;

void Require(bool condition) {
  if (!condition) std::abort();
}

void FuzzRequest(std::string_view bytes) {
  RequestHead head;
  const RequestHeadResult parsed = ParseRequestHead(bytes, {4096, 32}, head);
  if (parsed.status != HeadStatus::kComplete) return;
  Require(parsed.framing.head_bytes <= bytes.size() && parsed.framing.head_bytes <= 4096);
  Require(!(parsed.framing.chunked && parsed.framing.content_length));
  Require(head.target().size() > 0 && head.target()[0] == '/');
}

void FuzzResponse(std::string_view bytes) {
  std::vector<ResponseField> fields;
  ResponseHead head;
  if (ParseResponseHead(bytes, 4096, fields, head) != HeadStatus::kComplete) return;
  Require(head.head_bytes <= bytes.size() && head.status >= 100 && head.status <= 999);
  std::string relayed;
  Require(AppendRelayedResponseHead(relayed, head, fields, {.request_id = "id-1"}));
  std::vector<ResponseField> again_fields;
  ResponseHead again;
  Require(ParseResponseHead(relayed, 1 << 20, again_fields, again) == HeadStatus::kComplete);
  Require(again.head_bytes == relayed.size() && again.status == head.status);
  for (const ResponseField& field : again_fields) {
    Require(field.kind == RelayField::kOther || field.kind == RelayField::kContentLength ||
            field.kind == RelayField::kRequestId);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  FuzzRequest(bytes);
  FuzzResponse(bytes);
  return 0;
}
