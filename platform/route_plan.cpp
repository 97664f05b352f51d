// The route plan of --auto-route on interface-route systems (Windows) and its state file text:
// pure computation, unit tested on every OS.
#include "platform/route_plan.h"

#include <uv.h>

#include <algorithm>
#include <charconv>

namespace t2s::platform {
namespace {

size_t address_size(const InterfaceAddress& address) {
  return address.is_v6 ? 16 : 4;
}

// `address` with the bits beyond its prefix cleared.
InterfaceAddress network_of(InterfaceAddress address) {
  const int bits = static_cast<int>(address_size(address)) * 8;
  address.prefix_length = std::clamp(address.prefix_length, 0, bits);
  for (int bit = address.prefix_length; bit < bits; ++bit) {
    address.bytes[static_cast<size_t>(bit / 8)] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  }
  return address;
}

InterfaceAddress half(bool is_v6, bool upper) {
  InterfaceAddress address;
  address.is_v6 = is_v6;
  address.bytes[0] = upper ? 0x80 : 0x00;
  address.prefix_length = 1;
  return address;
}

bool same_address(const InterfaceAddress& a, const InterfaceAddress& b) {
  return a.is_v6 == b.is_v6 &&
         std::equal(a.bytes.begin(), a.bytes.begin() + address_size(a), b.bytes.begin());
}

}  // namespace

bool PlannedRoute::operator==(const PlannedRoute& other) const {
  return same_address(destination, other.destination) &&
         destination.prefix_length == other.destination.prefix_length &&
         interface_luid == other.interface_luid && same_address(next_hop, other.next_hop);
}

std::optional<RoutePlan> plan_routes(const RoutePlanInput& input, std::string& error) {
  RoutePlan plan;
  // Kept-off destinations first: they are in place before the tunnel takes everything else.
  for (const KeptOff& kept : input.kept_off) {
    PlannedRoute route;
    route.destination = network_of(kept.destination);
    if (!kept.current) {
      plan.notes.push_back(to_text(route.destination) +
                           ": no route there now, nothing to keep off the tunnel");
      continue;
    }
    if (kept.current->interface_luid == input.adapter_luid) {
      error = to_text(route.destination) +
              " is already routed into the tunnel's adapter (a leftover route?); run --cleanup";
      return std::nullopt;
    }
    if (kept.current->next_hop.is_v6 != route.destination.is_v6) {
      error = to_text(route.destination) + ": its current route has a next hop of the other family";
      return std::nullopt;
    }
    route.interface_luid = kept.current->interface_luid;
    route.next_hop = kept.current->next_hop;
    route.next_hop.prefix_length = 0;
    if (std::find(plan.routes.begin(), plan.routes.end(), route) != plan.routes.end()) continue;
    plan.routes.push_back(route);
  }
  for (bool is_v6 : {false, true}) {
    if (is_v6 && !input.ipv6) continue;
    for (bool upper : {false, true}) {
      PlannedRoute route;
      route.destination = half(is_v6, upper);
      route.interface_luid = input.adapter_luid;
      route.next_hop.is_v6 = is_v6;
      plan.routes.push_back(route);
    }
  }
  return plan;
}

std::string to_text(const InterfaceAddress& address, bool with_prefix) {
  char text[64] = {};
  uv_inet_ntop(address.is_v6 ? AF_INET6 : AF_INET, address.bytes.data(), text, sizeof text);
  std::string out = text;
  if (with_prefix) out += "/" + std::to_string(address.prefix_length);
  return out;
}

std::optional<InterfaceAddress> parse_interface_address(std::string_view text) {
  InterfaceAddress address;
  std::string host(text.substr(0, text.find('/')));
  address.is_v6 = host.find(':') != std::string::npos;
  if (uv_inet_pton(address.is_v6 ? AF_INET6 : AF_INET, host.c_str(), address.bytes.data()) != 0) {
    return std::nullopt;
  }
  const int bits = static_cast<int>(address_size(address)) * 8;
  address.prefix_length = bits;
  if (size_t slash = text.find('/'); slash != std::string_view::npos) {
    std::string_view digits = text.substr(slash + 1);
    int prefix = -1;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || prefix < 0 ||
        prefix > bits) {
      return std::nullopt;
    }
    address.prefix_length = prefix;
  }
  return address;
}

std::string format_route_state(const std::vector<PlannedRoute>& routes) {
  std::string out;
  for (const PlannedRoute& route : routes) {
    out += to_text(route.destination) + " " + to_text(route.next_hop, false) + " " +
           std::to_string(route.interface_luid) + "\n";
  }
  return out;
}

std::vector<PlannedRoute> parse_route_state(std::string_view text) {
  std::vector<PlannedRoute> routes;
  while (!text.empty()) {
    size_t end = text.find('\n');
    if (end == std::string_view::npos) break;  // a last line without newline was cut short
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end + 1);
    size_t first = line.find(' ');
    size_t second = first == std::string_view::npos ? first : line.find(' ', first + 1);
    if (second == std::string_view::npos) continue;
    auto destination = parse_interface_address(line.substr(0, first));
    auto next_hop = parse_interface_address(line.substr(first + 1, second - first - 1));
    std::string_view luid_text = line.substr(second + 1);
    uint64_t luid = 0;
    auto [luid_end, ec] =
        std::from_chars(luid_text.data(), luid_text.data() + luid_text.size(), luid);
    if (!destination || !next_hop || next_hop->is_v6 != destination->is_v6 || ec != std::errc() ||
        luid_end != luid_text.data() + luid_text.size()) {
      continue;
    }
    PlannedRoute route;
    route.destination = network_of(*destination);
    route.next_hop = *next_hop;
    route.next_hop.prefix_length = 0;
    route.interface_luid = luid;
    routes.push_back(route);
  }
  return routes;
}

}  // namespace t2s::platform
