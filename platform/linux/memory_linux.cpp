// Linux/glibc: malloc_trim returns free heap pages to the kernel; a high trim threshold keeps
// glibc from returning them on every free.
#include <malloc.h>

#include "platform/memory.h"

namespace t2s::platform {

void release_free_memory() {
  malloc_trim(0);
}

void keep_freed_memory_for_reuse() {
  // 8 MiB: more than a few 1 MiB windows' worth of segments churn through the heap top.
  mallopt(M_TRIM_THRESHOLD, 8 << 20);
}

}  // namespace t2s::platform
