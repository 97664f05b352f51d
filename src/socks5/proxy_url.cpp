// Parsing and redacted formatting of socks5:// proxy URLs given on the command line.
#include "socks5/proxy_url.h"

#include <algorithm>

#include "net/address.h"

namespace t2s::socks5 {

namespace {

using net::Result;

constexpr size_t kMaxHostName = 253;
constexpr size_t kMaxCredential = 255;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

char to_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  const char lower = to_lower(c);
  if (lower >= 'a' && lower <= 'f') return lower - 'a' + 10;
  return -1;
}

// RFC 3986: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
bool is_scheme(std::string_view text) {
  if (text.empty() || !is_alpha(text[0])) return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    return is_alpha(c) || is_digit(c) || c == '+' || c == '-' || c == '.';
  });
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return to_lower(x) == to_lower(y);
         });
}

bool percent_decode(std::string_view text, std::string& out) {
  out.clear();
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (text.size() - i < 3) return false;
    const int high = hex_value(text[i + 1]);
    const int low = hex_value(text[i + 2]);
    if (high < 0 || low < 0) return false;
    out += static_cast<char>((high << 4) | low);
    i += 2;
  }
  return true;
}

bool is_host_name(std::string_view host) {
  if (host.empty() || host.size() > kMaxHostName) return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_';
  });
}

bool parse_port(std::string_view text, uint16_t& port) {
  if (text.empty() || text.size() > 5) return false;
  if (!std::all_of(text.begin(), text.end(), is_digit)) return false;
  unsigned value = 0;
  for (char c : text) value = value * 10 + static_cast<unsigned>(c - '0');
  if (value < 1 || value > 65535) return false;
  port = static_cast<uint16_t>(value);
  return true;
}

// Characters kept as-is when printing a username; everything else is percent-encoded so the
// redacted form stays an unambiguous URL.
bool is_unreserved(char c) {
  return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

std::string percent_encode(std::string_view text) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    if (is_unreserved(c)) {
      out += c;
    } else {
      const auto byte = static_cast<uint8_t>(c);
      out += '%';
      out += kDigits[byte >> 4];
      out += kDigits[byte & 0x0F];
    }
  }
  return out;
}

}  // namespace

Result<ProxyUrl> ProxyUrl::parse(std::string_view text) {
  // Error messages never quote the input (only a valid scheme token): it can hold the password.
  using R = Result<ProxyUrl>;
  ProxyUrl url;

  const size_t scheme_end = text.find("://");
  if (scheme_end == text.npos || !is_scheme(text.substr(0, scheme_end))) {
    return R::failure("missing scheme (expected socks5://host:port)");
  }
  const std::string_view scheme = text.substr(0, scheme_end);
  if (!iequals(scheme, "socks5") && !iequals(scheme, "socks5h")) {
    return R::failure("unsupported scheme '" + std::string(scheme) + "' (use socks5://)");
  }
  std::string_view rest = text.substr(scheme_end + 3);

  // Split at the last '@' so an unencoded '@' in the password still works.
  const size_t at = rest.rfind('@');
  if (at != rest.npos) {
    const std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const size_t colon = userinfo.find(':');
    const std::string_view user = userinfo.substr(0, colon);
    const std::string_view pass =
        colon == userinfo.npos ? std::string_view{} : userinfo.substr(colon + 1);
    Credentials credentials;
    if (!percent_decode(user, credentials.username) ||
        !percent_decode(pass, credentials.password)) {
      return R::failure("invalid percent-encoding in credentials");
    }
    if (credentials.username.empty()) return R::failure("empty username");
    if (credentials.username.size() > kMaxCredential) {
      return R::failure("username longer than 255 bytes");
    }
    if (credentials.password.size() > kMaxCredential) {
      return R::failure("password longer than 255 bytes");
    }
    url.credentials = std::move(credentials);
  }

  // Tolerate one trailing '/' (an empty path); anything else after host:port is an error.
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/?#") != rest.npos) {
    return R::failure("unexpected path, query or fragment after host:port");
  }

  std::string_view host;
  std::string_view port_text;
  bool has_port = false;
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == rest.npos) return R::failure("missing ']' after IPv6 address");
    host = rest.substr(1, close - 1);
    if (host.empty()) return R::failure("empty host");
    auto address = net::IpAddress::parse(host);
    if (!address || address->is_v4()) {
      return R::failure("invalid IPv6 address in brackets");
    }
    const std::string_view after = rest.substr(close + 1);
    if (!after.empty() && after.front() != ':') {
      return R::failure("unexpected characters after ']'");
    }
    has_port = !after.empty();
    if (has_port) port_text = after.substr(1);
  } else {
    const size_t colon = rest.rfind(':');
    host = rest.substr(0, colon);
    if (colon != rest.npos) {
      has_port = true;
      port_text = rest.substr(colon + 1);
    }
    if (host.find(':') != host.npos) return R::failure("IPv6 address must be in brackets");
    if (host.empty()) return R::failure("empty host");
    const bool looks_numeric =
        std::all_of(host.begin(), host.end(), [](char c) { return is_digit(c) || c == '.'; });
    if (looks_numeric) {
      if (!net::IpAddress::parse(host)) {
        return R::failure("invalid IPv4 address");
      }
    } else if (!is_host_name(host)) {
      return R::failure(
          "invalid host name (expected letters, digits, '-', '.', '_'; at most "
          "253 characters)");
    }
  }
  if (!has_port || port_text.empty()) return R::failure("missing port");
  if (!parse_port(port_text, url.port)) return R::failure("port must be 1..65535");
  url.host = std::string(host);
  return R::success(std::move(url));
}

std::string ProxyUrl::redacted() const {
  std::string out = "socks5://";
  if (credentials) {
    out += percent_encode(credentials->username);
    out += ":***@";
  }
  if (host.find(':') != host.npos) {
    out += '[';
    out += host;
    out += ']';
  } else {
    out += host;
  }
  out += ':';
  out += std::to_string(port);
  return out;
}

}  // namespace t2s::socks5
