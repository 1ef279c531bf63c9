// The CUDA device from a user's side: whether one can be used, its memory as tapegrad's
// caching allocator sees it, and the settings of the CUDA backend. Every function is present in
// builds without CUDA too: is_available() is then false and the others that need a device
// throw a tapegrad::DeviceError saying so.
#pragma once

#include <string>

#include <tapegrad/kernels/caching_allocator.h>

namespace tapegrad::cuda {

// True when this build has the CUDA backend and the machine has a usable GPU.
bool is_available();
// The number of usable CUDA devices (0 without CUDA or without a GPU).
int device_count();
// When is_available() is false, why: what is missing (the CUDA backend, its libraries, a GPU)
// and what to do. Empty when a device is usable.
std::string unavailable_reason();

// Memory of device `index` held by tapegrad: allocated in tensors, reserved (allocated plus
// cached free blocks) and the peak of allocated.
kernels::MemoryStats memory_stats(int index = 0);
void reset_peak_memory_stats(int index = 0);
// Returns the cached free blocks of device `index` to the driver (for other processes, or
// before measuring); tensors in use keep their memory.
void empty_cache(int index = 0);
// Waits until every operation queued on device `index` has finished (kernels run asynchronously).
void synchronize(int index = 0);

// TF32 tensor-core arithmetic in float32 matrix products: faster on sm_80 and later, with a
// 10-bit mantissa for the products. Off by default, so float32 results match the CPU's.
void set_allow_tf32(bool allow);
bool allow_tf32();

}  // namespace tapegrad::cuda
