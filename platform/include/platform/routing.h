// System routing for --auto-route: sends all traffic into the TUN device and keeps the tunnel's
// own proxy traffic, chosen destinations and this host's existing connections out of it. Also the
// per-socket options that mark the proxy connections. Everything added is removed again; leftovers
// of a run that could not clean up (a crash, SIGKILL) are found again. Linux uses policy routing (a
// table and rules of our own, found by number and priority); Windows adds interface routes
// (route_plan.h) and records them in a state file under %ProgramData%\tun2socks.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "platform/tun_device.h"

namespace t2s::platform {

struct RoutingOptions {
  std::string device;  // the TUN device that takes the traffic
  uint32_t table = 0;  // our routing table, flushed at start and at exit
  // Our rules use priorities priority .. priority + 2, which are cleared at start and at exit.
  uint32_t priority = 0;
  uint32_t fwmark = 0;  // proxy sockets carry this mark and skip the tunnel
  // IPv6 into the device, blocked (the device has no IPv6 but nothing may leak), or left alone.
  enum class Ipv6 { kTunnel, kBlock, kLeave } ipv6 = Ipv6::kTunnel;
  // Destinations (any family) kept off the tunnel: they use the system's routes.
  std::vector<InterfaceAddress> exclude;
  // Keep a blocking route behind the device's, so that traffic never falls through to the
  // system's routes while our rules exist (the device is gone after a crash).
  bool fail_closed = false;
};

class PolicyRouting {
 public:
  // Installs; call remove_leftovers first, since adding fails where an object exists. Returns
  // nullptr and sets `error` (naming the step) on failure, after removing what it had added.
  static std::unique_ptr<PolicyRouting> install(const RoutingOptions& options, std::string& error);
  // Removes every rule in [priority, priority + 2] and every route in `table` (Linux), or the
  // routes the state file names (Windows). Returns how many objects were removed, or -1 with
  // `error` set.
  static int remove_leftovers(uint32_t table, uint32_t priority, std::string& error);

  virtual ~PolicyRouting() = default;  // removes what install() added
  // Removes now (idempotent); on failure returns false with `error` set.
  virtual bool remove(std::string& error) = 0;
  // What install() left out and why (e.g. an excluded destination with no route), for the log.
  virtual std::vector<std::string> notes() const { return {}; }
};

// Options for sockets the tunnel opens to the proxy.
struct OutboundSocketOptions {
  std::optional<uint32_t> fwmark;  // SO_MARK
  std::string uplink_interface;    // SO_BINDTODEVICE (Linux), IP_UNICAST_IF (Windows) if set
};

// Applies `options` to `socket`; returns an empty string or the reason it failed.
// Linux: SO_MARK, SO_BINDTODEVICE. Windows: IP_UNICAST_IF / IPV6_UNICAST_IF (no marks).
std::string apply_socket_options(uv_os_sock_t socket, const OutboundSocketOptions& options);
// Applies `options` to a new TCP socket of `family` (AF_INET, AF_INET6) and closes it: fails at
// start, with the reason (e.g. no CAP_NET_ADMIN for SO_MARK), not on every connection.
std::string check_socket_options(int family, const OutboundSocketOptions& options);

}  // namespace t2s::platform
