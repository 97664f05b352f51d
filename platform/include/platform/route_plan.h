// --auto-route where routes are plain interface routes (Windows): which routes to add, as a pure
// function of the adapter, the destinations kept off the tunnel and the routes they use now, so
// it is unit tested on any OS; windows/routing_windows.cpp looks the inputs up and executes the
// plan. Also the text of the state file that records what was added, so that --cleanup and the
// next start can remove what a crashed run left behind.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "platform/tun_device.h"

namespace t2s::platform {

// How a destination is reached now: the interface (by LUID, which stays valid while the
// interface exists) and the next hop, all zero when the destination is on the link.
struct CurrentRoute {
  uint64_t interface_luid = 0;
  InterfaceAddress next_hop;  // prefix_length unused
};

// A destination that stays off the tunnel: the proxy, or an --exclude.
struct KeptOff {
  InterfaceAddress destination;
  // The OS's best route towards the destination before the tunnel's routes exist; none when
  // the OS has no route there (nothing to keep off then).
  std::optional<CurrentRoute> current;
};

struct RoutePlanInput {
  uint64_t adapter_luid = 0;
  bool ipv6 = false;  // the adapter has IPv6: IPv6 goes into it too
  std::vector<KeptOff> kept_off;
};

struct PlannedRoute {
  InterfaceAddress destination;  // host bits cleared
  uint64_t interface_luid = 0;
  InterfaceAddress next_hop;  // all zero: on the link
  bool operator==(const PlannedRoute& other) const;
};

struct RoutePlan {
  std::vector<PlannedRoute> routes;  // in the order to add (removal goes backwards)
  std::vector<std::string> notes;    // destinations skipped and why, for the log
};

// The two halves of each family's address space into the adapter (more specific than any
// default route, which stays untouched), and one route per kept-off destination through the
// route it has now. A destination already routed into the adapter (a leftover) is an error:
// keeping it off would be a loop. Returns nothing with `error` set then.
std::optional<RoutePlan> plan_routes(const RoutePlanInput& input, std::string& error);

// "<destination>/<prefix> <next hop> <interface LUID>" per line, for the state file.
std::string format_route_state(const std::vector<PlannedRoute>& routes);
// Lines that do not parse are skipped (a file cut short by a crash still yields the rest).
std::vector<PlannedRoute> parse_route_state(std::string_view text);

// "192.0.2.0/24" (next hops and host addresses print without the prefix via to_text(address,
// false)). Uses libuv's inet_ntop, so it works the same on every OS.
std::string to_text(const InterfaceAddress& address, bool with_prefix = true);
std::optional<InterfaceAddress> parse_interface_address(std::string_view text);

}  // namespace t2s::platform
