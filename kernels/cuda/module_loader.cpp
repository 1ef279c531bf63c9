// Finds and loads the CUDA backend module the first time CUDA is asked for. Without it, or
// without the CUDA libraries it needs, there are no CUDA devices, and a request for one throws
// a DeviceError that says what is missing and what to do.
#include <dlfcn.h>

#include <cstring>
#include <filesystem>
#include <string>

#include <fmt/format.h>

#include <tapegrad/kernels/cuda/module.h>

namespace tapegrad::kernels {
namespace {

struct LoadedModule {
  const CudaModuleEntry* entry = nullptr;  // null when the backend cannot be used
  std::string why_not;                     // then: what is missing, and what to do
};

#ifdef TAPEGRAD_CUDA_MODULE
// The module sits beside libtapegrad, in the build tree and once installed.
std::filesystem::path module_path() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<const void*>(&module_path), &info) == 0 || info.dli_fname == nullptr)
    return TAPEGRAD_CUDA_MODULE;
  return std::filesystem::path(info.dli_fname).parent_path() / TAPEGRAD_CUDA_MODULE;
}

LoadedModule load_module() {
  const std::filesystem::path path = module_path();
  std::error_code ignored;
  if (!std::filesystem::exists(path, ignored))
    return {nullptr, fmt::format("tapegrad's CUDA backend module {} is missing (an installation without it); "
                                 "install tapegrad together with libtapegrad_cuda.so",
                                 path.string())};
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* error = dlerror();
    return {nullptr, fmt::format("tapegrad's CUDA backend could not be loaded ({}); install the CUDA runtime and "
                                 "cuBLAS, or put the CUDA toolkit's library folder (for example "
                                 "/usr/local/cuda/lib64) on LD_LIBRARY_PATH",
                                 error != nullptr ? error : path.string())};
  }
  using EntryFunction = const CudaModuleEntry* (*)();
  const auto entry_function = reinterpret_cast<EntryFunction>(dlsym(handle, TAPEGRAD_CUDA_MODULE_ENTRY));
  const CudaModuleEntry* entry = entry_function != nullptr ? entry_function() : nullptr;
  if (entry == nullptr || entry->version != CudaModuleEntry::kVersion ||
      std::strcmp(entry->backend_fingerprint, TAPEGRAD_BACKEND_FINGERPRINT) != 0)
    return {nullptr, fmt::format("{} is not the CUDA backend of this tapegrad build (a module from another version?); "
                                 "reinstall tapegrad",
                                 path.string())};
  return {entry, {}};
}
#else
LoadedModule load_module() {
  return {nullptr, "tapegrad was built without CUDA; rebuild with the CUDA toolkit installed (cmake -DTAPEGRAD_CUDA=ON)"};
}
#endif

const LoadedModule& cuda_module() {
  static const LoadedModule module = load_module();
  return module;
}

}  // namespace

int cuda_device_count() {
  const LoadedModule& module = cuda_module();
  return module.entry != nullptr ? module.entry->device_count() : 0;
}

Backend& cuda_backend(int index) {
  const LoadedModule& module = cuda_module();
  if (module.entry == nullptr)
    throw DeviceError(fmt::format("device cuda:{} was requested, but {}; or use Device::cpu()", index, module.why_not));
  return module.entry->backend(index);
}

}  // namespace tapegrad::kernels
