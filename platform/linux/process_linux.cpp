// Linux: POSIX signals, RLIMIT_NOFILE and SIGPIPE; every system feature the flags use exists.
#include <signal.h>
#include <sys/resource.h>

#include "platform/features.h"
#include "platform/process.h"

namespace t2s::platform {

const PlatformFeatures& platform_features() {
  return kLinuxFeatures;
}

ProcessSignals process_signals() {
  return {{SIGINT, SIGTERM}, SIGUSR1};
}

std::string signal_name(int number) {
  switch (number) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    case SIGUSR1:
      return "SIGUSR1";
    default:
      return "signal " + std::to_string(number);
  }
}

void ignore_broken_pipe() {
  signal(SIGPIPE, SIG_IGN);
}

std::optional<DescriptorLimit> raise_descriptor_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return std::nullopt;
  DescriptorLimit result{limit.rlim_cur, limit.rlim_cur};
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) == 0) result.current = limit.rlim_cur;
  }
  return result;
}

}  // namespace t2s::platform
