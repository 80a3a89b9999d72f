#include "proxy/policy/policy_validator_syntax.h"

#include <array>
#include <charconv>

namespace gatehouse::policy::validation {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || IsUpper(c); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// One DNS label of a host name: [a-z0-9-]{1,63}, no leading/trailing '-'.
std::string CheckHostLabel(std::string_view label) {
  if (label.empty()) return "must not have an empty label (no leading, trailing or double dots)";
  if (label.size() > 63) return "each label must be at most 63 characters";
  for (char c : label) {
    if (IsUpper(c)) return "must be lowercase";
    if (!IsLowerAlnum(c) && c != '-') {
      if (c == ':') return "must not contain a port";
      if (c == '*') return "a wildcard is only allowed as the whole first label ('*.example.com')";
      return "must contain only a-z, 0-9, '-' and '.'";
    }
  }
  if (label.front() == '-' || label.back() == '-') {
    return "labels must not start or end with '-'";
  }
  return "";
}

std::string CheckDnsName(std::string_view value) {
  if (value.size() > 253) return "must be at most 253 characters";
  if (!value.empty() && value.back() == '.') return "must not end with a dot";
  size_t start = 0;
  while (true) {
    size_t dot = value.find('.', start);
    std::string problem = CheckHostLabel(value.substr(start, dot - start));
    if (!problem.empty()) return problem;
    if (dot == std::string_view::npos) return "";
    start = dot + 1;
  }
}

bool IsTokenChar(char c) {
  static constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  return IsAlpha(c) || IsDigit(c) || kSpecials.find(c) != std::string_view::npos;
}

// Headers the proxy sets, strips or relies on itself: an identity header with
// one of these names would let a policy author (or a typo) overwrite routing,
// credentials or framing on the way to the upstream.
constexpr std::array<std::string_view, 18> kReservedHeaders = {
    "Host",
    "Authorization",
    "Cookie",
    "Set-Cookie",
    "Content-Length",
    "Content-Type",
    "Transfer-Encoding",
    "Connection",
    "Upgrade",
    "TE",
    "Trailer",
    "Keep-Alive",
    "Proxy-Authorization",
    "Proxy-Connection",
    "X-Forwarded-For",
    "X-Forwarded-Proto",
    "X-Forwarded-Host",
    "X-Request-Id",
};

bool IsLoopbackHost(std::string_view host) {
  return host == "127.0.0.1" || host == "::1" || host == "localhost";
}

std::string CheckAuthority(std::string_view authority, ParsedUrl* out) {
  if (authority.find('@') != std::string_view::npos) return "must not contain user info ('@')";
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return "has an unterminated IPv6 address";
    host = authority.substr(1, close - 1);
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return "has an invalid host";
    if (!rest.empty()) port = rest.substr(1);
    if (host.empty()) return "must have a host";
    for (char c : host) {
      if (!IsDigit(c) && !(c >= 'a' && c <= 'f') && !(c >= 'A' && c <= 'F') && c != ':' &&
          c != '.') {
        return "has an invalid IPv6 address";
      }
    }
  } else {
    size_t colon = authority.find(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    }
    if (host.empty()) return "must have a host";
    for (char c : host) {
      if (!IsAlpha(c) && !IsDigit(c) && c != '-' && c != '.' && c != '_') {
        return "has an invalid host";
      }
    }
  }
  if (authority.find(':') != std::string_view::npos && authority.back() == ':') {
    return "has an empty port";
  }
  if (!port.empty()) {
    int n = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
    if (ec != std::errc() || ptr != port.data() + port.size() || n < 1 || n > 65535 ||
        !IsDigit(port.front())) {
      return "must have a port between 1 and 65535";
    }
    out->port = n;
  }
  out->host = std::string(host);
  return "";
}

}  // namespace

std::string CheckDns1123Label(std::string_view value) {
  if (value.empty()) return "must not be empty";
  if (value.size() > 63) return "must be at most 63 characters";
  for (char c : value) {
    if (!IsLowerAlnum(c) && c != '-') {
      return "must be a DNS-1123 label: lowercase letters, digits and '-'";
    }
  }
  if (value.front() == '-' || value.back() == '-') {
    return "must be a DNS-1123 label: start and end with a letter or digit";
  }
  return "";
}

