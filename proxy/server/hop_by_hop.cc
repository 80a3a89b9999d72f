#include "proxy/server/hop_by_hop.h"

#include <array>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <cstddef>

namespace gatehouse::server {
namespace {

namespace beast = boost::beast;

// A client may name any header in Connection; it must not be able to drop
// the ones that frame or route the message.
bool ProtectedFromConnection(beast::string_view name) {
  return beast::iequals(name, "host") || beast::iequals(name, "content-length") ||
         beast::iequals(name, "transfer-encoding") || beast::iequals(name, "connection") ||
         beast::iequals(name, "upgrade");
}

// RFC 9110 7.6.1 fields that describe one hop only (Transfer-Encoding too:
// the relay re-frames). Connection is handled apart: its values name more.
bool IsHopByHop(http::field field) {
  switch (field) {
    case http::field::keep_alive:
    case http::field::te:
    case http::field::trailer:
    case http::field::transfer_encoding:
    case http::field::proxy_connection:
    case http::field::proxy_authorization:
    case http::field::upgrade:
      return true;
    default:
      return false;
  }
}

// Whether `name` is one of the first `count` names listed in Connection
// (header names compare case-insensitively).
// Both field types' views, as Beast's (Boost 1.74: boost::string_view).
beast::string_view Beast(beast::string_view text) { return text; }
beast::string_view Beast(std::string_view text) { return {text.data(), text.size()}; }

bool NamedIn(const std::array<beast::string_view, 16>& named, std::size_t count,
             beast::string_view name) {
  for (std::size_t i = 0; i < count; ++i) {
    if (beast::iequals(named[i], name)) return true;
  }
  return false;
}

template <class Fields>
void StripHopByHopHeadersOf(Fields& fields, bool keep_websocket_upgrade) {
  // Names listed in Connection view into the Connection values, so those
  // fields stay until the pass over the rest is done.
  std::array<beast::string_view, 16> named;
  std::size_t named_count = 0;
  bool has_connection = false;
  // A walk of the (short) list costs less than the keyed lookup.
  for (const auto& field : fields) {
    if (field.name() != http::field::connection) continue;
    has_connection = true;
    for (auto token : http::token_list(Beast(field.value()))) {
      if (ProtectedFromConnection(token)) continue;
      if (named_count == named.size()) break;  // more than 16 names: the rest stay (not hop-by-hop)
      named[named_count++] = token;
    }
  }
  for (auto it = fields.begin(); it != fields.end();) {
    if (IsHopByHop(it->name()) || NamedIn(named, named_count, Beast(it->name_string()))) {
      it = fields.erase(it);
    } else {
      ++it;
    }
  }
  // Last, once no name views into them: by iterator, the keyed erase costs more.
  for (auto it = fields.begin(); has_connection && it != fields.end();) {
    if (it->name() == http::field::connection) {
      it = fields.erase(it);
    } else {
      ++it;
    }
  }
  if (keep_websocket_upgrade) {
    fields.set(http::field::connection, "Upgrade");
    fields.set(http::field::upgrade, "websocket");
  }
}

template <class Fields>
bool IsWebSocketUpgradeOf(const Fields& fields) {
  bool connection_upgrade = false;
  for (const auto& field : fields) {
    if (field.name() == http::field::connection &&
        http::token_list(Beast(field.value())).exists("upgrade")) {
      connection_upgrade = true;
    }
  }
  auto upgrade = fields.find(http::field::upgrade);
  return connection_upgrade && upgrade != fields.end() &&
         beast::iequals(Beast(upgrade->value()), "websocket") &&
         fields.count(http::field::upgrade) == 1;
}

}  // namespace

void StripHopByHopHeaders(http::fields& fields, bool keep_websocket_upgrade) {
  StripHopByHopHeadersOf(fields, keep_websocket_upgrade);
}

void StripHopByHopHeaders(RequestHead& fields, bool keep_websocket_upgrade) {
  StripHopByHopHeadersOf(fields, keep_websocket_upgrade);
}

bool IsWebSocketUpgrade(const http::fields& fields) { return IsWebSocketUpgradeOf(fields); }

bool IsWebSocketUpgrade(const RequestHead& fields) { return IsWebSocketUpgradeOf(fields); }

}  // namespace gatehouse::server
