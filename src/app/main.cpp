// tun2socks entry point: parse flags, then run the tunnel (or --check the proxy).
#include <cstdio>
#include <string>
#include <vector>

#include "app/check.h"
#include "app/config.h"
#include "app/tunnel.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  t2s::app::CommandLine command_line = t2s::app::parse_command_line(args);
  if (!command_line.run) {
    std::fputs(command_line.message.c_str(), command_line.exit_code == 0 ? stdout : stderr);
    std::fputs("\n", command_line.exit_code == 0 ? stdout : stderr);
    return command_line.exit_code;
  }
  if (command_line.config.check) return t2s::app::run_check(command_line.config);
  return t2s::app::run_tunnel(command_line.config);
}
