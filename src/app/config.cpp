// Flag definitions, defaults and validation for tun2socks.
#include "app/config.h"

#include <CLI/CLI.hpp>
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
  result.run = true;
  return result;
}

}  // namespace t2s::app
