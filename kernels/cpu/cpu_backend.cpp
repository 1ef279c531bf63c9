// CPU memory, host copies, the thread setting, and the device -> backend registry.
#include <tapegrad/kernels/cpu/cpu_backend.h>

#include <sched.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

#include <tapegrad/kernels/cpu/blas.h>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace tapegrad::kernels {

namespace {

constexpr std::align_val_t kCpuAlignment{64};

int available_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return 1;
}

int initial_threads() {
  if (const char* env = std::getenv("TAPEGRAD_NUM_THREADS")) {
    const int requested = std::atoi(env);
    if (requested > 0) return requested;
  }
  return available_cores();
}

std::atomic<int>& thread_setting() {
  static std::atomic<int> threads{initial_threads()};
  return threads;
}

thread_local bool serial_thread = false;

}  // namespace

int num_threads() { return serial_thread ? 1 : thread_setting().load(std::memory_order_relaxed); }

SerialKernelsGuard::SerialKernelsGuard() : previous_(serial_thread) { serial_thread = true; }
SerialKernelsGuard::~SerialKernelsGuard() { serial_thread = previous_; }

void set_num_threads(int threads) {
  TAPEGRAD_CHECK(threads >= 1, "set_num_threads: expected at least 1 thread, got {}", threads);
  thread_setting().store(threads, std::memory_order_relaxed);
  cpu::blas::set_num_threads(threads);
}

Backend& backend_for(Device device) {
  static cpu::CpuBackend cpu_backend;
  if (device.is_cpu()) return cpu_backend;
  return cuda_backend(device.index);
}

namespace cpu {

void* CpuBackend::allocate(std::size_t nbytes) { return ::operator new(nbytes, kCpuAlignment); }

void CpuBackend::deallocate(void* data, std::size_t) { ::operator delete(data, kCpuAlignment); }

void CpuBackend::copy_from_host(void* device_dst, const void* host_src, std::size_t nbytes) {
  std::memcpy(device_dst, host_src, nbytes);
}

void CpuBackend::copy_to_host(void* host_dst, const void* device_src, std::size_t nbytes) {
  std::memcpy(host_dst, device_src, nbytes);
}

}  // namespace cpu
}  // namespace tapegrad::kernels
