// Resolving the proxy's host before the loop runs, so synchronously (libuv's getaddrinfo
// without a callback, which works the same on every OS).
#include "app/proxy_address.h"

#include <cstring>

namespace t2s::app {

bool resolve_proxy(const socks5::ProxyUrl& url, sockaddr_storage& out, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  uv_loop_t loop{};
  uv_loop_init(&loop);
  uv_getaddrinfo_t request{};
  std::string port = std::to_string(url.port);
  int rc = uv_getaddrinfo(&loop, &request, nullptr, url.host.c_str(), port.c_str(), &hints);
  const bool found = rc == 0 && request.addrinfo != nullptr;
  if (found) {
    std::memcpy(&out, request.addrinfo->ai_addr, request.addrinfo->ai_addrlen);
  } else {
    error = "cannot resolve proxy host '" + url.host + "': " + uv_strerror(rc);
  }
  uv_freeaddrinfo(request.addrinfo);
  uv_loop_close(&loop);
  return found;
}

}  // namespace t2s::app
