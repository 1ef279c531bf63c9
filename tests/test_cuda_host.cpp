// The CUDA backend's host-side arithmetic and bookkeeping, checked on the CPU: kernel launch
// geometry and the grid-stride loop, the flat-index-to-offset math of strided layouts, the
// caching allocator over a simulated device, the per-element functors, random draws, dtype
// conversion and Adam step that the kernels share with the CPU loops, and what a machine
// without a GPU answers. None of it needs a GPU, so machines without one still check what the
// kernels compute; the kernels themselves are compared with the CPU in test_devices.cpp.
#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <gtest/gtest.h>

#include <tapegrad/kernels/caching_allocator.h>
#include <tapegrad/kernels/coalesce.h>
#include <tapegrad/kernels/convert.h>
#include <tapegrad/kernels/cuda/cuda.h>
#include <tapegrad/kernels/cuda/launch_geometry.h>
#include <tapegrad/kernels/elementwise_ops.h>
#include <tapegrad/kernels/optim_updates.h>
#include <tapegrad/kernels/philox.h>
#include <tapegrad/kernels/strided_layout.h>

#include "test_util.h"

namespace tapegrad {
namespace {

// Named one by one: `using namespace kernels` would make `cuda` ambiguous between
// tapegrad::cuda (the user's API) and kernels::cuda (the launch arithmetic).
using kernels::AdamStep;
using AdamUpdate = kernels::AdamStep::Update<double>;
using kernels::StateBuffers;
using kernels::UnaryScalars;
using kernels::all_contiguous;
using kernels::Binary;
using kernels::BinaryOp;
using kernels::CachingAllocator;
using kernels::coalesce;
using kernels::convert_element;
using kernels::Distribution;
using kernels::MemoryStats;
using kernels::Philox4x32;
using kernels::philox4x32;
using kernels::random_element;
using kernels::RawMemory;
using kernels::StridedLayout;
using kernels::Unary;
using kernels::UnaryOp;
using kernels::cuda::elements_of_thread;
using kernels::cuda::first_element;
using kernels::cuda::kMaxBlocks;
using kernels::cuda::kThreadsPerBlock;
using kernels::cuda::launch_geometry;
using kernels::cuda::LaunchGeometry;

// ---- launch geometry ----

TEST(LaunchGeometry, OneThreadPerElementUpToTheBlockLimitAndNeverAnEmptyGrid) {
  // A grid of 0 blocks is a launch error, so even an empty range gets one block.
  EXPECT_EQ(launch_geometry(0).blocks, 1);
  EXPECT_EQ(launch_geometry(1).blocks, 1);
  EXPECT_EQ(launch_geometry(255).blocks, 1);
  EXPECT_EQ(launch_geometry(256).blocks, 1);
  EXPECT_EQ(launch_geometry(257).blocks, 2);
  EXPECT_EQ(launch_geometry(kMaxBlocks * kThreadsPerBlock).blocks, kMaxBlocks);
  EXPECT_EQ(launch_geometry(kMaxBlocks * kThreadsPerBlock + 1).blocks, kMaxBlocks);
  EXPECT_EQ(launch_geometry(std::int64_t{1} << 40).blocks, kMaxBlocks);
  EXPECT_EQ(launch_geometry(-5).blocks, 1);
  EXPECT_EQ(launch_geometry(1000).threads, kThreadsPerBlock);
  EXPECT_EQ(launch_geometry(1000).total_threads(), 4 * kThreadsPerBlock);
  // gridDim.x takes at most 2^31 - 1 blocks.
  EXPECT_LE(kMaxBlocks, std::numeric_limits<std::int32_t>::max());
}

// Runs the grid-stride loop of every thread of g over [0, n) as the kernels do, and checks
// each element is visited exactly once and each thread's count is what elements_of_thread says.
void expect_grid_covers(const LaunchGeometry& g, std::int64_t n) {
  SCOPED_TRACE(::testing::Message() << "n = " << n << ", " << g.blocks << " blocks of " << g.threads);
  std::vector<int> visits(static_cast<std::size_t>(n), 0);
  for (std::int64_t block = 0; block < g.blocks; ++block)
    for (int thread = 0; thread < g.threads; ++thread) {
      std::int64_t count = 0;
      for (std::int64_t i = first_element(block, thread, g.threads); i < n; i += g.total_threads(), ++count) {
        ASSERT_GE(i, 0) << "block " << block << ", thread " << thread;
        ++visits[static_cast<std::size_t>(i)];
      }
      ASSERT_EQ(count, elements_of_thread(g, block, thread, n)) << "block " << block << ", thread " << thread;
    }
  for (std::int64_t i = 0; i < n; ++i) ASSERT_EQ(visits[static_cast<std::size_t>(i)], 1) << "element " << i;
}

TEST(LaunchGeometry, GridStrideLoopVisitsEveryElementOnce) {
  for (std::int64_t n : {0, 1, 2, 31, 255, 256, 257, 511, 1023, 1024, 1025, 2047, 2999, 3000}) {
    expect_grid_covers(launch_geometry(n), n);
    // Few blocks: every thread loops several times, as on tensors past kMaxBlocks * 256.
    expect_grid_covers(launch_geometry(n, kThreadsPerBlock, 4), n);
    expect_grid_covers(launch_geometry(n, 32, 3), n);
  }
}

// Past 2^31 elements (and 2^32, the range of the unsigned blockIdx * blockDim product) the
// per-thread counts still add up to n, split evenly, and the last element is reached.
void expect_huge_range_covered(std::int64_t n) {
  SCOPED_TRACE(::testing::Message() << "n = " << n);
  const LaunchGeometry g = launch_geometry(n);
  ASSERT_EQ(g.blocks, kMaxBlocks);
  const std::int64_t total = g.total_threads();
  ASSERT_EQ(total, kMaxBlocks * kThreadsPerBlock);
  std::int64_t sum = 0, fewest = std::numeric_limits<std::int64_t>::max(), most = 0;
  for (std::int64_t block = 0; block < g.blocks; ++block)
    for (int thread = 0; thread < g.threads; ++thread) {
      const std::int64_t count = elements_of_thread(g, block, thread, n);
      sum += count;
      fewest = std::min(fewest, count);
      most = std::max(most, count);
    }
  EXPECT_EQ(sum, n);
  EXPECT_LE(most - fewest, 1);

  // The thread that owns n - 1 ends its loop exactly there.
  const std::int64_t owner = (n - 1) % total;
  const std::int64_t block = owner / g.threads;
  const int thread = static_cast<int>(owner % g.threads);
  const std::int64_t first = first_element(block, thread, g.threads);
  EXPECT_EQ(first, owner);
  const std::int64_t count = elements_of_thread(g, block, thread, n);
  ASSERT_GT(count, 0);
  EXPECT_EQ(first + (count - 1) * total, n - 1);

  // The last thread of the grid starts below total (no wrap-around in block * threads), and its
  // loop ends inside [0, n) with one more step past it.
  const std::int64_t last_first = first_element(g.blocks - 1, g.threads - 1, g.threads);
  EXPECT_EQ(last_first, total - 1);
  const std::int64_t last_count = elements_of_thread(g, g.blocks - 1, g.threads - 1, n);
  const std::int64_t last_visited = last_first + (last_count - 1) * total;
  EXPECT_LT(last_visited, n);
  EXPECT_GE(last_visited + total, n);
}

TEST(LaunchGeometry, RangesPast32BitIndicesAreCoveredWithout64BitOverflow) {
  expect_huge_range_covered(3'000'000'000);
  expect_huge_range_covered((std::int64_t{1} << 40) + 7);
  // A grid of more than 2^31 threads (1024-thread blocks, 2^23 of them): the first elements of
  // its later threads pass 2^31 themselves, so block * threads must be formed in 64 bits.
  const LaunchGeometry wide = launch_geometry(std::int64_t{1} << 40, 1024, std::int64_t{1} << 23);
  ASSERT_EQ(wide.blocks, std::int64_t{1} << 23);
  EXPECT_EQ(wide.total_threads(), std::int64_t{1} << 33);
  EXPECT_EQ(first_element(wide.blocks - 1, 1023, 1024), (std::int64_t{1} << 33) - 1);
  EXPECT_EQ(elements_of_thread(wide, wide.blocks - 1, 1023, std::int64_t{1} << 40), 128);
}

// ---- strided layouts ----

// The strides of one operand of `shape` as the library makes them: a permutation of the dims
// in memory (transposes), some dims sliced with step 2, some broadcast (stride 0), or plainly
// contiguous.
Strides random_strides(const Shape& shape, std::mt19937& rng) {
  const int ndim = shape.size();
  Strides strides = Dims::filled(ndim, 0);
  if (std::uniform_int_distribution<int>(0, 3)(rng) == 0) return contiguous_strides(shape);
  std::vector<int> order(static_cast<std::size_t>(ndim));  // memory order, outermost first
  std::iota(order.begin(), order.end(), 0);
  if (std::uniform_int_distribution<int>(0, 1)(rng) == 1) std::shuffle(order.begin(), order.end(), rng);
  std::int64_t step = 1;
  for (int j = ndim - 1; j >= 0; --j) {
    const int d = order[static_cast<std::size_t>(j)];
    const std::int64_t slice_step = std::uniform_int_distribution<int>(0, 3)(rng) == 0 ? 2 : 1;
    strides[d] = step * slice_step;
    step *= shape[d] * slice_step;
  }
  for (int d = 0; d < ndim; ++d)
    if (std::uniform_int_distribution<int>(0, 4)(rng) == 0) strides[d] = 0;
  return strides;
}

// Per operand, the offset of each row-major element of `shape`, walked coordinate by coordinate.
std::vector<std::vector<std::int64_t>> brute_force_offsets(const Shape& shape, const std::vector<Strides>& strides) {
  const std::int64_t n = numel_of(shape);
  std::vector<std::vector<std::int64_t>> offsets(strides.size());
  std::vector<std::int64_t> coordinate(static_cast<std::size_t>(shape.size()), 0);
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::size_t k = 0; k < strides.size(); ++k) {
      std::int64_t offset = 0;
      for (int d = 0; d < shape.size(); ++d) offset += coordinate[static_cast<std::size_t>(d)] * strides[k][d];
      offsets[k].push_back(offset);
    }
    for (int d = shape.size() - 1; d >= 0; --d) {  // the next row-major coordinate
      if (++coordinate[static_cast<std::size_t>(d)] < shape[d]) break;
      coordinate[static_cast<std::size_t>(d)] = 0;
    }
  }
  return offsets;
}

template <int N>
StridedLayout<N> coalesce_all(const Shape& shape, const std::vector<Strides>& strides) {
  std::array<const Strides*, N> pointers;
  for (int k = 0; k < N; ++k) pointers[static_cast<std::size_t>(k)] = &strides[static_cast<std::size_t>(k)];
  return coalesce<N>(shape, pointers);
}

template <int N>
void expect_layout_matches_brute_force(const Shape& shape, const std::vector<Strides>& strides) {
  const StridedLayout<N> layout = coalesce_all<N>(shape, strides);
  ASSERT_GE(layout.ndim, 1);
  ASSERT_LE(layout.ndim, std::max(shape.size(), 1));
  std::int64_t layout_numel = 1;
  for (int d = 0; d < layout.ndim; ++d) layout_numel *= layout.sizes[d];
  ASSERT_EQ(layout_numel, numel_of(shape));
  const auto expected = brute_force_offsets(shape, strides);
  for (std::int64_t i = 0; i < numel_of(shape); ++i) {
    std::int64_t offsets[N];
    layout.offsets(i, offsets);
    for (int k = 0; k < N; ++k) {
      const std::int64_t want = expected[static_cast<std::size_t>(k)][static_cast<std::size_t>(i)];
      ASSERT_EQ(offsets[k], want) << "offsets(), operand " << k << ", element " << i;
      ASSERT_EQ(layout.offset(k, i), want) << "offset(), operand " << k << ", element " << i;
    }
  }
}

std::string strides_str(const std::vector<Strides>& strides) {
  std::string out;
  for (const Strides& s : strides) out += shape_str(s) + " ";
  return out;
}

template <int N>
void expect_random_layouts_match(std::uint32_t seed) {
  std::mt19937 rng(seed);
  for (int trial = 0; trial < 300; ++trial) {
    const int ndim = std::uniform_int_distribution<int>(1, 5)(rng);
    Shape shape;
    for (int d = 0; d < ndim; ++d) shape.push_back(std::uniform_int_distribution<int>(1, 5)(rng));
    std::vector<Strides> strides;
    for (int k = 0; k < N; ++k) strides.push_back(random_strides(shape, rng));
    SCOPED_TRACE("shape " + shape_str(shape) + ", strides " + strides_str(strides));
    expect_layout_matches_brute_force<N>(shape, strides);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(StridedLayout, OffsetsMatchARowMajorWalkOfTheOriginalStrides) {
  expect_random_layouts_match<1>(1);
  expect_random_layouts_match<2>(2);
  expect_random_layouts_match<3>(3);
}

TEST(StridedLayout, HandPickedLayoutsMatchTheRowMajorWalk) {
  // A transpose against a contiguous operand, broadcast operands, and every other row of a buffer.
  expect_layout_matches_brute_force<2>({3, 4}, {Strides{1, 3}, Strides{4, 1}});
  expect_layout_matches_brute_force<3>({2, 3, 4}, {Strides{12, 4, 1}, Strides{0, 0, 1}, Strides{0, 1, 0}});
  expect_layout_matches_brute_force<2>({4, 2}, {Strides{4, 1}, Strides{2, 1}});
  expect_layout_matches_brute_force<1>({2, 1, 3, 1}, {Strides{6, 99, 2, 99}});  // size-1 dims' strides are unused
}

TEST(StridedLayout, ContiguousOperandsCoalesceToOneDim) {
  const Shape shape{2, 3, 1, 4, 5};
  const Strides contiguous = contiguous_strides(shape);
  const auto layout = coalesce_all<2>(shape, {contiguous, contiguous});
  EXPECT_EQ(layout.ndim, 1);
  EXPECT_EQ(layout.sizes[0], 120);
  EXPECT_EQ(layout.strides[0][0], 1);
  EXPECT_EQ(layout.strides[1][0], 1);
  EXPECT_TRUE((all_contiguous<2>(shape, {&contiguous, &contiguous})));
  // Only the dims contiguous in every operand merge: the transposed last two dims stay apart.
  const Strides transposed{60, 20, 20, 1, 4};
  const auto mixed = coalesce_all<2>(shape, {contiguous, transposed});
  EXPECT_EQ(mixed.ndim, 3);
  EXPECT_FALSE((all_contiguous<2>(shape, {&contiguous, &transposed})));
}

TEST(StridedLayout, ASingleElementIsOneDimOfSizeOneAtOffsetZero) {
  for (const Shape& shape : {Shape{}, Shape{1}, Shape{1, 1, 1}}) {
    SCOPED_TRACE(shape_str(shape));
    const auto layout = coalesce_all<2>(shape, {Strides::filled(shape.size(), 7), contiguous_strides(shape)});
    EXPECT_EQ(layout.ndim, 1);
    EXPECT_EQ(layout.sizes[0], 1);
    std::int64_t offsets[2] = {-1, -1};
    layout.offsets(0, offsets);
    EXPECT_EQ(offsets[0], 0);
    EXPECT_EQ(offsets[1], 0);
    EXPECT_EQ(layout.offset(0, 0), 0);
  }
}

// ---- the caching allocator ----

// A device simulated with malloc/free: a byte budget it refuses to exceed (out of memory), and
// a record of the raw calls the allocator makes. It outlives the allocator, whose destructor
// still releases blocks.
class FakeDevice {
 public:
  explicit FakeDevice(std::size_t budget) : budget_(budget) {}
  ~FakeDevice() {
    for (const auto& [block, size] : live_) std::free(block);
  }

  RawMemory raw(std::string name = "fake:3") {
    return {std::move(name), [this](std::size_t n) { return allocate(n); }, [this](void* p) { release(p); },
            [this] { return free_bytes(); }};
  }

  std::int64_t allocations() const {
    std::lock_guard lock(mutex_);
    return allocations_;
  }
  std::int64_t failures() const {
    std::lock_guard lock(mutex_);
    return failures_;
  }
  std::int64_t releases() const {
    std::lock_guard lock(mutex_);
    return releases_;
  }
  std::size_t used() const {
    std::lock_guard lock(mutex_);
    return used_;
  }
  std::vector<void*> released() const {
    std::lock_guard lock(mutex_);
    return released_;
  }
  bool holds(void* block) const {
    std::lock_guard lock(mutex_);
    return live_.count(block) == 1;
  }
  std::size_t free_bytes() const {
    std::lock_guard lock(mutex_);
    return budget_ - used_;
  }

 private:
  void* allocate(std::size_t n) {
    std::lock_guard lock(mutex_);
    if (used_ + n > budget_) {
      ++failures_;
      return nullptr;
    }
    void* block = std::malloc(n);
    live_.emplace(block, n);
    used_ += n;
    ++allocations_;
    return block;
  }
  void release(void* block) {
    std::lock_guard lock(mutex_);
    const auto it = live_.find(block);
    ASSERT_NE(it, live_.end()) << "released a block the device did not hand out";
    used_ -= it->second;
    live_.erase(it);
    std::free(block);
    ++releases_;
    released_.push_back(block);
  }

  mutable std::mutex mutex_;
  std::size_t budget_, used_ = 0;
  std::int64_t allocations_ = 0, failures_ = 0, releases_ = 0;
  std::unordered_map<void*, std::size_t> live_;
  std::vector<void*> released_;
};

constexpr std::size_t kMiB = std::size_t{1} << 20;

TEST(CachingAllocator, SizeClassesRoundTo512BytesUpTo1MiBAnd2MiBAbove) {
  EXPECT_EQ(CachingAllocator::size_class(0), 512u);  // an empty tensor still gets a distinct block
  EXPECT_EQ(CachingAllocator::size_class(1), 512u);
  EXPECT_EQ(CachingAllocator::size_class(512), 512u);
  EXPECT_EQ(CachingAllocator::size_class(513), 1024u);
  EXPECT_EQ(CachingAllocator::size_class(kMiB - 1), kMiB);
  EXPECT_EQ(CachingAllocator::size_class(kMiB), kMiB);
  EXPECT_EQ(CachingAllocator::size_class(kMiB + 1), 2 * kMiB);
  EXPECT_EQ(CachingAllocator::size_class(2 * kMiB + 1), 4 * kMiB);
  EXPECT_EQ(CachingAllocator::size_class(5 * kMiB), 6 * kMiB);
}

TEST(CachingAllocator, ARequestTooLargeToRoundUpIsAnErrorNotATinyBlock) {
  FakeDevice device(64 * kMiB);
  CachingAllocator allocator(device.raw());
  const std::size_t huge = std::numeric_limits<std::size_t>::max() - 7;
  EXPECT_THROW(CachingAllocator::size_class(huge), Error);
  EXPECT_THROW(allocator.allocate(huge), Error);
  EXPECT_EQ(allocator.stats().device_allocations, 0);
  EXPECT_EQ(allocator.stats().allocated, 0u);
}

TEST(CachingAllocator, AFreedBlockServesTheNextRequestOfItsClass) {
  FakeDevice device(64 * kMiB);
  CachingAllocator allocator(device.raw());
  void* first = allocator.allocate(1000);
  ASSERT_NE(first, nullptr);
  allocator.deallocate(first);
  void* again = allocator.allocate(700);  // 1024 bytes, as 1000 was
  EXPECT_EQ(again, first);
  EXPECT_EQ(allocator.stats().cache_hits, 1);
  EXPECT_EQ(allocator.stats().device_allocations, 1);
  EXPECT_EQ(device.allocations(), 1);
  // Another class is not served from that block.
  void* other = allocator.allocate(2000);
  EXPECT_NE(other, first);
  EXPECT_EQ(device.allocations(), 2);
  allocator.deallocate(again);
  allocator.deallocate(other);
  allocator.deallocate(nullptr);  // a no-op, as free(nullptr)
  EXPECT_EQ(allocator.stats().allocated, 0u);
}

TEST(CachingAllocator, StatsFollowAllocationsFreesAndPeakResets) {
  FakeDevice device(64 * kMiB);
  CachingAllocator allocator(device.raw());
  void* a = allocator.allocate(100);   // 512
  void* b = allocator.allocate(3000);  // 3072
  MemoryStats s = allocator.stats();
  EXPECT_EQ(s.allocated, 3584u);
  EXPECT_EQ(s.reserved, 3584u);
  EXPECT_EQ(s.peak_allocated, 3584u);
  EXPECT_EQ(s.device_allocations, 2);
  EXPECT_EQ(s.cache_hits, 0);
  EXPECT_EQ(device.used(), 3584u);

  allocator.deallocate(b);  // cached: still reserved
  s = allocator.stats();
  EXPECT_EQ(s.allocated, 512u);
  EXPECT_EQ(s.reserved, 3584u);
  EXPECT_EQ(s.peak_allocated, 3584u);

  allocator.reset_peak();
  EXPECT_EQ(allocator.stats().peak_allocated, 512u);

  void* c = allocator.allocate(1000);  // 1024, a new class
  s = allocator.stats();
  EXPECT_EQ(s.allocated, 1536u);
  EXPECT_EQ(s.reserved, 4608u);
  EXPECT_EQ(s.peak_allocated, 1536u);
  EXPECT_EQ(s.device_allocations, 3);
  EXPECT_EQ(device.used(), s.reserved);
  allocator.deallocate(a);
  allocator.deallocate(c);
}

TEST(CachingAllocator, EmptyCacheReturnsOnlyTheFreeBlocks) {
  FakeDevice device(64 * kMiB);
  CachingAllocator allocator(device.raw());
  void* in_use = allocator.allocate(512);
  void* b = allocator.allocate(1024);
  void* c = allocator.allocate(2 * kMiB);
  allocator.deallocate(b);
  allocator.deallocate(c);
  allocator.empty_cache();
  EXPECT_EQ(device.releases(), 2);
  const std::vector<void*> released = device.released();
  EXPECT_EQ(std::set<void*>(released.begin(), released.end()), (std::set<void*>{b, c}));
  EXPECT_TRUE(device.holds(in_use));
  const MemoryStats s = allocator.stats();
  EXPECT_EQ(s.allocated, 512u);
  EXPECT_EQ(s.reserved, 512u);
  EXPECT_EQ(device.used(), 512u);
  // Nothing cached any more: the next request of b's class goes to the device.
  allocator.allocate(1024);
  EXPECT_EQ(device.allocations(), 4);
  EXPECT_EQ(allocator.stats().cache_hits, 0);
  allocator.empty_cache();  // nothing free: nothing released
  EXPECT_EQ(device.releases(), 2);
}

TEST(CachingAllocator, OutOfMemoryReleasesTheCacheAndRetriesOnce) {
  // Two cached 2 KiB blocks fill the device; a 4 KiB request fits only once they are returned.
  FakeDevice device(4096);
  CachingAllocator allocator(device.raw());
  void* a = allocator.allocate(2048);
  void* b = allocator.allocate(2048);
  allocator.deallocate(a);
  allocator.deallocate(b);
  void* big = allocator.allocate(4096);
  EXPECT_NE(big, nullptr);
  EXPECT_EQ(device.failures(), 1);
  EXPECT_EQ(device.releases(), 2);
  const MemoryStats s = allocator.stats();
  EXPECT_EQ(s.allocated, 4096u);
  EXPECT_EQ(s.reserved, 4096u);
  EXPECT_EQ(s.device_allocations, 3);
  allocator.deallocate(big);
}

TEST(CachingAllocator, OutOfMemoryAfterTheRetryThrowsWithTheNumbers) {
  FakeDevice device(10240);
  CachingAllocator allocator(device.raw());
  void* held = allocator.allocate(3000);    // 3072 in use
  allocator.deallocate(allocator.allocate(1000));  // 1024 cached, released by the retry
  // 8192 bytes do not fit in the 10240 - 3072 = 7168 left even with the cache returned; 4096 were
  // reserved before that.
  testing::expect_error([&] { allocator.allocate(8000); },
                        {"fake:3", "8192 bytes", "3072 bytes", "4096 bytes", "7168 bytes", "allocated", "reserved",
                         "free"});
  EXPECT_EQ(device.failures(), 2);  // the first try and the retry, no more
  EXPECT_EQ(device.releases(), 1);
  const MemoryStats s = allocator.stats();
  EXPECT_EQ(s.allocated, 3072u);
  EXPECT_EQ(s.reserved, 3072u);
  // The failure leaves the allocator usable.
  void* small = allocator.allocate(512);
  EXPECT_NE(small, nullptr);
  allocator.deallocate(small);
  allocator.deallocate(held);
  EXPECT_EQ(allocator.stats().allocated, 0u);
}

TEST(CachingAllocatorDeathTest, FreeingABlockItDidNotHandOutAborts) {
  FakeDevice device(kMiB);
  CachingAllocator allocator(device.raw());
  int not_a_block = 0;
  EXPECT_DEATH(allocator.deallocate(&not_a_block), "did not hand out");
}

TEST(CachingAllocator, ConcurrentAllocationsBalanceOut) {
  FakeDevice device(256 * kMiB);
  CachingAllocator allocator(device.raw());
  constexpr int kThreads = 2, kIterations = 20'000;
  std::atomic<std::int64_t> requests{0};
  auto work = [&allocator, &requests](std::uint32_t seed) {
    std::mt19937 rng(seed);
    const std::size_t sizes[] = {1, 700, 4096, 100'000, 3 * kMiB};
    std::vector<void*> held;
    for (int i = 0; i < kIterations; ++i) {
      if (held.size() < 8 && std::uniform_int_distribution<int>(0, 2)(rng) != 0) {
        void* block = allocator.allocate(sizes[std::uniform_int_distribution<int>(0, 4)(rng)]);
        static_cast<char*>(block)[0] = 1;  // the memory is really ours
        held.push_back(block);
        ++requests;
      } else if (!held.empty()) {
        allocator.deallocate(held.back());
        held.pop_back();
      }
    }
    for (void* block : held) allocator.deallocate(block);
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(work, 100 + t);
  for (auto& thread : threads) thread.join();
  const MemoryStats s = allocator.stats();
  EXPECT_EQ(s.allocated, 0u);
  EXPECT_EQ(s.reserved, device.used());
  EXPECT_EQ(s.device_allocations, device.allocations());
  EXPECT_GT(s.cache_hits, 0);
  EXPECT_EQ(s.cache_hits + s.device_allocations, requests.load());  // every request counted once
  allocator.empty_cache();
  EXPECT_EQ(allocator.stats().reserved, 0u);
  EXPECT_EQ(device.used(), 0u);
  EXPECT_EQ(device.releases(), device.allocations());
}

// ---- without a GPU ----

class WithoutGpu : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda::is_available()) GTEST_SKIP() << "a CUDA device is usable here; these tests are for machines without one";
  }
};

TEST_F(WithoutGpu, NoDevicesAreCounted) { EXPECT_EQ(cuda::device_count(), 0); }

TEST_F(WithoutGpu, TheReasonSaysWhatToUse) {
  const std::string reason = cuda::unavailable_reason();
  EXPECT_NE(reason.find("Device::cpu()"), std::string::npos) << reason;
}

TEST_F(WithoutGpu, CudaTensorsFailWithAnErrorSayingWhatToUse) {
  const auto expect_device_error = [](auto&& body, const std::string& device) {
    try {
      body();
      ADD_FAILURE() << "expected a tapegrad::DeviceError";
    } catch (const DeviceError& error) {
      const std::string message = error.what();
      EXPECT_NE(message.find(device), std::string::npos) << message;
      EXPECT_NE(message.find("Device::cpu()"), std::string::npos) << message;
    }
  };
  expect_device_error([] { zeros({2}, TensorOptions(kFloat32).with_device(Device::cuda())); }, "cuda:0");
  expect_device_error([] { zeros({2}, TensorOptions(kFloat32).with_device(Device::cuda(2))); }, "cuda:2");
  const Tensor x = ones({3});
  expect_device_error([&] { x.to(Device::cuda()); }, "cuda:0");
}

TEST_F(WithoutGpu, DeviceQueriesThrowButEmptyCacheIsANoOp) {
  EXPECT_THROW(cuda::memory_stats(), DeviceError);
  EXPECT_THROW(cuda::reset_peak_memory_stats(), DeviceError);
  EXPECT_THROW(cuda::synchronize(), DeviceError);
  EXPECT_NO_THROW(cuda::empty_cache());
}

TEST(CudaSettings, AllowTf32RoundTrips) {
  EXPECT_FALSE(cuda::allow_tf32());  // off by default, so float32 products match the CPU's
  cuda::set_allow_tf32(true);
  EXPECT_TRUE(cuda::allow_tf32());
  cuda::set_allow_tf32(false);
  EXPECT_FALSE(cuda::allow_tf32());
}

// ---- per-element math shared with the kernels ----

template <class T>
class ElementMath : public ::testing::Test {};
using FloatingTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(ElementMath, FloatingTypes);

TYPED_TEST(ElementMath, SigmoidSaturatesWithoutNaN) {
  using T = TypeParam;
  const Unary<UnaryOp::Sigmoid> sigmoid{};
  for (T x : {T(-100), T(-1000), T(100), T(1000), -std::numeric_limits<T>::infinity(),
              std::numeric_limits<T>::infinity()}) {
    const T y = sigmoid(x);
    EXPECT_FALSE(std::isnan(y)) << x;
    EXPECT_GE(y, T(0)) << x;
    EXPECT_LE(y, T(1)) << x;
  }
  EXPECT_EQ(sigmoid(T(1000)), T(1));
  EXPECT_EQ(sigmoid(T(-1000)), T(0));
  EXPECT_EQ(sigmoid(T(0)), T(0.5));
  EXPECT_NEAR(sigmoid(T(2)), T(1 / (1 + std::exp(-2.0))), 1e-6);
  EXPECT_NEAR(sigmoid(T(-2)), T(1 / (1 + std::exp(2.0))), 1e-6);
}

TYPED_TEST(ElementMath, ReluAndClampFollowTorch) {
  using T = TypeParam;
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const Unary<UnaryOp::Relu> relu{};
  EXPECT_TRUE(std::isnan(relu(nan)));
  EXPECT_EQ(relu(T(-0.5)), T(0));
  EXPECT_EQ(relu(T(2.5)), T(2.5));
  const Unary<UnaryOp::Clamp> clamp{UnaryScalars::bounds(-1.0, 2.0)};
  EXPECT_EQ(clamp(T(-3)), T(-1));
  EXPECT_EQ(clamp(T(0.5)), T(0.5));
  EXPECT_EQ(clamp(T(7)), T(2));
  EXPECT_TRUE(std::isnan(clamp(nan)));
  // low > high: everything becomes high (torch.clamp's min(max(x, low), high)).
  const Unary<UnaryOp::Clamp> crossed{UnaryScalars::bounds(2.0, 1.0)};
  for (T x : {T(-5), T(1.5), T(5)}) EXPECT_EQ(crossed(x), T(1)) << x;
  // An absent bound is infinite.
  const Unary<UnaryOp::Clamp> at_least_zero{UnaryScalars::bounds(0.0, std::numeric_limits<double>::infinity())};
  EXPECT_EQ(at_least_zero(T(-1)), T(0));
  EXPECT_EQ(at_least_zero(T(1e30)), T(1e30));
}

TYPED_TEST(ElementMath, MinimumAndMaximumPropagateNaNFromEitherSide) {
  using T = TypeParam;
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const Binary<BinaryOp::Minimum> minimum{};
  const Binary<BinaryOp::Maximum> maximum{};
  EXPECT_TRUE(std::isnan(minimum(nan, T(1))));
  EXPECT_TRUE(std::isnan(minimum(T(1), nan)));
  EXPECT_TRUE(std::isnan(maximum(nan, T(1))));
  EXPECT_TRUE(std::isnan(maximum(T(1), nan)));
  EXPECT_EQ(minimum(T(-2), T(3)), T(-2));
  EXPECT_EQ(minimum(T(3), T(-2)), T(-2));
  EXPECT_EQ(maximum(T(-2), T(3)), T(3));
  EXPECT_EQ(maximum(T(3), T(-2)), T(3));
}

TYPED_TEST(ElementMath, ScalarAndBinaryArithmetic) {
  using T = TypeParam;
  // The square is x * x, exact to the last bit (not pow's approximation), also for negatives.
  const Unary<UnaryOp::PowScalar> square{UnaryScalars::operand(2.0)};
  for (T x : {T(1.1), T(-3.7), T(1e-3), T(12345.678)}) EXPECT_EQ(square(x), x * x) << x;
  const Unary<UnaryOp::PowScalar> identity{UnaryScalars::operand(1.0)};
  EXPECT_EQ(identity(T(-3.7)), T(-3.7));
  EXPECT_NEAR(Unary<UnaryOp::PowScalar>{UnaryScalars::operand(0.5)}(T(2)), std::sqrt(2.0), 1e-6);
  // Add and Sub scale their second operand (axpy).
  EXPECT_EQ(Binary<BinaryOp::Add>{2.0}(T(1), T(3)), T(7));
  EXPECT_EQ(Binary<BinaryOp::Sub>{0.5}(T(1), T(3)), T(-0.5));
  // Mul scales the product (a square's gradient 2 g a in one pass); alpha 1 is the plain product.
  EXPECT_EQ(Binary<BinaryOp::Mul>{2.0}(T(3), T(-5)), T(-30));
  EXPECT_EQ(Binary<BinaryOp::Mul>{}(T(1.1), T(-3.7)), T(1.1) * T(-3.7));
  EXPECT_EQ(Binary<BinaryOp::Div>{}(T(1), T(4)), T(0.25));
  EXPECT_EQ(Unary<UnaryOp::RSubScalar>{UnaryScalars::operand(10.0)}(T(3)), T(7));
  EXPECT_EQ(Unary<UnaryOp::Sign>{}(T(-0.25)), T(-1));
  EXPECT_EQ(Unary<UnaryOp::Sign>{}(T(0)), T(0));
  EXPECT_EQ(Binary<BinaryOp::Lt>{}(T(1), T(2)), T(1));
  EXPECT_EQ(Binary<BinaryOp::Ge>{}(T(1), T(2)), T(0));
}

// ---- random draws ----

TEST(Philox, MatchesTheReferenceKnownAnswer) {
  // Random123's known-answer vector for philox4x32-10 at counter 0, key 0: the GPU and CPU
  // draws agree with each other because both compute this exact function.
  const Philox4x32 r = philox4x32(0, 0);
  EXPECT_EQ(r.words[0], 0x6627e8d5u);
  EXPECT_EQ(r.words[1], 0xe169c58du);
  EXPECT_EQ(r.words[2], 0xbc57ac4cu);
  EXPECT_EQ(r.words[3], 0x9b00dbd8u);
}

TEST(Philox, ElementsArePureFunctionsOfSeedAndCounter) {
  std::set<double> seen;
  for (std::uint64_t counter = 0; counter < 1000; ++counter) {
    const double value = random_element<double>(Distribution::Uniform, 0, 1, 42, counter);
    EXPECT_EQ(value, random_element<double>(Distribution::Uniform, 0, 1, 42, counter));
    seen.insert(value);
  }
  EXPECT_EQ(seen.size(), 1000u);  // 53 random bits: a repeat among 1000 would be a broken counter
  // The high half of the 64-bit counter matters too (draws past 2^32 elements).
  EXPECT_NE(random_element<double>(Distribution::Uniform, 0, 1, 42, 5),
            random_element<double>(Distribution::Uniform, 0, 1, 42, 5 + (std::uint64_t{1} << 32)));
  EXPECT_NE(random_element<double>(Distribution::Uniform, 0, 1, 42, 5),
            random_element<double>(Distribution::Uniform, 0, 1, 43, 5));
  EXPECT_EQ(random_element<float>(Distribution::Normal, 1, 2, 7, 99),
            random_element<float>(Distribution::Normal, 1, 2, 7, 99));
}

// Draws 20'000 values of Uniform [a, b) and returns how many distinct ones there were.
template <class T>
std::size_t expect_uniform_in_range(double a, double b) {
  SCOPED_TRACE(::testing::Message() << "[" << a << ", " << b << ") in " << sizeof(T) * 8 << " bits");
  std::set<T> distinct;
  for (std::uint64_t counter = 0; counter < 20'000; ++counter) {
    const T value = random_element<T>(Distribution::Uniform, a, b, 3, counter);
    EXPECT_GE(value, static_cast<T>(a)) << "counter " << counter;
    EXPECT_LT(value, static_cast<T>(b)) << "counter " << counter;
    if (::testing::Test::HasFailure()) break;
    distinct.insert(value);
  }
  return distinct.size();
}

TEST(Philox, UniformValuesLieInTheHalfOpenRange) {
  // 24 (float) or 53 (double) random bits: among 20'000 draws only a few may repeat.
  EXPECT_GT(expect_uniform_in_range<float>(-2, 3), 19'900u);
  EXPECT_GT(expect_uniform_in_range<double>(-2, 3), 19'990u);
  EXPECT_GT(expect_uniform_in_range<float>(0, 1), 19'900u);
  // b one representable step above a: about half of a + (b - a) * u rounds up to b, which must
  // not be drawn, so every draw is a.
  EXPECT_EQ(expect_uniform_in_range<float>(16777216.0, 16777218.0), 1u);
  EXPECT_EQ(expect_uniform_in_range<double>(9007199254740992.0, 9007199254740994.0), 1u);
}

template <class T>
void expect_normal_moments(double mean, double std) {
  SCOPED_TRACE(::testing::Message() << sizeof(T) * 8 << " bits");
  constexpr int kCount = 100'000;
  double sum = 0, sum_squares = 0;
  for (std::uint64_t counter = 0; counter < kCount; ++counter) {
    const double x = random_element<T>(Distribution::Normal, mean, std, 11, counter);
    ASSERT_TRUE(std::isfinite(x)) << "counter " << counter;
    sum += x;
    sum_squares += x * x;
  }
  const double sample_mean = sum / kCount;
  const double sample_std = std::sqrt(sum_squares / kCount - sample_mean * sample_mean);
  // Standard errors: std / sqrt(n) = 0.0063 for the mean, about std / sqrt(2n) = 0.0045 for the
  // std; 5 of them leaves a correct generator failing about once in 10^6 runs.
  EXPECT_NEAR(sample_mean, mean, 5 * std / std::sqrt(double(kCount)));
  EXPECT_NEAR(sample_std, std, 5 * std / std::sqrt(2.0 * kCount));
}

TEST(Philox, NormalDrawsHaveTheRequestedMeanAndStd) {
  expect_normal_moments<double>(1.5, 2.0);
  expect_normal_moments<float>(1.5, 2.0);
}

// ---- dtype conversion ----

template <class S>
void expect_uint8_saturates() {
  EXPECT_EQ(convert_element<std::uint8_t>(S(-3.5)), 0);
  EXPECT_EQ(convert_element<std::uint8_t>(S(-0.0)), 0);
  EXPECT_EQ(convert_element<std::uint8_t>(S(300.0)), 255);
  EXPECT_EQ(convert_element<std::uint8_t>(S(255.0)), 255);
  EXPECT_EQ(convert_element<std::uint8_t>(S(254.9)), 254);
  EXPECT_EQ(convert_element<std::uint8_t>(S(7.9)), 7);  // truncates, as torch's .to(torch.uint8)
  EXPECT_EQ(convert_element<std::uint8_t>(std::numeric_limits<S>::quiet_NaN()), 0);
  EXPECT_EQ(convert_element<std::uint8_t>(std::numeric_limits<S>::infinity()), 255);
  EXPECT_EQ(convert_element<std::uint8_t>(-std::numeric_limits<S>::infinity()), 0);
}

TEST(ConvertElement, FloatingToUint8Saturates) {
  expect_uint8_saturates<float>();
  expect_uint8_saturates<double>();
  // Other conversions are plain casts.
  EXPECT_EQ((convert_element<float, std::uint8_t>(200)), 200.0f);
  EXPECT_EQ((convert_element<std::int64_t, double>(-7.9)), -7);
}

// ---- Adam ----

// One element's parameter and state.
struct AdamState {
  double param, exp_avg, exp_avg_sq, max_exp_avg_sq;
};

// torch.optim.Adam's single-tensor step, written out: coupled weight decay adds to the
// gradient, AdamW's decoupled decay scales the parameter first, amsgrad divides by the
// running maximum of the second moment.
void reference_adam(AdamState& s, double grad, const AdamStep& step) {
  double g = grad;
  if (step.decoupled_weight_decay) s.param *= 1 - step.lr * step.weight_decay;
  else g += step.weight_decay * s.param;
  s.exp_avg = step.beta1 * s.exp_avg + (1 - step.beta1) * g;
  s.exp_avg_sq = step.beta2 * s.exp_avg_sq + (1 - step.beta2) * g * g;
  double second = s.exp_avg_sq;
  if (step.amsgrad) {
    s.max_exp_avg_sq = std::max(s.max_exp_avg_sq, s.exp_avg_sq);
    second = s.max_exp_avg_sq;
  }
  const double denom = std::sqrt(second) / std::sqrt(step.bias_correction2) + step.eps;
  s.param -= step.lr / step.bias_correction1 * s.exp_avg / denom;
}

void expect_adam_matches_reference(AdamStep step) {
  SCOPED_TRACE(::testing::Message() << "weight_decay " << step.weight_decay << ", decoupled "
                                  << step.decoupled_weight_decay << ", amsgrad " << step.amsgrad);
  // Three elements, element 1 updated: its neighbours must stay as they are.
  double param[3] = {9, 0.8, 9}, exp_avg[3] = {9, 0, 9}, exp_avg_sq[3] = {9, 0, 9}, max_exp_avg_sq[3] = {9, 0, 9};
  AdamState expected{0.8, 0, 0, 0};
  // A large first gradient, then small ones: amsgrad's maximum then differs from exp_avg_sq.
  const double grads[] = {2.0, -0.1, 0.05, 0.02};
  for (int t = 1; t <= 4; ++t) {
    step.bias_correction1 = 1 - std::pow(step.beta1, t);
    step.bias_correction2 = 1 - std::pow(step.beta2, t);
    double grad[3] = {9, grads[t - 1], 9};
    // Without amsgrad the maximum is never touched, so the kernel may be given no buffer.
    const StateBuffers<double> state{{exp_avg, exp_avg_sq, step.amsgrad ? max_exp_avg_sq : nullptr}};
    AdamUpdate::from(step).apply(param, grad, state, 1);
    reference_adam(expected, grads[t - 1], step);
    // The same operations in the same order, up to the compiler's freedom in rounding.
    EXPECT_DOUBLE_EQ(param[1], expected.param) << "step " << t;
    EXPECT_DOUBLE_EQ(exp_avg[1], expected.exp_avg) << "step " << t;
    EXPECT_DOUBLE_EQ(exp_avg_sq[1], expected.exp_avg_sq) << "step " << t;
    if (step.amsgrad) {
      EXPECT_DOUBLE_EQ(max_exp_avg_sq[1], expected.max_exp_avg_sq) << "step " << t;
    }
  }
  for (int i : {0, 2}) {
    EXPECT_EQ(param[i], 9);
    EXPECT_EQ(exp_avg[i], 9);
    EXPECT_EQ(exp_avg_sq[i], 9);
    EXPECT_EQ(max_exp_avg_sq[i], 9);
  }
  if (step.amsgrad) {
    EXPECT_GT(expected.max_exp_avg_sq, expected.exp_avg_sq);  // the maximum mattered
  }
}

TEST(AdamUpdate, MatchesTorchSingleTensorAdam) {
  AdamStep step;
  step.lr = 0.01;
  expect_adam_matches_reference(step);
  step.weight_decay = 0.1;
  expect_adam_matches_reference(step);  // Adam: coupled decay
  step.decoupled_weight_decay = true;
  expect_adam_matches_reference(step);  // AdamW
  step.amsgrad = true;
  expect_adam_matches_reference(step);
  step.decoupled_weight_decay = false;
  step.weight_decay = 0;
  expect_adam_matches_reference(step);
}

TEST(AdamUpdate, AmsgradPropagatesNaN) {
  // torch.maximum keeps a NaN, so a NaN gradient shows in the parameter instead of vanishing.
  AdamStep step;
  step.amsgrad = true;
  double param = 1, grad = std::numeric_limits<double>::quiet_NaN(), exp_avg = 0, exp_avg_sq = 0, max_exp_avg_sq = 1;
  AdamUpdate::from(step).apply(&param, &grad, StateBuffers<double>{{&exp_avg, &exp_avg_sq, &max_exp_avg_sq}}, 0);
  EXPECT_TRUE(std::isnan(max_exp_avg_sq));
  EXPECT_TRUE(std::isnan(param));
}

}  // namespace
}  // namespace tapegrad
