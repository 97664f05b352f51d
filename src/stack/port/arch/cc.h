/* lwIP platform glue for tun2socks (GCC or Clang, any OS): byte order, diagnostics. */
#ifndef T2S_LWIP_ARCH_CC_H
#define T2S_LWIP_ARCH_CC_H

#include <stdlib.h>

/* The compiler's own macro (not every C library has <endian.h>); lwIP's LITTLE_ENDIAN and
   BIG_ENDIAN defaults (1234, 4321) are the values GCC and Clang use for it. */
#ifndef BYTE_ORDER
#define BYTE_ORDER __BYTE_ORDER__
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
