// Flags without a meaning on Windows (platform::kWindowsFeatures) are refused with an error that
// names the flag and the OS, exit code 2; what Windows does allow (adapter names with spaces,
// --auto-route without a mark). Runs on every OS: the feature table is an argument.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "app/config.h"
#include "platform/features.h"

namespace t2s::app {
namespace {

CommandLine parse_on_windows(std::vector<std::string> args) {
  return parse_command_line(args, platform::kWindowsFeatures);
}

TEST(WindowsFlagsTest, FlagsWithoutWindowsMeaningAreRefused) {
  const std::vector<std::vector<std::string>> cases = {
      {"--fwmark", "0x10"},
      {"--route-table", "100"},
      {"--route-priority", "100"},
      {"--auto-route", "--fail-closed"},
      {"--auto-route", "--set-dns", "--dns", "fake"},
      {"--user", "nobody"},
      {"--device", "fd://3"},
  };
  for (const auto& args : cases) {
    CommandLine result = parse_on_windows(args);
    const std::string flag = args[0] == "--auto-route" ? args[1] : args[0];
    EXPECT_FALSE(result.run) << flag;
    EXPECT_EQ(result.exit_code, 2) << flag;
    EXPECT_EQ(result.message.rfind("error: " + flag, 0), 0u) << result.message;
    EXPECT_NE(result.message.find("not supported on Windows"), std::string::npos) << result.message;
  }
}

TEST(WindowsFlagsTest, TheSameFlagsAreAcceptedOnLinux) {
  CommandLine result = parse_command_line(
      {"--fwmark", "0x10", "--route-table", "100", "--route-priority", "100", "--user", "nobody",
       "--auto-route", "--fail-closed", "--set-dns", "--dns", "fake"},
      platform::kLinuxFeatures);
  EXPECT_TRUE(result.run) << result.message;
  EXPECT_TRUE(parse_command_line({"--device", "fd://3"}, platform::kLinuxFeatures).run);
}

TEST(WindowsFlagsTest, DefaultsAreUsableOnWindows) {
  CommandLine result = parse_on_windows({});
  ASSERT_TRUE(result.run) << result.message;
  // --auto-route alone marks nothing on Windows: the proxy is kept off with a host route.
  CommandLine routed = parse_on_windows({"--auto-route", "--exclude", "192.0.2.0/24"});
  ASSERT_TRUE(routed.run) << routed.message;
  EXPECT_TRUE(routed.config.auto_route);
  EXPECT_FALSE(routed.config.fwmark.has_value());
  EXPECT_TRUE(parse_command_line({"--auto-route"}, platform::kLinuxFeatures).config.fwmark);
}

TEST(WindowsFlagsTest, AdapterNamesMayHaveSpacesAndBeLong) {
  const std::string long_name(40, 'a');
  CommandLine result =
      parse_on_windows({"--device", "tun2socks " + long_name, "--interface", "Ethernet 2"});
  ASSERT_TRUE(result.run) << result.message;
  EXPECT_EQ(result.config.device_name, "tun2socks " + long_name);
  EXPECT_EQ(result.config.uplink_interface, "Ethernet 2");
  // Linux keeps its 15-character names without spaces.
  CommandLine on_linux =
      parse_command_line({"--interface", "Ethernet 2"}, platform::kLinuxFeatures);
  EXPECT_EQ(on_linux.exit_code, 2);
  EXPECT_NE(on_linux.message.find("1-15 characters"), std::string::npos) << on_linux.message;
  CommandLine too_long = parse_on_windows({"--device", std::string(256, 'a')});
  EXPECT_EQ(too_long.exit_code, 2);
  EXPECT_NE(too_long.message.find("1-255 characters"), std::string::npos) << too_long.message;
}

TEST(WindowsFlagsTest, ConfigFileValuesAreRefusedToo) {
  const std::string path = ::testing::TempDir() + "t2s_windows_flags.toml";
  FILE* file = std::fopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  std::fputs("fwmark = \"0x10\"\n", file);
  std::fclose(file);
  CommandLine result = parse_on_windows({"--config", path});
  std::remove(path.c_str());
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.message, "error: --fwmark (from " + path +
                                "): not supported on Windows: no socket marks (--auto-route "
                                "keeps the proxy off the tunnel with a host route)");
}

// The default table is the running OS's: --fwmark works exactly where sockets have marks.
TEST(WindowsFlagsTest, DefaultTableIsTheRunningOs) {
  const platform::PlatformFeatures& here = platform::platform_features();
  EXPECT_TRUE(here.os_name == "Linux" || here.os_name == "Windows") << here.os_name;
  EXPECT_EQ(parse_command_line({"--fwmark", "0x10"}).run, here.socket_marks);
}

}  // namespace
}  // namespace t2s::app
