// The CUDA backend's host side: the device registry, the module's entry point, device memory
// and host copies. Each op family's host code sits beside its kernels: elementwise.cpp with
// elementwise.cu, reduce, conv, pool, indexing and optim_update likewise, gemm.cpp on cuBLAS.
#include <tapegrad/kernels/cuda/cuda_backend.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <mutex>

#include <tapegrad/kernels/cuda/cuda_check.h>
#include <tapegrad/kernels/cuda/module.h>

namespace tapegrad::kernels {
namespace {

struct DeviceCount {
  int count = 0;
  std::string why_none;  // the runtime's explanation when there is no usable device
};

const DeviceCount& probe_devices() {
  static const DeviceCount probe = [] {
    DeviceCount result;
    const cudaError_t status = cudaGetDeviceCount(&result.count);
    if (status != cudaSuccess) {
      result.count = 0;
      result.why_none = fmt::format("{}: {}", cudaGetErrorName(status), cudaGetErrorString(status));
      cudaGetLastError();  // not sticky; clear it so later calls start clean
    } else if (result.count == 0) {
      result.why_none = "the CUDA runtime reports no devices";
    }
    return result;
  }();
  return probe;
}

int device_count() { return probe_devices().count; }

Backend& backend_of_device(int index) {
  // One backend per device, created on first use. They are never destroyed: tensors freed
  // during static destruction at exit still return their memory to them.
  static std::array<std::atomic<cuda::CudaBackend*>, 64> backends{};
  static std::mutex creation;
  if (index >= 0 && index < static_cast<int>(backends.size())) {
    if (cuda::CudaBackend* existing = backends[index].load(std::memory_order_acquire)) return *existing;
  }
  const DeviceCount& devices = probe_devices();
  if (devices.count == 0)
    throw DeviceError(fmt::format("device cuda:{} was requested, but no CUDA device is usable on this machine ({}); "
                                  "use Device::cpu(), or check tapegrad::cuda::is_available() first",
                                  index, devices.why_none));
  if (index < 0 || index >= devices.count || index >= static_cast<int>(backends.size()))
    throw DeviceError(fmt::format("device cuda:{} was requested, but this machine has {} CUDA device(s), "
                                  "cuda:0 to cuda:{}",
                                  index, devices.count, devices.count - 1));
  std::lock_guard lock(creation);
  if (backends[index].load(std::memory_order_acquire) == nullptr)
    backends[index].store(new cuda::CudaBackend(index), std::memory_order_release);
  return *backends[index].load(std::memory_order_acquire);
}

}  // namespace

namespace cuda {

void check_launch(const char* kernel) {
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess)
    throw DeviceError(fmt::format("CUDA kernel {} failed to launch: {} ({})", kernel, cudaGetErrorName(status),
                                  cudaGetErrorString(status)));
}

namespace {

thread_local int current_device = -1;

RawMemory device_memory(int index) {
  RawMemory raw;
  raw.device_name = fmt::format("cuda:{}", index);
  raw.allocate = [](std::size_t nbytes) -> void* {
    void* data = nullptr;
    const cudaError_t status = cudaMalloc(&data, nbytes);
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // out of memory is not sticky: clear it and let the allocator retry
      return nullptr;
    }
    TAPEGRAD_CUDA_CHECK(status);
    return data;
  };
  raw.release = [](void* data) { TAPEGRAD_CUDA_CHECK(cudaFree(data)); };
  raw.free_bytes = [] {
    std::size_t free = 0, total = 0;
    return cudaMemGetInfo(&free, &total) == cudaSuccess ? free : std::size_t{0};
  };
  return raw;
}

}  // namespace

CudaBackend::CudaBackend(int index) : index_(index), allocator_(device_memory(index)) {
  activate();
  TAPEGRAD_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  TAPEGRAD_CUBLAS_CHECK(cublasCreate(&cublas_));
  TAPEGRAD_CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
  TAPEGRAD_CUDA_CHECK(cudaMalloc(&status_slots_, 3 * sizeof(std::int64_t)));
  TAPEGRAD_CUDA_CHECK(cudaMemsetAsync(status_slots_, 0, 3 * sizeof(std::int64_t), stream_));
  for (int i = 0; i < 2; ++i) {
    TAPEGRAD_CUDA_CHECK(cudaMallocHost(&staging_[i], kStagingBytes));
    TAPEGRAD_CUDA_CHECK(cudaEventCreateWithFlags(&staging_free_[i], cudaEventDisableTiming));
  }
}

void CudaBackend::activate() const {
  if (current_device == index_) return;
  TAPEGRAD_CUDA_CHECK(cudaSetDevice(index_));
  current_device = index_;
}

// ---- memory and copies ----

void* CudaBackend::allocate(std::size_t nbytes) {
  activate();
  return allocator_.allocate(nbytes);
}

void CudaBackend::deallocate(void* data, std::size_t) { allocator_.deallocate(data); }

void CudaBackend::empty_cache() {
  activate();
  synchronize();  // cached blocks may still be read by queued kernels
  allocator_.empty_cache();
}

void CudaBackend::synchronize() {
  activate();
  TAPEGRAD_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaBackend::copy_from_host(void* device_dst, const void* host_src, std::size_t nbytes) {
  activate();
  std::lock_guard lock(staging_mutex_);
  for (std::size_t done = 0; done < nbytes;) {
    const std::size_t chunk = std::min(nbytes - done, kStagingBytes);
    const int buffer = next_staging_;
    next_staging_ = 1 - next_staging_;
    TAPEGRAD_CUDA_CHECK(cudaEventSynchronize(staging_free_[buffer]));  // its previous transfer is done
    std::memcpy(staging_[buffer], static_cast<const char*>(host_src) + done, chunk);
    TAPEGRAD_CUDA_CHECK(cudaMemcpyAsync(static_cast<char*>(device_dst) + done, staging_[buffer], chunk,
                                        cudaMemcpyHostToDevice, stream_));
    TAPEGRAD_CUDA_CHECK(cudaEventRecord(staging_free_[buffer], stream_));
    done += chunk;
  }
}

void CudaBackend::copy_to_host(void* host_dst, const void* device_src, std::size_t nbytes) {
  activate();
  TAPEGRAD_CUDA_CHECK(cudaMemcpyAsync(host_dst, device_src, nbytes, cudaMemcpyDeviceToHost, stream_));
  TAPEGRAD_CUDA_CHECK(cudaStreamSynchronize(stream_));  // the caller reads host_dst next
}

}  // namespace cuda
}  // namespace tapegrad::kernels

extern "C" const tapegrad::kernels::CudaModuleEntry* tapegrad_cuda_module_entry() {
  static const tapegrad::kernels::CudaModuleEntry entry{tapegrad::kernels::CudaModuleEntry::kVersion,
                                                       TAPEGRAD_BACKEND_FINGERPRINT,
                                                       tapegrad::kernels::device_count,
                                                       tapegrad::kernels::backend_of_device};
  return &entry;
}
