// Flag parsing and validation: defaults, each flag's error message, --help/--version, the
// config file and TUN2SOCKS_* environment variables (and their precedence), the proxy password
// file, and the generated flag reference in docs/flags.md.
#include "app/config.h"

#include <gtest/gtest.h>
#include <uv.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <variant>

#include "support/environment.h"

namespace t2s::app {
namespace {

// Linux's flag rules on every OS (windows_flags_test.cpp checks Windows' rules).
CommandLine parse(std::vector<std::string> args) {
  return parse_command_line(args, platform::kLinuxFeatures);
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
  EXPECT_EQ(result.config.mtu, 65535);
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
                      BadFlag{{"--proxy-pipelining", "on"}, "--proxy-pipelining"},
                      BadFlag{{"--proxy-spares", "65"}, "--proxy-spares"},
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

// A file in a fresh directory under the system's temporary directory ($TMPDIR or /tmp on
// Linux), holding `contents`; both are removed when the test ends.
class TempFile {
 public:
  explicit TempFile(const std::string& contents, const std::string& suffix = "") {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "t2s_config_test_XXXXXX").string();
    uv_fs_t request{};
    int rc = uv_fs_mkdtemp(nullptr, &request, pattern.c_str(), nullptr);
    if (rc == 0) directory_ = request.path;
    uv_fs_req_cleanup(&request);
    if (rc != 0) throw std::runtime_error("cannot make a temporary directory");
    path_ = (directory_ / ("file" + suffix)).string();
    std::ofstream out(path_, std::ios::binary);
    out << contents;
    if (!out.flush()) throw std::runtime_error("cannot write " + path_);
  }
  ~TempFile() {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::filesystem::path directory_;
  std::string path_;
};

// Sets an environment variable for the lifetime of the object, then restores the old state.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::string& value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) old_ = old;
    test_support::set_environment(name_, value);
  }
  ~ScopedEnv() {
    if (old_) {
      test_support::set_environment(name_, *old_);
    } else {
      test_support::unset_environment(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// Compares every field of Config.
void expect_same_config(const Config& a, const Config& b) {
  EXPECT_EQ(a.proxy.host, b.proxy.host);
  EXPECT_EQ(a.proxy.port, b.proxy.port);
  EXPECT_EQ(a.proxy.credentials, b.proxy.credentials);
  EXPECT_EQ(a.device_name, b.device_name);
  EXPECT_EQ(a.device_fd, b.device_fd);
  EXPECT_EQ(a.ipv4, b.ipv4);
  EXPECT_EQ(a.ipv6, b.ipv6);
  EXPECT_EQ(a.mtu, b.mtu);
  EXPECT_EQ(a.log_level, b.log_level);
  EXPECT_DOUBLE_EQ(a.tcp_connect_timeout_s, b.tcp_connect_timeout_s);
  EXPECT_DOUBLE_EQ(a.tcp_idle_timeout_s, b.tcp_idle_timeout_s);
  EXPECT_DOUBLE_EQ(a.udp_timeout_s, b.udp_timeout_s);
  EXPECT_EQ(a.max_udp_flows, b.max_udp_flows);
  EXPECT_EQ(a.max_connections, b.max_connections);
  EXPECT_EQ(a.proxy_pipelining, b.proxy_pipelining);
  EXPECT_EQ(a.proxy_spares, b.proxy_spares);
  EXPECT_EQ(a.icmp_reply, b.icmp_reply);
  EXPECT_EQ(a.dns, b.dns);
  EXPECT_EQ(a.dns_addresses, b.dns_addresses);
  EXPECT_EQ(a.dns_upstream, b.dns_upstream);
  EXPECT_EQ(a.fake_ip_range, b.fake_ip_range);
  EXPECT_EQ(a.fake_ip6_range, b.fake_ip6_range);
  EXPECT_EQ(a.auto_route, b.auto_route);
  EXPECT_EQ(a.exclude, b.exclude);
  EXPECT_EQ(a.route_table, b.route_table);
  EXPECT_EQ(a.route_priority, b.route_priority);
  EXPECT_EQ(a.fwmark, b.fwmark);
  EXPECT_EQ(a.uplink_interface, b.uplink_interface);
  EXPECT_EQ(a.fail_closed, b.fail_closed);
  EXPECT_EQ(a.set_dns, b.set_dns);
  EXPECT_EQ(a.user, b.user);
  EXPECT_EQ(a.stats_listen, b.stats_listen);
  EXPECT_EQ(a.stats_token, b.stats_token);
  EXPECT_EQ(a.check_target, b.check_target);
}

// One non-default value for every flag, as (flag without dashes, value) pairs.
std::vector<std::pair<std::string, std::string>> every_flag(const std::string& password_file) {
  return {{"proxy", "socks5://alice@[2001:db8::5]:1081"},
          {"proxy-password-file", password_file},
          {"proxy-pipelining", "off"},
          {"proxy-spares", "5"},
          {"device", "t2s9"},
          {"address", "10.9.0.1/24"},
          {"address6", "fd00::1/120"},
          {"mtu", "1500"},
          {"log-level", "debug"},
          {"tcp-connect-timeout", "2.5"},
          {"tcp-idle-timeout", "60"},
          {"udp-timeout", "5"},
          {"max-udp-flows", "10"},
          {"max-connections", "300"},
          {"dns", "fake"},
          {"dns-upstream", "[2001:db8::1]:5353"},
          {"fake-ip-range", "198.18.128.0/17"},
          {"fake-ip6-range", "fd00:1::/96"},
          {"icmp", "drop"},
          {"auto-route", "true"},
          {"route-table", "77"},
          {"route-priority", "1000"},
          {"fwmark", "0x51"},
          {"interface", "eth9"},
          {"fail-closed", "true"},
          {"set-dns", "true"},
          {"user", "nobody"},
          {"stats-listen", "[::1]:9090"},
          {"stats-token-file", password_file},
          {"check-target", "[2001:db8::7]:22"}};
}

std::string env_name(const std::string& flag) {
  std::string name = "TUN2SOCKS_";
  for (char c : flag)
    name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

CommandLine parse_with_every_flag_on_command_line(const std::string& password_file) {
  std::vector<std::string> args;
  for (const auto& [flag, value] : every_flag(password_file)) {
    args.push_back("--" + flag + "=" + value);  // the form flags without a value accept too
  }
  for (const char* dns : {"192.0.2.53", "2001:db8::53"}) {
    args.push_back("--dns-address");
    args.push_back(dns);
  }
  for (const char* excluded : {"192.168.0.0/16", "2001:db8:5::22/128"}) {
    args.push_back("--exclude");
    args.push_back(excluded);
  }
  return parse(args);
}

TEST(ConfigSourcesTest, EveryFlagOnTheCommandLineDiffersFromTheDefault) {
  TempFile password("s3cret\n");
  CommandLine flags = parse_with_every_flag_on_command_line(password.path());
  ASSERT_TRUE(flags.run) << flags.message;
  const Config& config = flags.config;
  Config defaults = parse({}).config;
  EXPECT_NE(config.proxy.host, defaults.proxy.host);
  ASSERT_TRUE(config.proxy.credentials.has_value());
  EXPECT_EQ(config.proxy.credentials->username, "alice");
  EXPECT_EQ(config.proxy.credentials->password, "s3cret");
  EXPECT_FALSE(config.proxy_pipelining);
  EXPECT_TRUE(defaults.proxy_pipelining);
  EXPECT_EQ(config.proxy_spares, 5);
  EXPECT_EQ(defaults.proxy_spares, 2);
  EXPECT_NE(config.device_name, defaults.device_name);
  EXPECT_NE(config.ipv4, defaults.ipv4);
  EXPECT_NE(config.ipv6, defaults.ipv6);
  EXPECT_NE(config.mtu, defaults.mtu);
  EXPECT_NE(config.log_level, defaults.log_level);
  EXPECT_NE(config.tcp_connect_timeout_s, defaults.tcp_connect_timeout_s);
  EXPECT_NE(config.tcp_idle_timeout_s, defaults.tcp_idle_timeout_s);
  EXPECT_NE(config.udp_timeout_s, defaults.udp_timeout_s);
  EXPECT_NE(config.max_udp_flows, defaults.max_udp_flows);
  EXPECT_EQ(config.max_connections, 300);
  EXPECT_EQ(defaults.max_connections, 0);
  EXPECT_NE(config.icmp_reply, defaults.icmp_reply);
  EXPECT_NE(config.dns, defaults.dns);
  EXPECT_EQ(config.dns_addresses.size(), 2u);
  EXPECT_TRUE(config.dns_upstream.has_value());
  EXPECT_NE(config.fake_ip_range, defaults.fake_ip_range);
  EXPECT_NE(config.fake_ip6_range, defaults.fake_ip6_range);
  EXPECT_TRUE(config.auto_route);
  EXPECT_FALSE(defaults.auto_route);
  EXPECT_EQ(config.exclude.size(), 2u);
  EXPECT_NE(config.route_table, defaults.route_table);
  EXPECT_NE(config.route_priority, defaults.route_priority);
  EXPECT_EQ(config.fwmark, 0x51u);
  EXPECT_EQ(defaults.fwmark, std::nullopt);
  EXPECT_EQ(config.uplink_interface, "eth9");
  EXPECT_TRUE(config.fail_closed);
  EXPECT_TRUE(config.set_dns);
  EXPECT_EQ(config.user, "nobody");
  ASSERT_TRUE(config.stats_listen.has_value());
  EXPECT_EQ(config.stats_listen->to_string(), "[::1]:9090");
  EXPECT_FALSE(defaults.stats_listen.has_value());
  EXPECT_EQ(config.stats_token, "s3cret");
  EXPECT_NE(config.check_target, defaults.check_target);
}

TEST(ConfigSourcesTest, ConfigFileGivesTheSameConfigAsFlags) {
  TempFile password("s3cret\n");
  CommandLine flags = parse_with_every_flag_on_command_line(password.path());
  ASSERT_TRUE(flags.run) << flags.message;

  std::string toml = "# every flag\n";
  for (const auto& [flag, value] : every_flag(password.path())) {
    toml += flag + " = \"" + value + "\"\n";
  }
  toml += "dns-address = [\"192.0.2.53\", \"2001:db8::53\"]\n";
  toml += "exclude = [\"192.168.0.0/16\", \"2001:db8:5::22/128\"]\n";
  TempFile file(toml, ".toml");
  CommandLine from_file = parse({"--config", file.path()});
  ASSERT_TRUE(from_file.run) << from_file.message;
  expect_same_config(from_file.config, flags.config);

  // Unquoted numbers are read as well.
  TempFile numbers("mtu = 1500\nmax-connections = 7\ntcp-connect-timeout = 2.5\n");
  CommandLine unquoted = parse({"--config=" + numbers.path()});
  ASSERT_TRUE(unquoted.run) << unquoted.message;
  EXPECT_EQ(unquoted.config.mtu, 1500);
  EXPECT_EQ(unquoted.config.max_connections, 7);
  EXPECT_DOUBLE_EQ(unquoted.config.tcp_connect_timeout_s, 2.5);
}

TEST(ConfigSourcesTest, EnvironmentGivesTheSameConfigAsFlags) {
  TempFile password("s3cret\n");
  CommandLine flags = parse_with_every_flag_on_command_line(password.path());
  ASSERT_TRUE(flags.run) << flags.message;

  std::vector<std::unique_ptr<ScopedEnv>> env;
  for (const auto& [flag, value] : every_flag(password.path())) {
    env.push_back(std::make_unique<ScopedEnv>(env_name(flag), value));
  }
  env.push_back(std::make_unique<ScopedEnv>("TUN2SOCKS_DNS_ADDRESS", "192.0.2.53,2001:db8::53"));
  env.push_back(
      std::make_unique<ScopedEnv>("TUN2SOCKS_EXCLUDE", "192.168.0.0/16,2001:db8:5::22/128"));
  CommandLine from_env = parse({});
  ASSERT_TRUE(from_env.run) << from_env.message;
  expect_same_config(from_env.config, flags.config);
}

TEST(ConfigSourcesTest, CommandLineBeatsEnvironmentBeatsFile) {
  TempFile file("mtu = 1500\nlog-level = \"warn\"\ndns-address = [\"192.0.2.1\", \"192.0.2.2\"]\n");
  {
    CommandLine result = parse({"--config", file.path()});
    ASSERT_TRUE(result.run) << result.message;
    EXPECT_EQ(result.config.mtu, 1500);
    EXPECT_EQ(result.config.dns_addresses.size(), 2u);
  }
  ScopedEnv mtu("TUN2SOCKS_MTU", "1400");
  ScopedEnv dns("TUN2SOCKS_DNS_ADDRESS", "192.0.2.9");
  {
    CommandLine result = parse({"--config", file.path()});
    ASSERT_TRUE(result.run) << result.message;
    EXPECT_EQ(result.config.mtu, 1400);
    ASSERT_EQ(result.config.dns_addresses.size(), 1u);
    EXPECT_EQ(result.config.dns_addresses[0].to_string(), "192.0.2.9");
    EXPECT_EQ(result.config.log_level, log::Level::kWarn);  // only in the file
  }
  {
    CommandLine result =
        parse({"--config", file.path(), "--mtu", "1300", "--dns-address", "192.0.2.7"});
    ASSERT_TRUE(result.run) << result.message;
    EXPECT_EQ(result.config.mtu, 1300);
    ASSERT_EQ(result.config.dns_addresses.size(), 1u);
    EXPECT_EQ(result.config.dns_addresses[0].to_string(), "192.0.2.7");
  }
  {
    // A bad value in the environment is ignored when the command line sets the flag.
    ScopedEnv bad("TUN2SOCKS_ICMP", "loud");
    EXPECT_TRUE(parse({"--icmp", "drop"}).run);
  }
}

TEST(ConfigSourcesTest, ConfigFileCanComeFromTheEnvironment) {
  TempFile file("mtu = 1500\n");
  ScopedEnv config("TUN2SOCKS_CONFIG", file.path());
  CommandLine result = parse({});
  ASSERT_TRUE(result.run) << result.message;
  EXPECT_EQ(result.config.mtu, 1500);
}

TEST(ConfigSourcesTest, UnknownKeyInFileIsNamed) {
  TempFile file("mtu = 1500\nmtuu = 1400\n");
  CommandLine result = parse({"--config", file.path()});
  EXPECT_FALSE(result.run);
  EXPECT_NE(result.exit_code, 0);
  EXPECT_EQ(result.message.rfind("error: ", 0), 0u) << result.message;
  EXPECT_NE(result.message.find("'mtuu'"), std::string::npos) << result.message;
  EXPECT_NE(result.message.find(file.path()), std::string::npos) << result.message;

  TempFile section("[tunnel]\nmtu = 1500\n");
  result = parse({"--config", section.path()});
  EXPECT_FALSE(result.run);
  EXPECT_NE(result.message.find("tunnel"), std::string::npos) << result.message;

  for (const char* key : {"help", "version", "config", "print-flag-reference"}) {
    TempFile not_settable(std::string(key) + " = true\n");
    result = parse({"--config", not_settable.path()});
    EXPECT_FALSE(result.run) << key;
    EXPECT_NE(result.exit_code, 0) << key;
    EXPECT_NE(result.message.find(key), std::string::npos) << result.message;
  }
}

TEST(ConfigSourcesTest, BadValuesSayWhereTheyCameFrom) {
  TempFile file("mtu = 99\n");
  CommandLine result = parse({"--config", file.path()});
  EXPECT_FALSE(result.run);
  EXPECT_NE(result.message.find("--mtu"), std::string::npos) << result.message;
  EXPECT_NE(result.message.find(file.path()), std::string::npos) << result.message;

  ScopedEnv icmp("TUN2SOCKS_ICMP", "loud");
  result = parse({});
  EXPECT_FALSE(result.run);
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.message.find("--icmp"), std::string::npos) << result.message;
  EXPECT_NE(result.message.find("TUN2SOCKS_ICMP"), std::string::npos) << result.message;
}

TEST(ConfigSourcesTest, MissingConfigFileIsNamed) {
  const std::string path = "/nonexistent-t2s-dir/tun2socks.toml";
  CommandLine result = parse({"--config", path});
  EXPECT_FALSE(result.run);
  EXPECT_NE(result.exit_code, 0);
  EXPECT_EQ(result.message.rfind("error: ", 0), 0u) << result.message;
  EXPECT_NE(result.message.find(path), std::string::npos) << result.message;

  ScopedEnv config("TUN2SOCKS_CONFIG", path);
  result = parse({});
  EXPECT_FALSE(result.run);
  EXPECT_NE(result.message.find(path), std::string::npos) << result.message;
  EXPECT_NE(result.message.find("TUN2SOCKS_CONFIG"), std::string::npos) << result.message;
}

TEST(ConfigSourcesTest, HelpNamesTheEnvironmentVariables) {
  CommandLine help = parse({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* name :
       {"TUN2SOCKS_PROXY", "TUN2SOCKS_PROXY_PASSWORD_FILE", "TUN2SOCKS_DEVICE", "TUN2SOCKS_MTU",
        "TUN2SOCKS_DNS_ADDRESS", "TUN2SOCKS_MAX_CONNECTIONS", "TUN2SOCKS_CONFIG"}) {
    EXPECT_NE(help.message.find(std::string("(Env:") + name + ")"), std::string::npos) << name;
  }
  EXPECT_NE(help.message.find("--config"), std::string::npos);
  EXPECT_EQ(help.message.find("--print-flag-reference"), std::string::npos);
  // --help wins over a broken config file.
  EXPECT_EQ(parse({"--config", "/nonexistent-t2s-dir/x.toml", "--help"}).exit_code, 0);
}

TEST(ProxyPasswordFileTest, ReplacesThePassword) {
  for (const char* contents : {"pa:ss@word", "pa:ss@word\n", "pa:ss@word\r\n"}) {
    TempFile file(contents);
    CommandLine result = parse(
        {"--proxy", "socks5://alice:old@192.0.2.1:1080", "--proxy-password-file", file.path()});
    ASSERT_TRUE(result.run) << result.message;
    ASSERT_TRUE(result.config.proxy.credentials.has_value());
    EXPECT_EQ(result.config.proxy.credentials->username, "alice");
    EXPECT_EQ(result.config.proxy.credentials->password, "pa:ss@word");
  }
  TempFile file("fromenv\n");
  ScopedEnv env("TUN2SOCKS_PROXY_PASSWORD_FILE", file.path());
  CommandLine result = parse({"--proxy", "socks5://alice@192.0.2.1:1080"});
  ASSERT_TRUE(result.run) << result.message;
  EXPECT_EQ(result.config.proxy.credentials->password, "fromenv");
}

TEST(ProxyPasswordFileTest, ErrorsNameTheFileButNeverThePassword) {
  const std::string secret = "hunter2-secret";
  TempFile good(secret + "\n");
  TempFile empty("\n");
  TempFile too_long(std::string(300, 'x') + secret);
  struct Case {
    std::vector<std::string> args;
    std::string must_mention;
  };
  const std::string missing = "/nonexistent-t2s-dir/password";
  std::vector<Case> cases = {
      {{"--proxy", "socks5://192.0.2.1:1080", "--proxy-password-file", good.path()}, "user"},
      {{"--proxy", "socks5://alice:" + secret + "@192.0.2.1:1080", "--proxy-password-file",
        missing},
       missing},
      {{"--proxy", "socks5://alice@192.0.2.1:1080", "--proxy-password-file", empty.path()},
       empty.path()},
      {{"--proxy", "socks5://alice@192.0.2.1:1080", "--proxy-password-file", too_long.path()},
       too_long.path()},
      {{"--proxy", "socks5://alice@192.0.2.1:1080", "--proxy-password-file", "/"}, "'/'"},
      // The password was read, but another flag is wrong.
      {{"--proxy", "socks5://alice@192.0.2.1:1080", "--proxy-password-file", good.path(),
        "--device", "this-name-is-far-too-long"},
       "--device"},
  };
  for (const Case& c : cases) {
    CommandLine result = parse(c.args);
    EXPECT_FALSE(result.run) << c.must_mention;
    EXPECT_NE(result.exit_code, 0);
    EXPECT_NE(result.message.find(c.must_mention), std::string::npos) << result.message;
    EXPECT_EQ(result.message.find(secret), std::string::npos) << result.message;
    EXPECT_EQ(result.message.find("xxxxxxxx"), std::string::npos) << result.message;
  }
}

// Each value in `bad` makes `flag` fail with a message that names it.
void expect_rejected(const char* flag, std::initializer_list<const char*> bad) {
  for (const char* value : bad) {
    CommandLine result = parse({flag, value});
    EXPECT_FALSE(result.run) << flag << " " << value;
    EXPECT_NE(result.exit_code, 0) << flag << " " << value;
    EXPECT_NE(result.message.find(flag), std::string::npos) << result.message;
  }
}

TEST(ConfigTest, ProxySpares) {
  EXPECT_EQ(parse({"--proxy-spares", "0"}).config.proxy_spares, 0);
  EXPECT_EQ(parse({"--proxy-spares", "64"}).config.proxy_spares, 64);
  expect_rejected("--proxy-spares", {"-1", "65", "two", "1.5", ""});
}

TEST(ConfigTest, MaxConnections) {
  EXPECT_EQ(parse({}).config.max_connections, 0);
  EXPECT_EQ(parse({"--max-connections", "0"}).config.max_connections, 0);
  EXPECT_EQ(parse({"--max-connections", "1000000"}).config.max_connections, 1000000);
  expect_rejected("--max-connections", {"-1", "1000001", "abc", "1.5", ""});
}

TEST(ConfigTest, StatsListen) {
  Config config = parse({"--stats-listen", "127.0.0.1:9080"}).config;
  ASSERT_TRUE(config.stats_listen.has_value());
  EXPECT_EQ(config.stats_listen->to_string(), "127.0.0.1:9080");
  EXPECT_TRUE(config.stats_token.empty());
  expect_rejected("--stats-listen", {"127.0.0.1", "127.0.0.1:0", "localhost:9080", "[::1]", ""});
  // Reachable from elsewhere: only with a token.
  for (const char* address : {"0.0.0.0:9080", "192.0.2.1:9080", "[::]:9080"}) {
    CommandLine result = parse({"--stats-listen", address});
    EXPECT_FALSE(result.run) << address;
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.message.find("--stats-token-file"), std::string::npos) << result.message;
  }
  TempFile token("tok-en\n");
  CommandLine with_token =
      parse({"--stats-listen", "0.0.0.0:9080", "--stats-token-file", token.path()});
  ASSERT_TRUE(with_token.run) << with_token.message;
  EXPECT_EQ(with_token.config.stats_token, "tok-en");
}

TEST(ConfigTest, StatsTokenFileErrors) {
  TempFile empty("\n");
  TempFile good("secret-token\n");
  struct Case {
    std::vector<std::string> args;
    std::string must_mention;
  };
  const std::vector<Case> cases = {
      {{"--stats-listen", "127.0.0.1:9080", "--stats-token-file", empty.path()}, "empty"},
      {{"--stats-listen", "127.0.0.1:9080", "--stats-token-file", "/nonexistent-t2s/token"},
       "/nonexistent-t2s/token"},
      {{"--stats-token-file", good.path()}, "needs --stats-listen"},
  };
  for (const Case& c : cases) {
    CommandLine result = parse(c.args);
    EXPECT_FALSE(result.run) << c.must_mention;
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.message.find("--stats-token-file"), std::string::npos) << result.message;
    EXPECT_NE(result.message.find(c.must_mention), std::string::npos) << result.message;
    EXPECT_EQ(result.message.find("secret-token"), std::string::npos) << result.message;
  }
}

TEST(ConfigTest, CheckTarget) {
  Config defaults = parse({}).config;
  EXPECT_FALSE(defaults.check);
  const auto* name = std::get_if<socks5::DomainEndpoint>(&defaults.check_target);
  ASSERT_NE(name, nullptr);
  EXPECT_EQ(name->name, "example.com");
  EXPECT_EQ(name->port, 80);
  Config config = parse({"--check", "--check-target", "203.0.113.10:7000"}).config;
  EXPECT_TRUE(config.check);
  const auto* endpoint = std::get_if<net::Endpoint>(&config.check_target);
  ASSERT_NE(endpoint, nullptr);
  EXPECT_EQ(endpoint->to_string(), "203.0.113.10:7000");
  config = parse({"--check-target", "[2001:db8::1]:443"}).config;
  ASSERT_NE(std::get_if<net::Endpoint>(&config.check_target), nullptr);
  expect_rejected("--check-target", {"example.com", "example.com:0", "example.com:70000", ":80",
                                     "2001:db8::1:80", "[2001:db8::1]", ""});
}

// The repository's copy of `relative`, found by walking up from the working directory (ctest
// runs the tests in <build>/tests).
std::optional<std::filesystem::path> find_in_repository(const std::string& relative) {
  namespace fs = std::filesystem;
  for (fs::path dir = fs::current_path();; dir = dir.parent_path()) {
    if (fs::exists(dir / relative) && fs::exists(dir / "src" / "app" / "config.cpp")) {
      return dir / relative;
    }
    if (dir == dir.parent_path()) return std::nullopt;
  }
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream input(path);
  std::stringstream contents;
  contents << input.rdbuf();
  return contents.str();
}

// docs/flags.md is the output of --print-flag-reference; it must match the definitions.
TEST(FlagReferenceTest, DocsMatchTheFlagDefinitions) {
  CommandLine reference = parse({"--print-flag-reference"});
  ASSERT_FALSE(reference.run);
  ASSERT_EQ(reference.exit_code, 0);
  EXPECT_EQ(reference.message.find("--print-flag-reference |"), std::string::npos);
  EXPECT_NE(reference.message.find("| `--max-connections N` | `TUN2SOCKS_MAX_CONNECTIONS` |"),
            std::string::npos)
      << reference.message;

  std::optional<std::filesystem::path> docs = find_in_repository("docs/flags.md");
  ASSERT_TRUE(docs.has_value())
      << "docs/flags.md not found above " << std::filesystem::current_path()
      << "; create it with: build/src/tun2socks --print-flag-reference > docs/flags.md";
  auto trimmed = [](std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text;
  };
  EXPECT_EQ(trimmed(read_file(*docs)), trimmed(reference.message))
      << *docs << " is out of date; regenerate it with: "
      << "build/src/tun2socks --print-flag-reference > docs/flags.md";
}

// packaging/config.example.toml shows every flag, commented out, with its default value.
TEST(FlagReferenceTest, ExampleConfigShowsEveryFlagWithItsDefault) {
  std::optional<std::filesystem::path> example =
      find_in_repository("packaging/config.example.toml");
  ASSERT_TRUE(example.has_value()) << "packaging/config.example.toml not found";
  std::set<std::string> keys;
  std::string defaults_only;
  std::istringstream lines(read_file(*example));
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# ", 0) != 0 || line.find(" = ") == std::string::npos) continue;
    std::string key = line.substr(2, line.find(" = ") - 2);
    if (key.find(' ') != std::string::npos) continue;  // prose
    keys.insert(key);
    // These have no default; the example shows a sample value instead.
    static const std::set<std::string> kSampleValued = {
        "proxy-password-file", "dns-address", "dns-upstream", "exclude",         "fwmark",
        "interface",           "user",        "stats-listen", "stats-token-file"};
    if (kSampleValued.count(key) == 0) {
      defaults_only += line.substr(2) + "\n";
    }
  }
  std::istringstream reference(parse({"--print-flag-reference"}).message);
  for (std::string line; std::getline(reference, line);) {
    if (line.rfind("| `--", 0) != 0 || line.find("`TUN2SOCKS_") == std::string::npos) continue;
    std::string flag = line.substr(5, line.find_first_of(" `", 5) - 5);
    if (flag == "config") continue;
    EXPECT_EQ(keys.count(flag), 1u) << "packaging/config.example.toml lacks '# " << flag << " = '";
  }
  TempFile uncommented(defaults_only);
  CommandLine result = parse({"--config", uncommented.path()});
  ASSERT_TRUE(result.run) << result.message;
  expect_same_config(result.config, parse({}).config);
}

TEST(SystemFlagsTest, AutoRouteDefaults) {
  CommandLine result = parse({"--auto-route"});
  ASSERT_TRUE(result.run) << result.message;
  EXPECT_TRUE(result.config.auto_route);
  EXPECT_EQ(result.config.route_table, 2080u);
  EXPECT_EQ(result.config.route_priority, 20800u);
  EXPECT_EQ(result.config.fwmark, 0x2080u);  // marking is what keeps the proxy out of the tunnel
  EXPECT_FALSE(result.config.fail_closed);

  CommandLine decimal = parse({"--fwmark", "4660"});
  ASSERT_TRUE(decimal.run) << decimal.message;
  EXPECT_EQ(decimal.config.fwmark, 0x1234u);  // marking without --auto-route, for own routing
  EXPECT_FALSE(decimal.config.auto_route);
}

TEST(SystemFlagsTest, BadValuesAndCombinationsAreNamed) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--fail-closed"}, "--fail-closed needs --auto-route"},
      {{"--exclude", "10.0.0.0/8"}, "--exclude needs --auto-route"},
      {{"--set-dns", "--dns", "fake"}, "--set-dns needs --auto-route"},
      {{"--auto-route", "--set-dns"}, "--set-dns needs --dns fake or --dns tcp"},
      {{"--auto-route", "--exclude", "10.0.0.0/33"}, "--exclude"},
      {{"--auto-route", "--device", "fd://3"}, "--auto-route needs a device name"},
      {{"--route-table", "254"}, "system's tables"},
      {{"--route-table", "0"}, "--route-table"},
      {{"--route-priority", "32764"}, "--route-priority"},
      {{"--fwmark", "0"}, "--fwmark"},
      {{"--fwmark", "0xZZ"}, "--fwmark"},
      {{"--fwmark", "0x100000000"}, "--fwmark"},
      {{"--interface", "a/b"}, "--interface"},
  };
  for (const auto& [args, expected] : cases) {
    CommandLine result = parse(args);
    EXPECT_FALSE(result.run) << args.front();
    EXPECT_EQ(result.exit_code, 2) << args.front();
    EXPECT_NE(result.message.find(expected), std::string::npos)
        << "args starting " << args.front() << ": " << result.message;
  }
}

TEST(SystemFlagsTest, FlagsFromEnvironmentAndFileNameTheirSource) {
  ScopedEnv env("TUN2SOCKS_FAIL_CLOSED", "true");
  CommandLine result = parse({});
  EXPECT_FALSE(result.run);
  EXPECT_NE(result.message.find("--fail-closed (from TUN2SOCKS_FAIL_CLOSED) needs --auto-route"),
            std::string::npos)
      << result.message;
  TempFile file("auto-route = true\nfail-closed = true\n");
  CommandLine from_file = parse({"--config", file.path()});
  ASSERT_TRUE(from_file.run) << from_file.message;
  EXPECT_TRUE(from_file.config.auto_route);
  EXPECT_TRUE(from_file.config.fail_closed);
}

TEST(SystemFlagsTest, KnowsWhetherIpv6WasAskedFor) {
  EXPECT_TRUE(parse({}).config.ipv6_by_default);
  EXPECT_FALSE(parse({"--address6", "fd00::1/64"}).config.ipv6_by_default);
  EXPECT_FALSE(parse({"--address6", "fdfe:dcba:9876::1/64"}).config.ipv6_by_default);
  ScopedEnv env("TUN2SOCKS_ADDRESS6", "fd00::1/64");
  EXPECT_FALSE(parse({}).config.ipv6_by_default);
}

TEST(SystemFlagsTest, CleanupIsAnActionNotASetting) {
  CommandLine result = parse({"--cleanup"});
  ASSERT_TRUE(result.run) << result.message;
  EXPECT_TRUE(result.config.cleanup_only);
  TempFile file("cleanup = true\n");
  CommandLine from_file = parse({"--config", file.path()});
  EXPECT_FALSE(from_file.run);
  EXPECT_NE(from_file.message.find("cleanup"), std::string::npos) << from_file.message;
}

}  // namespace
}  // namespace t2s::app
