// Windows: the console's Ctrl-C, Ctrl-Break and close events, which libuv delivers as SIGINT,
// SIGBREAK and SIGHUP, all stop the tunnel; there is no SIGPIPE and no descriptor limit to raise
// (sockets are handles, limited only by memory).
#include <signal.h>
#include <uv.h>  // SIGHUP where the C library has none

#include "platform/features.h"
#include "platform/process.h"

namespace t2s::platform {

const PlatformFeatures& platform_features() {
  return kWindowsFeatures;
}

ProcessSignals process_signals() {
  return {{SIGINT, SIGBREAK, SIGHUP}, std::nullopt};
}

std::string signal_name(int number) {
  if (number == SIGINT) return "Ctrl-C";
  if (number == SIGBREAK) return "Ctrl-Break";
  if (number == SIGHUP) return "console close";
  return "signal " + std::to_string(number);
}

void ignore_broken_pipe() {}

std::optional<DescriptorLimit> raise_descriptor_limit() {
  return std::nullopt;
}

}  // namespace t2s::platform
