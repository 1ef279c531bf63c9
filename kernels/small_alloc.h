// A thread-local pool for the small blocks every op allocates (tensor headers, small storages,
// tape nodes). Building a graph allocates thousands of them before freeing any, which overflows
// malloc's per-thread cache and sends every allocation down its slow path; recycling blocks by
// size class keeps per-op overhead flat. Blocks freed on another thread join that thread's pool.
#pragma once

#include <cstddef>
#include <new>

namespace tapegrad::kernels {

inline constexpr std::size_t kSmallBlockLimit = 1024;  // larger requests go to operator new

void* small_alloc(std::size_t nbytes);
void small_free(void* block, std::size_t nbytes) noexcept;

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
