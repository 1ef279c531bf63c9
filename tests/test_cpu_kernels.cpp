// The CPU backend's own machinery: the thread pool (every index once, errors, nesting, each
// thread's own share first, callers on several threads, the workers' short scheduler slices),
// the measured choice of splitting middle-size work (its rule, and the same bits either way),
// the thread cap, the small-block pool and the caching allocator behind CPU tensors, large
// float32 products against float64, the per-image convolution kernels against the backend's
// generic im2col + gemm reference, the 2x2 max-pool fast path against the general kernel, the
// contiguous elementwise forms against the strided kernels, and results that do not depend on the
// thread count.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <limits>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include <pthread.h>
#include <sched.h>
#include <sys/utsname.h>

#include <tapegrad/kernels/cpu/split_choice.h>
#include <tapegrad/kernels/cpu/thread_pool.h>
#include <tapegrad/kernels/small_alloc.h>

#include "test_util.h"

namespace tapegrad {
namespace {

using kernels::cpu::run_parallel;

// Restores the thread setting when a test ends.
class ThreadSetting {
 public:
  ThreadSetting() : previous_(num_threads()) {}
  ~ThreadSetting() { set_num_threads(previous_); }
  ThreadSetting(const ThreadSetting&) = delete;
  ThreadSetting& operator=(const ThreadSetting&) = delete;

 private:
  int previous_;
};

std::vector<int> visit_counts(std::int64_t n, std::int64_t chunks, int threads) {
  std::vector<std::atomic<int>> counts(n);
  run_parallel(n, chunks, threads, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) counts[i].fetch_add(1);
  });
  std::vector<int> result;
  for (auto& count : counts) result.push_back(count.load());
  return result;
}

TEST(ThreadPool, EachThreadRunsItsOwnShareFirstThenTakesFromTheBackOfAnother) {
  // Four chunks on two threads: 0-1 are the caller's share, 2-3 the worker's. The caller's
  // first chunk holds it until the worker has run three, so the worker's order shows where it
  // started (its own front) and where it took the rest (the back of the caller's share). The
  // first test here, so this is the process's first region: the worker made for it must join it.
  const std::thread::id caller = std::this_thread::get_id();
  std::mutex mutex;
  std::vector<std::int64_t> caller_order, worker_order;
  std::atomic<int> worker_chunks{0};
  run_parallel(4, 4, 2, [&](std::int64_t begin, std::int64_t) {
    const bool on_caller = std::this_thread::get_id() == caller;
    {
      std::lock_guard lock(mutex);
      (on_caller ? caller_order : worker_order).push_back(begin);
    }
    if (!on_caller) worker_chunks.fetch_add(1);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (on_caller && worker_chunks.load() < 3 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::yield();
  });
  // Beside a busy program the scheduler may park the caller before it claims anything; the worker
  // then runs its own share and the caller's whole share, from the back.
  if (caller_order.empty()) {
    EXPECT_EQ(worker_order, std::vector<std::int64_t>({2, 3, 1, 0}));
  } else {
    EXPECT_EQ(caller_order, std::vector<std::int64_t>({0}));
    EXPECT_EQ(worker_order, std::vector<std::int64_t>({2, 3, 1}));
  }
}

TEST(ThreadPool, EveryIndexRunsExactlyOnce) {
  for (const std::int64_t n : {1, 2, 7, 1000, 100003})
    for (const std::int64_t chunks : {1, 3, 8, 64})
      for (const int threads : {1, 2, 4})
        EXPECT_EQ(visit_counts(n, chunks, threads), std::vector<int>(n, 1))
            << "n " << n << ", chunks " << chunks << ", threads " << threads;
}

TEST(ThreadPool, ChunksDependOnlyOnTheirCount) {
  // Chunk c covers [c n / chunks, (c + 1) n / chunks), whichever thread runs it.
  for (const int threads : {1, 2}) {
    std::vector<std::pair<std::int64_t, std::int64_t>> seen(5);
    run_parallel(23, 5, threads, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t c = 0; c < 5; ++c)
        if (begin == c * 23 / 5) seen[c] = {begin, end};
    });
    for (std::int64_t c = 0; c < 5; ++c) EXPECT_EQ(seen[c], std::make_pair(c * 23 / 5, (c + 1) * 23 / 5));
  }
}

TEST(ThreadPool, AnExceptionReachesTheCallerAfterTheOtherChunks) {
  std::atomic<int> finished{0};
  EXPECT_THROW(run_parallel(64, 16, 2,
                            [&](std::int64_t begin, std::int64_t) {
                              if (begin == 0) throw std::runtime_error("chunk failed");
                              finished.fetch_add(1);
                            }),
               std::runtime_error);
  EXPECT_EQ(finished.load(), 15) << "every other chunk still ran";
  EXPECT_EQ(visit_counts(100, 8, 2), std::vector<int>(100, 1)) << "the pool works after an error";
}

TEST(ThreadPool, NestedRegionsRunOnTheirCaller) {
  std::vector<std::atomic<int>> counts(40 * 50);
  run_parallel(40, 8, 2, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) {
      EXPECT_TRUE(kernels::cpu::inside_parallel_region());
      run_parallel(50, 4, 2, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t j = b; j < e; ++j) counts[i * 50 + j].fetch_add(1);
      });
    }
  });
  for (auto& count : counts) EXPECT_EQ(count.load(), 1);
  EXPECT_FALSE(kernels::cpu::inside_parallel_region());
}

TEST(ThreadPool, CallersOnSeveralThreadsEachGetTheirWorkDone) {
  std::vector<std::thread> callers;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t)
    callers.emplace_back([&] {
      for (int round = 0; round < 200; ++round)
        if (visit_counts(257, 8, 2) != std::vector<int>(257, 1)) failures.fetch_add(1);
    });
  for (std::thread& caller : callers) caller.join();
  EXPECT_EQ(failures.load(), 0);
}

bool kernel_honours_fair_slices() {  // Linux 6.12 and later
  utsname name{};
  int major = 0, minor = 0;
  return uname(&name) == 0 && std::sscanf(name.release, "%d.%d", &major, &minor) == 2 &&
         (major > 6 || (major == 6 && minor >= 12));
}

