// Which system features this OS has, so that flags without a meaning here are refused with a
// clear error (by the app, from this table, not by #ifdef). Both tables are visible on every
// OS, so the flag checks of each can be unit tested anywhere.
#pragma once

#include <cstddef>
#include <string_view>

namespace t2s::platform {

struct PlatformFeatures {
  std::string_view os_name;
  bool socket_marks = false;       // --fwmark (SO_MARK)
  bool policy_routing = false;     // --route-table, --route-priority (own table and rules)
  bool fail_closed = false;        // --fail-closed (blocking route that outlives the process)
  bool resolver_override = false;  // --set-dns
  bool switch_user = false;        // --user
  bool inherited_device = false;   // --device fd://N
  // Longest interface name (--device, --interface), and whether names may contain spaces.
  size_t max_interface_name = 0;
  bool spaces_in_interface_names = false;
};

inline constexpr PlatformFeatures kLinuxFeatures{
    .os_name = "Linux",
    .socket_marks = true,
    .policy_routing = true,
    .fail_closed = true,
    .resolver_override = true,
    .switch_user = true,
    .inherited_device = true,
    .max_interface_name = 15,  // IFNAMSIZ - 1
    .spaces_in_interface_names = false,
};
// Windows adapters are named by their alias ("Ethernet 2"), up to 255 characters
// (NDIS_IF_MAX_STRING_SIZE); the rest has no Windows counterpart here.
inline constexpr PlatformFeatures kWindowsFeatures{
    .os_name = "Windows",
    .max_interface_name = 255,
    .spaces_in_interface_names = true,
};

// The table of the OS this program was built for.
const PlatformFeatures& platform_features();

}  // namespace t2s::platform
