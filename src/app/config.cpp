// Flag definitions, defaults and validation for tun2socks: command line, TUN2SOCKS_*
// environment variables and the --config file, merged in that order of precedence.
#include "app/config.h"

#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>

namespace t2s::app {
namespace {

constexpr const char* kDefaultProxy = "socks5://127.0.0.1:1080";
constexpr const char* kDefaultDevice = "tun0";
constexpr const char* kDefaultAddress = "198.18.0.1/15";
constexpr const char* kDefaultAddress6 = "fdfe:dcba:9876::1/64";
// The TUN link is virtual: the largest MTU means the fewest packets per byte (docs/performance.md).
constexpr int kDefaultMtu = 65535;
constexpr int kMinMtu = 576;
constexpr int kMinMtuIpv6 = 1280;
constexpr int kMaxMtu = 65535;
// RFC 5382 REQ-5: established TCP flows must not be dropped after less than 2 h 4 min idle.
constexpr double kDefaultIdleTimeout = 7440;
constexpr double kDefaultConnectTimeout = 10;
constexpr double kDefaultUdpTimeout = 60;
// Inside 198.18.0.0/15 (reserved for benchmarking, RFC 2544) but clear of the device's
// default 198.18.0.1; the IPv6 pool is a ULA /64 next to the device's default one.
constexpr const char* kDefaultFakeRange = "198.19.0.0/16";
constexpr const char* kDefaultFakeRange6 = "fdfe:dcba:9877::/64";
// Each flow holds a TCP control connection and a UDP socket towards the proxy.
constexpr int kDefaultMaxUdpFlows = 1024;
// Enough to cover flows that start together; more only leave more unused connections behind.
constexpr int kDefaultProxySpares = 2;
constexpr int kMaxProxySpares = 64;
// --auto-route: our routing table, the first of our three rule priorities (before the main
// table's 32766) and the mark of the proxy sockets. Chosen to be unlikely to collide.
constexpr int kDefaultRouteTable = 2080;
constexpr int kDefaultRoutePriority = 20800;
constexpr uint32_t kDefaultFwmark = 0x2080;
constexpr int kMaxRoutePriority = 32763;  // + 2 stays below the main table's rule
// --check asks the proxy to connect here unless told otherwise: a name, so the proxy's own
// resolver is part of the test.
constexpr const char* kDefaultCheckTarget = "example.com:80";

std::optional<int> parse_fd_device(const std::string& device, std::string& error) {
  constexpr std::string_view kPrefix = "fd://";
  if (device.rfind(kPrefix, 0) != 0) return std::nullopt;
  std::string_view digits(device);
  digits.remove_prefix(kPrefix.size());
  int fd = -1;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), fd);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || fd < 0) {
    error = "'" + device + "': expected fd://N with N a file descriptor number";
    return std::nullopt;
  }
  return fd;
}

// "ADDR", "ADDR:PORT", "[V6]:PORT" or a bare IPv6 address.
std::optional<net::Endpoint> parse_endpoint(const std::string& text, uint16_t default_port,
                                            std::string& error) {
  std::string host = text;
  std::string port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos) {
      error = "'" + text + "': missing ']'";
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') {
        error = "'" + text + "': expected ':' after ']'";
        return std::nullopt;
      }
      port_text = text.substr(close + 2);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    host = text.substr(0, text.find(':'));
    port_text = text.substr(text.find(':') + 1);
  }
  auto address = net::IpAddress::parse(host);
  if (!address) {
    error = "'" + text + "': " + address.error();
    return std::nullopt;
  }
  uint16_t port = default_port;
  if (!port_text.empty() || text.back() == ':') {
    int number = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), number);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || number < 1 ||
        number > 65535) {
      error = "'" + text + "': port must be 1..65535";
      return std::nullopt;
    }
    port = static_cast<uint16_t>(number);
  }
  return net::Endpoint{address.value(), port};
}

// "HOST:PORT" with HOST a name, an IPv4 address or a bracketed IPv6 address.
std::optional<socks5::Destination> parse_destination(const std::string& text, std::string& error) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 ||
      (text.front() != '[' && text.find(':') != colon)) {
    error = "'" + text + "': expected HOST:PORT";
    return std::nullopt;
  }
  if (text.front() == '[' || net::IpAddress::parse(text.substr(0, colon))) {
    auto endpoint = parse_endpoint(text, 0, error);
    if (endpoint && endpoint->port == 0) error = "'" + text + "': expected HOST:PORT";
    if (!error.empty()) return std::nullopt;
    return socks5::Destination(*endpoint);
  }
  int port = 0;
  auto [end, ec] = std::from_chars(text.data() + colon + 1, text.data() + text.size(), port);
  const std::string name = text.substr(0, colon);
  if (ec != std::errc() || end != text.data() + text.size() || port < 1 || port > 65535) {
    error = "'" + text + "': port must be 1..65535";
    return std::nullopt;
  }
  if (name.size() > 255) {
    error = "'" + text + "': the host name is longer than 255 bytes";
    return std::nullopt;
  }
  return socks5::Destination(socks5::DomainEndpoint{name, static_cast<uint16_t>(port)});
}

