// Linux policy routing over rtnetlink (libnl-route-3), and SO_MARK / SO_BINDTODEVICE.
//
// Per address family, with P = priority and T = table:
//   P    from <each address this host had at start>  goto P+2   (its existing and accepted
//        connections keep their path: an SSH session into the machine survives; IPv4 only
//        with fail_closed, see below)
//   P    fwmark M/M  goto P+2                                     (the tunnel's proxy sockets)
//   P+1  lookup T
//   P+2  nop                                                      (target of the gotos)
// Table T: default dev TUN; throw routes for excluded, link-local and multicast destinations
// (lookup falls through to the system's tables); with fail_closed a prohibit default route with
// the highest metric, which remains when the device disappears.
// Marked traffic skips only our table, so the system's other rules still apply to it.
#include <linux/fib_rules.h>
#include <net/if.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/route.h>
#include <netlink/route/rtnl.h>
#include <netlink/route/rule.h>
#include <netlink/socket.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>

#include "platform/routing.h"

namespace t2s::platform {
namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* object) const { Free(object); }
};
using SocketPtr = std::unique_ptr<nl_sock, Deleter<nl_sock, nl_socket_free>>;
using CachePtr = std::unique_ptr<nl_cache, Deleter<nl_cache, nl_cache_free>>;
using AddrPtr = std::unique_ptr<nl_addr, Deleter<nl_addr, nl_addr_put>>;
using RoutePtr = std::unique_ptr<rtnl_route, Deleter<rtnl_route, rtnl_route_put>>;
using RulePtr = std::unique_ptr<rtnl_rule, Deleter<rtnl_rule, rtnl_rule_put>>;

constexpr uint32_t kHighestMetric = 0xffffffff;

std::string nl_text(int code) {
  return nl_geterror(code);
}

SocketPtr connect_route_socket(std::string& error) {
  SocketPtr sock(nl_socket_alloc());
  if (!sock) {
    error = "cannot allocate a netlink socket";
    return nullptr;
  }
  if (int rc = nl_connect(sock.get(), NETLINK_ROUTE); rc < 0) {
    error = "cannot open a netlink socket: " + nl_text(rc);
    return nullptr;
  }
  return sock;
}

int family_of(const InterfaceAddress& address) {
  return address.is_v6 ? AF_INET6 : AF_INET;
}

AddrPtr make_prefix(int family, const uint8_t* bytes, int prefix_length) {
  AddrPtr addr(nl_addr_build(family, bytes, family == AF_INET ? 4 : 16));
  if (addr) nl_addr_set_prefixlen(addr.get(), prefix_length);
  return addr;
}

AddrPtr make_default(int family) {
  static constexpr uint8_t kZero[16] = {};
  return make_prefix(family, kZero, 0);
}

std::string describe(int family, const nl_addr* addr) {
  char text[INET6_ADDRSTRLEN + 8];
  nl_addr2str(addr, text, sizeof(text));
  return std::string(family == AF_INET6 ? "IPv6 " : "IPv4 ") + text;
}

// Destinations that belong to a link, never to the tunnel.
struct LinkScoped {
  int family;
  uint8_t bytes[16];
  int prefix_length;
};
constexpr LinkScoped kLinkScoped[] = {
    {AF_INET, {169, 254}, 16},    {AF_INET, {224}, 4},   {AF_INET, {255, 255, 255, 255}, 32},
    {AF_INET6, {0xfe, 0x80}, 10}, {AF_INET6, {0xff}, 8},
};

class LinuxPolicyRouting final : public PolicyRouting {
 public:
  LinuxPolicyRouting(SocketPtr sock, RoutingOptions options)
      : sock_(std::move(sock)), options_(std::move(options)) {}
  ~LinuxPolicyRouting() override {
    std::string ignored;
    remove(ignored);
  }

