/* lwIP platform glue for tun2socks (Linux/glibc, any C11 compiler): byte order, diagnostics. */
#ifndef T2S_LWIP_ARCH_CC_H
#define T2S_LWIP_ARCH_CC_H

#include <endian.h>
#include <stdlib.h>

#ifndef BYTE_ORDER
#define BYTE_ORDER __BYTE_ORDER
#endif

#ifdef __cplusplus
extern "C" {
#endif
void t2s_lwip_diag(const char* message);
void t2s_lwip_assert_failed(const char* message, const char* file, int line);
#ifdef __cplusplus
}
#endif

#define LWIP_PLATFORM_DIAG(x) \
  do {                        \
  } while (0)
#define LWIP_PLATFORM_ASSERT(x) t2s_lwip_assert_failed((x), __FILE__, __LINE__)
#define LWIP_NO_UNISTD_H 0

#endif /* T2S_LWIP_ARCH_CC_H */