constexpr const char* kEnvironmentPrefix = "TUN2SOCKS_";
constexpr int kMaxConnectionsLimit = 1'000'000;
// SOCKS5 username/password authentication (RFC 1929) carries at most 255 bytes; tokens too.
constexpr size_t kMaxSecretBytes = 255;

// "--dns-address" -> "TUN2SOCKS_DNS_ADDRESS". The only place environment names are made.
std::string environment_name(const std::string& flag) {
  std::string name = kEnvironmentPrefix;
  for (char c : flag.substr(flag.find_first_not_of('-'))) {
    name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

auto integer_between(int low, int high) {
  return [low, high](const std::string& value) {
    int number = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
    if (ec != std::errc() || end != value.data() + value.size() || number < low || number > high) {
      return "must be a number from " + std::to_string(low) + " to " + std::to_string(high) +
             " (got '" + value + "')";
    }
    return std::string();
  };
}

// A check accepting exactly one of `choices`; the error lists them ("use a, b or c").
auto one_of(std::vector<std::string> choices) {
  return [choices = std::move(choices)](const std::string& value) {
    if (std::find(choices.begin(), choices.end(), value) != choices.end()) return std::string();
    std::string listed;
    for (size_t i = 0; i < choices.size(); ++i) {
      listed += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i];
    }
    return "'" + value + "': use " + listed;
  };
}

// Flag values as CLI11 fills them in, before they are checked together and converted.
struct FlagValues {
  std::string config_file;
  std::string proxy = kDefaultProxy;
  std::string proxy_password_file;
  std::string proxy_pipelining = "auto";
  int proxy_spares = kDefaultProxySpares;
  std::string device = kDefaultDevice;
  std::string address = kDefaultAddress;
  std::string address6 = kDefaultAddress6;
  int mtu = kDefaultMtu;
  std::string level = "info";
  double connect_timeout = kDefaultConnectTimeout;
  double idle_timeout = kDefaultIdleTimeout;
  double udp_timeout = kDefaultUdpTimeout;
  int max_udp_flows = kDefaultMaxUdpFlows;
  int max_connections = 0;
  std::string icmp = "reply";
  std::string dns = "udp";
  std::vector<std::string> dns_addresses;
  std::string dns_upstream;
  std::string fake_range = kDefaultFakeRange;
  std::string fake_range6 = kDefaultFakeRange6;
  bool auto_route = false;
  std::vector<std::string> exclude;
  int route_table = kDefaultRouteTable;
  int route_priority = kDefaultRoutePriority;
  std::string fwmark;
  std::string uplink_interface;
  bool fail_closed = false;
  bool set_dns = false;
  std::string user;
  bool cleanup = false;
  std::string stats_listen;
  std::string stats_token_file;
  bool check = false;
  std::string check_target = kDefaultCheckTarget;
  bool print_flag_reference = false;
};

// The command line is parsed twice with the same definitions. kCommandLineOnly reads neither
// the environment nor the --config file and tells which flags the command line sets; kFull
// adds the environment variables of the other flags as if given on the command line, then
// lets CLI11 fill what is still unset from the config file. Hence command line > environment >
// config file > default.
enum class Pass { kCommandLineOnly, kFull };

constexpr const char* kConfigFlag = "--config";
constexpr const char* kPrintFlagReference = "--print-flag-reference";

// "0x2080" or "8320": a non-zero 32-bit mark.
std::optional<uint32_t> parse_fwmark(const std::string& text) {
  std::string_view digits(text);
  int base = 10;
  if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
    digits.remove_prefix(2);
    base = 16;
  }
  uint32_t mark = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), mark, base);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || mark == 0) {
    return std::nullopt;
  }
  return mark;
}

bool valid_interface_name(const std::string& name, const platform::PlatformFeatures& features) {
  return !name.empty() && name.size() <= features.max_interface_name &&
         name.find('/') == std::string::npos &&
         (features.spaces_in_interface_names || name.find(' ') == std::string::npos);
}

std::string interface_name_rule(const platform::PlatformFeatures& features) {
  return "1-" + std::to_string(features.max_interface_name) + " characters, no '/'" +
         (features.spaces_in_interface_names ? "" : " or spaces");
}

struct UnsupportedFlag {
  std::string flag;    // as the user wrote it ("--device fd://N")
  std::string reason;  // what the OS lacks, and what to do instead
};

