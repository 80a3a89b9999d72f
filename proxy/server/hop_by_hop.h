// Hop-by-hop fields (RFC 9110 section 7.6.1): what the relay removes from a
// request or response head before it goes to the next hop, and how it spots
// a WebSocket upgrade it may keep. Pure: no I/O.
//
//   const bool websocket = IsWebSocketUpgrade(head);
//   StripHopByHopHeaders(head, websocket);
#pragma once

#include <boost/beast/http/fields.hpp>

#include "proxy/server/request_head.h"

namespace gatehouse::server {

namespace http = boost::beast::http;

// RFC 9110 7.6.1: removes Connection and every field it names (except Host
// and the framing fields, which a client must not be able to drop),
// Keep-Alive, TE, Trailer, Transfer-Encoding (the relay re-frames),
// Proxy-Connection, Proxy-Authorization and Upgrade. With
// `keep_websocket_upgrade` the result carries exactly "Connection: Upgrade"
// and "Upgrade: websocket".
// For Beast's own fields and for the data path's request heads.
void StripHopByHopHeaders(http::fields& fields, bool keep_websocket_upgrade);
void StripHopByHopHeaders(RequestHead& fields, bool keep_websocket_upgrade);

// Connection: upgrade (among its tokens) and Upgrade: websocket.
bool IsWebSocketUpgrade(const http::fields& fields);
bool IsWebSocketUpgrade(const RequestHead& fields);

}  // namespace gatehouse::server
