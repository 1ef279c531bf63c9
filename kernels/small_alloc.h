// A thread-local pool for the small blocks every op allocates (tensor headers, small storages,
// tape nodes). Building a graph allocates thousands of them before freeing any, which overflows
// malloc's per-thread cache and sends every allocation down its slow path; recycling blocks by
// size class keeps per-op overhead flat. Blocks freed on another thread join that thread's pool.
// Taking a cached block and giving one back are inline: an op on small tensors makes three blocks
// and frees as many, and calls would cost more than the work.
#pragma once

#include <cstddef>
#include <new>

namespace tapegrad::kernels {

inline constexpr std::size_t kSmallBlockLimit = 1024;  // larger requests go to operator new

namespace detail {

inline constexpr std::size_t kGranule = 32;
inline constexpr std::size_t kClasses = kSmallBlockLimit / kGranule;
inline constexpr std::size_t kMaxCached = 1 << 16;  // per class, so a one-off burst does not pin memory

struct FreeBlock {
  FreeBlock* next;
};

// Trivially constructed and destroyed (constinit), so the hot paths read it straight from
// thread-local storage with no initialization guard; the first block given back registers the
// thread's exit handler, which frees the cached blocks.
struct SmallPool {
  FreeBlock* heads[kClasses];
  std::size_t counts[kClasses];
  bool reaper_registered;
  bool exited;  // true once the thread's pool was released (frees at exit go to free())
};
extern constinit thread_local SmallPool small_pool;

constexpr std::size_t size_class(std::size_t nbytes) { return (nbytes + kGranule - 1) / kGranule - 1; }

// Caches `block` as the first of its class.
inline void push_block(SmallPool& pool, std::size_t c, void* block) {
  auto* free_block = static_cast<FreeBlock*>(block);
  free_block->next = pool.heads[c];
  pool.heads[c] = free_block;
  ++pool.counts[c];
}

void* small_alloc_uncached(std::size_t nbytes);
void small_free_uncached(void* block, std::size_t nbytes) noexcept;

}  // namespace detail

inline void* small_alloc(std::size_t nbytes) {
  if (nbytes - 1 < kSmallBlockLimit) {  // 1 to kSmallBlockLimit bytes (0 wraps around)
    detail::SmallPool& pool = detail::small_pool;
    const std::size_t c = detail::size_class(nbytes);
    if (detail::FreeBlock* block = pool.heads[c]) {  // none before the first free, none after exit
      pool.heads[c] = block->next;
      --pool.counts[c];
      return block;
    }
  }
  return detail::small_alloc_uncached(nbytes);
}

inline void small_free(void* block, std::size_t nbytes) noexcept {
  detail::SmallPool& pool = detail::small_pool;
  const std::size_t c = detail::size_class(nbytes);
  if (block != nullptr && nbytes - 1 < kSmallBlockLimit && pool.reaper_registered && !pool.exited &&
      pool.counts[c] < detail::kMaxCached) {
    detail::push_block(pool, c, block);
    return;
  }
  detail::small_free_uncached(block, nbytes);
}

// Standard allocator over the pool, for std::allocate_shared.
template <class T>
struct PoolAllocator {
  using value_type = T;
  PoolAllocator() = default;
  template <class U>
  PoolAllocator(const PoolAllocator<U>&) noexcept {}  // NOLINT: rebinding must be implicit
  T* allocate(std::size_t n) { return static_cast<T*>(small_alloc(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { small_free(p, n * sizeof(T)); }
  template <class U>
  friend bool operator==(const PoolAllocator&, const PoolAllocator<U>&) {
    return true;
  }
};

}  // namespace tapegrad::kernels
