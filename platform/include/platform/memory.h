// Process memory housekeeping that depends on the C library.
#pragma once

namespace t2s::platform {

// Hands heap memory that was freed back to the operating system, where the C library would
// otherwise keep it for reuse (glibc keeps freed memory after a burst of connections).
void release_free_memory();

}  // namespace t2s::platform
