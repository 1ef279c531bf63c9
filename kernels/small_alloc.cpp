// The pool's slow paths: a size class with no cached block, a block past the size limit, the
// first block a thread gives back (which registers its exit handler), and a thread that exits.
#include <tapegrad/kernels/small_alloc.h>

#include <cstdlib>

namespace tapegrad::kernels::detail {

constinit thread_local SmallPool small_pool{};

namespace {

struct Reaper {
  ~Reaper() {
    for (std::size_t c = 0; c < kClasses; ++c)
      while (FreeBlock* head = small_pool.heads[c]) {
        small_pool.heads[c] = head->next;
        std::free(head);
      }
    small_pool.exited = true;
  }
};

void* allocate_or_throw(std::size_t nbytes) {
  if (void* block = std::malloc(nbytes)) return block;
  throw std::bad_alloc();
}

}  // namespace

void* small_alloc_uncached(std::size_t nbytes) {
  if (nbytes == 0) nbytes = 1;
  return allocate_or_throw(nbytes > kSmallBlockLimit ? nbytes : (size_class(nbytes) + 1) * kGranule);
}

void small_free_uncached(void* block, std::size_t nbytes) noexcept {
  if (block == nullptr) return;
  if (nbytes == 0) nbytes = 1;
  SmallPool& pool = small_pool;
  if (nbytes > kSmallBlockLimit || pool.exited) {
    std::free(block);
    return;
  }
  if (!pool.reaper_registered) {
    pool.reaper_registered = true;
    thread_local Reaper reaper;
    (void)reaper;
  }
  const std::size_t c = size_class(nbytes);
  if (pool.counts[c] >= kMaxCached) {
    std::free(block);
    return;
  }
  push_block(pool, c, block);
}

}  // namespace tapegrad::kernels::detail
