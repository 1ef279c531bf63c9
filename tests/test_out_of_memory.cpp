// Out of memory, on the CPU and on the GPU: a request no device can hold, a shape whose byte
// count overflows, and a plausible request beyond what is free all give a tapegrad::Error that
// says what was requested, what tapegrad holds and what to do; the cache is released and the
// request retried first; and the process goes on working afterwards.
// (Under AddressSanitizer, tests/CMakeLists.txt sets allocator_may_return_null=1, so that a
// refused allocation returns null, as without it, instead of aborting.)
#include <cstdint>
#include <string>

#include <unistd.h>

#include <gtest/gtest.h>

#include "test_util.h"

namespace tapegrad {
namespace {

using namespace testing;  // the shared test vocabulary of test_util.h

// A small computation, to show the process is still usable after a failure.
void expect_small_ops_work(Device device) {
  const Tensor x = ones({1000}, TensorOptions(kFloat32).with_device(device));
  EXPECT_EQ(sum(x * 2.0).to(Device::cpu()).item(), 2000.0);
}

// Twice the machine's physical memory: more than a system that does not overcommit hands out
// in one piece, yet a size a user might ask for.
std::int64_t twice_physical_memory_bytes() {
  return 2 * static_cast<std::int64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<std::int64_t>(sysconf(_SC_PAGESIZE));
}

TEST(CpuOutOfMemory, ARequestNoMachineCanHoldIsAClearErrorAndTheProcessStaysUsable) {
  expect_error([] { empty({std::int64_t{1} << 50}); },  // 4 PiB of float32
               {"out of memory on cpu: requested 4503599627370496 bytes (4.0 PiB)", "allocated in tensors",
                "reserved", "free", "Reduce the batch size"});
  expect_small_ops_work(Device::cpu());
}

TEST(CpuOutOfMemory, ShapesWhoseByteCountOverflowAreAClearError) {
  // 2^62 float32 elements are 2^64 bytes: the product wraps to 0 without the check.
  expect_error([] { zeros({std::int64_t{1} << 62}); },
               {"out of memory", "[4611686018427387904]", "4611686018427387904 x 4 bytes", "float32",
                "reduce the batch size"});
  expect_error([] { zeros({std::int64_t{1} << 30, std::int64_t{1} << 30, 4}, TensorOptions(kFloat64)); },
               {"out of memory", "x 8 bytes"});
  expect_error([] { empty({std::int64_t{1} << 40, std::int64_t{1} << 40}); }, {"more elements than a tensor can index"});
  expect_small_ops_work(Device::cpu());
}

TEST(CpuOutOfMemory, ARequestBeyondFreeMemoryReleasesTheCacheRetriesThenThrows) {
  cpu::empty_cache();
  { Tensor cached = empty({std::int64_t{4} << 20}); }  // 16 MiB, kept in the cache when freed
  ASSERT_GT(cpu::memory_stats().reserved, cpu::memory_stats().allocated);
  const std::int64_t bytes = twice_physical_memory_bytes();
  try {
    Tensor too_big = empty({bytes / 4});
    GTEST_SKIP() << "this system handed out " << bytes << " bytes (it overcommits memory)";
  } catch (const Error& error) {
    const std::string message = error.what();
    for (const char* fragment : {"out of memory on cpu: requested", "GiB", "the cache was released and the request "
                                 "retried", "free", "Reduce the batch size"})
      EXPECT_NE(message.find(fragment), std::string::npos) << message << "\nmissing: " << fragment;
  }
  EXPECT_EQ(cpu::memory_stats().reserved, cpu::memory_stats().allocated) << "the cache was released for the retry";
  expect_small_ops_work(Device::cpu());
  Tensor reused = empty({std::int64_t{4} << 20});  // and large tensors come from the system again
  EXPECT_EQ(reused.numel(), std::int64_t{4} << 20);
}

TEST(CudaOutOfMemory, MoreThanTheDeviceHoldsIsAClearErrorAndTheDeviceStaysUsable) {
  if (!cuda::is_available()) GTEST_SKIP() << "no usable CUDA device: " << cuda::unavailable_reason();
  const TensorOptions on_gpu = TensorOptions(kFloat32).with_device(Device::cuda());
  cuda::empty_cache();
  { Tensor cached = empty({std::int64_t{4} << 20}, on_gpu); }  // 16 MiB, cached when freed
  // 1 TiB: more than any GPU holds, so cudaMalloc fails, the cache is released and the request retried.
  expect_error([&] { empty({std::int64_t{1} << 38}, on_gpu); },
               {"out of memory on cuda:0: requested 1099511627776 bytes (1.0 TiB)", "allocated in tensors",
                "the cache was released and the request retried", "free", "Reduce the batch size"});
  EXPECT_EQ(cuda::memory_stats().reserved, cuda::memory_stats().allocated);
  expect_error([&] { empty({std::int64_t{1} << 50}, on_gpu); }, {"out of memory on cuda:0"});
  expect_small_ops_work(Device::cuda());
  Tensor x = ones({std::int64_t{4} << 20}, on_gpu);  // large blocks come from the device again
  EXPECT_EQ(sum(x).to(Device::cpu()).item(), static_cast<double>(std::int64_t{4} << 20));
}

}  // namespace
}  // namespace tapegrad