// The first flag given (from any source) that this OS has no meaning for.
std::optional<UnsupportedFlag> unsupported_flag(const CLI::App& cli, bool device_fd,
                                                const platform::PlatformFeatures& f) {
  struct Need {
    const char* flag;
    bool here;
    const char* reason;
  };
  const Need needs[] = {
      {"--fwmark", f.socket_marks,
       "no socket marks (--auto-route keeps the proxy off the tunnel with a host route)"},
      {"--route-table", f.policy_routing, "no policy routing (--auto-route adds plain routes)"},
      {"--route-priority", f.policy_routing, "no policy routing (--auto-route adds plain routes)"},
      {"--fail-closed", f.fail_closed, "no blocking route that outlives the tunnel"},
      {"--set-dns", f.resolver_override,
       "the system resolver is not changed; point the adapter's DNS server at the tunnel yourself"},
      {"--user", f.switch_user, "no switch to another user after set-up"}};
  for (const Need& need : needs) {
    if (!need.here && cli.get_option(need.flag)->count() > 0) {
      return UnsupportedFlag{need.flag, need.reason};
    }
  }
  if (device_fd && !f.inherited_device) {
    return UnsupportedFlag{"--device fd://N",
                           "no inherited TUN descriptors; name the adapter with --device NAME"};
  }
  return std::nullopt;
}

