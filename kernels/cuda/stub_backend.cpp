// Stands in for the CUDA backend in builds without the CUDA toolkit: every CUDA request fails
// with an error that says so and what to do, instead of a link error or a crash.
#include <tapegrad/kernels/backend.h>

namespace tapegrad::kernels {

Backend& cuda_backend(int index) {
  throw DeviceError(fmt::format(
      "device cuda:{} was requested, but tapegrad was built without CUDA; rebuild with the CUDA toolkit "
      "installed (cmake -DTAPEGRAD_CUDA=ON) or use Device::cpu()",
      index));
}

int cuda_device_count() { return 0; }

}  // namespace tapegrad::kernels
