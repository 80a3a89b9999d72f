#include "proxy/server/head_writer.h"

#include <array>

#include "proxy/server/added_fields.h"
#include "proxy/server/request_framing.h"

namespace gatehouse::server {
namespace {

// A target goes on the request line as is: one byte outside VCHAR and the
// line (and the framing) means something else to the next hop.
bool IsSafeTarget(std::string_view target) {
  if (target.empty()) return false;
  for (char c : target) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f) return false;
  }
  return true;
}

}  // namespace

bool AppendRequestHead(std::string& out, const RequestHead& head, const UpstreamRequestLine& line,
                       const AddedFields& added) {
  const std::string_view method = head.method_string();
  if (!IsHttpToken(method) || !IsSafeTarget(line.target) || !IsCleanFieldValue(line.host)) {
    return false;
  }
  out.append(method);
  out.push_back(' ');
  out.append(line.target);
  out.append(" HTTP/1.1\r\nHost: ");
  out.append(line.host);
  out.append("\r\n", 2);
  for (const auto& field : head) {
    const http::field known = field.name();
    if (known == http::field::host || known == http::field::transfer_encoding) continue;
    const std::string_view name = field.name_string();
    const std::string_view value = field.value();
    // The parser checked its fields' names and values as it read them (a
    // line with a bad byte is refused); any other field is checked here. A
    // name Beast recognised (field() != unknown) equals a registered field
    // name, a token by construction.
    if (!field.parsed() &&
        ((known == http::field::unknown && !IsHttpToken(name)) || !IsCleanFieldValue(value))) {
      return false;
    }
    out.append(name);
    out.append(": ", 2);
    out.append(value);
    out.append("\r\n", 2);
  }
  if (line.chunked) out.append("Transfer-Encoding: chunked\r\n");
  // Lines that passed AddedFields::Add (token name, safe value, CRLF-ended).
  out.append(added.text());
  out.append("\r\n", 2);
  return true;
}

void AppendChunkSize(std::string& out, std::size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  char digits[2 * sizeof(std::size_t)];
  std::size_t n = 0;
  do {
    digits[n++] = kHex[size & 0xf];
    size >>= 4;
  } while (size != 0);
  while (n > 0) out.push_back(digits[--n]);
  out.append("\r\n", 2);
}

}  // namespace gatehouse::server
