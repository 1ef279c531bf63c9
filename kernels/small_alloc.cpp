// Size-class free lists, one set per thread. Each class keeps at most kMaxCached blocks so a
// one-off burst does not pin memory forever.
#include <tapegrad/kernels/small_alloc.h>

#include <array>
#include <cstdlib>
#include <utility>

namespace tapegrad::kernels {
namespace {

constexpr std::size_t kGranule = 32;
constexpr std::size_t kClasses = kSmallBlockLimit / kGranule;
constexpr std::size_t kMaxCached = 1 << 16;

struct FreeBlock {
  FreeBlock* next;
};

struct ThreadPool {
  std::array<FreeBlock*, kClasses> heads{};
  std::array<std::size_t, kClasses> counts{};
  ~ThreadPool() {
    for (FreeBlock* head : heads)
      while (head != nullptr) std::free(std::exchange(head, head->next));
    alive = false;
  }
  static thread_local bool alive;  // false once this thread's pool is gone (exit-time frees)
};
thread_local bool ThreadPool::alive = true;

ThreadPool& pool() {
  thread_local ThreadPool instance;
  return instance;
}

std::size_t size_class(std::size_t nbytes) { return (nbytes + kGranule - 1) / kGranule - 1; }

}  // namespace

void* small_alloc(std::size_t nbytes) {
  if (nbytes == 0) nbytes = 1;
  if (nbytes > kSmallBlockLimit || !ThreadPool::alive) {
    if (void* block = std::malloc(nbytes > kSmallBlockLimit ? nbytes : (size_class(nbytes) + 1) * kGranule)) return block;
    throw std::bad_alloc();
  }
  const std::size_t c = size_class(nbytes);
  ThreadPool& p = pool();
  if (FreeBlock* block = p.heads[c]) {
    p.heads[c] = block->next;
    --p.counts[c];
    return block;
  }
  if (void* block = std::malloc((c + 1) * kGranule)) return block;
  throw std::bad_alloc();
}

void small_free(void* block, std::size_t nbytes) noexcept {
  if (block == nullptr) return;
  if (nbytes == 0) nbytes = 1;
  if (nbytes > kSmallBlockLimit || !ThreadPool::alive) {
    std::free(block);
    return;
  }
  const std::size_t c = size_class(nbytes);
  ThreadPool& p = pool();
  if (p.counts[c] >= kMaxCached) {
    std::free(block);
    return;
  }
  auto* free_block = static_cast<FreeBlock*>(block);
  free_block->next = p.heads[c];
  p.heads[c] = free_block;
  ++p.counts[c];
}

}  // namespace tapegrad::kernels
