// What the tunnel changes in the system beyond its device, and puts back: --auto-route's
// routing, --set-dns's resolver, the marks on proxy sockets, and --user's privilege drop.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "app/config.h"
#include "platform/privileges.h"
#include "platform/resolver.h"
#include "platform/routing.h"

namespace t2s::app {

// A CIDR in the platform layer's form (device addresses, excluded destinations).
platform::InterfaceAddress to_interface_address(const net::Cidr& cidr);

class SystemSetup {
 public:
  explicit SystemSetup(const Config& config) : config_(config) {}
  ~SystemSetup() { teardown(); }
  SystemSetup(const SystemSetup&) = delete;
  SystemSetup& operator=(const SystemSetup&) = delete;

  // Before anything is changed: looks up --user, puts back what an earlier run left behind
  // (routes, rules, resolver), and picks the DNS upstream for --set-dns (empty: unchanged).
  bool prepare(std::optional<net::Endpoint>& dns_upstream, std::string& error);

  // The hook for proxy sockets (marks, interface), checked once on a real socket of `family`;
  // an empty function when nothing is to be set.
  bool socket_hook(int family, std::function<std::string(uv_os_sock_t)>& hook, std::string& error);

  // After the device is up: routing, then the resolver, then the switch to --user.
  bool apply(const sockaddr_storage& proxy, std::string& error);

  // Resolver first, then routing; logs what fails. Idempotent.
  void teardown();

  // --cleanup: only the leftovers. Returns the process exit code.
  static int cleanup(const Config& config);

 private:
  bool install_routing(const sockaddr_storage& proxy, std::string& error);
  bool install_resolver(std::string& error);

  const Config& config_;
  std::optional<platform::UserIdentity> user_;
  std::unique_ptr<platform::PolicyRouting> routing_;
  std::unique_ptr<platform::ResolverOverride> resolver_;
};

}  // namespace t2s::app