// Flags that touch the system beyond the device: routing, DNS, privileges.
void define_system_flags(CLI::App& cli, FlagValues& v, const platform::PlatformFeatures& features) {
  cli.add_flag("--auto-route", v.auto_route,
               "Route all IPv4 and IPv6 traffic into the device with policy routing (a table "
               "and rules of our own); the tunnel's own proxy connections, --exclude'd "
               "destinations and connections using this host's existing addresses stay "
               "outside. Removed again on exit. On Windows: routes for the two halves of each "
               "family's addresses on the adapter, and host routes through the current uplink "
               "for the proxy and --exclude'd destinations, recorded in "
               "%ProgramData%\\tun2socks for --cleanup");
  cli.add_option("--exclude", v.exclude,
                 "With --auto-route, keep this destination off the tunnel (repeatable, or "
                 "comma-separated), e.g. the LAN or an SSH server; the proxy's own address is "
                 "always excluded")
      ->type_name("CIDR")
      ->delimiter(',')
      ->check([](const std::string& value) {
        auto parsed = net::Cidr::parse(value);
        return parsed ? std::string() : parsed.error();
      });
  cli.add_option("--route-table", v.route_table,
                 "Routing table used by --auto-route; flushed at start and exit (Linux only)")
      ->type_name("N")
      ->capture_default_str()
      ->check([](const std::string& value) {
        std::string error = integer_between(1, 2'147'483'647)(value);
        if (error.empty() && (value == "253" || value == "254" || value == "255")) {
          error = "'" + value + "' is one of the system's tables (default, main, local)";
        }
        return error;
      });
  cli.add_option("--route-priority", v.route_priority,
                 "First of the three rule priorities used by --auto-route (N, N+1, N+2); rules "
                 "there are removed at start and exit (Linux only)")
      ->type_name("N")
      ->capture_default_str()
      ->check(integer_between(1, kMaxRoutePriority));
  cli.add_option("--fwmark", v.fwmark,
                 "Mark the tunnel's own sockets to the proxy with this SO_MARK (default 0x2080 "
                 "with --auto-route, none without; Linux only)")
      ->type_name("MARK")
      ->check([](const std::string& value) {
        return parse_fwmark(value) ? std::string()
                                   : "'" + value + "': expected a non-zero 32-bit number";
      });
  cli.add_option("--interface", v.uplink_interface,
                 "Bind the tunnel's own sockets to the proxy to this uplink interface "
                 "(SO_BINDTODEVICE; on Windows IP_UNICAST_IF with the adapter's name, e.g. "
                 "Ethernet)")
      ->type_name("NAME")
      ->check([&features](const std::string& value) {
        return valid_interface_name(value, features)
                   ? std::string()
                   : "'" + value + "' is not a valid interface name (" +
                         interface_name_rule(features) + ")";
      });
  cli.add_flag("--fail-closed", v.fail_closed,
               "With --auto-route, traffic never falls back to the uplink: a blocking route "
               "stays behind the device's, even if the tunnel dies (until the next start or "
               "--cleanup; Linux only)");
  cli.add_flag("--set-dns", v.set_dns,
               "With --auto-route and --dns fake or tcp, point the system resolver into the "
               "tunnel (the first --dns-address, else the device's address + 1), restored on "
               "exit; queries are forwarded to --dns-upstream, else to the nameserver the "
               "system had (Linux only)");
  cli.add_option("--user", v.user,
                 "After set-up, switch to this user, keeping only CAP_NET_ADMIN (and "
                 "CAP_NET_RAW with --interface) for teardown (Linux only)")
      ->type_name("NAME");
  CLI::Option* cleanup = cli.add_flag(
      "--cleanup", v.cleanup,
      "Remove the routes and rules an earlier run could not (crash, SIGKILL), and the resolver "
      "change of --set-dns, then exit; uses --route-table and --route-priority (on Windows the "
      "routes recorded in %ProgramData%\\tun2socks)");
  cleanup->configurable(false);
}

// Flags of the live view (HTTP endpoints) and of --check.
void define_live_view_flags(CLI::App& cli, FlagValues& v) {
  cli.add_option("--stats-listen", v.stats_listen,
                 "Serve live counters and connections over HTTP at this address: /metrics "
                 "(Prometheus), /stats and /connections (JSON) and a status page at /; a "
                 "non-loopback address needs --stats-token-file")
      ->type_name("ADDR:PORT")
      ->check([](const std::string& value) {
        std::string error;
        auto endpoint = parse_endpoint(value, 0, error);
        if (endpoint && endpoint->port == 0) error = "'" + value + "': expected ADDR:PORT";
        return error;
      });
  cli.add_option("--stats-token-file", v.stats_token_file,
                 "With --stats-listen, every request must carry 'Authorization: Bearer TOKEN', "
                 "TOKEN read from this file (one trailing newline ignored)")
      ->type_name("FILE");
  CLI::Option* check = cli.add_flag(
      "--check", v.check,
      "Test the proxy and exit: greeting and authentication, a CONNECT to --check-target, UDP "
      "ASSOCIATE and the pipelining probe, with handshake times; exit 0 if the greeting and the "
      "CONNECT worked. Needs no root and no TUN device");
  check->configurable(false);
  cli.add_option("--check-target", v.check_target,
                 "Destination --check asks the proxy to connect to, HOST:PORT (a name or an "
                 "address; IPv6 in brackets)")
      ->type_name("HOST:PORT")
      ->capture_default_str()
      ->check([](const std::string& value) {
        std::string error;
        return parse_destination(value, error) ? std::string() : error;
      });
}

void define_flags(CLI::App& cli, FlagValues& v, Pass pass,
                  const platform::PlatformFeatures& features) {
  cli.description(
      "tun2socks: route every TCP connection and UDP flow that enters a TUN device through a "
      "SOCKS5 proxy.\nWith --auto-route it routes all traffic into the device itself; otherwise "
      "add routes\nyourself, e.g.  ip route add default dev tun0  (keeping the proxy's own "
      "address\nrouted outside the device).");
  cli.name("tun2socks");
  cli.set_version_flag("--version", std::string("tun2socks ") + T2S_VERSION);
  cli.get_formatter()->column_width(40);

  const std::string config_help =
      "Read flags from this TOML file: one 'flag = value' per line, flag names without dashes, "
      "repeatable flags as arrays; the command line and TUN2SOCKS_* variables override it";
  CLI::Option* config = pass == Pass::kFull
                            ? cli.set_config(kConfigFlag, "", config_help)
                            : cli.add_option(kConfigFlag, v.config_file, config_help);
  config->type_name("FILE");
  cli.allow_config_extras(CLI::config_extras_mode::error);

  cli.add_option("--proxy", v.proxy,
                 "Upstream proxy: socks5://[user:password@]host:port; IPv6 hosts in brackets, "
                 "credentials percent-encoded")
      ->type_name("URL")
      ->capture_default_str()
      ->check([](const std::string& value) {
        auto parsed = socks5::ProxyUrl::parse(value);
        return parsed ? std::string() : parsed.error();
      });
  cli.add_option("--proxy-password-file", v.proxy_password_file,
                 "Read the proxy password from this file (one trailing newline ignored); it "
                 "replaces any password in --proxy, which must name the user")
      ->type_name("FILE");
  cli.add_option("--proxy-pipelining", v.proxy_pipelining,
                 "'auto' sends each SOCKS5 request right behind the greeting (one round trip "
                 "less per new connection) once a probe has shown that the proxy reads it; "
                 "never with a password. 'off' always waits for each reply")
      ->type_name("MODE")
      ->capture_default_str()
      ->check(one_of({"auto", "off"}));
  cli.add_option("--proxy-spares", v.proxy_spares,
                 "Proxy connections opened ahead of need while new connections keep arriving, "
                 "so each new one skips the TCP handshake with the proxy (and the greeting, "
                 "where it cannot be pipelined); a spare unused for 10 s is closed, not "
                 "replaced. 0 turns this off")
      ->type_name("N")
      ->capture_default_str()
      ->check(integer_between(0, kMaxProxySpares));
  cli.add_option("--device", v.device,
                 "TUN device to create, or attach to if it exists; fd://N uses an open TUN "
                 "descriptor handed in by a parent program (Linux only). On Windows, the Wintun "
                 "adapter's name")
      ->type_name("NAME")
      ->capture_default_str();
  cli.add_option("--address", v.address, "IPv4 address/prefix of the device")
      ->type_name("CIDR")
      ->capture_default_str()
      ->check([](const std::string& value) {
        auto parsed = net::Cidr::parse(value, net::Family::kIpv4);
        return parsed ? std::string() : parsed.error();
      });
  cli.add_option("--address6", v.address6, "IPv6 address/prefix of the device, or 'none'")
      ->type_name("CIDR")
      ->capture_default_str()
      ->check([](const std::string& value) {
        if (value == "none") return std::string();
        auto parsed = net::Cidr::parse(value, net::Family::kIpv6);
        return parsed ? std::string() : parsed.error();
      });
  cli.add_option("--mtu", v.mtu,
                 "Device MTU (at least " + std::to_string(kMinMtuIpv6) +
                     " with IPv6); TCP's MSS follows it")
      ->type_name("N")
      ->capture_default_str()
      ->check(integer_between(kMinMtu, kMaxMtu));
  cli.add_option("--log-level", v.level, "trace, debug, info, warn, error or off")
      ->type_name("LEVEL")
      ->capture_default_str()
      ->check([](const std::string& value) {
        return log::parse_level(value)
                   ? std::string()
                   : "'" + value + "': use trace, debug, info, warn, error or off";
      });
  auto positive_seconds = [](const std::string& value) {
    // strtod, not std::from_chars: libstdc++'s floating-point from_chars is the only user of
    // libm in the binary, and loading libm costs 0.3 MiB of resident memory.
    char* end = nullptr;
    const double number = value.empty() || std::isspace(static_cast<unsigned char>(value[0]))
                              ? 0
                              : std::strtod(value.c_str(), &end);
    if (end != value.c_str() + value.size() || !(number > 0) || number > 31'536'000) {
      return "must be a positive number of seconds (got '" + value + "')";
    }
    return std::string();
  };
  cli.add_option("--tcp-connect-timeout", v.connect_timeout,
                 "Seconds allowed for the proxy to connect and answer the handshake (also "
                 "for a UDP flow's association)")
      ->type_name("SECONDS")
      ->capture_default_str()
      ->check(positive_seconds);
  cli.add_option("--tcp-idle-timeout", v.idle_timeout,
                 "Seconds without traffic either way before a relayed connection is reset")
      ->type_name("SECONDS")
      ->capture_default_str()
      ->check(positive_seconds);
  cli.add_option("--udp-timeout", v.udp_timeout,
                 "Seconds without traffic before a UDP flow and its proxy association end")
      ->type_name("SECONDS")
      ->capture_default_str()
      ->check(positive_seconds);
  cli.add_option("--max-udp-flows", v.max_udp_flows,
                 "UDP flows (app address and port) kept at once; the least recently active "
                 "one is closed to make room")
      ->type_name("N")
      ->capture_default_str()
      ->check(integer_between(1, 1'000'000));
  cli.add_option("--max-connections", v.max_connections,
                 "TCP connections relayed at once; 0 means unlimited")
      ->type_name("N")
      ->capture_default_str()
      ->check(integer_between(0, kMaxConnectionsLimit));
  cli.add_option("--dns", v.dns,
                 "DNS handling: 'udp' relays queries like any UDP; 'fake' answers A/AAAA from a "
                 "pool of fake addresses and sends connections to them by name (no DNS leaves in "
                 "the clear; works without proxy UDP); 'tcp' forwards every query as DNS over "
                 "TCP through the proxy")
      ->type_name("MODE")
      ->capture_default_str()
      ->check(one_of({"udp", "fake", "tcp"}));
  cli.add_option("--dns-address", v.dns_addresses,
                 "Only queries to this address are taken by --dns fake/tcp (repeatable, or "
                 "comma-separated; default: port 53 of any address)")
      ->type_name("IP")
      ->delimiter(',')
      ->check([](const std::string& value) {
        auto parsed = net::IpAddress::parse(value);
        return parsed ? std::string() : parsed.error();
      });
  cli.add_option("--dns-upstream", v.dns_upstream,
                 "Resolver for forwarded queries, ADDR or ADDR:PORT ([v6]:PORT); default: the "
                 "address each query was sent to")
      ->type_name("ADDR[:PORT]")
      ->check([](const std::string& value) {
        std::string error;
        return parse_endpoint(value, 53, error) ? std::string() : error;
      });
  cli.add_option("--fake-ip-range", v.fake_range, "IPv4 pool for --dns fake")
      ->type_name("CIDR")
      ->capture_default_str()
      ->check([](const std::string& value) {
        auto parsed = net::Cidr::parse(value, net::Family::kIpv4);
        if (!parsed) return parsed.error();
        return parsed->prefix_length > 30 ? "'" + value + "': prefix must be /30 or shorter"
                                          : std::string();
      });
  cli.add_option("--fake-ip6-range", v.fake_range6, "IPv6 pool for --dns fake")
      ->type_name("CIDR")
      ->capture_default_str()
      ->check([](const std::string& value) {
        auto parsed = net::Cidr::parse(value, net::Family::kIpv6);
        if (!parsed) return parsed.error();
        return parsed->prefix_length > 120 ? "'" + value + "': prefix must be /120 or shorter"
                                           : std::string();
      });
  cli.add_option("--icmp", v.icmp,
                 "ICMP echo requests (ping) to any address: 'reply' answers them locally, "
                 "'drop' drops them")
      ->type_name("MODE")
      ->capture_default_str()
      ->check(one_of({"reply", "drop"}));
  define_system_flags(cli, v, features);
  define_live_view_flags(cli, v);
  CLI::Option* reference = cli.add_flag(kPrintFlagReference, v.print_flag_reference,
                                        "Print the flag reference as Markdown (docs/flags.md)");
  reference->group("");  // hidden
  reference->configurable(false);
  cli.get_help_ptr()->configurable(false);
  cli.get_version_ptr()->configurable(false);

  // Every flag that takes a value can also come from the environment.
  if (pass == Pass::kFull) {
    const CLI::Option* help = cli.get_help_ptr();
    const CLI::Option* version = cli.get_version_ptr();
    for (CLI::Option* option : cli.get_options([&](const CLI::Option* candidate) {
           return candidate != help && candidate != version && !candidate->get_group().empty() &&
                  candidate->get_name() != "--cleanup" &&  // actions, not settings
                  candidate->get_name() != "--check";
         })) {
      option->envname(environment_name(option->get_name()));
    }
  }
}

void parse_arguments(CLI::App& cli, const std::vector<std::string>& args) {
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 consumes from the back
  cli.parse(reversed);
}

std::string markdown_cell(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += '\\';
    out += c == '\n' ? ' ' : c;
  }
  return out;
}

