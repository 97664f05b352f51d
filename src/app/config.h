// Command-line flags (CLI11) and their validation into a ready-to-use Config. Each flag can
// also come from a TUN2SOCKS_* environment variable or the --config TOML file (command line >
// environment > file > default). Every bad value is reported with the flag's name, where it
// came from and what is wrong with it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "log/log.h"
#include "net/address.h"
#include "platform/features.h"
#include "socks5/proxy_url.h"

namespace t2s::app {

struct Config {
  socks5::ProxyUrl proxy;
  bool proxy_pipelining = true;  // --proxy-pipelining auto
  int proxy_spares = 0;          // greeted proxy connections kept ready while flows arrive
  std::string device_name;       // when creating or attaching by name
  std::optional<int> device_fd;  // --device fd://N (Linux)
  net::Cidr ipv4;
  std::optional<net::Cidr> ipv6;  // absent when --address6 is "none"
  bool ipv6_by_default = true;    // --address6 not given: IPv6 is dropped if the system has none
  int mtu = 0;
  log::Level log_level = log::Level::kInfo;
  double tcp_connect_timeout_s = 0;
  double tcp_idle_timeout_s = 0;
  double udp_timeout_s = 0;
  int max_udp_flows = 0;
  int max_connections = 0;  // TCP connections relayed at once; 0: unlimited
  bool icmp_reply = true;   // answer pings locally

  enum class Dns { kUdp, kFake, kTcp } dns = Dns::kUdp;
  std::vector<net::IpAddress> dns_addresses;  // empty: port 53 of any address
  std::optional<net::Endpoint> dns_upstream;  // empty: the address the app asked
  net::Cidr fake_ip_range;
  net::Cidr fake_ip6_range;

  // System integration.
  bool auto_route = false;         // policy routing of all traffic into the device
  std::vector<net::Cidr> exclude;  // destinations kept off the tunnel by --auto-route
  uint32_t route_table = 0;
  uint32_t route_priority = 0;     // our rules use route_priority .. route_priority + 2
  std::optional<uint32_t> fwmark;  // SO_MARK on proxy sockets (always set with auto_route)
  std::string
      uplink_interface;  // proxy sockets bound to this uplink (SO_BINDTODEVICE, IP_UNICAST_IF)
  bool fail_closed = false;
  bool set_dns = false;
  std::string user;           // drop to this user after set-up when not empty
  bool cleanup_only = false;  // --cleanup: remove leftovers of an earlier run, then exit

  // Live view (--stats-listen): HTTP endpoint and the token every request must carry.
  std::optional<net::Endpoint> stats_listen;
  std::string stats_token;  // empty: no token needed (loopback only)

  // --check: test the proxy with these steps instead of running the tunnel.
  bool check = false;
  socks5::Destination check_target;
};

struct CommandLine {
  bool run = false;  // false: exit now with exit_code, after printing `message`
  int exit_code = 0;
  std::string message;  // help/version/flag reference (stdout) or the error (stderr)
  Config config;
};

// `args` excludes the program name. Flags the OS in `features` has no meaning for (e.g. --fwmark
// on Windows) are refused with an error naming the flag and the OS; tests pass either table.
CommandLine parse_command_line(
    const std::vector<std::string>& args,
    const platform::PlatformFeatures& features = platform::platform_features());

}  // namespace t2s::app
