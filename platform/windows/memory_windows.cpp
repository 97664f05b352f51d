// Windows: the process heap's free blocks go back to the system on request; the heap needs no
// setting to keep freed memory for reuse (it does not trim on every free like glibc).
#include <windows.h>

#include "platform/memory.h"

namespace t2s::platform {

void release_free_memory() {
  HeapCompact(GetProcessHeap(), 0);
}

void keep_freed_memory_for_reuse() {}

}  // namespace t2s::platform
