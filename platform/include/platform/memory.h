// Process memory housekeeping that depends on the C library.
#pragma once

namespace t2s::platform {

// Hands heap memory that was freed back to the operating system, where the C library would
// otherwise keep it for reuse (glibc keeps freed memory after a burst of connections).
void release_free_memory();

// Keeps freed heap for reuse while traffic flows. glibc otherwise returns the top of the heap
// whenever more than 128 KiB of it is free, which a bulk transfer's segments cross and re-cross:
// every cycle unmaps pages that the next segments fault in again (and the kernel zeroes).
// release_free_memory() gives the memory back once traffic is quiet.
void keep_freed_memory_for_reuse();

}  // namespace t2s::platform
