#include <tapegrad/kernels/cpu/thread_pool.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <immintrin.h>

namespace tapegrad::kernels::cpu {
namespace {

// How an idle worker waits for the next region. The serial stretches of a training step (a
// small product, an elementwise op below the parallel threshold, the optimizer) last from a few
// microseconds to a few hundred. The worker polls with pause instructions for kPauseWait, then
// sleeps until the caller publishes a region and wakes it. A worker that slept takes tens of
// microseconds to run again on a virtual machine, whose idle core halts, and a region of 100 us
// cannot afford that: the MNIST MLP's epoch, its products and updates split, took 0.31-0.33 s
// polling 400 us and 0.34-0.37 s polling 50 us (0.40 s all on one thread). Polling longer while
// yielding the core fails beside a busy program: a thread that yields is never woken, it waits
// its turn behind the other program's time slice, and meanwhile the caller runs the region alone
// (a B1 CNN pass beside one busy loop per core took 2.0-2.3 s that way, against 1.8-2.1 s
// sleeping with a short slice, see request_short_slice; alone, 0.65 s). The deadline is in time,
// not in pause instructions, whose cost ranges from about 10 to 150 cycles across CPUs.
// A worker that waits for its core does not poll at all (see CoreContention): it shares the
// core with another runnable thread, and polling would take the time that thread needs. The
// worst case is the caller itself: with one busy-loop process per core, Linux at times puts both
// loops on one core and tapegrad's two threads on the other, and a B1 CNN pass then took
// 1.7-2.3 s with the worker polling against 1.2-1.4 s without (alone, 0.7-0.8 s); with a loop
// beside each thread, 1.5-2.6 s either way. Over 8 runs each, wherever the scheduler put the
// threads, 2.19 s against 1.71 s on average.
constexpr auto kPauseWait = std::chrono::microseconds(400);
// How long the caller polls for chunks still running on workers before it sleeps.
constexpr int kFinishSpins = 20000;

// Shares pack a chunk range into 32-bit halves.
constexpr std::int64_t kMaxChunks = 0x7FFFFFFF;

thread_local bool in_region = false;

// The kernel's sched_attr. glibc before 2.41 wraps neither sched_setattr nor sched_getattr, and
// its <sched.h> clashes with the kernel's header of the structure, hence the structure spelled
// out and the syscalls.
struct SchedAttr {
  std::uint32_t size = sizeof(SchedAttr), policy = SCHED_OTHER;
  std::uint64_t flags = 0;
  std::int32_t nice = 0;
  std::uint32_t priority = 0;
  std::uint64_t runtime = 0, deadline = 0, period = 0;  // runtime: the slice of a SCHED_OTHER thread
};

// Asks for kWorkerSliceNs slices for the calling thread. A worker runs in short bursts (its
// chunks of one region), and Linux's fair scheduler (EEVDF) lets a waking thread take a busy
// core at once only when it asked for a slice shorter than the running thread's (by default
// 1.4 ms on 2 cores, up to 2.8 ms on more); otherwise it waits for that slice to end. The
// request changes when the worker runs, not its share of the core, and needs no privilege.
// Best effort: a kernel that refuses leaves the default.
void request_short_slice() {
  SchedAttr attr;
  attr.nice = getpriority(PRIO_PROCESS, 0);  // sched_setattr sets the niceness too: keep it
  attr.runtime = kWorkerSliceNs;
  syscall(SYS_sched_setattr, 0, &attr, 0);
}

// A region's chunks are dealt out in contiguous shares, one per thread (its slot), and each
// thread runs its own share from the front. Consecutive regions of a training step split the
// batch the same way, so a thread mostly reads the images it wrote itself: on a virtual
// machine whose cores share no cache, data written by the other core reads 2-3x slower (a 3 MB
// buffer: 156 us against 62 us). A thread that runs out of its share takes chunks from the back
// of another's, so a parked or late thread delays nothing: its share goes to the others.
class Shares {
 public:
  static constexpr int kMaxSlots = 64;  // threads beyond this share slots

  Shares(std::int64_t chunks, int threads) : slots_(std::clamp(threads, 1, kMaxSlots)) {
    for (int s = 0; s < slots_; ++s) ranges_[s].store(pack(s * chunks / slots_, (s + 1) * chunks / slots_));
  }

  static int slot_of(int thread) { return thread % kMaxSlots; }

  // The next chunk for the thread in `slot`: the front of its own share, else the back of
  // another's; -1 when every chunk has been claimed.
  std::int64_t claim(int slot) {
    if (const std::int64_t c = take(slot, true); c >= 0) return c;
    for (int k = 1; k < slots_; ++k)
      if (const std::int64_t c = take((slot + k) % slots_, false); c >= 0) return c;
    return -1;
  }

 private:
  // [begin, end) of a share in one word, so that the owner and a thief claim without a lock.
  static std::uint64_t pack(std::int64_t begin, std::int64_t end) {
    return static_cast<std::uint64_t>(begin) << 32 | static_cast<std::uint64_t>(end);
  }
  std::int64_t take(int slot, bool front) {
    std::atomic<std::uint64_t>& range = ranges_[slot];
    std::uint64_t packed = range.load(std::memory_order_relaxed);
    while (true) {
      const auto begin = static_cast<std::int64_t>(packed >> 32), end = static_cast<std::int64_t>(packed & 0xFFFFFFFF);
      if (begin >= end) return -1;
      const std::uint64_t rest = front ? pack(begin + 1, end) : pack(begin, end - 1);
      if (range.compare_exchange_weak(packed, rest, std::memory_order_relaxed)) return front ? begin : end - 1;
    }
  }

