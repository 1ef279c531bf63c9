// CPU memory, host copies, the thread setting, and the device -> backend registry.
#include <tapegrad/kernels/cpu/cpu_backend.h>
#include <tapegrad/kernels/cpu_memory.h>

#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

#include <fmt/format.h>

namespace tapegrad {

namespace {

// Caps a request at the usable cores; `source` names where it came from, for the notice.
int capped_threads(int requested, const char* source) {
  const int cores = usable_cores();
  if (requested <= cores) return requested;
  fmt::print(stderr, "tapegrad: {} asks for {} threads, but this process may use {} cores; using {}\n", source,
             requested, cores, cores);
  return cores;
}

int initial_threads() {
  if (const char* env = std::getenv("TAPEGRAD_NUM_THREADS")) {
    const int requested = std::atoi(env);
    if (requested > 0) return capped_threads(requested, "TAPEGRAD_NUM_THREADS");
  }
  return usable_cores();
}

std::atomic<int>& thread_setting() {
  static std::atomic<int> threads{initial_threads()};
  return threads;
}

thread_local bool serial_thread = false;

}  // namespace

int usable_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return 1;
}

int num_threads() { return serial_thread ? 1 : thread_setting().load(std::memory_order_relaxed); }

void set_num_threads(int threads) {
  TAPEGRAD_CHECK(threads >= 1, "set_num_threads: expected at least 1 thread, got {}", threads);
  thread_setting().store(capped_threads(threads, "set_num_threads"), std::memory_order_relaxed);
}

}  // namespace tapegrad

namespace tapegrad::kernels {

namespace {

constexpr std::size_t kCpuAlignment = 64;  // a cache line, and an AVX-512 vector

}  // namespace

SerialKernelsGuard::SerialKernelsGuard() : previous_(serial_thread) { serial_thread = true; }
SerialKernelsGuard::~SerialKernelsGuard() { serial_thread = previous_; }

Backend& backend_for(Device device) {
  static cpu::CpuBackend cpu_backend;
  if (device.is_cpu()) return cpu_backend;
  return cuda_backend(device.index);
}

namespace cpu {

namespace {

std::size_t available_system_memory() {
  const long pages = sysconf(_SC_AVPHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
  return pages > 0 && page_size > 0 ? static_cast<std::size_t>(pages) * static_cast<std::size_t>(page_size) : 0;
}

// Size classes are multiples of 512 bytes, so every block is a multiple of the alignment.
RawMemory system_memory() {
  return {"cpu", [](std::size_t nbytes) { return std::aligned_alloc(kCpuAlignment, nbytes); },
          [](void* block) { std::free(block); }, available_system_memory};
}

}  // namespace

CpuBackend::CpuBackend() : allocator_(system_memory()) {}

void* CpuBackend::allocate(std::size_t nbytes) { return allocator_.allocate(nbytes); }

void CpuBackend::deallocate(void* data, std::size_t) { allocator_.deallocate(data); }

void CpuBackend::copy_from_host(void* device_dst, const void* host_src, std::size_t nbytes) {
  std::memcpy(device_dst, host_src, nbytes);
}

void CpuBackend::copy_to_host(void* host_dst, const void* device_src, std::size_t nbytes) {
  std::memcpy(host_dst, device_src, nbytes);
}

}  // namespace cpu
}  // namespace tapegrad::kernels

namespace tapegrad::cpu {

kernels::MemoryStats memory_stats() { return kernels::backend_for(Device::cpu()).memory_stats(); }
void reset_peak_memory_stats() { kernels::backend_for(Device::cpu()).reset_peak_memory_stats(); }
void empty_cache() { kernels::backend_for(Device::cpu()).empty_cache(); }

}  // namespace tapegrad::cpu
