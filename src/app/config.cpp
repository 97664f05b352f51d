// Flag definitions, defaults and validation for tun2socks.
#include "app/config.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>

namespace t2s::app {
namespace {

constexpr const char* kDefaultProxy = "socks5://127.0.0.1:1080";
constexpr const char* kDefaultDevice = "tun0";
constexpr const char* kDefaultAddress = "198.18.0.1/15";
constexpr const char* kDefaultAddress6 = "fdfe:dcba:9876::1/64";
constexpr int kDefaultMtu = 8500;
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

bool contains(const net::Cidr& range, const net::IpAddress& address) {
  if (range.address.family != address.family) return false;
  int bits = range.prefix_length;
  for (size_t i = 0; i < address.size() && bits > 0; ++i, bits -= 8) {
    uint8_t mask = bits >= 8 ? 0xFF : static_cast<uint8_t>(0xFF << (8 - bits));
    if ((range.address.bytes[i] & mask) != (address.bytes[i] & mask)) return false;
  }
  return true;
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

}  // namespace

CommandLine parse_command_line(const std::vector<std::string>& args) {
  CLI::App cli{
      "tun2socks: route every TCP connection that enters a TUN device through a SOCKS5 proxy.\n"
      "Add routes into the device yourself, e.g.  ip route add default dev tun0  (keeping the\n"
      "proxy's own address routed outside the device)."};
  cli.name("tun2socks");
  cli.set_version_flag("--version", std::string("tun2socks ") + T2S_VERSION);
  cli.get_formatter()->column_width(40);

  std::string proxy = kDefaultProxy;
  std::string device = kDefaultDevice;
  std::string address = kDefaultAddress;
  std::string address6 = kDefaultAddress6;
  int mtu = kDefaultMtu;
  std::string level = "info";
  double connect_timeout = kDefaultConnectTimeout;
  double idle_timeout = kDefaultIdleTimeout;
  double udp_timeout = kDefaultUdpTimeout;
  int max_udp_flows = kDefaultMaxUdpFlows;
  std::string icmp = "reply";
  std::string dns = "udp";
  std::vector<std::string> dns_addresses;
  std::string dns_upstream;
  std::string fake_range = kDefaultFakeRange;
  std::string fake_range6 = kDefaultFakeRange6;

  cli.add_option("--proxy", proxy,
                 "Upstream proxy: socks5://[user:password@]host:port; IPv6 hosts in brackets, "
                 "credentials percent-encoded")
      ->capture_default_str()
      ->check([](const std::string& value) {
        auto parsed = socks5::ProxyUrl::parse(value);
        return parsed ? std::string() : parsed.error();
      });
  cli.add_option("--device", device,
                 "TUN device to create, or attach to if it exists; fd://N uses an open TUN "
                 "descriptor handed in by a parent program")
      ->capture_default_str();
  cli.add_option("--address", address, "IPv4 address/prefix of the device")
      ->capture_default_str()
      ->check([](const std::string& value) {
        auto parsed = net::Cidr::parse(value, net::Family::kIpv4);
        return parsed ? std::string() : parsed.error();
      });
  cli.add_option("--address6", address6, "IPv6 address/prefix of the device, or 'none'")
      ->capture_default_str()
      ->check([](const std::string& value) {
        if (value == "none") return std::string();
        auto parsed = net::Cidr::parse(value, net::Family::kIpv6);
        return parsed ? std::string() : parsed.error();
      });
  cli.add_option("--mtu", mtu, "Device MTU; TCP's MSS follows it")
      ->capture_default_str()
      ->check([](const std::string& value) {
        int number = 0;
        auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
        if (ec != std::errc() || end != value.data() + value.size() || number < kMinMtu ||
            number > kMaxMtu) {
          return "must be a number from " + std::to_string(kMinMtu) + " to " +
                 std::to_string(kMaxMtu) + " (got '" + value + "')";
        }
        return std::string();
      });
  cli.add_option("--log-level", level, "trace, debug, info, warn, error or off")
      ->capture_default_str()
      ->check([](const std::string& value) {
        return log::parse_level(value)
                   ? std::string()
                   : "'" + value + "': use trace, debug, info, warn, error or off";
      });
  auto positive_seconds = [](const std::string& value) {
    double number = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
    if (ec != std::errc() || end != value.data() + value.size() || !(number > 0) ||
        number > 31'536'000) {
      return "must be a positive number of seconds (got '" + value + "')";
    }
    return std::string();
  };
  cli.add_option("--tcp-connect-timeout", connect_timeout,
                 "Seconds allowed for the proxy to connect and answer the handshake")
      ->capture_default_str()
      ->check(positive_seconds);
  cli.add_option("--tcp-idle-timeout", idle_timeout,
                 "Seconds without traffic either way before a relayed connection is reset")
      ->capture_default_str()
      ->check(positive_seconds);
  cli.add_option("--udp-timeout", udp_timeout,
                 "Seconds without traffic before a UDP flow and its proxy association end")
      ->capture_default_str()
      ->check(positive_seconds);
  cli.add_option("--max-udp-flows", max_udp_flows,
                 "UDP flows (app address and port) kept at once; the least recently active "
                 "one is closed to make room")
      ->capture_default_str()
      ->check([](const std::string& value) {
        int number = 0;
        auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
        if (ec != std::errc() || end != value.data() + value.size() || number < 1 ||
            number > 1'000'000) {
          return "must be a number from 1 to 1000000 (got '" + value + "')";
        }
        return std::string();
      });
  cli.add_option("--dns", dns,
                 "DNS handling: 'udp' relays queries like any UDP; 'fake' answers A/AAAA from a "
                 "pool of fake addresses and sends connections to them by name (no DNS leaves in "
                 "the clear; works without proxy UDP); 'tcp' forwards every query as DNS over "
                 "TCP through the proxy")
      ->capture_default_str()
      ->check([](const std::string& value) {
        return value == "udp" || value == "fake" || value == "tcp"
                   ? std::string()
                   : "'" + value + "': use udp, fake or tcp";
      });
  cli.add_option("--dns-address", dns_addresses,
                 "Only queries to this address are taken by --dns fake/tcp (repeatable; default: "
                 "port 53 of any address)")
      ->check([](const std::string& value) {
        auto parsed = net::IpAddress::parse(value);
        return parsed ? std::string() : "'" + value + "': " + parsed.error();
      });
  cli.add_option("--dns-upstream", dns_upstream,
                 "Resolver for forwarded queries, ADDR or ADDR:PORT ([v6]:PORT); default: the "
                 "address each query was sent to")
      ->check([](const std::string& value) {
        std::string error;
        return parse_endpoint(value, 53, error) ? std::string() : error;
      });
  cli.add_option("--fake-ip-range", fake_range, "IPv4 pool for --dns fake")
      ->capture_default_str()
      ->check([](const std::string& value) {
        auto parsed = net::Cidr::parse(value, net::Family::kIpv4);
        if (!parsed) return parsed.error();
        return parsed->prefix_length > 30 ? "'" + value + "': prefix must be /30 or shorter"
                                          : std::string();
      });
  cli.add_option("--fake-ip6-range", fake_range6, "IPv6 pool for --dns fake")
      ->capture_default_str()
      ->check([](const std::string& value) {
        auto parsed = net::Cidr::parse(value, net::Family::kIpv6);
        if (!parsed) return parsed.error();
        return parsed->prefix_length > 120 ? "'" + value + "': prefix must be /120 or shorter"
                                           : std::string();
      });
  cli.add_option("--icmp", icmp,
                 "ICMP echo requests (ping) to any address: 'reply' answers them locally, "
                 "'drop' drops them")
      ->capture_default_str()
      ->check([](const std::string& value) {
        return value == "reply" || value == "drop" ? std::string()
                                                   : "'" + value + "': use reply or drop";
      });

  CommandLine result;
  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 consumes from the back
    cli.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    result.message = cli.help();
    return result;
  } catch (const CLI::CallForVersion&) {
    result.message = cli.version();
    return result;
  } catch (const CLI::ParseError& error) {
    result.exit_code = 2;
    result.message = std::string("error: ") + error.what();
    return result;
  }

