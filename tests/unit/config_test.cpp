// Flag parsing and validation: defaults, each flag's error message, and --help/--version.
#include "app/config.h"

#include <gtest/gtest.h>

namespace t2s::app {
namespace {

CommandLine parse(std::vector<std::string> args) {
  return parse_command_line(args);
}

TEST(ConfigTest, DefaultsAreUsable) {
  CommandLine result = parse({});
  ASSERT_TRUE(result.run) << result.message;
  EXPECT_EQ(result.config.proxy.host, "127.0.0.1");
  EXPECT_EQ(result.config.proxy.port, 1080);
  EXPECT_FALSE(result.config.proxy.credentials.has_value());
  EXPECT_EQ(result.config.device_name, "tun0");
  EXPECT_FALSE(result.config.device_fd.has_value());
  EXPECT_EQ(result.config.ipv4.to_string(), "198.18.0.1/15");
  ASSERT_TRUE(result.config.ipv6.has_value());
  EXPECT_EQ(result.config.mtu, 8500);
  EXPECT_EQ(result.config.log_level, log::Level::kInfo);
  EXPECT_DOUBLE_EQ(result.config.tcp_connect_timeout_s, 10);
  EXPECT_DOUBLE_EQ(result.config.tcp_idle_timeout_s, 7440);
}

TEST(ConfigTest, AcceptsEveryFlag) {
  CommandLine result =
      parse({"--proxy", "socks5://alice:s%40cret@[2001:db8::5]:1081", "--device", "t2s9",
             "--address", "10.9.0.1/24", "--address6", "fd00::1/120", "--mtu", "1500",
             "--log-level", "debug", "--tcp-connect-timeout", "2.5", "--tcp-idle-timeout", "60"});
  ASSERT_TRUE(result.run) << result.message;
  const Config& config = result.config;
  EXPECT_EQ(config.proxy.host, "2001:db8::5");
  EXPECT_EQ(config.proxy.port, 1081);
  ASSERT_TRUE(config.proxy.credentials.has_value());
  EXPECT_EQ(config.proxy.credentials->password, "s@cret");
  EXPECT_EQ(config.device_name, "t2s9");
  EXPECT_EQ(config.ipv4.to_string(), "10.9.0.1/24");
  EXPECT_EQ(config.ipv6->to_string(), "fd00::1/120");
  EXPECT_EQ(config.mtu, 1500);
  EXPECT_EQ(config.log_level, log::Level::kDebug);
  EXPECT_DOUBLE_EQ(config.tcp_connect_timeout_s, 2.5);
  EXPECT_DOUBLE_EQ(config.tcp_idle_timeout_s, 60);
}

TEST(ConfigTest, UdpDnsAndIcmpFlags) {
  CommandLine defaults = parse({});
  ASSERT_TRUE(defaults.run) << defaults.message;
  EXPECT_DOUBLE_EQ(defaults.config.udp_timeout_s, 60);
  EXPECT_EQ(defaults.config.max_udp_flows, 1024);
  EXPECT_TRUE(defaults.config.icmp_reply);
  EXPECT_EQ(defaults.config.dns, Config::Dns::kUdp);
  EXPECT_EQ(defaults.config.fake_ip_range.to_string(), "198.19.0.0/16");

  CommandLine result =
      parse({"--udp-timeout", "5", "--max-udp-flows", "10", "--icmp", "drop", "--dns", "fake",
             "--dns-address", "192.0.2.53", "--dns-address", "2001:db8::53", "--dns-upstream",
             "[2001:db8::1]:5353", "--fake-ip-range", "198.18.128.0/17"});
  ASSERT_TRUE(result.run) << result.message;
  const Config& config = result.config;
  EXPECT_DOUBLE_EQ(config.udp_timeout_s, 5);
  EXPECT_EQ(config.max_udp_flows, 10);
  EXPECT_FALSE(config.icmp_reply);
  EXPECT_EQ(config.dns, Config::Dns::kFake);
  ASSERT_EQ(config.dns_addresses.size(), 2u);
  EXPECT_EQ(config.dns_addresses[1].to_string(), "2001:db8::53");
  ASSERT_TRUE(config.dns_upstream.has_value());
  EXPECT_EQ(config.dns_upstream->to_string(), "[2001:db8::1]:5353");
  EXPECT_EQ(config.fake_ip_range.to_string(), "198.18.128.0/17");
}

TEST(ConfigTest, DnsUpstreamForms) {
  for (auto [text, expected] :
       std::vector<std::pair<std::string, std::string>>{{"192.0.2.1", "192.0.2.1:53"},
                                                        {"192.0.2.1:5300", "192.0.2.1:5300"},
                                                        {"2001:db8::1", "[2001:db8::1]:53"},
                                                        {"[2001:db8::1]", "[2001:db8::1]:53"}}) {
    CommandLine result = parse({"--dns", "tcp", "--dns-upstream", text});
    ASSERT_TRUE(result.run) << text << ": " << result.message;
    EXPECT_EQ(result.config.dns_upstream->to_string(), expected);
  }
}

TEST(ConfigTest, DeviceFdForm) {
  CommandLine result = parse({"--device", "fd://7"});
  ASSERT_TRUE(result.run) << result.message;
  EXPECT_EQ(result.config.device_fd, 7);
  EXPECT_TRUE(result.config.device_name.empty());
}

TEST(ConfigTest, Ipv6CanBeTurnedOff) {
  CommandLine result = parse({"--address6", "none", "--mtu", "576"});
  ASSERT_TRUE(result.run) << result.message;
  EXPECT_FALSE(result.config.ipv6.has_value());
  EXPECT_EQ(result.config.mtu, 576);
}

struct BadFlag {
  std::vector<std::string> args;
  std::string must_mention;
};

class ConfigErrorTest : public ::testing::TestWithParam<BadFlag> {};

TEST_P(ConfigErrorTest, NamesTheFlagAndExitsNonZero) {
  CommandLine result = parse(GetParam().args);
  EXPECT_FALSE(result.run);
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.message.find(GetParam().must_mention), std::string::npos) << result.message;
  EXPECT_EQ(result.message.rfind("error: ", 0), 0u) << result.message;
}

INSTANTIATE_TEST_SUITE_P(
    Flags, ConfigErrorTest,
    ::testing::Values(BadFlag{{"--proxy", "http://127.0.0.1:8080"}, "--proxy"},
                      BadFlag{{"--proxy", "socks5://127.0.0.1"}, "port"},
                      BadFlag{{"--address", "10.0.0.1/33"}, "--address"},
                      BadFlag{{"--address", "fd00::1/64"}, "--address"},
                      BadFlag{{"--address6", "10.0.0.1/8"}, "--address6"},
                      BadFlag{{"--mtu", "99999"}, "--mtu"}, BadFlag{{"--mtu", "abc"}, "--mtu"},
                      BadFlag{{"--mtu", "1000"}, "IPv6"},
                      BadFlag{{"--log-level", "loud"}, "--log-level"},
                      BadFlag{{"--tcp-connect-timeout", "0"}, "--tcp-connect-timeout"},
                      BadFlag{{"--tcp-idle-timeout", "-5"}, "--tcp-idle-timeout"},
                      BadFlag{{"--device", "fd://x"}, "--device"},
                      BadFlag{{"--device", "this-name-is-far-too-long"}, "--device"},
                      BadFlag{{"--no-such-flag"}, "no-such-flag"},
                      BadFlag{{"--udp-timeout", "0"}, "--udp-timeout"},
                      BadFlag{{"--max-udp-flows", "0"}, "--max-udp-flows"},
                      BadFlag{{"--icmp", "echo"}, "--icmp"}, BadFlag{{"--dns", "doh"}, "--dns"},
                      BadFlag{{"--dns-address", "example.com"}, "--dns-address"},
                      BadFlag{{"--dns-upstream", "192.0.2.1:99999"}, "--dns-upstream"},
                      BadFlag{{"--fake-ip-range", "198.19.0.0/31"}, "--fake-ip-range"},
                      BadFlag{{"--dns", "fake", "--fake-ip-range", "198.18.0.0/16"},
                              "--fake-ip-range"}));

TEST(ConfigTest, ErrorsNeverShowThePassword) {
  CommandLine result = parse({"--proxy", "socks5://bob:hunter2@host"});
  EXPECT_FALSE(result.run);
  EXPECT_EQ(result.message.find("hunter2"), std::string::npos) << result.message;
}

TEST(ConfigTest, HelpAndVersionExitZero) {
  CommandLine help = parse({"--help"});
  EXPECT_FALSE(help.run);
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.message.find("--proxy"), std::string::npos);
  EXPECT_NE(help.message.find("--tcp-idle-timeout"), std::string::npos);
  CommandLine version = parse({"--version"});
  EXPECT_FALSE(version.run);
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_NE(version.message.find("tun2socks"), std::string::npos);
}

}  // namespace
}  // namespace t2s::app
