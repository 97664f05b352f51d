// Parsing of the --proxy value: socks5://[user[:password]@]host:port. Host is an IPv4 literal,
// a bracketed IPv6 literal or a DNS name; user and password may be percent-encoded.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "net/result.h"
#include "socks5/codec.h"

namespace t2s::socks5 {

struct ProxyUrl {
  std::string host;  // without brackets
  uint16_t port = 0;
  std::optional<Credentials> credentials;

  // Accepts schemes "socks5" and "socks5h" (same meaning here). The port is required.
  // Errors name the problem, e.g. "missing port", "unsupported scheme 'http'", and never
  // contain the password.
  static net::Result<ProxyUrl> parse(std::string_view text);
  // socks5://user:***@host:port; the password is never included.
  std::string redacted() const;
};

}  // namespace t2s::socks5