  int slots_;
  std::array<std::atomic<std::uint64_t>, kMaxSlots> ranges_;
};

struct Job {
  RangeFunction f;
  std::int64_t n, chunks;
  int helpers_wanted;                    // workers that join: the first threads - 1
  Shares shares;
  std::atomic<std::int64_t> finished{0};  // chunks done
  std::mutex error_mutex;
  std::exception_ptr error;

  Job(RangeFunction function, std::int64_t size, std::int64_t chunk_count, int threads)
      : f(function), n(size), chunks(chunk_count), helpers_wanted(threads - 1), shares(chunk_count, threads) {}

  // Claims and runs chunks until none is left; `thread` is 0 for the caller, 1 + the index of
  // a worker.
  void work(int thread) {
    const int slot = Shares::slot_of(thread);
    for (std::int64_t c = shares.claim(slot); c >= 0; c = shares.claim(slot)) {
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
  static constexpr std::size_t kBlockSize = 1024;

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
    auto job = std::allocate_shared<Job>(RecycledBlocks<Job>(), f, n, chunks, threads);
    publish(job);
    in_region = true;
    job->work(0);
    job->wait_finished();
    in_region = false;
    publish(nullptr);  // workers that wake late find nothing, and the job's memory can go
    if (job->error) std::rethrow_exception(job->error);
    return true;
  }

 private:
  // Called before the region is published: a new worker starts from the epoch before it, so
  // it joins this region however late its thread starts.
  void ensure_workers(int count) {
    const std::uint32_t seen = epoch_.load(std::memory_order_acquire);
    while (static_cast<int>(workers_.size()) < count) {
      const int index = static_cast<int>(workers_.size());
      workers_.emplace_back([this, index, seen] { worker_loop(index, seen); });
    }
  }

  void publish(std::shared_ptr<Job> job) {
    {
      std::lock_guard lock(job_mutex_);
      job_ = std::move(job);
    }
    epoch_.fetch_add(1, std::memory_order_seq_cst);
    if (sleeping_.load(std::memory_order_seq_cst) > 0) epoch_.notify_all();
  }

  // Polls until the epoch moves past `seen` (true) or kPauseWait has passed (false); returns
  // at once while the worker's core is contended.
  bool wait_for_change(std::uint32_t seen, CoreContention& core) const {
    using Clock = std::chrono::steady_clock;
    if (core.contended()) return epoch_.load(std::memory_order_acquire) != seen;
    const Clock::time_point start = Clock::now();
    do {
      for (int spin = 0; spin < 16; ++spin) {
        if (epoch_.load(std::memory_order_acquire) != seen) return true;
        _mm_pause();
      }
    } while (Clock::now() - start < kPauseWait);
    return epoch_.load(std::memory_order_acquire) != seen;
  }

  void worker_loop(int index, std::uint32_t seen) {
    request_short_slice();
    in_region = true;  // regions started from inside a chunk run serially
    CoreContention core;
    while (true) {
      if (!wait_for_change(seen, core)) {
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
      if (job && index < job->helpers_wanted) job->work(1 + index);
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

CoreContention::CoreContention() : schedstat_fd_(open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC)) {}

CoreContention::~CoreContention() {
  if (schedstat_fd_ >= 0) close(schedstat_fd_);
}

bool CoreContention::contended() {
  const auto now = std::chrono::steady_clock::now();
  if (schedstat_fd_ < 0 || now - sampled_at_ < kSamplePeriod) return contended_;
  // "<ns on a core> <ns runnable, waiting for one> <time slices>"; rereading from offset 0
  // gives the current figures.
  char text[96];
  const ssize_t size = pread(schedstat_fd_, text, sizeof text - 1, 0);
  if (size <= 0) return contended_;
  text[size] = 0;
  unsigned long long waited_ns = 0;
  if (std::sscanf(text, "%*s %llu", &waited_ns) != 1) return contended_;
  const double period_ns = std::chrono::duration<double, std::nano>(now - sampled_at_).count();
  contended_ = sampled_at_ != std::chrono::steady_clock::time_point{} &&
               static_cast<double>(waited_ns - waited_ns_) > kContendedShare * period_ns;
  sampled_at_ = now;
  waited_ns_ = waited_ns;
  return contended_;
}

std::uint64_t scheduler_slice_ns() {
  SchedAttr attr;
  return syscall(SYS_sched_getattr, 0, &attr, sizeof attr, 0) == 0 ? attr.runtime : 0;
}

void run_parallel(std::int64_t n, std::int64_t chunks, int threads, RangeFunction f) {
  if (n <= 0) return;
  chunks = std::clamp<std::int64_t>(chunks, 1, std::min(n, kMaxChunks));
  if (threads <= 1 || chunks == 1 || in_region || !Pool::instance().try_run(n, chunks, threads, f)) {
    // Serial, but over the same chunks, so chunk-local results match the parallel run's.
    for (std::int64_t c = 0; c < chunks; ++c) f(c * n / chunks, (c + 1) * n / chunks);
  }
}

}  // namespace tapegrad::kernels::cpu