std::string flag_reference(const CLI::App& cli) {
  std::string out =
      "# tun2socks flags\n\n"
      "Generated from the flag definitions by `tun2socks --print-flag-reference`; do not edit.\n"
      "Every flag that takes a value can also be set by its environment variable or as\n"
      "`name = value` (the flag without dashes) in the `--config` file. The command line wins\n"
      "over the environment, which wins over the file.\n\n"
      "| flag | environment variable | default | description |\n"
      "| --- | --- | --- | --- |\n";
  for (const CLI::Option* option : cli.get_options()) {
    if (option->get_group().empty()) continue;  // hidden
    std::string flag = option->get_name();
    if (!option->get_type_name().empty()) flag += " " + option->get_type_name();
    auto code = [](const std::string& text) {
      return text.empty() ? std::string() : "`" + markdown_cell(text) + "`";
    };
    out += "| " + code(flag) + " | " + code(option->get_envname()) + " | " +
           code(option->get_default_str()) + " | " + markdown_cell(option->get_description()) +
           " |\n";
  }
  out.pop_back();  // the caller ends the text with a newline
  return out;
}

std::string config_file_of(CLI::App& cli) {
  const CLI::Option* config = cli.get_config_ptr();
  return config != nullptr && !config->results().empty() ? config->results().front()
                                                         : std::string();
}

