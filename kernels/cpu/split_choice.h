// Work of a middle size — a product of a few million multiply-adds, the update of a layer of
// about 100k weights — takes 50-150 us on one core. Split across two, it runs 1.3x faster where
// the second core is free and keeps the data it wrote, and up to 1.4x slower where it is not: on
// a virtual machine the same program sees both from one minute to the next (the MNIST MLP's
// epoch split: 0.30 s one minute, 0.45 s the next, against 0.39 s whole). So for each site of
// such work (a product's shape, an update's size) each thread times both ways and keeps the
// faster. Both ways compute the same chunks, so results never depend on the choice.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>

namespace tapegrad::kernels::cpu {

// One site of middle-size work: what it is and its sizes.
struct WorkSite {
  enum class Kind : std::uint8_t { Product, TransposedAProduct, TransposedBProduct, TransposedProduct, Update };
  Kind kind;
  std::array<std::int64_t, 4> sizes;  // a product's m, n, k and batch; an update's elements and arrays
  bool operator==(const WorkSite&) const = default;
};

// How one site's calls run: whole on the calling thread or split across the threads. The first
// kTrialCalls alternate; then the faster way runs, and every kRetryEvery-th call the other way
// once, so that a change in the machine shows within a few dozen calls. A way's time is the
// median of its last three calls, so one call the scheduler interrupted decides nothing. A
// training step calls each of its sites once, so the sites of a step try the same way at the
// same step and time a consistent arrangement: split, an update reads on each core the rows of
// the gradient that core's part of the weight gradient's product wrote.
class SplitChoice {
 public:
  static constexpr std::int64_t kTrialCalls = 8;
  static constexpr std::int64_t kRetryEvery = 32;

  bool next_split() const;
  void record(bool split, std::int64_t nanoseconds);

 private:
  // The last three times of one way; the median of those present.
  class Recent {
   public:
    void add(std::int64_t nanoseconds);
    std::int64_t median() const;

   private:
    std::array<std::int64_t, 3> times_{};
    int count_ = 0;
  };

  std::int64_t calls_ = 0;
  Recent whole_, split_;
};

// The calling thread's choice for `site`. Threads learn apart, so choosing takes no lock.
SplitChoice& split_choice(const WorkSite& site);

// Runs run(split) with the way `site`'s choice gives, and records how long it took.
template <class F>
void run_timed_choice(const WorkSite& site, F&& run) {
  using Clock = std::chrono::steady_clock;
  const bool split = split_choice(site).next_split();
  const Clock::time_point start = Clock::now();
  run(split);
  // Looked up again: the list may have changed meanwhile, had `run` timed sites of its own.
  split_choice(site).record(split, std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count());
}

}  // namespace tapegrad::kernels::cpu