TEST(ThreadPool, WorkersAskTheSchedulerForShortSlices) {
  // Beside a busy program, a woken worker takes its core at once only with a slice shorter than
  // the running thread's. The caller's own slice is the user's business and stays as it was.
  if (!kernel_honours_fair_slices()) GTEST_SKIP() << "this kernel has no per-thread slices of the fair scheduler";
  const std::thread::id caller = std::this_thread::get_id();
  const std::uint64_t caller_slice = kernels::cpu::scheduler_slice_ns();
  std::atomic<std::uint64_t> worker_slice{0};
  std::atomic<bool> worker_ran{false};
  run_parallel(2, 2, 2, [&](std::int64_t, std::int64_t) {
    if (std::this_thread::get_id() != caller) {
      worker_slice = kernels::cpu::scheduler_slice_ns();
      worker_ran = true;
      return;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!worker_ran.load() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  });
  ASSERT_TRUE(worker_ran.load()) << "no worker joined the region";
  EXPECT_EQ(worker_slice.load(), kernels::cpu::kWorkerSliceNs);
  EXPECT_EQ(kernels::cpu::scheduler_slice_ns(), caller_slice);
}

bool kernel_keeps_thread_schedstat() { return std::ifstream("/proc/thread-self/schedstat").good(); }

// Pins the calling thread to one CPU until destroyed.
class PinnedToCpu {
 public:
  explicit PinnedToCpu(int cpu) {
    pthread_getaffinity_np(pthread_self(), sizeof saved_, &saved_);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    pthread_setaffinity_np(pthread_self(), sizeof one, &one);
  }
  ~PinnedToCpu() { pthread_setaffinity_np(pthread_self(), sizeof saved_, &saved_); }
  PinnedToCpu(const PinnedToCpu&) = delete;
  PinnedToCpu& operator=(const PinnedToCpu&) = delete;

 private:
  cpu_set_t saved_{};
};

int first_usable_cpu() {
  cpu_set_t usable;
  sched_getaffinity(0, sizeof usable, &usable);
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
    if (CPU_ISSET(cpu, &usable)) return cpu;
  return 0;
}

TEST(ThreadPool, CoreContentionSeesABusyThreadOnTheSameCore) {
  // Workers stop polling for the next region while another program competes for their core.
  if (!kernel_keeps_thread_schedstat()) GTEST_SKIP() << "this kernel keeps no per-thread scheduler statistics";
  using Clock = std::chrono::steady_clock;
  const int cpu = first_usable_cpu();
  std::atomic<bool> stop{false};
  std::thread busy([&] {
    PinnedToCpu pin(cpu);
    while (!stop.load(std::memory_order_relaxed)) {
    }
  });
  bool seen = false;
  {
    PinnedToCpu pin(cpu);
    kernels::cpu::CoreContention core;
    const Clock::time_point deadline = Clock::now() + 20 * kernels::cpu::CoreContention::kSamplePeriod;
    while (!seen && Clock::now() < deadline) seen = core.contended();
  }
  stop = true;
  busy.join();
  EXPECT_TRUE(seen) << "a thread sharing its CPU with a busy loop for " << 20 * kernels::cpu::CoreContention::kSamplePeriod
                    << " was never found contended";
}

TEST(ThreadPool, CoreContentionIsFalseForASleepingThread) {
  // A thread that sleeps waits for no core, whatever else runs.
  if (!kernel_keeps_thread_schedstat()) GTEST_SKIP() << "this kernel keeps no per-thread scheduler statistics";
  kernels::cpu::CoreContention core;
  EXPECT_FALSE(core.contended());  // the first call has nothing to compare with
  std::this_thread::sleep_for(5 * kernels::cpu::CoreContention::kSamplePeriod);
  EXPECT_FALSE(core.contended());
}

TEST(Threads, ARequestAboveTheUsableCoresIsCapped) {
  ThreadSetting restore;
  set_num_threads(1000);
  EXPECT_EQ(num_threads(), usable_cores());
  set_num_threads(1);
  EXPECT_EQ(num_threads(), 1);
  EXPECT_THROW(set_num_threads(0), Error);
}

// ---- the small-block pool behind tensor headers, small storages and tape nodes ----

TEST(SmallBlocks, FreedBlocksServeTheNextRequestsOfTheirSizeClassLastFreedFirst) {
  // More blocks than malloc keeps per thread, of a size it would merge with their neighbours.
  std::vector<void*> blocks(1000);
  for (void*& block : blocks) block = kernels::small_alloc(500);
  for (void* block : blocks) kernels::small_free(block, 500);
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    void* again = kernels::small_alloc(510);  // 481 to 512 bytes share a class
    EXPECT_EQ(again, blocks[blocks.size() - 1 - i]) << "request " << i;
  }
  for (void* block : blocks) kernels::small_free(block, 510);
  // No bytes still makes a block, and past the limit blocks come from the system, whole.
  void* empty_block = kernels::small_alloc(0);
  EXPECT_NE(empty_block, nullptr);
  kernels::small_free(empty_block, 0);
  const std::size_t large = kernels::kSmallBlockLimit + 1;
  auto* bytes = static_cast<unsigned char*>(kernels::small_alloc(large));
  std::fill_n(bytes, large, 0xab);
  EXPECT_EQ(bytes[large - 1], 0xab);
  kernels::small_free(bytes, large);
}

TEST(SmallBlocks, ABlockFreedOnAnotherThreadServesThatThreadUntilItExits) {
  void* block = kernels::small_alloc(100);
  std::thread other([block] {
    kernels::small_free(block, 100);
    void* reused = kernels::small_alloc(100);
    EXPECT_EQ(reused, block);
    kernels::small_free(reused, 100);
  });
  other.join();  // its pool gave its blocks back when it exited
  void* mine = kernels::small_alloc(100);
  EXPECT_NE(mine, nullptr);
  kernels::small_free(mine, 100);
}

TEST(CpuMemory, LargeTensorsComeFromTheCacheAndAreCounted) {
  cpu::empty_cache();
  const kernels::MemoryStats before = cpu::memory_stats();
  const std::size_t bytes = std::size_t{3} << 20;  // 3 MiB: a 4 MiB block
  {
    Tensor big = empty({static_cast<std::int64_t>(bytes / 4)});
    const kernels::MemoryStats during = cpu::memory_stats();
    EXPECT_EQ(during.allocated, before.allocated + (std::size_t{4} << 20));
    EXPECT_GE(during.peak_allocated, during.allocated);
  }
  const kernels::MemoryStats after_free = cpu::memory_stats();
  EXPECT_EQ(after_free.allocated, before.allocated);
  EXPECT_EQ(after_free.reserved, before.reserved + (std::size_t{4} << 20)) << "the freed block stays cached";
  {
    Tensor again = empty({static_cast<std::int64_t>(bytes / 4)});
    EXPECT_EQ(cpu::memory_stats().cache_hits, after_free.cache_hits + 1) << "the same size reuses the block";
    EXPECT_EQ(cpu::memory_stats().device_allocations, after_free.device_allocations);
  }
  cpu::empty_cache();
  EXPECT_EQ(cpu::memory_stats().reserved, cpu::memory_stats().allocated) << "nothing cached after empty_cache";
}

TEST(CpuMemory, AnImpossibleRequestIsAClearError) {
  try {
    Tensor huge = empty({std::int64_t{1} << 50});
    FAIL() << "allocating 4 PiB succeeded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("out of memory"), std::string::npos) << e.what();
  }
}

// ---- matrix products: large float32 ones (oneDNN's sgemm where the build has it) ----

