#include <tapegrad/kernels/cpu/thread_pool.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <sched.h>

#include <immintrin.h>

namespace tapegrad::kernels::cpu {
namespace {

// How an idle worker waits for the next region. The serial stretches of a training step (a
// small product, an elementwise op below the parallel threshold, the optimizer) last from a few
// microseconds to about a millisecond, and a worker that slept through one wakes tens of
// microseconds late (longer on a virtual machine, whose idle CPU the host has descheduled).
// So the worker first polls with pause instructions, then keeps polling for the rest of
// kIdleWait while yielding its core to any other thread that wants it (beside a busy process,
// the caller's serial work comes first), and only then sleeps. Deadlines are in time, not in
// pause instructions, whose cost ranges from about 10 to 150 cycles across CPUs.
constexpr auto kPauseWait = std::chrono::microseconds(50);
constexpr auto kIdleWait = std::chrono::milliseconds(1);
// How long the caller polls for chunks still running on workers before it sleeps.
constexpr int kFinishSpins = 20000;

thread_local bool in_region = false;

struct Job {
  RangeFunction f;
  std::int64_t n, chunks;
  int helpers_wanted;                    // workers that may join (threads - 1)
  std::atomic<int> helpers_joined{0};
  std::atomic<std::int64_t> next{0};     // the next chunk to claim
  std::atomic<std::int64_t> finished{0};  // chunks done
  std::mutex error_mutex;
  std::exception_ptr error;

  Job(RangeFunction function, std::int64_t size, std::int64_t chunk_count, int helpers)
      : f(function), n(size), chunks(chunk_count), helpers_wanted(helpers) {}

  // Claims and runs chunks until none is left.
  void work() {
    for (std::int64_t c = next.fetch_add(1, std::memory_order_relaxed); c < chunks;
         c = next.fetch_add(1, std::memory_order_relaxed)) {
      try {
        f(c * n / chunks, (c + 1) * n / chunks);
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
      }
      if (finished.fetch_add(1, std::memory_order_acq_rel) + 1 == chunks) finished.notify_all();
    }
  }

  void wait_finished() {
    for (int spin = 0;; ++spin) {
      const std::int64_t done = finished.load(std::memory_order_acquire);
      if (done == chunks) return;
      if (spin < kFinishSpins)
        _mm_pause();
      else
        finished.wait(done, std::memory_order_acquire);
    }
  }
};

// Memory for jobs, recycled: a training step starts hundreds of regions, and steps after the
// first allocate nothing from the heap. A job's last owner may be a worker, so blocks go back
// to one shared list rather than a thread's own.
class BlockList {
 public:
  static constexpr std::size_t kBlockSize = 512;

  static void* take() {
    {
      std::lock_guard lock(free_list().mutex);
      if (!free_list().blocks.empty()) {
        void* block = free_list().blocks.back();
        free_list().blocks.pop_back();
        return block;
      }
    }
    return ::operator new(kBlockSize);
  }
  static void give_back(void* block) {
    std::lock_guard lock(free_list().mutex);
    free_list().blocks.push_back(block);
  }

 private:
  struct FreeBlocks {
    std::mutex mutex;
    std::vector<void*> blocks;  // a few at most: one per region in flight
  };
  // Never destroyed: the pool's workers and its last job may give blocks back while static
  // objects are being destroyed at exit, and the blocks stay reachable for leak checkers.
  static FreeBlocks& free_list() {
    static auto* list = new FreeBlocks;
    return *list;
  }
};

template <class T>
struct RecycledBlocks {
  using value_type = T;
  static_assert(sizeof(T) <= BlockList::kBlockSize);
  RecycledBlocks() = default;
  template <class U>
  RecycledBlocks(const RecycledBlocks<U>&) noexcept {}  // NOLINT: rebinding must be implicit
  T* allocate(std::size_t n) {
    if (n != 1) throw std::bad_alloc();
    return static_cast<T*>(BlockList::take());
  }
  void deallocate(T* p, std::size_t) noexcept { BlockList::give_back(p); }
  template <class U>
  friend bool operator==(const RecycledBlocks&, const RecycledBlocks<U>&) {
    return true;
  }
};

class Pool {
 public:
  static Pool& instance() {
    static Pool pool;
    return pool;
  }

