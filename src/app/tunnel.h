// Wiring of one running tunnel: resolves the proxy, opens the TUN device, runs the stack and
// the relay on one libuv loop, and handles signals (platform/process.h: Linux's SIGINT/SIGTERM
// and Windows' Ctrl-C/Ctrl-Break/console close stop, SIGUSR1 logs the counters).
#pragma once

#include "app/config.h"

namespace t2s::app {

// Runs until a stop signal; returns the process exit code.
int run_tunnel(const Config& config);

}  // namespace t2s::app
