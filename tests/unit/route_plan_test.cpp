// The --auto-route plan for interface-route systems (Windows): which routes go into the adapter,
// which keep the proxy and --exclude'd destinations on their current route, and the state file
// that lets --cleanup remove them after a crash. Pure functions, so this runs on every OS.
#include "platform/route_plan.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace t2s::platform {
namespace {

constexpr uint64_t kAdapter = 0x0123000000000001;
constexpr uint64_t kUplink = 0x0006000000000002;

InterfaceAddress address(const std::string& text) {
  auto parsed = parse_interface_address(text);
  EXPECT_TRUE(parsed) << text;
  return parsed.value_or(InterfaceAddress{});
}

CurrentRoute via(const std::string& next_hop, uint64_t luid = kUplink) {
  return CurrentRoute{luid, address(next_hop)};
}

std::vector<std::string> describe(const RoutePlan& plan) {
  std::vector<std::string> lines;
  for (const PlannedRoute& route : plan.routes) {
    lines.push_back(to_text(route.destination) + " via " + to_text(route.next_hop, false) +
                    (route.interface_luid == kAdapter  ? " adapter"
                     : route.interface_luid == kUplink ? " uplink"
                                                       : " other"));
  }
  return lines;
}

TEST(RoutePlanTest, HalvesIntoTheAdapterAndTheProxyThroughTheUplink) {
  RoutePlanInput input;
  input.adapter_luid = kAdapter;
  input.ipv6 = true;
  input.kept_off = {{address("203.0.113.7/32"), via("192.0.2.1")}};
  std::string error;
  auto plan = plan_routes(input, error);
  ASSERT_TRUE(plan) << error;
  EXPECT_EQ(describe(*plan), (std::vector<std::string>{
                                 "203.0.113.7/32 via 192.0.2.1 uplink",
                                 "0.0.0.0/1 via 0.0.0.0 adapter",
                                 "128.0.0.0/1 via 0.0.0.0 adapter",
                                 "::/1 via :: adapter",
                                 "8000::/1 via :: adapter",
                             }));
  EXPECT_TRUE(plan->notes.empty());
}

TEST(RoutePlanTest, WithoutIpv6OnlyIpv4GoesIntoTheAdapter) {
  RoutePlanInput input;
  input.adapter_luid = kAdapter;
  std::string error;
  auto plan = plan_routes(input, error);
  ASSERT_TRUE(plan) << error;
  EXPECT_EQ(describe(*plan), (std::vector<std::string>{"0.0.0.0/1 via 0.0.0.0 adapter",
                                                       "128.0.0.0/1 via 0.0.0.0 adapter"}));
}

TEST(RoutePlanTest, ExcludesKeepTheirOwnRouteOnLinkOrViaGateway) {
  RoutePlanInput input;
  input.adapter_luid = kAdapter;
  input.ipv6 = true;
  input.kept_off = {
      {address("203.0.113.7/32"), via("192.0.2.1")},
      // A LAN is on the link: no next hop, its own interface.
      {address("198.51.100.77/24"), via("0.0.0.0", 42)},
      {address("2001:db8::1/48"), via("fe80::1")},
      // The same destination twice (the proxy also excluded) is added once.
      {address("203.0.113.7/32"), via("192.0.2.1")},
  };
  std::string error;
  auto plan = plan_routes(input, error);
  ASSERT_TRUE(plan) << error;
  std::vector<std::string> lines = describe(*plan);
  ASSERT_EQ(lines.size(), 7u);
  EXPECT_EQ(lines[0], "203.0.113.7/32 via 192.0.2.1 uplink");
  EXPECT_EQ(lines[1], "198.51.100.0/24 via 0.0.0.0 other");  // host bits cleared
  EXPECT_EQ(plan->routes[1].interface_luid, 42u);
  EXPECT_EQ(lines[2], "2001:db8::/48 via fe80::1 uplink");
  EXPECT_EQ(lines[3], "0.0.0.0/1 via 0.0.0.0 adapter");
}

TEST(RoutePlanTest, UnroutableDestinationIsSkippedWithANote) {
  RoutePlanInput input;
  input.adapter_luid = kAdapter;
  input.kept_off = {{address("2001:db8::5/128"), std::nullopt}};
  std::string error;
  auto plan = plan_routes(input, error);
  ASSERT_TRUE(plan) << error;
  EXPECT_EQ(plan->routes.size(), 2u);
  ASSERT_EQ(plan->notes.size(), 1u);
  EXPECT_NE(plan->notes[0].find("2001:db8::5/128"), std::string::npos) << plan->notes[0];
}

TEST(RoutePlanTest, DestinationAlreadyRoutedIntoTheAdapterIsAnError) {
  RoutePlanInput input;
  input.adapter_luid = kAdapter;
  input.kept_off = {{address("203.0.113.7/32"), via("0.0.0.0", kAdapter)}};
  std::string error;
  EXPECT_FALSE(plan_routes(input, error));
  EXPECT_NE(error.find("203.0.113.7/32"), std::string::npos) << error;
  EXPECT_NE(error.find("--cleanup"), std::string::npos) << error;
}

TEST(RoutePlanTest, NextHopOfTheOtherFamilyIsAnError) {
  RoutePlanInput input;
  input.adapter_luid = kAdapter;
  input.kept_off = {{address("203.0.113.7/32"), via("fe80::1")}};
  std::string error;
  EXPECT_FALSE(plan_routes(input, error));
  EXPECT_FALSE(error.empty());
}

TEST(RouteStateTest, RoundTripsEveryRoute) {
  RoutePlanInput input;
  input.adapter_luid = kAdapter;
  input.ipv6 = true;
  input.kept_off = {{address("203.0.113.7/32"), via("192.0.2.1")},
                    {address("2001:db8::/48"), via("fe80::1")}};
  std::string error;
  auto plan = plan_routes(input, error);
  ASSERT_TRUE(plan) << error;
  std::string text = format_route_state(plan->routes);
  EXPECT_EQ(text.substr(0, text.find('\n')), "203.0.113.7/32 192.0.2.1 1688849860263938");
  EXPECT_EQ(parse_route_state(text), plan->routes);
}

TEST(RouteStateTest, DamagedLinesAreSkipped) {
  std::string text =
      "0.0.0.0/1 0.0.0.0 5\n"
      "garbage\n"
      "300.0.0.0/8 0.0.0.0 5\n"  // bad address
      "10.0.0.0/33 0.0.0.0 5\n"  // bad prefix
      "10.0.0.0/8 fe80::1 5\n"   // next hop of the other family
      "10.0.0.0/8 0.0.0.0 x5\n"  // bad LUID
      "8000::/1 :: 18446744073709551615\n"
      "128.0.0.0/1 0.0.0.0 5";  // cut short by a crash: no newline
  std::vector<PlannedRoute> routes = parse_route_state(text);
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(to_text(routes[0].destination), "0.0.0.0/1");
  EXPECT_EQ(routes[0].interface_luid, 5u);
  EXPECT_EQ(to_text(routes[1].destination), "8000::/1");
  EXPECT_EQ(routes[1].interface_luid, 18446744073709551615u);
}

TEST(RouteStateTest, AddressTextForms) {
  EXPECT_EQ(to_text(address("192.0.2.9/24")), "192.0.2.9/24");
  EXPECT_EQ(to_text(address("192.0.2.9")), "192.0.2.9/32");
  EXPECT_EQ(to_text(address("2001:db8::1"), false), "2001:db8::1");
  EXPECT_FALSE(parse_interface_address("192.0.2.9/"));
  EXPECT_FALSE(parse_interface_address("2001:db8::1/129"));
  EXPECT_FALSE(parse_interface_address(""));
}

}  // namespace
}  // namespace t2s::platform
