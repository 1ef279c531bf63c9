// CPU memory from a user's side, as tapegrad's caching allocator sees it. Tensor storage larger
// than 1 KiB comes from the allocator, which keeps freed blocks for the next request of their
// size: a training loop that makes the same tensors every step stops asking the system for
// memory after its first step, and large blocks are never unmapped and faulted in again.
// Smaller storage (and tape nodes) comes from a per-thread pool and is not counted here.
#pragma once

#include <tapegrad/kernels/caching_allocator.h>

namespace tapegrad::cpu {

// Allocated in tensors, reserved (allocated plus cached free blocks) and the peak of allocated.
kernels::MemoryStats memory_stats();
void reset_peak_memory_stats();
// Returns the cached free blocks to the system; tensors in use keep their memory.
void empty_cache();

}  // namespace tapegrad::cpu
