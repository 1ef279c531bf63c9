// Size-class free lists, one set per thread. Each class keeps at most kMaxCached blocks so a
// one-off burst does not pin memory forever.
#include <tapegrad/kernels/small_alloc.h>

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

// Trivially destructible, so the hot path reads it straight from thread-local storage with no
// initialization guard; the Reaper below frees the cached blocks when the thread exits.
struct ThreadPool {
  FreeBlock* heads[kClasses];
  std::size_t counts[kClasses];
  bool reaper_registered;
  bool exited;  // true once the thread's pool was released (frees at exit go to free())
};
thread_local ThreadPool pool_state{};

struct Reaper {
  ~Reaper() {
    for (std::size_t c = 0; c < kClasses; ++c)
      while (FreeBlock* head = pool_state.heads[c]) {
        pool_state.heads[c] = head->next;
        std::free(head);
      }
    pool_state.exited = true;
  }
};

ThreadPool& pool() {
  ThreadPool& p = pool_state;
  if (!p.reaper_registered) [[unlikely]] {
    p.reaper_registered = true;
    thread_local Reaper reaper;
    (void)reaper;
  }
  return p;
}

std::size_t size_class(std::size_t nbytes) { return (nbytes + kGranule - 1) / kGranule - 1; }

}  // namespace

void* small_alloc(std::size_t nbytes) {
  if (nbytes == 0) nbytes = 1;
  if (nbytes > kSmallBlockLimit || pool_state.exited) {
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
  if (nbytes > kSmallBlockLimit || pool_state.exited) {
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