  ~Pool() {
    stopping_.store(true);
    epoch_.fetch_add(1);
    epoch_.notify_all();
    for (std::thread& worker : workers_) worker.join();
  }

  // Returns false without running anything when another region holds the pool.
  bool try_run(std::int64_t n, std::int64_t chunks, int threads, RangeFunction f) {
    std::unique_lock region(region_mutex_, std::try_to_lock);
    if (!region.owns_lock()) return false;
    ensure_workers(threads - 1);
    auto job = std::allocate_shared<Job>(RecycledBlocks<Job>(), f, n, chunks, threads - 1);
    publish(job);
    in_region = true;
    job->work();
    job->wait_finished();
    in_region = false;
    publish(nullptr);  // workers that wake late find nothing, and the job's memory can go
    if (job->error) std::rethrow_exception(job->error);
    return true;
  }

 private:
  void ensure_workers(int count) {
    while (static_cast<int>(workers_.size()) < count) workers_.emplace_back([this] { worker_loop(); });
  }

  void publish(std::shared_ptr<Job> job) {
    {
      std::lock_guard lock(job_mutex_);
      job_ = std::move(job);
    }
    epoch_.fetch_add(1, std::memory_order_seq_cst);
    if (sleeping_.load(std::memory_order_seq_cst) > 0) epoch_.notify_all();
  }

  // Polls until the epoch moves past `seen` (true) or kIdleWait has passed (false).
  bool wait_for_change(std::uint32_t seen) const {
    using Clock = std::chrono::steady_clock;
    const Clock::time_point start = Clock::now();
    const auto changed = [&] { return epoch_.load(std::memory_order_acquire) != seen; };
    while (Clock::now() - start < kPauseWait)
      for (int spin = 0; spin < 16; ++spin) {
        if (changed()) return true;
        _mm_pause();
      }
    while (Clock::now() - start < kIdleWait) {
      if (changed()) return true;
      sched_yield();
    }
    return changed();
  }

  void worker_loop() {
    in_region = true;  // regions started from inside a chunk run serially
    std::uint32_t seen = epoch_.load(std::memory_order_acquire);
    while (true) {
      if (!wait_for_change(seen)) {
        sleeping_.fetch_add(1, std::memory_order_seq_cst);
        epoch_.wait(seen, std::memory_order_seq_cst);
        sleeping_.fetch_sub(1, std::memory_order_relaxed);
      }
      if (stopping_.load()) return;
      seen = epoch_.load(std::memory_order_acquire);
      std::shared_ptr<Job> job;
      {
        std::lock_guard lock(job_mutex_);
        job = job_;
      }
      if (job && job->helpers_joined.fetch_add(1, std::memory_order_relaxed) < job->helpers_wanted) job->work();
    }
  }

  std::mutex region_mutex_;  // held by the caller of the running region
  std::mutex job_mutex_;     // guards job_
  std::shared_ptr<Job> job_;
  std::atomic<std::uint32_t> epoch_{0};  // bumped whenever job_ changes
  std::atomic<int> sleeping_{0};
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> workers_;  // touched only under region_mutex_
};

}  // namespace

bool inside_parallel_region() { return in_region; }

void run_parallel(std::int64_t n, std::int64_t chunks, int threads, RangeFunction f) {
  if (n <= 0) return;
  chunks = std::clamp<std::int64_t>(chunks, 1, n);
  if (threads <= 1 || chunks == 1 || in_region || !Pool::instance().try_run(n, chunks, threads, f)) {
    // Serial, but over the same chunks, so chunk-local results match the parallel run's.
    for (std::int64_t c = 0; c < chunks; ++c) f(c * n / chunks, (c + 1) * n / chunks);
  }
}

}  // namespace tapegrad::kernels::cpu
