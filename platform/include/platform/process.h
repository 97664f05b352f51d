// What the process needs from the OS around the tunnel: the signals that stop it or ask for
// its counters, the descriptor limit, and SIGPIPE. Linux in linux/process_linux.cpp, Windows in
// windows/process_windows.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace t2s::platform {

// Signal numbers as uv_signal_start takes them.
struct ProcessSignals {
  std::vector<int> stop;            // tear down and exit
  std::optional<int> log_counters;  // log the counters and go on
};

// Linux: SIGINT and SIGTERM stop, SIGUSR1 logs counters. Windows: Ctrl-C, Ctrl-Break and closing
// the console (libuv's SIGINT, SIGBREAK and SIGHUP) stop; nothing logs counters.
ProcessSignals process_signals();

// "SIGTERM", or the number for a signal we do not name.
std::string signal_name(int number);

// A proxy closing while we write must be an error return, not a signal that ends the process.
void ignore_broken_pipe();

struct DescriptorLimit {
  uint64_t previous = 0;  // soft limit before
  uint64_t current = 0;   // soft limit now
};

// Lifts the soft limit on open descriptors to the hard one; nothing where the OS has no such
// limit (Windows).
std::optional<DescriptorLimit> raise_descriptor_limit();

}  // namespace t2s::platform
