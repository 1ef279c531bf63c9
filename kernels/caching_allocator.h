// A caching allocator over a device's raw allocation calls (cudaMalloc is slow and synchronizes
// the device): freed blocks go to per-size-class free lists and serve the next request of their
// class, so a training loop that makes the same tensors every step stops calling the device
// allocator after its first step. When the device runs out, the cache is released and the
// request retried once before the error. Device-agnostic, so the CPU tests exercise it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace tapegrad::kernels {

struct MemoryStats {
  std::size_t allocated = 0;       // bytes in blocks handed out and not yet freed (size classes)
  std::size_t reserved = 0;        // bytes obtained from the device: allocated + cached
  std::size_t peak_allocated = 0;  // the most `allocated` has been since the last reset
  std::int64_t device_allocations = 0;  // raw allocation calls that succeeded
  std::int64_t cache_hits = 0;          // requests served from the cache
};

// What the allocator needs from a device.
struct RawMemory {
  std::string device_name;                        // for error messages: "cuda:0"
  std::function<void*(std::size_t)> allocate;     // nullptr when the device is out of memory
  std::function<void(void*)> release;
  std::function<std::size_t()> free_bytes;        // what the device reports free, for the message
};

class CachingAllocator {
 public:
  explicit CachingAllocator(RawMemory raw) : raw_(std::move(raw)) {}
  ~CachingAllocator() { empty_cache(); }
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // Throws tapegrad::Error naming the bytes requested, allocated, reserved and free when even
  // an empty cache cannot make room.
  void* allocate(std::size_t nbytes);
  void deallocate(void* data);
  // Returns every cached (free) block to the device; blocks in use are untouched.
  void empty_cache();
  MemoryStats stats() const;
  void reset_peak();

  // The block size a request of nbytes gets: a multiple of 512 bytes up to 1 MiB, of 2 MiB above.
  static std::size_t size_class(std::size_t nbytes);

 private:
  void* allocate_from_device(std::size_t block_size);
  void release_cached_locked();

  RawMemory raw_;
  mutable std::mutex mutex_;
  std::unordered_map<std::size_t, std::vector<void*>> free_blocks_;  // by size class
  std::unordered_map<void*, std::size_t> live_blocks_;               // block -> size class
  MemoryStats stats_;
};

}  // namespace tapegrad::kernels
