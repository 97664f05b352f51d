// SystemSetup: the order of changes to the system and their undoing, and the log lines that
// tell the user what was changed.
#include "app/system_setup.h"

#include "log/log.h"
#include "platform/features.h"

namespace t2s::app {

platform::InterfaceAddress to_interface_address(const net::Cidr& cidr) {
  platform::InterfaceAddress address;
  address.is_v6 = !cidr.address.is_v4();
  address.bytes = cidr.address.bytes;
  address.prefix_length = cidr.prefix_length;
  return address;
}

namespace {

// The address written into the resolver: the first --dns-address, else the device's + 1
// (inside the device's prefix, so it is routed into the tunnel even without --auto-route).
std::optional<net::IpAddress> resolver_address(const Config& config) {
  if (!config.dns_addresses.empty()) return config.dns_addresses.front();
  net::IpAddress next = config.ipv4.address;
  for (int i = 3; i >= 0; --i) {
    if (++next.bytes[static_cast<size_t>(i)] != 0) break;
  }
  if (!config.ipv4.contains(next)) return std::nullopt;
  return next;
}

// Where --auto-route's objects live, for the log.
std::string routing_place(const Config& config) {
  if (!platform::platform_features().policy_routing) return "recorded in %ProgramData%\\tun2socks";
  return "table " + std::to_string(config.route_table) + ", priorities " +
         std::to_string(config.route_priority) + "-" + std::to_string(config.route_priority + 2);
}

int remove_leftovers(const Config& config, std::string& error) {
  int removed =
      platform::PolicyRouting::remove_leftovers(config.route_table, config.route_priority, error);
  if (removed < 0) return -1;
  int restored = platform::ResolverOverride::restore_leftover(error);
  if (restored < 0) {
    // Only fatal when we are about to change the resolver ourselves (or asked to clean up).
    if (config.set_dns || config.cleanup_only) return -1;
    log::warn("cannot check for a resolver change left by an earlier run: {}", error);
  }
  if (restored > 0) log::warn("put back the resolver configuration an earlier run had replaced");
  return removed;
}

}  // namespace

bool SystemSetup::prepare(std::optional<net::Endpoint>& dns_upstream, std::string& error) {
  if (!config_.user.empty()) {
    user_ = platform::find_user(config_.user, error);
    if (!user_) {
      error = "--user: " + error;
      return false;
    }
  }
  if (!config_.auto_route) return true;
  int removed = remove_leftovers(config_, error);
  if (removed < 0) return false;
  if (removed > 0) {
    log::warn("removed {} leftover routes and rules of an earlier run ({})", removed,
              routing_place(config_));
  }
  if (!config_.set_dns || config_.dns_upstream) return true;

  // Forward to the nameserver the system had, through the proxy: it must be one the proxy
  // can reach, so not a local stub.
  std::optional<net::IpAddress> ours = resolver_address(config_);
  for (const std::string& text : platform::ResolverOverride::current_nameservers()) {
    auto address = net::IpAddress::parse(text);
    if (!address || address->is_loopback() || address->is_unspecified() ||
        address.value() == ours) {
      continue;
    }
    dns_upstream = net::Endpoint{address.value(), 53};
    log::info("--set-dns: queries are forwarded to {} (the system's nameserver) through the proxy",
              address->to_string());
    return true;
  }
  error =
      "--set-dns: /etc/resolv.conf names no nameserver the proxy could reach (a local stub such "
      "as systemd-resolved's 127.0.0.53 is not); give one with --dns-upstream";
  return false;
}

bool SystemSetup::socket_hook(int family, std::function<std::string(uv_os_sock_t)>& hook,
                              std::string& error) {
  platform::OutboundSocketOptions options;
  options.fwmark = config_.fwmark;
  options.uplink_interface = config_.uplink_interface;
  if (!options.fwmark && options.uplink_interface.empty()) return true;
  error = platform::check_socket_options(family, options);
  if (!error.empty()) return false;
  hook = [options](uv_os_sock_t socket) { return platform::apply_socket_options(socket, options); };
  return true;
}

bool SystemSetup::apply(const sockaddr_storage& proxy, std::string& error) {
  if (config_.auto_route && !install_routing(proxy, error)) {
    error = "--auto-route: " + error;
    teardown();
    return false;
  }
  if (config_.set_dns && !install_resolver(error)) {
    error = "--set-dns: " + error;
    teardown();
    return false;
  }
  if (user_) {
    std::vector<platform::Capability> keep = {platform::Capability::kNetAdmin};
    if (!config_.uplink_interface.empty()) keep.push_back(platform::Capability::kNetRaw);
    if (!platform::switch_user(*user_, keep, error)) {
      error = "--user: " + error;
      teardown();
      return false;
    }
    log::info("now running as {} (uid {}), keeping CAP_NET_ADMIN{}", user_->name, user_->uid,
              config_.uplink_interface.empty() ? "" : " and CAP_NET_RAW");
  }
  return true;
}

bool SystemSetup::install_routing(const sockaddr_storage& proxy, std::string& error) {
  platform::RoutingOptions options;
  options.device = config_.device_name;
  options.table = config_.route_table;
  options.priority = config_.route_priority;
  options.fwmark = config_.fwmark.value_or(0);
  using Ipv6 = platform::RoutingOptions::Ipv6;
  options.ipv6 = config_.ipv6 ? Ipv6::kTunnel : config_.fail_closed ? Ipv6::kBlock : Ipv6::kLeave;
  options.fail_closed = config_.fail_closed;
  for (const net::Cidr& excluded : config_.exclude) {
    options.exclude.push_back(to_interface_address(excluded));
  }
  // Anyone else's connections to the proxy (an app using it directly) stay off the tunnel too.
  net::IpAddress proxy_address = net::address_of(proxy);
  if (!proxy_address.is_loopback()) {
    options.exclude.push_back(
        to_interface_address(net::Cidr{proxy_address, proxy_address.is_v4() ? 32 : 128}));
  }
  routing_ = platform::PolicyRouting::install(options, error);
  if (!routing_) return false;
  for (const std::string& note : routing_->notes()) log::warn("auto-route: {}", note);
  if (options.fwmark != 0) {
    log::info("auto-route: all traffic into {} ({}, fwmark {:#x}){}", config_.device_name,
              routing_place(config_), options.fwmark, config_.fail_closed ? ", fail-closed" : "");
  } else {
    log::info("auto-route: all traffic into {} ({})", config_.device_name, routing_place(config_));
  }
  return true;
}

bool SystemSetup::install_resolver(std::string& error) {
  std::optional<net::IpAddress> address = resolver_address(config_);
  if (!address) {
    error = "the device's address + 1 is outside its prefix; name one with --dns-address";
    return false;
  }
  platform::ResolverOptions options;
  options.device = config_.device_name;
  options.nameservers = {address->to_string()};
  resolver_ = platform::ResolverOverride::install(options, error);
  if (!resolver_) return false;
  log::info("set-dns: {}: nameserver {}", resolver_->description(), address->to_string());
  return true;
}

void SystemSetup::teardown() {
  std::string error;
  if (resolver_) {
    if (resolver_->restore(error)) {
      log::info("put the resolver configuration back");
    } else {
      log::error("--set-dns: {}", error);
    }
    resolver_.reset();
  }
  if (routing_) {
    if (routing_->remove(error)) {
      log::info("removed the routes and rules of --auto-route");
    } else {
      log::error("--auto-route: {}", error);
    }
    routing_.reset();
  }
}

int SystemSetup::cleanup(const Config& config) {
  std::string error;
  int removed = remove_leftovers(config, error);
  if (removed < 0) {
    log::error("--cleanup: {}", error);
    return 1;
  }
  log::info("--cleanup: removed {} routes and rules ({})", removed, routing_place(config));
  return 0;
}

}  // namespace t2s::app