  bool install(std::string& error) {
    int tun_index = static_cast<int>(if_nametoindex(options_.device.c_str()));
    if (tun_index == 0) {
      error = "device " + options_.device + " not found: " + std::strerror(errno);
      return false;
    }
    std::vector<int> families = {AF_INET};
    if (options_.ipv6 != RoutingOptions::Ipv6::kLeave) families.push_back(AF_INET6);

    // Routes first, rules last: traffic enters our table only once it is complete.
    for (int family : families) {
      bool into_device = family == AF_INET || options_.ipv6 == RoutingOptions::Ipv6::kTunnel;
      if (into_device &&
          !add_route(family, make_default(family), RTN_UNICAST, tun_index, 0, error)) {
        return false;
      }
      // prohibit, not unreachable: an unreachable IPv6 route in a rule's table counts as no
      // route, and the lookup would go on to the system's tables.
      if ((options_.fail_closed || !into_device) &&
          !add_route(family, make_default(family), RTN_PROHIBIT, 0, kHighestMetric, error)) {
        return false;
      }
    }
    for (const LinkScoped& scoped : kLinkScoped) {
      if (!wanted(families, scoped.family)) continue;
      if (!add_route(scoped.family, make_prefix(scoped.family, scoped.bytes, scoped.prefix_length),
                     RTN_THROW, 0, 0, error)) {
        return false;
      }
    }
    for (const InterfaceAddress& excluded : options_.exclude) {
      int family = family_of(excluded);
      if (!wanted(families, family)) continue;
      if (!add_route(family, make_prefix(family, excluded.bytes.data(), excluded.prefix_length),
                     RTN_THROW, 0, 0, error)) {
        return false;
      }
    }

    std::vector<AddrPtr> host_addresses;
    if (!collect_host_addresses(tun_index, host_addresses, error)) return false;
    const uint32_t skip_target = options_.priority + 2;
    for (int family : families) {
      if (!add_rule(family, options_.priority + 2, FR_ACT_NOP, error)) return false;
      if (!add_rule(family, options_.priority, FR_ACT_GOTO, error, [&](rtnl_rule* rule) {
            rtnl_rule_set_mark(rule, options_.fwmark);
            rtnl_rule_set_mask(rule, options_.fwmark);
            rtnl_rule_set_goto(rule, skip_target);
          })) {
        return false;
      }
      // IPv6 retries a failed lookup with a source address picked from any interface; with
      // the device gone and fail_closed, that retry would match these rules and leave by the
      // uplink. So under fail_closed only IPv4 keeps existing connections outside.
      if (family == AF_INET6 && options_.fail_closed) continue;
      for (const AddrPtr& address : host_addresses) {
        if (nl_addr_get_family(address.get()) != family) continue;
        if (!add_rule(family, options_.priority, FR_ACT_GOTO, error, [&](rtnl_rule* rule) {
              rtnl_rule_set_src(rule, address.get());
              rtnl_rule_set_goto(rule, skip_target);
            })) {
          return false;
        }
      }
    }
    for (int family : families) {
      if (!add_rule(family, options_.priority + 1, FR_ACT_TO_TBL, error,
                    [&](rtnl_rule* rule) { rtnl_rule_set_table(rule, options_.table); })) {
        return false;
      }
    }
    return true;
  }

  bool remove(std::string& error) override {
    bool ok = true;
    // Rules in reverse order (the lookup of our table goes first), then the routes.
    for (auto it = rules_.rbegin(); it != rules_.rend(); ++it) {
      int rc = rtnl_rule_delete(sock_.get(), it->get(), 0);
      if (rc < 0 && rc != -NLE_OBJ_NOTFOUND) {
        error = "cannot remove a routing rule: " + nl_text(rc);
        ok = false;
      }
    }
    rules_.clear();
    for (auto it = routes_.rbegin(); it != routes_.rend(); ++it) {
      // The device's route is already gone when the device went first.
      int rc = rtnl_route_delete(sock_.get(), it->get(), 0);
      if (rc < 0 && rc != -NLE_OBJ_NOTFOUND && rc != -NLE_NODEV) {
        error = "cannot remove a route from table " + std::to_string(options_.table) + ": " +
                nl_text(rc);
        ok = false;
      }
    }
    routes_.clear();
    return ok;
  }

 private:
  static bool wanted(const std::vector<int>& families, int family) {
    return std::find(families.begin(), families.end(), family) != families.end();
  }

  bool add_route(int family, AddrPtr destination, uint8_t type, int ifindex, uint32_t metric,
                 std::string& error) {
    RoutePtr route(rtnl_route_alloc());
    if (!route || !destination) {
      error = "out of memory building a route";
      return false;
    }
    rtnl_route_set_family(route.get(), static_cast<uint8_t>(family));
    rtnl_route_set_table(route.get(), options_.table);
    rtnl_route_set_type(route.get(), type);
    rtnl_route_set_protocol(route.get(), RTPROT_STATIC);
    rtnl_route_set_priority(route.get(), metric);
    rtnl_route_set_scope(route.get(), type == RTN_UNICAST ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE);
    rtnl_route_set_dst(route.get(), destination.get());
    if (ifindex != 0) {
      rtnl_nexthop* hop = rtnl_route_nh_alloc();
      if (hop == nullptr) {
        error = "out of memory building a route";
        return false;
      }
      rtnl_route_nh_set_ifindex(hop, ifindex);
      rtnl_route_add_nexthop(route.get(), hop);  // the route owns it now
    }
    int rc = rtnl_route_add(sock_.get(), route.get(), NLM_F_CREATE | NLM_F_EXCL);
    if (rc < 0) {
      const char* kind = type == RTN_UNICAST ? "" : type == RTN_THROW ? "throw " : "prohibit ";
      error = std::string("cannot add ") + kind + "route " + describe(family, destination.get()) +
              " to table " + std::to_string(options_.table) + ": " + nl_text(rc);
      return false;
    }
    routes_.push_back(std::move(route));
    return true;
  }

  bool add_rule(int family, uint32_t priority, uint8_t action, std::string& error,
                const std::function<void(rtnl_rule*)>& fill = {}) {
    RulePtr rule(rtnl_rule_alloc());
    if (!rule) {
      error = "out of memory building a rule";
      return false;
    }
    rtnl_rule_set_family(rule.get(), family);
    rtnl_rule_set_prio(rule.get(), priority);
    rtnl_rule_set_action(rule.get(), action);
    if (fill) fill(rule.get());
    int rc = rtnl_rule_add(sock_.get(), rule.get(), NLM_F_CREATE | NLM_F_EXCL);
    if (rc < 0) {
      error = std::string("cannot add ") + (family == AF_INET6 ? "IPv6" : "IPv4") +
              " routing rule with priority " + std::to_string(priority) + ": " + nl_text(rc);
      return false;
    }
    rules_.push_back(std::move(rule));
    return true;
  }

