// Linux/glibc: malloc_trim returns free heap pages to the kernel.
#include <malloc.h>

#include "platform/memory.h"

namespace t2s::platform {

void release_free_memory() {
  malloc_trim(0);
}

}  // namespace t2s::platform
