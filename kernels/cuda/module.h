// The boundary between libtapegrad and its CUDA backend module (libtapegrad_cuda.so), which
// libtapegrad loads with dlopen the first time CUDA is asked for: CPU programs then need no CUDA
// library, and do not map one. The module exports one C function that returns this table.
#pragma once

#include <tapegrad/kernels/backend.h>

namespace tapegrad::kernels {

struct CudaModuleEntry {
  // Raised whenever the table changes, so that a module from another build is refused.
  static constexpr int kVersion = 2;
  int version;
  // The fingerprint of the kernel headers the module was built with (the Backend class's
  // layout among them); the loader refuses a module built against other headers.
  const char* backend_fingerprint;
  // The usable devices.
  int (*device_count)();
  // The backend of device `index`, created on first use; a DeviceError naming the devices there
  // are (or why there are none) for any other index.
  Backend& (*backend)(int index);
};

}  // namespace tapegrad::kernels

// The module's only exported entry point; the name is what the loader looks up.
#define TAPEGRAD_CUDA_MODULE_ENTRY "tapegrad_cuda_module_entry"
extern "C" const tapegrad::kernels::CudaModuleEntry* tapegrad_cuda_module_entry();
