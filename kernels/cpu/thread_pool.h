// tapegrad's own CPU thread pool. A parallel region deals its chunks out in contiguous shares,
// one per thread, the calling thread's included; each thread claims the chunks of its share
// one at a time, then takes unstarted ones from the back of another's. So chunks a late
// worker has not started are simply taken by the caller, and a region never waits for a worker
// the scheduler has parked (under contention) or that is still waking up. Idle workers spin
// for a few hundred microseconds, then sleep on a futex, and sleep at once while another
// program competes for their core: they neither burn a core another process wants nor
// oversubscribe it; they ask the scheduler for short time slices, so that one woken
// beside a busy program runs at once rather than after that program's slice. One region runs
// at a time; a region started while another runs (another thread's, or nested inside a chunk)
// runs serially on its caller.
#pragma once

#include <chrono>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace tapegrad::kernels::cpu {

// A non-owning reference to a callable `void(std::int64_t begin, std::int64_t end)`.
class RangeFunction {
 public:
  // A temporary callable lives until the end of the call it is passed to, which is enough.
  template <class F>
    requires(!std::is_same_v<std::decay_t<F>, RangeFunction>)
  RangeFunction(F&& f)  // NOLINT: implicit, so callers pass lambdas directly
      : object_(const_cast<void*>(static_cast<const void*>(&f))), call_([](void* object, std::int64_t begin,
                                                                          std::int64_t end) {
          (*static_cast<std::remove_reference_t<F>*>(object))(begin, end);
        }) {}
  void operator()(std::int64_t begin, std::int64_t end) const { call_(object_, begin, end); }

 private:
  void* object_;
  void (*call_)(void*, std::int64_t, std::int64_t);
};

// Runs f over [0, n) in `chunks` contiguous chunks of as equal a size as possible, on up to
// `threads` threads (the caller included); at most 2^31 - 1 chunks. Each thread first runs its
// own contiguous share of the chunks (the caller the first share), then helps with the others'.
// Which thread runs a chunk still varies from run to run; the chunks themselves depend only on
// n and `chunks`, so a kernel whose chunks write disjoint outputs gives bit-identical results
// whatever the thread count or timing. The first exception a chunk throws is rethrown to the
// caller once every started chunk has finished.
void run_parallel(std::int64_t n, std::int64_t chunks, int threads, RangeFunction f);

// True on a pool worker, and on a caller while it runs a parallel region's chunks.
bool inside_parallel_region();

// Whether the calling thread shares its core with another runnable thread: true when, over the
// last period of at least kSamplePeriod, the thread spent more than kContendedShare of the time
// runnable but waiting for a core (the kernel's per-thread scheduler statistics). A pool worker
// asks before it polls for the next region. Always false where the kernel keeps no such
// statistics. Not thread-safe: one per thread.
class CoreContention {
 public:
  static constexpr std::chrono::milliseconds kSamplePeriod{20};
  static constexpr double kContendedShare = 0.2;

  CoreContention();
  ~CoreContention();
  CoreContention(const CoreContention&) = delete;
  CoreContention& operator=(const CoreContention&) = delete;

  bool contended();

 private:
  int schedstat_fd_;  // the calling thread's /proc/thread-self/schedstat, or -1
  std::chrono::steady_clock::time_point sampled_at_{};
  std::uint64_t waited_ns_ = 0;  // the thread's total wait for a core at sampled_at_
  bool contended_ = false;
};

// The scheduler time slice pool workers ask for (Linux 6.12 on; earlier kernels ignore it).
inline constexpr std::uint64_t kWorkerSliceNs = 100'000;
// The time slice of the calling thread, in nanoseconds (sched_getattr's sched_runtime); 0 when
// the kernel does not say.
std::uint64_t scheduler_slice_ns();

}  // namespace tapegrad::kernels::cpu