  Config& config = result.config;
  auto fail = [&result](const std::string& message) {
    result.exit_code = 2;
    result.message = "error: " + message;
    return result;
  };
  config.proxy = socks5::ProxyUrl::parse(proxy).value();
  std::string device_error;
  config.device_fd = parse_fd_device(device, device_error);
  if (!device_error.empty()) return fail("--device: " + device_error);
  if (!config.device_fd) {
    if (device.empty() || device.size() > 15 || device.find('/') != std::string::npos ||
        device.find(' ') != std::string::npos) {
      return fail("--device: '" + device +
                  "' is not a valid interface name (1-15 characters, no '/' or spaces)");
    }
    config.device_name = device;
  }
  config.ipv4 = net::Cidr::parse(address, net::Family::kIpv4).value();
  if (address6 != "none") config.ipv6 = net::Cidr::parse(address6, net::Family::kIpv6).value();
  if (config.ipv6 && mtu < kMinMtuIpv6) {
    return fail("--mtu: IPv6 needs at least " + std::to_string(kMinMtuIpv6) + " (got " +
                std::to_string(mtu) + "); raise it or pass --address6 none");
  }
  config.mtu = mtu;
  config.log_level = *log::parse_level(level);
  config.tcp_connect_timeout_s = connect_timeout;
  config.tcp_idle_timeout_s = idle_timeout;
  config.udp_timeout_s = udp_timeout;
  config.max_udp_flows = max_udp_flows;
  config.icmp_reply = icmp == "reply";
  config.dns = dns == "fake"  ? Config::Dns::kFake
               : dns == "tcp" ? Config::Dns::kTcp
                              : Config::Dns::kUdp;
  for (const auto& text : dns_addresses)
    config.dns_addresses.push_back(net::IpAddress::parse(text).value());
  if (!dns_upstream.empty()) {
    std::string error;
    config.dns_upstream = parse_endpoint(dns_upstream, 53, error);
  }
  config.fake_ip_range = net::Cidr::parse(fake_range, net::Family::kIpv4).value();
  config.fake_ip6_range = net::Cidr::parse(fake_range6, net::Family::kIpv6).value();
  if (config.dns == Config::Dns::kFake && contains(config.fake_ip_range, config.ipv4.address)) {
    return fail("--fake-ip-range: " + config.fake_ip_range.to_string() +
                " contains the device's own address " + config.ipv4.address.to_string() +
                " (--address); pick a range beside it");
  }
  result.run = true;
  return result;
}

}  // namespace t2s::app