  // This host's addresses other than the tunnel's and loopback ones, as /32 or /128.
  bool collect_host_addresses(int tun_index, std::vector<AddrPtr>& out, std::string& error) {
    nl_cache* raw = nullptr;
    if (int rc = rtnl_addr_alloc_cache(sock_.get(), &raw); rc < 0) {
      error = "cannot list the host's addresses: " + nl_text(rc);
      return false;
    }
    CachePtr cache(raw);
    for (nl_object* object = nl_cache_get_first(cache.get()); object != nullptr;
         object = nl_cache_get_next(object)) {
      auto* address = reinterpret_cast<rtnl_addr*>(object);
      if (rtnl_addr_get_ifindex(address) == tun_index) continue;
      if (rtnl_addr_get_scope(address) == RT_SCOPE_HOST) continue;
      nl_addr* local = rtnl_addr_get_local(address);
      if (local == nullptr) continue;
      AddrPtr copy(nl_addr_clone(local));
      if (!copy) continue;
      nl_addr_set_prefixlen(copy.get(), static_cast<int>(nl_addr_get_len(copy.get()) * 8));
      out.push_back(std::move(copy));
    }
    return true;
  }

  SocketPtr sock_;
  RoutingOptions options_;
  std::vector<RoutePtr> routes_;
  std::vector<RulePtr> rules_;
};

}  // namespace

int PolicyRouting::remove_leftovers(uint32_t table, uint32_t priority, std::string& error) {
  SocketPtr sock = connect_route_socket(error);
  if (!sock) return -1;
  int removed = 0;

  nl_cache* raw = nullptr;
  if (int rc = rtnl_rule_alloc_cache(sock.get(), AF_UNSPEC, &raw); rc < 0) {
    error = "cannot list routing rules: " + nl_text(rc);
    return -1;
  }
  CachePtr rules(raw);
  // Lookups of our table first, so traffic never meets a half-removed set.
  for (uint32_t offset : {1u, 0u, 2u}) {
    for (nl_object* object = nl_cache_get_first(rules.get()); object != nullptr;
         object = nl_cache_get_next(object)) {
      auto* rule = reinterpret_cast<rtnl_rule*>(object);
      if (rtnl_rule_get_prio(rule) != priority + offset) continue;
      if (int rc = rtnl_rule_delete(sock.get(), rule, 0); rc < 0 && rc != -NLE_OBJ_NOTFOUND) {
        error = "cannot remove routing rule with priority " + std::to_string(priority + offset) +
                ": " + nl_text(rc);
        return -1;
      }
      ++removed;
    }
  }

  raw = nullptr;
  if (int rc = rtnl_route_alloc_cache(sock.get(), AF_UNSPEC, 0, &raw); rc < 0) {
    error = "cannot list routes: " + nl_text(rc);
    return -1;
  }
  CachePtr routes(raw);
  for (nl_object* object = nl_cache_get_first(routes.get()); object != nullptr;
       object = nl_cache_get_next(object)) {
    auto* route = reinterpret_cast<rtnl_route*>(object);
    if (rtnl_route_get_table(route) != table) continue;
    if (int rc = rtnl_route_delete(sock.get(), route, 0); rc < 0 && rc != -NLE_OBJ_NOTFOUND) {
      error = "cannot remove a route from table " + std::to_string(table) + ": " + nl_text(rc);
      return -1;
    }
    ++removed;
  }
  return removed;
}

std::unique_ptr<PolicyRouting> PolicyRouting::install(const RoutingOptions& options,
                                                      std::string& error) {
  SocketPtr sock = connect_route_socket(error);
  if (!sock) return nullptr;
  auto routing = std::make_unique<LinuxPolicyRouting>(std::move(sock), options);
  if (!routing->install(error)) return nullptr;  // the destructor removes the partial set
  return routing;
}

std::string check_socket_options(int family, const OutboundSocketOptions& options) {
  int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::string("cannot open a socket: ") + std::strerror(errno);
  std::string error = apply_socket_options(fd, options);
  ::close(fd);
  return error;
}

std::string apply_socket_options(int fd, const OutboundSocketOptions& options) {
  if (options.fwmark) {
    uint32_t mark = *options.fwmark;
    if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) != 0) {
      return "cannot mark a proxy socket (SO_MARK " + std::to_string(mark) +
             "): " + std::strerror(errno);
    }
  }
  if (!options.uplink_interface.empty()) {
    if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, options.uplink_interface.c_str(),
                   static_cast<socklen_t>(options.uplink_interface.size())) != 0) {
      return "cannot bind a proxy socket to interface " + options.uplink_interface + ": " +
             std::strerror(errno);
    }
  }
  return {};
}

}  // namespace t2s::platform
