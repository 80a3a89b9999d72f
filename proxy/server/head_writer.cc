#include "proxy/server/head_writer.h"

#include <array>

#include "proxy/server/added_fields.h"
#include "proxy/server/request_framing.h"

namespace gatehouse::server {
namespace {

std::string_view View(boost::beast::string_view text) { return {text.data(), text.size()}; }

template <class Fields>
bool AppendFields(std::string& out, const Fields& fields, std::string_view added) {
  for (const auto& field : fields) {
    const std::string_view name = View(field.name_string());
    const std::string_view value = View(field.value());
    // A name Beast recognised (field() != unknown) equals a registered
    // field name, a token by construction; any other is checked.
    if ((field.name() == http::field::unknown && !IsHttpToken(name)) || !IsCleanFieldValue(value)) {
      return false;
    }
    out.append(name);
    out.append(": ", 2);
    out.append(value);
    out.append("\r\n", 2);
  }
  // Lines that passed AddedFields::Add (token name, safe value, CRLF-ended).
  out.append(added);
  out.append("\r\n", 2);
  return true;
}

void AppendDecimal(std::string& out, unsigned value) {
  char digits[10];
  std::size_t n = 0;
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (n > 0) out.push_back(digits[--n]);
}

template <class Fields>
bool AppendResponseHeadOf(std::string& out, const http::response_header<Fields>& head) {
  const unsigned status = head.result_int();
  if (status < 100 || status > 999) return false;
  const std::string_view reason = View(head.reason());
  if (!IsCleanFieldValue(reason)) return false;
  out.append("HTTP/1.1 ", 9);
  AppendDecimal(out, status);
  out.push_back(' ');
  out.append(reason);
  out.append("\r\n", 2);
  return AppendFields(out, head, {});
}

}  // namespace

bool AppendRequestHead(std::string& out, const RequestHead& head) {
  return AppendRequestHead(out, head, AddedFields());
}

bool AppendRequestHead(std::string& out, const RequestHead& head, const AddedFields& added) {
  const std::string_view method = View(head.method_string());
  const std::string_view target = View(head.target());
  // The target goes on the request line as is: one byte outside VCHAR and
  // the line (and the framing) means something else to the next hop.
  if (!IsHttpToken(method) || target.empty()) return false;
  for (char c : target) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f) return false;
  }
  out.append(method);
  out.push_back(' ');
  out.append(target);
  out.append(head.version() >= 11 ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n");
  return AppendFields(out, head, added.text());
}

bool AppendResponseHead(std::string& out, const http::response_header<>& head) {
  return AppendResponseHeadOf(out, head);
}

bool AppendResponseHead(std::string& out, const http::response_header<HeadFields>& head) {
  return AppendResponseHeadOf(out, head);
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