// Expects `product` of the float32 operands to agree with the same product of their float64
// copies, on one thread and on two, and the two float32 results to be bit-identical.
template <class Product>
void expect_float32_product_agrees(const std::vector<Tensor>& operands, Product product, const std::string& what) {
  ThreadSetting restore;
  std::vector<Tensor> wide;
  for (const Tensor& operand : operands) wide.push_back(operand.to(kFloat64));
  const Tensor reference = product(wide);
  std::vector<float> serial;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    const Tensor result = product(operands);
    ASSERT_EQ(result.dtype(), kFloat32) << what;
    ASSERT_EQ(result.shape(), reference.shape()) << what;
    const double largest = (result.to(kFloat64) - reference).abs().max().item();
    EXPECT_LT(largest, 1e-3) << what << " at " << threads << " thread(s)";
    // Split over two threads, each part is a product of its own: the same sums, the same bits.
    if (threads == 1) serial = result.contiguous().to_vector<float>();
    else EXPECT_EQ(result.contiguous().to_vector<float>(), serial) << what;
  }
}

TEST(CpuGemm, LargeFloat32ProductsAgreeWithFloat64InEveryLayout) {
  Generator g(5);
  // 256 x 256 x 300: 19.7M multiply-adds, split in two by rows on two threads.
  const Tensor a = randn({256, 300}, g), b = randn({300, 256}, g);
  const auto plain = [](const std::vector<Tensor>& t) { return matmul(t[0], t[1]); };
  expect_float32_product_agrees({a, b}, plain, "A B");
  expect_float32_product_agrees({a.t().contiguous(), b},
                                [](const std::vector<Tensor>& t) { return matmul(t[0].t(), t[1]); }, "A^T B");
  expect_float32_product_agrees({a, b.t().contiguous()},
                                [](const std::vector<Tensor>& t) { return matmul(t[0], t[1].t()); }, "A B^T");
  expect_float32_product_agrees({a.t().contiguous(), b.t().contiguous()},
                                [](const std::vector<Tensor>& t) { return matmul(t[0].t(), t[1].t()); }, "A^T B^T");
  // Rows longer than the matrix: leading dimensions past the extents.
  const Tensor a_wide = randn({256, 340}, g), b_wide = randn({300, 290}, g);
  expect_float32_product_agrees(
      {a_wide, b_wide},
      [](const std::vector<Tensor>& t) { return matmul(t[0].narrow(1, 20, 300), t[1].narrow(1, 7, 256)); },
      "A B with leading dimensions 340 and 290");
  // Wider than tall: split by columns on two threads.
  expect_float32_product_agrees({randn({64, 784}, g), randn({784, 640}, g)}, plain, "64 x 640 x 784");
  // A batch, and a linear layer: the bias is the output's start (beta = 1), the weight read transposed.
  expect_float32_product_agrees({randn({3, 128, 200}, g), randn({3, 200, 96}, g)}, plain, "a batch of 3");
  expect_float32_product_agrees(
      {randn({64, 784}, g), randn({128, 784}, g), randn({128}, g)},
      [](const std::vector<Tensor>& t) { return linear(t[0], t[1], t[2]); }, "linear 784 -> 128 with a bias");
}

// The backend's C = alpha op(A) op(B) + beta C with scalars the op layer never passes, on a
// product below the sizes that may split (a whole one, made into its own oneDNN primitive where
// the build has oneDNN), in each layout, run twice (the second call reuses what the first made).
// Also where C is the left half of a wider array (a part of a product cut by columns): oneDNN
// computes such a C in a buffer of its own, and the columns beside it stay as they were.
TEST(CpuGemm, AWholeFloat32ProductScalesByAlphaAndAddsBetaTimesC) {
  Generator g(7);
  const std::int64_t m = 64, n = 64, k = 784;  // 3.2M multiply-adds: below the sizes that may split
  for (const std::int64_t ldc : {n, 2 * n}) {
    const Tensor c_start = randn({m, ldc}, g);
    for (const bool trans_a : {false, true})
      for (const bool trans_b : {false, true}) {
        const Tensor a = randn(trans_a ? Shape{k, m} : Shape{m, k}, g), b = randn(trans_b ? Shape{n, k} : Shape{k, n}, g);
        const Tensor op_a = trans_a ? a.t() : a, op_b = trans_b ? b.t() : b;
        const Tensor expected =
            0.5 * matmul(op_a.to(kFloat64), op_b.to(kFloat64)) - 2.0 * c_start.narrow(1, 0, n).to(kFloat64);
        for (int call = 0; call < 2; ++call) {
          const Tensor c = c_start.clone();
          kernels::GemmProblem problem;
          problem.m = m;
          problem.n = n;
          problem.k = k;
          problem.a = {a.desc().data, a.shape()[1], 0, trans_a};
          problem.b = {b.desc().data, b.shape()[1], 0, trans_b};
          problem.c = {c.desc().data, ldc, 0};
          problem.alpha = 0.5;
          problem.beta = -2;
          kernels::backend_for(Device::cpu()).gemm(problem);
          const std::string what = fmt::format("A{} B{}, leading dimension of C {}, call {}", trans_a ? "^T" : "",
                                               trans_b ? "^T" : "", ldc, call);
          EXPECT_LT((c.narrow(1, 0, n).to(kFloat64) - expected).abs().max().item(), 1e-3) << what;
          if (ldc > n) EXPECT_TRUE(testing::equal(c.narrow(1, n, ldc - n), c_start.narrow(1, n, ldc - n))) << what;
        }
      }
  }
}

TEST(CpuGemm, TheLargeProductsOfALinearLayerAgreeWithFloat64) {
  Generator g(6);
  const Tensor x = randn({64, 784}, g), weight = randn({128, 784}, g), gy = randn({64, 128}, g);
  const auto gradients = [](const std::vector<Tensor>& t) {
    const Tensor x = t[0].detach().requires_grad_(), w = t[1].detach().requires_grad_();
    const Tensor y = linear(x, w);
    (y * t[2]).sum().backward();
    return cat({y.detach().reshape({-1}), x.grad().reshape({-1}), w.grad().reshape({-1})});
  };
  expect_float32_product_agrees({x, weight, gy}, gradients,
                                "the output and the input and weight gradients of linear 784 -> 128");
}

// ---- work of a middle size: split or not as measured ----

using kernels::cpu::SplitChoice;

// Feeds a choice `calls` calls whose times come from `nanoseconds(split)`; returns the ways taken.
template <class Times>
std::vector<bool> ways_taken(SplitChoice& choice, std::int64_t calls, Times nanoseconds) {
  std::vector<bool> ways;
  for (std::int64_t call = 0; call < calls; ++call) {
    const bool split = choice.next_split();
    ways.push_back(split);
    choice.record(split, nanoseconds(split));
  }
  return ways;
}

TEST(SplitChoice, TriesBothWaysThenKeepsTheFasterAndRetriesTheOtherNowAndThen) {
  SplitChoice choice;
  const auto split_faster = [](bool split) -> std::int64_t { return split ? 70'000 : 100'000; };
  const std::vector<bool> trials = ways_taken(choice, SplitChoice::kTrialCalls, split_faster);
  EXPECT_EQ(trials, (std::vector<bool>{false, true, false, true, false, true, false, true}));
  const std::int64_t after = 3 * SplitChoice::kRetryEvery;
  const std::vector<bool> ways = ways_taken(choice, after, split_faster);
  for (std::int64_t i = 0; i < after; ++i) {
    const std::int64_t call = SplitChoice::kTrialCalls + i;
    EXPECT_EQ(ways[i], call % SplitChoice::kRetryEvery != SplitChoice::kRetryEvery - 1) << "call " << call;
  }
}