std::string CheckDns1123Subdomain(std::string_view value) {
  if (value.empty()) return "must not be empty";
  if (value.size() > 253) return "must be at most 253 characters";
  size_t start = 0;
  while (true) {
    size_t dot = value.find('.', start);
    std::string_view label = value.substr(start, dot - start);
    if (label.empty() || !CheckDns1123Label(label).empty()) {
      return "must be a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', starting "
             "and ending with a letter or digit";
    }
    if (dot == std::string_view::npos) return "";
    start = dot + 1;
  }
}

std::string CheckHostPattern(std::string_view value) {
  if (value.rfind("*.", 0) == 0) value.remove_prefix(2);  // the wildcard label, once, first
  return CheckDnsName(value);
}

std::string CheckEmailDomain(std::string_view value) {
  if (value.find('@') != std::string_view::npos) return "must be a domain without '@'";
  return CheckDnsName(value);
}

std::string CheckEmail(std::string_view value) {
  size_t at = value.find('@');
  if (at == std::string_view::npos || value.find('@', at + 1) != std::string_view::npos) {
    return "must contain exactly one '@'";
  }
  if (at == 0 || at + 1 == value.size()) return "must have text before and after '@'";
  for (char c : value) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return "must not contain spaces or control characters";
    }
  }
  return "";
}

std::string CheckSecretKey(std::string_view value) {
  if (value.empty()) return "must not be empty";
  if (value.size() > 253) return "must be at most 253 characters";
  if (value == "." || value == "..") return "must not be '.' or '..'";
  for (char c : value) {
    if (!IsAlpha(c) && !IsDigit(c) && c != '-' && c != '_' && c != '.') {
      return "must contain only letters, digits, '-', '_' and '.'";
    }
  }
  return "";
}

std::string CheckHttpToken(std::string_view value) {
  if (value.empty()) return "must not be empty";
  for (char c : value) {
    if (!IsTokenChar(c)) return "must be an HTTP header name (RFC 9110 token characters)";
  }
  return "";
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = IsUpper(a[i]) ? static_cast<char>(a[i] | 0x20) : a[i];
    char y = IsUpper(b[i]) ? static_cast<char>(b[i] | 0x20) : b[i];
    if (x != y) return false;
  }
  return true;
}

std::string CheckIdentityHeaderName(std::string_view value) {
  std::string problem = CheckHttpToken(value);
  if (!problem.empty()) return problem;
  for (std::string_view reserved : kReservedHeaders) {
    if (EqualsIgnoreCase(value, reserved)) {
      return "must not be " + std::string(reserved) + " (a header the proxy manages itself)";
    }
  }
  return "";
}

std::string CheckHttpUrl(std::string_view value, ParsedUrl* out) {
  for (char c : value) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f ||
        c == '\\') {
      return "must not contain spaces, backslashes or non-ASCII characters";
    }
  }
  if (value.find('#') != std::string_view::npos) return "must not have a fragment ('#')";
  if (value.find('?') != std::string_view::npos) return "must not have a query ('?')";
  std::string_view rest;
  if (value.rfind("https://", 0) == 0) {
    out->scheme = "https";
    rest = value.substr(8);
  } else if (value.rfind("http://", 0) == 0) {
    out->scheme = "http";
    rest = value.substr(7);
  } else {
    return "must be an http:// or https:// URL";
  }
  size_t slash = rest.find('/');
  std::string problem = CheckAuthority(rest.substr(0, slash), out);
  if (!problem.empty()) return problem;
  out->path = slash == std::string_view::npos ? "" : std::string(rest.substr(slash));
  return "";
}

std::string CheckIssuerUrl(std::string_view value) {
  ParsedUrl url;
  std::string problem = CheckHttpUrl(value, &url);
  if (!problem.empty()) return problem;
  // Keys and discovery fetched over plain HTTP could be swapped by anyone on
  // the path, which would let them mint tokens: only loopback may skip TLS.
  if (url.scheme != "https" && !IsLoopbackHost(url.host)) {
    return "must use https (http is allowed only for 127.0.0.1, ::1 and localhost)";
  }
  return "";
}

std::string CheckUpstreamUrl(std::string_view value) {
  ParsedUrl url;
  return CheckHttpUrl(value, &url);
}

}  // namespace gatehouse::policy::validation
