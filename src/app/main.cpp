// tun2socks entry point: parse flags, then run the tunnel.
#include <cstdio>
#include <string>
#include <vector>

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
  return t2s::app::run_tunnel(command_line.config);
}