// CLI11's messages about the config file, reworded to name the file and the offending key.
std::string config_error_message(const std::string& file, const std::string& what) {
  constexpr std::string_view kUnknown = "INI was not able to parse ";
  constexpr std::string_view kNotAllowed = ": This option is not allowed in a configuration file";
  if (what.rfind(kUnknown, 0) == 0) {
    std::string key = what.substr(kUnknown.size());
    // CLI11 reports a [section] as "section.++" (opening) or "section.--" (closing).
    for (std::string_view marker : {".++", ".--"}) {
      if (key.size() > marker.size() && key.ends_with(marker)) {
        return "--config " + file + ": unknown section '[" +
               key.substr(0, key.size() - marker.size()) + "]' (keys go at the top level)";
      }
    }
    return "--config " + file + ": unknown key '" + key + "'";
  }
  if (what.size() > kNotAllowed.size() &&
      what.compare(what.size() - kNotAllowed.size(), kNotAllowed.size(), kNotAllowed) == 0) {
    return "--config " + file + ": key '" + what.substr(0, what.size() - kNotAllowed.size()) +
           "' cannot be set in a config file";
  }
  return "--config " + file + ": " + what;
}

// Why CLI11 could not read a config file (it only says "not readable").
std::string why_unreadable(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return std::strerror(errno);
  if (!S_ISREG(info.st_mode)) return "not a regular file";
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return std::strerror(errno);
  std::fclose(file);
  return "unreadable";
}

// Reads a password or token from a file, without trailing newlines. Errors name the file, never
// its contents; `what` names the secret in them.
bool read_secret_file(const std::string& path, const char* what, std::string& secret,
                      std::string& error) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    error = "cannot read '" + path + "': " + std::strerror(errno);
    return false;
  }
  std::string contents;
  char buffer[512];
  size_t count = 0;
  while ((count = std::fread(buffer, 1, sizeof buffer, file)) > 0) {
    contents.append(buffer, count);
    if (contents.size() > 64 * 1024) break;  // far beyond any password
  }
  const bool failed = std::ferror(file) != 0;
  const int read_errno = errno;
  std::fclose(file);
  if (failed) {
    error = "cannot read '" + path + "': " + std::strerror(read_errno);
    return false;
  }
  while (!contents.empty() && (contents.back() == '\n' || contents.back() == '\r')) {
    contents.pop_back();
  }
  if (contents.empty()) {
    error = "'" + path + "' is empty";
    return false;
  }
  if (contents.size() > kMaxSecretBytes) {
    error = std::string("the ") + what + " in '" + path + "' is longer than 255 bytes";
    return false;
  }
  secret = std::move(contents);
  return true;
}

}  // namespace

