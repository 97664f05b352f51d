// run_in_private_network on Linux: unshare(CLONE_NEWNET) on a new thread, then bring up lo.
#include <gtest/gtest.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "support/private_network.h"

namespace t2s::test_support {
namespace {

bool loopback_up() {
  int control = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (control < 0) return false;
  ifreq request{};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  bool up = ioctl(control, SIOCGIFFLAGS, &request) == 0;
  request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
  up = up && ioctl(control, SIOCSIFFLAGS, &request) == 0;
  close(control);
  return up;
}

}  // namespace

std::string run_in_private_network(const std::function<void()>& body) {
  std::string problem;
  std::thread runner([&] {
    if (unshare(CLONE_NEWNET) != 0) {
      problem = std::string("no private network namespace: ") + std::strerror(errno);
      return;
    }
    ASSERT_TRUE(loopback_up()) << "cannot bring up loopback in the new namespace";
    body();
  });
  runner.join();
  return problem;
}

}  // namespace t2s::test_support
