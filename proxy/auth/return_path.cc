#include "proxy/auth/return_path.h"

#include "proxy/auth/url_codec.h"

namespace gatehouse::auth {
namespace {

// The shape check. `raw`: the text as it will be sent in Location (visible
// ASCII only); decoded forms may hold spaces and UTF-8 ("%20", "%C3%A9").
bool LooksLikeLocalPath(std::string_view path, bool raw) {
  // Security: "//host" and "/\host" are network-path references to another
  // origin in every browser (WHATWG URL treats '\' as '/').
  if (path.empty() || path[0] != '/') return false;
  if (path.size() > 1 && (path[1] == '/' || path[1] == '\\')) return false;
  for (char c : path) {
    const auto u = static_cast<unsigned char>(c);
    // Controls (URL parsers drop TAB, CR and LF, so "/\t/evil" is "//evil"),
    // DEL and any backslash are refused in every form; raw text must also be
    // free of spaces and non-ASCII to be a valid header value.
    if (u < 0x20 || u == 0x7f || c == '\\') return false;
    if (raw && (u == 0x20 || u > 0x7f)) return false;
  }
  return true;
}

}  // namespace

std::string SanitizeReturnPath(std::string_view raw) {
  static const std::string kRoot = "/";
  if (raw.size() > kMaxReturnPathBytes || !LooksLikeLocalPath(raw, /*raw=*/true)) return kRoot;
  // A path never holds a scheme once it starts with "/"; decoding could only
  // reveal "//", "/\" or a control, which the loop below catches.
  std::string current(raw);
  for (int round = 0; round < 4; ++round) {
    StatusOr<std::string> decoded = PercentDecode(current);
    // The raw value must be validly encoded; a '%' that only appears after
    // decoding ("/100%25") is literal text and cannot hide a separator.
    if (!decoded.ok()) return round == 0 ? kRoot : std::string(raw);
    if (!LooksLikeLocalPath(*decoded, /*raw=*/false)) return kRoot;
    if (*decoded == current) return std::string(raw);
    current = std::move(*decoded);
  }
  return kRoot;  // still changing after four rounds: nobody needs that much encoding
}

}  // namespace gatehouse::auth
