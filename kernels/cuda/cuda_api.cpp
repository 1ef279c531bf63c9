// tapegrad::cuda, the user's view of the CUDA backend, in terms of the backend registry; the
// same in builds with and without CUDA (without it, cuda_backend() throws the explanation).
#include <tapegrad/kernels/cuda/cuda.h>

#include <atomic>

#include <tapegrad/kernels/backend.h>

namespace tapegrad {
namespace kernels {

bool cuda_is_available() { return cuda_device_count() > 0; }

}  // namespace kernels

namespace cuda {
namespace {
std::atomic<bool> tf32_allowed{false};
}

bool is_available() { return kernels::cuda_is_available(); }
int device_count() { return kernels::cuda_device_count(); }

std::string unavailable_reason() {
  if (is_available()) return {};
  try {
    kernels::cuda_backend(0);  // without a device, its error is the explanation
  } catch (const DeviceError& error) {
    return error.what();
  }
  return {};
}

kernels::MemoryStats memory_stats(int index) { return kernels::cuda_backend(index).memory_stats(); }
void reset_peak_memory_stats(int index) { kernels::cuda_backend(index).reset_peak_memory_stats(); }
void empty_cache(int index) {
  if (is_available()) kernels::cuda_backend(index).empty_cache();  // nothing is cached without a device
}
void synchronize(int index) { kernels::cuda_backend(index).synchronize(); }

void set_allow_tf32(bool allow) { tf32_allowed.store(allow, std::memory_order_relaxed); }
bool allow_tf32() { return tf32_allowed.load(std::memory_order_relaxed); }

}  // namespace cuda
}  // namespace tapegrad
