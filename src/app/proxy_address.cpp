// getaddrinfo for the proxy's host.
#include "app/proxy_address.h"

#include <netdb.h>

#include <cstring>

namespace t2s::app {

bool resolve_proxy(const socks5::ProxyUrl& url, sockaddr_storage& out, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* results = nullptr;
  std::string port = std::to_string(url.port);
  int rc = getaddrinfo(url.host.c_str(), port.c_str(), &hints, &results);
  if (rc != 0 || results == nullptr) {
    error = "cannot resolve proxy host '" + url.host + "': " + gai_strerror(rc);
    return false;
  }
  std::memcpy(&out, results->ai_addr, results->ai_addrlen);
  freeaddrinfo(results);
  return true;
}

}  // namespace t2s::app