CommandLine parse_command_line(const std::vector<std::string>& args,
                               const platform::PlatformFeatures& features) {
  CommandLine result;
  auto fail = [&result](const std::string& message) {
    result.exit_code = 2;
    result.message = "error: " + message;
    return result;
  };

  // Pass 1: the command line alone.
  std::set<std::string> from_command_line;
  {
    CLI::App cli;
    FlagValues values;
    define_flags(cli, values, Pass::kCommandLineOnly, features);
    try {
      parse_arguments(cli, args);
    } catch (const CLI::CallForHelp&) {
      CLI::App full;
      FlagValues unused;
      define_flags(full, unused, Pass::kFull, features);
      result.message = full.help();
      return result;
    } catch (const CLI::CallForVersion&) {
      result.message = cli.version();
      return result;
    } catch (const CLI::ParseError& error) {
      return fail(error.what());
    } catch (const std::exception& error) {  // not expected from CLI11; never let one escape
      return fail(error.what());
    }
    if (values.print_flag_reference) {
      CLI::App full;
      FlagValues unused;
      define_flags(full, unused, Pass::kFull, features);
      result.message = flag_reference(full);
      return result;
    }
    for (const CLI::Option* option : cli.get_options()) {
      if (option->count() > 0) from_command_line.insert(option->get_name());
    }
  }

  // Pass 2: command line, then the environment for flags it left unset, then the config file.
  CLI::App cli;
  FlagValues values;
  define_flags(cli, values, Pass::kFull, features);
  std::vector<std::string> full_args = args;
  std::map<std::string, std::string> from_environment;  // flag -> variable
  for (const CLI::Option* option : cli.get_options()) {
    const std::string variable = option->get_envname();
    if (variable.empty() || from_command_line.count(option->get_name()) != 0) continue;
    const char* value = std::getenv(variable.c_str());
    if (value == nullptr || *value == '\0') continue;  // CLI11 also ignores empty variables
    full_args.push_back(option->get_name() + "=" + value);
    from_environment[option->get_name()] = variable;
  }
  // Names where a flag's value came from, for error messages.
  auto origin = [&](const std::string& flag) {
    if (from_command_line.count(flag) != 0) return std::string();
    if (auto it = from_environment.find(flag); it != from_environment.end()) {
      return " (from " + it->second + ")";
    }
    const CLI::Option* option = cli.get_option_no_throw(flag);
    std::string file = config_file_of(cli);
    if (option != nullptr && option->count() > 0 && !file.empty()) {
      return " (from " + file + ")";
    }
    return std::string();
  };
  // CLI11's own messages start with the flag's name ("--mtu: ...") or name it after "--".
  auto with_origin = [&](const std::string& message) {
    std::string best;
    for (const CLI::Option* option : cli.get_options()) {
      const std::string& name = option->get_name();
      size_t at = message.find(name);
      if (at == std::string::npos || name.size() <= best.size()) continue;
      size_t after = at + name.size();
      if (after == message.size() || message[after] == ':' || message[after] == ' ' ||
          message[after] == '=') {
        best = name;
      }
    }
    return best.empty() ? message : message + origin(best);
  };
  try {
    parse_arguments(cli, full_args);
  } catch (const CLI::ConfigError& error) {
    return fail(config_error_message(config_file_of(cli), error.what()));
  } catch (const CLI::FileError& error) {
    std::string file = config_file_of(cli);
    if (file.empty()) return fail(error.what());
    return fail("--config" + origin(kConfigFlag) + ": cannot read '" + file +
                "': " + why_unreadable(file));
  } catch (const CLI::ParseError& error) {
    return fail(with_origin(error.what()));
  } catch (const std::exception& error) {
    return fail(error.what());
  }

  Config& config = result.config;
  auto parsed_proxy = socks5::ProxyUrl::parse(values.proxy);
  config.proxy = parsed_proxy.value();
  if (!values.proxy_password_file.empty()) {
    const std::string flag = "--proxy-password-file";
    if (!config.proxy.credentials) {
      return fail(flag + origin(flag) + ": --proxy" + origin("--proxy") +
                  " has no user name; use socks5://USER@host:port");
    }
    std::string password;
    std::string error;
    if (!read_secret_file(values.proxy_password_file, "password", password, error)) {
      return fail(flag + origin(flag) + ": " + error);
    }
    config.proxy.credentials->password = std::move(password);
  }
  std::string device_error;
  config.device_fd = parse_fd_device(values.device, device_error);
  if (!device_error.empty()) return fail("--device" + origin("--device") + ": " + device_error);
  if (auto unsupported = unsupported_flag(cli, config.device_fd.has_value(), features)) {
    const std::string& flag = unsupported->flag;
    return fail(flag + origin(flag.substr(0, flag.find(' '))) + ": not supported on " +
                std::string(features.os_name) + ": " + unsupported->reason);
  }
  if (!config.device_fd) {
    const std::string& device = values.device;
    if (!valid_interface_name(device, features)) {
      return fail("--device" + origin("--device") + ": '" + device +
                  "' is not a valid interface name (" + interface_name_rule(features) + ")");
    }
    config.device_name = device;
  }
  config.ipv4 = net::Cidr::parse(values.address, net::Family::kIpv4).value();
  config.ipv6_by_default = cli.get_option("--address6")->count() == 0;
  if (values.address6 != "none") {
    config.ipv6 = net::Cidr::parse(values.address6, net::Family::kIpv6).value();
  }
  if (config.ipv6 && values.mtu < kMinMtuIpv6) {
    return fail("--mtu" + origin("--mtu") + ": IPv6 needs at least " + std::to_string(kMinMtuIpv6) +
                " (got " + std::to_string(values.mtu) + "); raise it or pass --address6 none");
  }
  config.mtu = values.mtu;
  config.proxy_pipelining = values.proxy_pipelining == "auto";
  config.proxy_spares = values.proxy_spares;
  config.log_level = *log::parse_level(values.level);
  config.tcp_connect_timeout_s = values.connect_timeout;
  config.tcp_idle_timeout_s = values.idle_timeout;
  config.udp_timeout_s = values.udp_timeout;
  config.max_udp_flows = values.max_udp_flows;
  config.max_connections = values.max_connections;
  config.icmp_reply = values.icmp == "reply";
  config.dns = values.dns == "fake"  ? Config::Dns::kFake
               : values.dns == "tcp" ? Config::Dns::kTcp
                                     : Config::Dns::kUdp;
  for (const auto& text : values.dns_addresses)
    config.dns_addresses.push_back(net::IpAddress::parse(text).value());
  if (!values.dns_upstream.empty()) {
    std::string error;
    config.dns_upstream = parse_endpoint(values.dns_upstream, 53, error);
  }
  config.fake_ip_range = net::Cidr::parse(values.fake_range, net::Family::kIpv4).value();
  config.fake_ip6_range = net::Cidr::parse(values.fake_range6, net::Family::kIpv6).value();
  if (config.dns == Config::Dns::kFake && config.fake_ip_range.contains(config.ipv4.address)) {
    return fail("--fake-ip-range" + origin("--fake-ip-range") + ": " +
                config.fake_ip_range.to_string() + " contains the device's own address " +
                config.ipv4.address.to_string() + " (--address); pick a range beside it");
  }

  config.auto_route = values.auto_route;
  for (const auto& text : values.exclude) config.exclude.push_back(net::Cidr::parse(text).value());
  config.route_table = static_cast<uint32_t>(values.route_table);
  config.route_priority = static_cast<uint32_t>(values.route_priority);
  if (!values.fwmark.empty()) {
    config.fwmark = parse_fwmark(values.fwmark);
  } else if (config.auto_route && features.socket_marks) {
    config.fwmark = kDefaultFwmark;
  }
  config.uplink_interface = values.uplink_interface;
  config.fail_closed = values.fail_closed;
  config.set_dns = values.set_dns;
  config.user = values.user;
  config.cleanup_only = values.cleanup;
  const std::pair<const char*, bool> need_auto_route[] = {{"--exclude", !config.exclude.empty()},
                                                          {"--fail-closed", config.fail_closed},
                                                          {"--set-dns", config.set_dns}};
  for (const auto& [flag, given] : need_auto_route) {
    if (given && !config.auto_route && !config.cleanup_only) {
      return fail(std::string(flag) + origin(flag) + " needs --auto-route");
    }
  }
  if (config.auto_route && config.device_fd) {
    return fail("--auto-route" + origin("--auto-route") +
                " needs a device name, not --device fd://N (route the device yourself)");
  }
  if (config.set_dns && config.dns == Config::Dns::kUdp) {
    return fail("--set-dns" + origin("--set-dns") +
                " needs --dns fake or --dns tcp (with --dns udp the system's resolver already "
                "goes through the tunnel)");
  }
  if (!values.stats_listen.empty()) {
    std::string error;
    config.stats_listen = parse_endpoint(values.stats_listen, 0, error);
  }
  if (!values.stats_token_file.empty()) {
    const std::string flag = "--stats-token-file";
    if (!config.stats_listen) return fail(flag + origin(flag) + " needs --stats-listen");
    std::string error;
    if (!read_secret_file(values.stats_token_file, "token", config.stats_token, error)) {
      return fail(flag + origin(flag) + ": " + error);
    }
  }
  if (config.stats_listen && !config.stats_listen->address.is_loopback() &&
      config.stats_token.empty()) {
    return fail("--stats-listen" + origin("--stats-listen") + ": " +
                config.stats_listen->to_string() +
                " is reachable from other hosts; give --stats-token-file so that requests need "
                "a token, or listen on 127.0.0.1 or [::1]");
  }
  config.check = values.check;
  {
    std::string error;
    config.check_target = *parse_destination(values.check_target, error);
  }
  result.run = true;
  return result;
}

}  // namespace t2s::app