TEST(SplitChoice, OneSlowCallDecidesNothingButAChangeOfTheMachineDoes) {
  SplitChoice choice;
  ways_taken(choice, SplitChoice::kTrialCalls, [](bool split) -> std::int64_t { return split ? 70'000 : 100'000; });
  // One split call interrupted by the scheduler: the median of the last three keeps splitting.
  choice.record(true, 5'000'000);
  EXPECT_TRUE(choice.next_split());
  // The second core gets busy: two slow split calls, and the next call runs whole.
  ways_taken(choice, 2, [](bool) -> std::int64_t { return 150'000; });
  EXPECT_FALSE(choice.next_split());
  // It frees up again: the retries find splitting faster within two of them.
  const std::vector<bool> ways = ways_taken(choice, 2 * SplitChoice::kRetryEvery + 1,
                                            [](bool split) -> std::int64_t { return split ? 70'000 : 100'000; });
  EXPECT_TRUE(ways.back());
}

TEST(SplitChoice, EachSiteOfEachThreadLearnsApart) {
  using kernels::cpu::WorkSite;
  const WorkSite product{WorkSite::Kind::Product, {64, 128, 784, 1}};
  const WorkSite update{WorkSite::Kind::Update, {100'352, 4, 0, 0}};
  SplitChoice* here = &kernels::cpu::split_choice(product);
  EXPECT_EQ(&kernels::cpu::split_choice(product), here);
  EXPECT_NE(&kernels::cpu::split_choice(update), here);
  const SplitChoice* elsewhere = nullptr;
  std::thread([&] { elsewhere = &kernels::cpu::split_choice(product); }).join();
  EXPECT_NE(elsewhere, here);
}

// A linear layer's products and its Adam update of a middle size, like the MNIST MLP's first
// layer's, called often enough on two threads that both ways run, give the bits they give on one
// thread. Shapes no other test uses, so that the trials start here.
TEST(SplitChoice, MiddleSizeWorkGivesTheSameBitsSplitOrWhole) {
  ThreadSetting restore;
  Generator g(8);
  const Tensor x = randn({48, 784}, g), w_start = randn({160, 784}, g), gy = randn({48, 160}, g);
  const auto train = [&](int threads) {
    set_num_threads(threads);
    const Tensor w = w_start.clone().requires_grad_();
    optim::Adam adam({w}, {.lr = 1e-3});
    std::vector<float> outputs;
    for (std::int64_t step = 0; step < 2 * SplitChoice::kTrialCalls; ++step) {
      adam.zero_grad();
      const Tensor y = linear(x, w);
      (y * gy).sum().backward();
      adam.step();
      const std::vector<float> values = y.detach().reshape({-1}).to_vector<float>();
      outputs.insert(outputs.end(), values.begin(), values.end());
    }
    const std::vector<float> weights = w.detach().reshape({-1}).to_vector<float>();
    outputs.insert(outputs.end(), weights.begin(), weights.end());
    return outputs;
  };
  const std::vector<float> serial = train(1);
  EXPECT_EQ(train(2), serial);
}

// ---- fused optimizer updates ----

// The CPU's fused Adam update rounds as torch's op-by-op arithmetic does, written out here in
// float32 (the library itself may be built for wider vectors and other instructions), for every
// step's bias corrections and for second moments from subnormal to near overflow, zero,
// infinity and NaN among them.
TEST(CpuOptimizerUpdates, AdamRoundsAsTorchsArithmeticOpByOp) {
  std::mt19937 random(12);
  const std::int64_t n = 4096;
  std::vector<float> param(n), grad(n), exp_avg(n), exp_avg_sq(n);
  std::uniform_real_distribution<float> unit(-1, 1);
  std::uniform_int_distribution<int> exponent(-140, 120);  // subnormal to 2^120
  for (std::int64_t i = 0; i < n; ++i) {
    param[i] = unit(random);
    grad[i] = std::ldexp(unit(random), exponent(random) / 2);
    exp_avg[i] = 0.1f * grad[i];
    exp_avg_sq[i] = std::ldexp(std::abs(unit(random)), exponent(random));
  }
  exp_avg_sq[0] = grad[0] = 0;
  exp_avg_sq[1] = std::numeric_limits<float>::infinity();
  exp_avg_sq[2] = std::numeric_limits<float>::quiet_NaN();
  exp_avg_sq[3] = std::numeric_limits<float>::denorm_min();
  for (const double beta2 : {0.999, 0.99, 0.5})
    for (int t = 1; t <= 100; ++t) {
      kernels::AdamStep step;
      step.lr = 0.01;
      step.beta2 = beta2;
      step.bias_correction1 = 1 - std::pow(step.beta1, t);
      step.bias_correction2 = 1 - std::pow(beta2, t);
      std::vector<float> expected_param(n), expected_exp_avg(n), expected_exp_avg_sq(n);
      const auto beta1 = static_cast<float>(step.beta1), one_minus_beta1 = static_cast<float>(1 - step.beta1);
      const auto beta2_f = static_cast<float>(beta2), one_minus_beta2 = static_cast<float>(1 - beta2);
      const auto bias_correction2_sqrt = static_cast<float>(std::sqrt(step.bias_correction2));
      const auto neg_step_size = static_cast<float>(-(step.lr / step.bias_correction1));
      for (std::int64_t i = 0; i < n; ++i) {
        expected_exp_avg[i] = exp_avg[i] * beta1 + one_minus_beta1 * grad[i];
        expected_exp_avg_sq[i] = exp_avg_sq[i] * beta2_f + one_minus_beta2 * grad[i] * grad[i];
        const float denom = std::sqrt(expected_exp_avg_sq[i]) / bias_correction2_sqrt + static_cast<float>(step.eps);
        expected_param[i] = param[i] + neg_step_size * expected_exp_avg[i] / denom;
      }
      const Tensor p = from_vector(param), g = from_vector(grad), m = from_vector(exp_avg), v = from_vector(exp_avg_sq);
      const std::array<kernels::TensorDesc, 2> state{m.desc(), v.desc()};
      kernels::backend_for(Device::cpu()).optimizer_step(step, p.desc(), g.desc(), state);
      const std::string what = fmt::format("beta2 {}, step {}", beta2, t);
      EXPECT_TRUE(testing::identical(m, from_vector(expected_exp_avg))) << what;
      EXPECT_TRUE(testing::identical(v, from_vector(expected_exp_avg_sq))) << what;
      EXPECT_TRUE(testing::identical(p, from_vector(expected_param))) << what;
    }
}

// ---- convolution: the CPU kernels against the backend's generic reference ----

struct ConvCase {
  Shape input, weight;
  Conv2dParams params;
  bool bias;
  bool transposed_input;  // a non-contiguous input (its H and W swapped in memory)
};

kernels::Window2d window_of(const Shape& input, const Shape& weight, const Conv2dParams& p) {
  kernels::Window2d w;
  w.batch = input[0];
  w.channels = input[1];
  w.height = input[2];
  w.width = input[3];
  w.kernel_h = weight[2];
  w.kernel_w = weight[3];
  w.stride_h = p.stride[0];
  w.stride_w = p.stride[1];
  w.pad_h = p.padding[0];
  w.pad_w = p.padding[1];
  w.dilation_h = p.dilation[0];
  w.dilation_w = p.dilation[1];
  w.groups = p.groups;
  w.out_h = (w.height + 2 * w.pad_h - w.dilation_h * (w.kernel_h - 1) - 1) / w.stride_h + 1;
  w.out_w = (w.width + 2 * w.pad_w - w.dilation_w * (w.kernel_w - 1) - 1) / w.stride_w + 1;
  return w;
}

std::vector<ConvCase> conv_cases() {
  return {
      {{3, 1, 28, 28}, {16, 1, 5, 5}, {{1, 1}, {2, 2}, {1, 1}}, true, false},     // the first layer of B1
      {{17, 16, 14, 14}, {32, 16, 5, 5}, {{1, 1}, {2, 2}, {1, 1}}, true, false},  // the second, 17 images
      {{2, 3, 9, 11}, {4, 3, 3, 2}, {{2, 1}, {1, 0}, {1, 1}}, false, false},      // strides, uneven padding
      {{2, 2, 10, 9}, {3, 2, 3, 3}, {{1, 2}, {2, 1}, {2, 2}}, true, true},        // dilation, strided input
      {{1, 4, 6, 6}, {5, 4, 1, 1}, {{1, 1}, {0, 0}, {1, 1}}, true, true},         // 1x1, one image
      {{2, 2, 40, 3}, {2, 2, 3, 3}, {{1, 1}, {1, 1}, {1, 1}}, false, false},      // lines longer than a block
      {{2, 3, 12, 10}, {4, 3, 3, 3}, {{2, 2}, {2, 1}, {2, 1}}, true, false},      // everything at once
      {{2, 4, 9, 8}, {6, 2, 3, 3}, {{1, 1}, {1, 1}, {1, 1}, 2}, true, false},     // two groups
      {{2, 6, 10, 9}, {6, 1, 3, 3}, {{2, 2}, {1, 1}, {1, 1}, 6}, true, true},     // depthwise, strided input
      {{1, 6, 8, 8}, {9, 2, 3, 2}, {{1, 2}, {2, 1}, {2, 1}, 3}, false, false},    // groups with dilation
  };
}

// The CPU backend's weight gradient against the im2col reference's, each computed alone and
// together with the bias gradient, which must be grad_output summed per channel.
void expect_parameter_grads_agree(const Tensor& x, const Tensor& gy, const kernels::Window2d& w,
                                  const Shape& weight_shape, double tolerance) {
  kernels::Backend& cpu = kernels::backend_for(Device::cpu());
  const TensorOptions options(x.dtype());
  Tensor gw = empty(weight_shape, options), gw_reference = empty(weight_shape, options);
  cpu.conv2d_weight_grad(x.desc(), gy.desc(), w, gw.desc(), {});
  cpu.kernels::Backend::conv2d_weight_grad(x.desc(), gy.desc(), w, gw_reference.desc(), {});
  testing::expect_close(gw, gw_reference, tolerance, "weight gradient");

  const Shape bias_shape{weight_shape[0]};
  Tensor gw_with_bias = empty(weight_shape, options), gb = full(bias_shape, NAN, options);
  Tensor gw_reference_with_bias = empty(weight_shape, options), gb_reference = full(bias_shape, NAN, options);
  cpu.conv2d_weight_grad(x.desc(), gy.desc(), w, gw_with_bias.desc(), gb.desc());
  cpu.kernels::Backend::conv2d_weight_grad(x.desc(), gy.desc(), w, gw_reference_with_bias.desc(), gb_reference.desc());
  testing::expect_close(gw_with_bias, gw_reference, tolerance, "weight gradient beside the bias gradient");
  testing::expect_close(gw_reference_with_bias, gw_reference, tolerance, "reference weight gradient beside the bias's");
  const Tensor channel_sums = gy.to(kFloat64).sum({0, 2, 3}).to(x.dtype());
  testing::expect_close(gb, channel_sums, tolerance, "bias gradient");
  testing::expect_close(gb_reference, channel_sums, tolerance, "reference bias gradient");
}

Tensor conv_input(const ConvCase& c, Generator& g) {
  if (!c.transposed_input) return randn(c.input, g, kFloat64);
  const Shape& s = c.input;
  return randn({s[0], s[1], s[3], s[2]}, g, kFloat64).transpose(2, 3);
}

TEST(CpuConvolution, AgreesWithTheIm2colReferenceOnEveryGeometry) {
  kernels::Backend& cpu = kernels::backend_for(Device::cpu());
  Generator g(7);
  for (const ConvCase& c : conv_cases()) {
    SCOPED_TRACE(fmt::format("input {} weight {}", c.input, c.weight));
    const kernels::Window2d w = window_of(c.input, c.weight, c.params);
    const Tensor x = conv_input(c, g), weight = randn(c.weight, g, kFloat64), bias = randn({c.weight[0]}, g, kFloat64);
    const kernels::TensorDesc bias_desc = c.bias ? bias.desc() : kernels::TensorDesc{};
    const Shape out_shape{w.batch, c.weight[0], w.out_h, w.out_w};
    for (const auto activation : {kernels::ConvActivation::None, kernels::ConvActivation::Relu}) {
      Tensor out = empty(out_shape, kFloat64), reference = empty(out_shape, kFloat64);
      cpu.conv2d(x.desc(), weight.desc(), bias_desc, w, out.desc(), activation);
      cpu.kernels::Backend::conv2d(x.desc(), weight.desc(), bias_desc, w, reference.desc(), activation);
      testing::expect_close(out, reference, 1e-12, "forward");
      if (activation == kernels::ConvActivation::Relu) EXPECT_GE(out.min().item(), 0.0);
    }

    const Tensor gy = randn(out_shape, g, kFloat64);
    Tensor gx = empty(c.input, kFloat64), gx_reference = empty(c.input, kFloat64);
    cpu.conv2d_input_grad(gy.desc(), weight.desc(), w, gx.desc());
    cpu.kernels::Backend::conv2d_input_grad(gy.desc(), weight.desc(), w, gx_reference.desc());
    testing::expect_close(gx, gx_reference, 1e-12, "input gradient");

    expect_parameter_grads_agree(x, gy, w, c.weight, 1e-12);
  }
}

// float32 convolutions with enough input channels run on oneDNN where the build has it; the
// cases above with more than 64 column rows are among them.
TEST(CpuConvolution, Float32AgreesWithTheIm2colReference) {
  kernels::Backend& cpu = kernels::backend_for(Device::cpu());
  Generator g(17);
  for (ConvCase c : conv_cases()) {
    c.input[1] *= 8;  // more channels, so that oneDNN takes most of them
    c.weight[1] *= 8;
    SCOPED_TRACE(fmt::format("input {} weight {}", c.input, c.weight));
    const kernels::Window2d w = window_of(c.input, c.weight, c.params);
    const Tensor x = conv_input(c, g).to(kFloat32), weight = randn(c.weight, g), bias = randn({c.weight[0]}, g);
    const kernels::TensorDesc bias_desc = c.bias ? bias.desc() : kernels::TensorDesc{};
    const Shape out_shape{w.batch, c.weight[0], w.out_h, w.out_w};
    for (const auto activation : {kernels::ConvActivation::None, kernels::ConvActivation::Relu}) {
      Tensor out = empty(out_shape), reference = empty(out_shape);
      cpu.conv2d(x.desc(), weight.desc(), bias_desc, w, out.desc(), activation);
      cpu.kernels::Backend::conv2d(x.desc(), weight.desc(), bias_desc, w, reference.desc(), activation);
      testing::expect_close(out, reference, 1e-4, "forward");
      if (activation == kernels::ConvActivation::Relu) EXPECT_GE(out.min().item(), 0.0);
    }

    const Tensor gy = randn(out_shape, g);
    Tensor gx = empty(c.input), gx_reference = empty(c.input);
    cpu.conv2d_input_grad(gy.desc(), weight.desc(), w, gx.desc());
    cpu.kernels::Backend::conv2d_input_grad(gy.desc(), weight.desc(), w, gx_reference.desc());
    testing::expect_close(gx, gx_reference, 1e-4, "input gradient");

    expect_parameter_grads_agree(x, gy, w, c.weight, 1e-4);
  }
}

TEST(CpuConvolution, ResultsAreBitIdenticalForAnyThreadCount) {
  ThreadSetting restore;
  Generator g(3);
  const Tensor x = randn({40, 16, 14, 14}, g), weight = randn({32, 16, 5, 5}, g), bias = randn({32}, g);
  const Tensor gy = randn({40, 32, 14, 14}, g);
  const auto run = [&](int threads) {
    set_num_threads(threads);
    const Conv2dParams p{{1, 1}, {2, 2}, {1, 1}};
    // A backward through the layer: the weight and bias gradients from one pass.
    const Tensor w = weight.detach().requires_grad_(), b = bias.detach().requires_grad_();
    (conv2d(x, w, b, p) * gy).sum().backward();
    return std::vector<std::vector<float>>{conv2d(x, weight, bias, p).to_vector<float>(),
                                           conv2d_input_grad(gy, weight, x.shape(), p).to_vector<float>(),
                                           conv2d_weight_grad(x, gy, weight.shape(), p).to_vector<float>(),
                                           w.grad().to_vector<float>(), b.grad().to_vector<float>()};
  };
  const auto serial = run(1);
  EXPECT_EQ(run(2), serial);
}

// ---- max pooling: the 2x2 fast path against the general kernel ----

// MaxPool2d(2) over a batch of 2 images of 3 channels.
kernels::Window2d two_by_two_window(std::int64_t height, std::int64_t width) {
  kernels::Window2d w;
  w.batch = 2;
  w.channels = 3;
  w.height = height;
  w.width = width;
  w.kernel_h = w.kernel_w = w.stride_h = w.stride_w = 2;
  w.out_h = height / 2;
  w.out_w = width / 2;
  return w;
}

TEST(CpuMaxPool, TheTwoByTwoPathAgreesWithTheGeneralKernelOnTiesInfinitiesAndNaN) {
  kernels::Backend& cpu = kernels::backend_for(Device::cpu());
  Generator g(11);
  for (const std::int64_t width : {4, 14, 29, 40, 70}) {
    SCOPED_TRACE(fmt::format("width {}", width));
    const std::int64_t height = 6;
    // Few distinct values, so windows hold ties; then infinities and NaNs at random places.
    std::vector<float> values = randint(0, 3, {2, 3, height, width}, g).to(kFloat32).to_vector<float>();
    for (std::size_t i = 0; i < values.size(); i += 7) values[i] = -std::numeric_limits<float>::infinity();
    for (std::size_t i = 3; i < values.size(); i += 11) values[i] = std::numeric_limits<float>::quiet_NaN();
    for (std::size_t i = 5; i < values.size(); i += 13) values[i] = std::numeric_limits<float>::infinity();
    const Tensor x = from_vector(values, Shape{2, 3, height, width});
    // The same numbers read through a view with a column stride of 2, which takes the general path.
    Tensor strided = slice(zeros({2, 3, height, 2 * width}), 3, 0, 2 * width, 2);
    strided.copy_(x);

    const kernels::Window2d w = two_by_two_window(height, width);
    const Shape out_shape{2, 3, w.out_h, w.out_w};
    Tensor fast = empty(out_shape), fast_index = empty(out_shape, kInt64);
    Tensor general = empty(out_shape), general_index = empty(out_shape, kInt64);
    cpu.max_pool2d(x.desc(), w, fast.desc(), fast_index.desc());
    cpu.max_pool2d(strided.desc(), w, general.desc(), general_index.desc());
    EXPECT_EQ(fast_index.to_vector<std::int64_t>(), general_index.to_vector<std::int64_t>());
    const std::vector<float> a = fast.to_vector<float>(), b = general.to_vector<float>();
    for (std::size_t i = 0; i < a.size(); ++i)
      EXPECT_TRUE(a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i]))) << "output " << i;
  }
}

// The gradient of MaxPool2d(2) is zeros plus each window's gradient added at its argmax: every
// position written, on planes with a row and a column past the last window, with -0 and NaN
// among the gradients.
TEST(CpuMaxPool, TheGradientIsZerosPlusEachGradientAtItsArgmax) {
  kernels::Backend& cpu = kernels::backend_for(Device::cpu());
  Generator g(13);
  for (const DType dtype : {kFloat32, kFloat64})
    for (const std::int64_t height : {6, 7})
      for (const std::int64_t width : {4, 15, 29, 40, 70}) {
        SCOPED_TRACE(fmt::format("{} height {} width {}", dtype, height, width));
        const kernels::Window2d w = two_by_two_window(height, width);
        const Shape in_shape{2, 3, height, width}, out_shape{2, 3, w.out_h, w.out_w};
        const Tensor x = randint(0, 3, in_shape, g).to(dtype);  // ties in many windows
        Tensor values = empty(out_shape, dtype), index = empty(out_shape, kInt64);
        cpu.max_pool2d(x.desc(), w, values.desc(), index.desc());
        std::vector<double> grads = randn(out_shape, g, kFloat64).to_vector<double>();
        grads[1] = -0.0;
        grads[4] = std::numeric_limits<double>::quiet_NaN();
        const Tensor grad = from_vector(grads, out_shape).to(dtype);

        Tensor grad_input = full(in_shape, 7.0, dtype);  // every position must be written
        cpu.max_pool2d_backward(grad.desc(), index.desc(), w, grad_input.desc());

        const std::vector<double> rounded = grad.to_vector<double>();
        const std::vector<std::int64_t> at = index.to_vector<std::int64_t>();
        const std::int64_t in_plane = height * width, out_plane = w.out_h * w.out_w;
        std::vector<double> expected(static_cast<std::size_t>(2 * 3 * in_plane), 0.0);
        for (std::int64_t plane = 0; plane < 2 * 3; ++plane)
          for (std::int64_t o = 0; o < out_plane; ++o)
            expected[plane * in_plane + at[plane * out_plane + o]] += rounded[plane * out_plane + o];
        const std::vector<double> actual = grad_input.to_vector<double>();
        for (std::size_t i = 0; i < actual.size(); ++i) {
          if (std::isnan(expected[i])) {
            EXPECT_TRUE(std::isnan(actual[i])) << "position " << i;
            continue;
          }
          EXPECT_EQ(actual[i], expected[i]) << "position " << i;
          EXPECT_EQ(std::signbit(actual[i]), std::signbit(expected[i])) << "position " << i;
        }
      }
}

// The CPU's max_pool2d_relu (the ReLU on each plane while it is in cache, its gradient inside the
// routing) against the backend's generic entries (max pooling, then ReLU and ReLU's gradient as
// elementwise kernels; the CUDA backend runs these): tiled and overlapping windows, negative
// windows, -0, ties and NaN among the inputs and the gradients, and a batch large enough to split.
TEST(CpuMaxPool, TheFusedReluAgreesBitForBitWithThePoolingAndReluKernels) {
  ThreadSetting restore;
  set_num_threads(2);
  kernels::Backend& cpu = kernels::backend_for(Device::cpu());
  kernels::Window2d overlapping = two_by_two_window(7, 9);
  overlapping.kernel_h = overlapping.kernel_w = 3;
  overlapping.pad_h = overlapping.pad_w = 1;
  overlapping.out_h = 4;
  overlapping.out_w = 5;
  kernels::Window2d large = two_by_two_window(28, 28);
  large.batch = 48;
  large.channels = 16;
  Generator g(17);
  for (const DType dtype : {kFloat32, kFloat64})
    for (const kernels::Window2d& w : {two_by_two_window(6, 29), overlapping, large}) {
      SCOPED_TRACE(fmt::format("{} kernel {} batch {} width {}", dtype, w.kernel_h, w.batch, w.width));
      const Shape in_shape{w.batch, w.channels, w.height, w.width}, out_shape{w.batch, w.channels, w.out_h, w.out_w};
      std::vector<double> inputs = (randint(-4, 2, in_shape, g).to(kFloat64) * 0.5).to_vector<double>();
      for (std::size_t i = 0; i < inputs.size(); i += 17) inputs[i] = -0.0;
      for (std::size_t i = 5; i < inputs.size(); i += 23) inputs[i] = std::numeric_limits<double>::quiet_NaN();
      const Tensor x = from_vector(inputs, in_shape).to(dtype);
      Tensor fused = empty(out_shape, dtype), fused_index = empty(out_shape, kInt64);
      Tensor generic = empty(out_shape, dtype), generic_index = empty(out_shape, kInt64);
      cpu.max_pool2d_relu(x.desc(), w, fused.desc(), fused_index.desc());
      cpu.kernels::Backend::max_pool2d_relu(x.desc(), w, generic.desc(), generic_index.desc());
      EXPECT_TRUE(testing::identical(fused, generic));
      EXPECT_EQ(fused_index.to_vector<std::int64_t>(), generic_index.to_vector<std::int64_t>());
      EXPECT_GT(sum(eq(fused, 0.0).to(kFloat64)).item(), 0.0) << "some windows must have no positive maximum";

      std::vector<double> grads = randn(out_shape, g, kFloat64).to_vector<double>();
      grads[1] = -0.0;
      grads[2] = std::numeric_limits<double>::quiet_NaN();
      const Tensor grad = from_vector(grads, out_shape).to(dtype);
      Tensor fused_grad = full(in_shape, 7.0, dtype), generic_grad = full(in_shape, 7.0, dtype);
      cpu.max_pool2d_relu_backward(grad.desc(), fused.desc(), fused_index.desc(), w, fused_grad.desc());
      cpu.kernels::Backend::max_pool2d_relu_backward(grad.desc(), fused.desc(), fused_index.desc(), w,
                                                      generic_grad.desc());
      EXPECT_TRUE(testing::identical(fused_grad, generic_grad));
    }
}

#define TAPEGRAD_UNARY_VALUE(name, expr) kernels::UnaryOp::name,
#define TAPEGRAD_BINARY_VALUE(name, expr) kernels::BinaryOp::name,
constexpr kernels::UnaryOp kUnaryOps[] = {TAPEGRAD_UNARY_OPS(TAPEGRAD_UNARY_VALUE)};
constexpr kernels::BinaryOp kBinaryOps[] = {TAPEGRAD_BINARY_OPS(TAPEGRAD_BINARY_VALUE)};
#undef TAPEGRAD_UNARY_VALUE
#undef TAPEGRAD_BINARY_VALUE

// Equal elements, NaN where the other is NaN, and zeros of the same sign.
void expect_same_values(const Tensor& actual, const Tensor& expected, const std::string& what) {
  const std::vector<double> x = actual.to(kFloat64).to_vector<double>(), y = expected.to(kFloat64).to_vector<double>();
  ASSERT_EQ(x.size(), y.size()) << what;
  for (std::size_t i = 0; i < x.size(); ++i)
    EXPECT_TRUE((std::isnan(x[i]) && std::isnan(y[i])) || (x[i] == y[i] && std::signbit(x[i]) == std::signbit(y[i])))
        << what << ", element " << i << ": " << x[i] << " against " << y[i];
}

// The contiguous forms of the elementwise kernels (a single element computed on the spot, an
// array for one thread looped over on its addresses) give what the strided kernels give, for
// every op, on single elements and on an array, with signed zeros, NaN and infinities among the
// values.
TEST(CpuElementwise, TheContiguousFormsAgreeWithTheStridedKernelsOnEveryOp) {
  kernels::Backend& cpu = kernels::backend_for(Device::cpu());
  const std::vector<double> a_values{-2.5, -0.0, 0.0, 0.5, 1.0, 3.0, NAN, INFINITY, -INFINITY, 7.25};
  const std::vector<double> b_values{1.5, 0.0, -0.0, -0.5, 2.0, 3.0, 1.0, NAN, -INFINITY, -2.0};
  kernels::UnaryScalars scalars = kernels::UnaryScalars::operand(0.75);
  scalars.low = -1;
  scalars.high = 2;
  const auto check = [&](const Tensor& a, const Tensor& b, const std::string& what) {
    const std::int64_t count = a.numel();
    for (const kernels::UnaryOp op : kUnaryOps) {
      Tensor strided = empty_like(a), contiguous = empty_like(a);
      cpu.unary(op, a.desc(), strided.desc(), scalars);
      cpu.unary_contiguous(op, a.dtype(), a.desc().data, contiguous.desc().data, count, scalars);
      expect_same_values(contiguous, strided, fmt::format("unary op {} on {}", static_cast<int>(op), what));
    }
    for (const kernels::BinaryOp op : kBinaryOps) {
      Tensor strided = empty_like(a), contiguous = empty_like(a);
      cpu.binary(op, a.desc(), b.desc(), strided.desc(), 0.5);
      cpu.binary_contiguous(op, a.dtype(), a.desc().data, b.desc().data, contiguous.desc().data, count, 0.5);
      expect_same_values(contiguous, strided, fmt::format("binary op {} on {}", static_cast<int>(op), what));
    }
  };
  for (const DType dtype : {kFloat32, kFloat64}) {
    check(from_vector(a_values, std::nullopt, dtype), from_vector(b_values, std::nullopt, dtype),
          fmt::format("{} arrays", dtype));
    for (std::size_t i = 0; i < a_values.size(); ++i)
      check(full({}, a_values[i], dtype), full({}, b_values[i], dtype),
            fmt::format("{} single elements {} and {}", dtype, a_values[i], b_values[i]));
  }
}

// Arrays worth splitting across threads take the strided form, and get its results.
TEST(CpuElementwise, TheContiguousFormsOfLargeArraysAgreeWithTheStridedKernels) {
  kernels::Backend& cpu = kernels::backend_for(Device::cpu());
  Generator g(5);
  const Tensor a = randn({1 << 20}, g, kFloat64), b = randn({1 << 20}, g, kFloat64);
  Tensor strided = empty_like(a), contiguous = empty_like(a);
  cpu.binary(kernels::BinaryOp::Sub, a.desc(), b.desc(), strided.desc(), 0.5);
  cpu.binary_contiguous(kernels::BinaryOp::Sub, kFloat64, a.desc().data, b.desc().data, contiguous.desc().data,
                        a.numel(), 0.5);
  EXPECT_EQ(contiguous.to_vector<double>(), strided.to_vector<double>());
  cpu.unary(kernels::UnaryOp::Exp, a.desc(), strided.desc(), {});
  cpu.unary_contiguous(kernels::UnaryOp::Exp, kFloat64, a.desc().data, contiguous.desc().data, a.numel(), {});
  EXPECT_EQ(contiguous.to_vector<double>(), strided.to_vector<double>());
}

// Integers compute in their own type, and bool operands take the strided form, which compares.
TEST(CpuElementwise, TheContiguousFormsKeepIntegersAndBoolsToTheirRules) {
  kernels::Backend& cpu = kernels::backend_for(Device::cpu());
  const Tensor a = full({}, 7.0, kInt64), b = full({}, 2.0, kInt64);
  Tensor out = empty({}, kInt64);
  cpu.binary_contiguous(kernels::BinaryOp::Div, kInt64, a.desc().data, b.desc().data, out.desc().data, 1, 1);
  EXPECT_EQ(out.item<std::int64_t>(), 3);
  const Tensor yes = full({}, 1.0, kBool), no = full({}, 0.0, kBool);
  Tensor compared = empty({}, kBool);
  cpu.binary_contiguous(kernels::BinaryOp::Ne, kBool, yes.desc().data, no.desc().data, compared.desc().data, 1, 1);
  EXPECT_TRUE(compared.item<bool>());
  EXPECT_THROW(cpu.binary_contiguous(kernels::BinaryOp::Add, kBool, yes.desc().data, no.desc().data,
                                     compared.desc().data, 1, 1),
               Error);
}

// Large enough to run on several threads, with indices repeating along the scattered dim.
TEST(CpuScatterAdd, SplitsOnlyBetweenSlicesAndMatchesAPlainLoop) {
  ThreadSetting restore;
  kernels::Backend& cpu = kernels::backend_for(Device::cpu());
  Generator g(21);
  const std::int64_t a = 64, b = 50, c = 200;  // scatter along dim 1 of [a, b, c] into [a, 7, c]
  const Tensor src = randn({a, b, c}, g, kFloat64), index = randint(0, 7, {a, b, c}, g);
  const std::vector<double> x = src.to_vector<double>();
  const std::vector<std::int64_t> idx = index.to_vector<std::int64_t>();
  std::vector<double> expected(a * 7 * c, 0.0);
  for (std::int64_t i = 0; i < a; ++i)
    for (std::int64_t j = 0; j < b; ++j)
      for (std::int64_t k = 0; k < c; ++k) expected[(i * 7 + idx[(i * b + j) * c + k]) * c + k] += x[(i * b + j) * c + k];
  for (const int threads : {1, 2}) {
    set_num_threads(threads);
    Tensor out = zeros({a, 7, c}, kFloat64);
    cpu.scatter_add(src.desc(), 1, index.desc(), out.desc());
    EXPECT_EQ(out.to_vector<double>(), expected) << threads << " threads";
  }
}

TEST(CpuReductions, APerChannelSumDoesNotDependOnTheThreadCount) {
  ThreadSetting restore;
  Generator g(6);
  const Tensor x = randn({64, 8, 30, 30}, g);  // summed to [8], as a convolution's bias gradient
  set_num_threads(1);
  const std::vector<float> serial = sum(x, {0, 2, 3}).to_vector<float>();
  set_num_threads(2);
  EXPECT_EQ(sum(x, {0, 2, 3}).to_vector<float>(), serial);
  const std::vector<float> values = x.to_vector<float>();
  for (std::int64_t c = 0; c < 8; ++c) {
    double reference = 0;
    for (std::int64_t n = 0; n < 64; ++n)
      for (std::int64_t i = 0; i < 900; ++i) reference += values[(n * 8 + c) * 900 + i];
    EXPECT_NEAR(serial[c], reference, 1e-2) << "channel " << c;
  }
}

TEST(CpuReductions, AWholeTensorSumDoesNotDependOnTheThreadCount) {
  ThreadSetting restore;
  Generator g(5);
  const Tensor x = randn({3, 100003}, g);
  set_num_threads(1);
  const float serial = sum(x).item<float>();
  set_num_threads(2);
  EXPECT_EQ(sum(x).item<float>(), serial);
  double reference = 0;
  for (float v : x.to_vector<float>()) reference += v;
  EXPECT_NEAR(serial, reference, 1e-3);
}

// Large enough to run on several threads along either dim: threads take whole slices, each summed
// in order, so the running sums are a plain loop's whatever the thread count.
TEST(CpuReductions, RunningSumsDoNotDependOnTheThreadCount) {
  ThreadSetting restore;
  Generator g(7);
  const std::int64_t rows = 700, columns = 1000;
  const Tensor x = randn({rows, columns}, g);
  const std::vector<float> values = x.to_vector<float>();
  for (const int dim : {0, 1}) {
    const std::int64_t extent = dim == 0 ? rows : columns, slices = dim == 0 ? columns : rows;
    const std::int64_t step = dim == 0 ? columns : 1, slice_step = dim == 0 ? 1 : columns;
    std::vector<float> expected(values.size());
    for (std::int64_t s = 0; s < slices; ++s) {
      double total = 0;
      for (std::int64_t j = 0; j < extent; ++j) {
        total += values[s * slice_step + j * step];
        expected[s * slice_step + j * step] = static_cast<float>(total);
      }
    }
    for (const int threads : {1, 2}) {
      set_num_threads(threads);
      EXPECT_EQ(cumsum(x, dim).to_vector<float>(), expected) << "dim " << dim << ", " << threads << " threads";
    }
  }
}

}  // namespace
}  // namespace tapegrad
