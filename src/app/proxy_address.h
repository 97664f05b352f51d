// Resolving the proxy's host name once at start: the tunnel and --check connect to the address.
#pragma once

#include <uv.h>

#include <string>

#include "socks5/proxy_url.h"

namespace t2s::app {

// The first address of `url`'s host and port; false with `error` if it does not resolve.
bool resolve_proxy(const socks5::ProxyUrl& url, sockaddr_storage& out, std::string& error);

}  // namespace t2s::app
