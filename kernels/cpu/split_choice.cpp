#include <tapegrad/kernels/cpu/split_choice.h>

#include <algorithm>
#include <utility>
#include <vector>

namespace tapegrad::kernels::cpu {

void SplitChoice::Recent::add(std::int64_t nanoseconds) {
  times_[static_cast<std::size_t>(count_ % 3)] = nanoseconds;
  ++count_;
}

std::int64_t SplitChoice::Recent::median() const {
  if (count_ == 1) return times_[0];
  if (count_ == 2) return (times_[0] + times_[1]) / 2;
  return std::max(std::min(times_[0], times_[1]), std::min(std::max(times_[0], times_[1]), times_[2]));
}

bool SplitChoice::next_split() const {
  if (calls_ < kTrialCalls) return calls_ % 2 == 1;
  const bool split_is_faster = split_.median() < whole_.median();
  const bool retry = calls_ % kRetryEvery == kRetryEvery - 1;
  return split_is_faster != retry;
}

void SplitChoice::record(bool split, std::int64_t nanoseconds) {
  (split ? split_ : whole_).add(nanoseconds);
  ++calls_;
}

SplitChoice& split_choice(const WorkSite& site) {
  // A program has a handful of such sites (its layers' shapes, training and evaluation batch
  // sizes); one that makes many more starts its learning over rather than growing the list.
  constexpr std::size_t kMaxSites = 256;
  thread_local std::vector<std::pair<WorkSite, SplitChoice>> sites;
  for (auto& [known, choice] : sites)
    if (known == site) return choice;
  if (sites.size() == kMaxSites) sites.clear();
  return sites.emplace_back(site, SplitChoice{}).second;
}

}  // namespace tapegrad::kernels::cpu
