#include <tapegrad/kernels/caching_allocator.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <limits>

#include <fmt/format.h>

#include <tapegrad/kernels/error.h>

namespace tapegrad::kernels {
namespace {

constexpr std::size_t kSmallGranule = 512;
constexpr std::size_t kSmallLimit = std::size_t{1} << 20;
constexpr std::size_t kLargeGranule = std::size_t{2} << 20;

std::size_t round_up(std::size_t n, std::size_t granule) { return (n + granule - 1) / granule * granule; }

// "8589934592 bytes (8.0 GiB)": exact for comparing, in a unit a person reads at a glance.
std::string bytes_str(std::size_t bytes) {
  constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double scaled = static_cast<double>(bytes) / 1024.0;
  std::size_t unit = 0;
  while (scaled >= 1024.0 && unit + 1 < std::size(kUnits)) {
    scaled /= 1024.0;
    ++unit;
  }
  return fmt::format("{} bytes ({:.1f} {})", bytes, scaled, kUnits[unit]);
}

}  // namespace

std::size_t CachingAllocator::size_class(std::size_t nbytes) {
  // Rounding up must not wrap around to a tiny block.
  TAPEGRAD_CHECK(nbytes <= std::numeric_limits<std::size_t>::max() - kLargeGranule + 1,
                 "out of memory: requested {}, more than any device can hold; reduce the batch size or the "
                 "tensor's dimensions", bytes_str(nbytes));
  if (nbytes <= kSmallLimit) return round_up(std::max<std::size_t>(nbytes, 1), kSmallGranule);
  return round_up(nbytes, kLargeGranule);
}

void* CachingAllocator::allocate(std::size_t nbytes) {
  const std::size_t block_size = size_class(nbytes);
  std::lock_guard lock(mutex_);
  void* block = nullptr;
  auto cached = free_blocks_.find(block_size);
  if (cached != free_blocks_.end() && !cached->second.empty()) {
    block = cached->second.back();
    cached->second.pop_back();
    ++stats_.cache_hits;
  } else {
    block = allocate_from_device(block_size);
  }
  live_blocks_.emplace(block, block_size);
  stats_.allocated += block_size;
  stats_.peak_allocated = std::max(stats_.peak_allocated, stats_.allocated);
  return block;
}

void* CachingAllocator::allocate_from_device(std::size_t block_size) {
  void* block = raw_.allocate(block_size);
  const std::size_t reserved_before_release = stats_.reserved;
  if (block == nullptr) {  // the cache may hold enough memory, just in the wrong size classes
    release_cached_locked();
    block = raw_.allocate(block_size);
  }
  if (block == nullptr)
    throw Error(fmt::format(
        "out of memory on {}: requested {}; tapegrad has {} allocated in tensors and had {} reserved (tensors and "
        "cached blocks; the cache was released and the request retried), and the device reports {} free. Reduce the "
        "batch size or the model, or free tensors that are no longer needed",
        raw_.device_name, bytes_str(block_size), bytes_str(stats_.allocated), bytes_str(reserved_before_release),
        bytes_str(raw_.free_bytes())));
  stats_.reserved += block_size;
  ++stats_.device_allocations;
  return block;
}

void CachingAllocator::deallocate(void* data) {
  if (data == nullptr) return;
  std::lock_guard lock(mutex_);
  const auto live = live_blocks_.find(data);
  if (live == live_blocks_.end()) {
    std::fprintf(stderr, "tapegrad internal error: freeing device memory at %p that this allocator did not hand out\n",
                 data);
    std::abort();
  }
  stats_.allocated -= live->second;
  free_blocks_[live->second].push_back(data);
  live_blocks_.erase(live);
}

void CachingAllocator::empty_cache() {
  std::lock_guard lock(mutex_);
  release_cached_locked();
}

void CachingAllocator::release_cached_locked() {
  for (auto& [block_size, blocks] : free_blocks_) {
    for (void* block : blocks) raw_.release(block);
    stats_.reserved -= block_size * blocks.size();
    blocks.clear();
  }
}

MemoryStats CachingAllocator::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void CachingAllocator::reset_peak() {
  std::lock_guard lock(mutex_);
  stats_.peak_allocated = stats_.allocated;
}

}  // namespace tapegrad::kernels
