// What lwIP asks of the platform when NO_SYS=1: a millisecond clock and assertion/diagnostic
// sinks routed into our log.
#include <chrono>
#include <cstdlib>

#include "log/log.h"
#include "lwip/arch.h"
#include "lwip/sys.h"
#include "net/checksum.h"

extern "C" u32_t sys_now(void) {
  // Wraps around after 49 days, as lwIP expects.
  const auto since_boot = std::chrono::steady_clock::now().time_since_epoch();
  return static_cast<u32_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(since_boot).count());
}

extern "C" void t2s_lwip_diag(const char* message) {
  t2s::log::debug("lwip: {}", message);
}

extern "C" void t2s_lwip_assert_failed(const char* message, const char* file, int line) {
  t2s::log::error("lwIP assertion failed: {} ({}:{})", message, file, line);
  std::abort();
}

extern "C" unsigned short t2s_checksum(const void* data, int length) {
  return t2s::net::ones_complement_sum(
      {static_cast<const uint8_t*>(data), static_cast<size_t>(length < 0 ? 0 : length)});
}

extern "C" unsigned short t2s_checksum_copy(void* destination, const void* source,
                                            unsigned short length) {
  return t2s::net::copy_and_sum(static_cast<uint8_t*>(destination),
                                {static_cast<const uint8_t*>(source), length});
}
