// `tun2socks --check`: tests the proxy the way the tunnel will use it (greeting and
// authentication, CONNECT, UDP ASSOCIATE, the pipelining probe) and prints one line per step.
// Needs no root and no TUN device.
#pragma once

#include "app/config.h"

namespace t2s::app {

// Returns the exit code: 0 if the greeting (and authentication) and the CONNECT worked.
int run_check(const Config& config);

}  // namespace t2s::app
