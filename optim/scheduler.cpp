// Learning-rate schedulers, following torch/optim/lr_scheduler.py (get_lr, the recursive
// forms, and ReduceLROnPlateau.step) expression by expression.
#include <tapegrad/optim/scheduler.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace tapegrad::optim {
namespace {

using Json = nlohmann::json;

Json parse_state(const std::string& saved, const char* scheduler) {
  try {
    return Json::parse(saved);
  } catch (const Json::exception& error) {
    fail("{}: load_state: malformed state: {}", scheduler, error.what());
  }
}

template <class T>
T field(const Json& state, const char* name, const char* scheduler) {
  try {
    return state.at(name).get<T>();
  } catch (const Json::exception& error) {
    fail("{}: load_state: the saved state lacks a valid '{}': {}", scheduler, name, error.what());
  }
}

void check_group_count(std::size_t saved, std::size_t groups, const char* scheduler) {
  TAPEGRAD_CHECK(saved == groups, "{}: load_state: the saved state has {} learning rates, the optimizer {} groups",
                 scheduler, saved, groups);
}

}  // namespace

LRScheduler::LRScheduler(Optimizer& optimizer) : optimizer_(optimizer) {
  for (std::size_t group = 0; group < optimizer_.num_param_groups(); ++group)
    base_lrs_.push_back(optimizer_.group_initial_lr(group));
  last_lr_ = current_lr();
}

std::vector<double> LRScheduler::current_lr() const {
  std::vector<double> lrs;
  for (std::size_t group = 0; group < optimizer_.num_param_groups(); ++group) lrs.push_back(optimizer_.group_lr(group));
  return lrs;
}

void LRScheduler::step() {
  ++last_epoch_;
  set_lr(compute_lr());
}

void LRScheduler::restart() {
  last_epoch_ = 0;
  set_lr(lr_at_start());
}

void LRScheduler::set_lr(const std::vector<double>& lrs) {
  last_lr_ = lrs;
  for (std::size_t group = 0; group < last_lr_.size(); ++group) optimizer_.set_group_lr(group, last_lr_[group]);
}

LambdaLR::LambdaLR(Optimizer& optimizer, Lambda lambda)
    : LambdaLR(optimizer, std::vector<Lambda>(optimizer.num_param_groups(), std::move(lambda))) {}

LambdaLR::LambdaLR(Optimizer& optimizer, std::vector<Lambda> lambdas) : LRScheduler(optimizer), lambdas_(std::move(lambdas)) {
  TAPEGRAD_CHECK(lambdas_.size() == optimizer.num_param_groups(),
                 "LambdaLR: expected 1 or {} functions (one per parameter group), got {}", optimizer.num_param_groups(),
                 lambdas_.size());
  for (const Lambda& lambda : lambdas_) TAPEGRAD_CHECK(lambda != nullptr, "LambdaLR: a function is empty");
  set_lr(lr_at_start());
}

std::vector<double> LambdaLR::lr_at_start() { return compute_lr(); }

std::vector<double> LambdaLR::compute_lr() {
  std::vector<double> lrs = base_lrs_;
  for (std::size_t group = 0; group < lrs.size(); ++group) lrs[group] *= lambdas_[group](last_epoch());
  return lrs;
}

MultiStepLR::MultiStepLR(Optimizer& optimizer, std::vector<std::int64_t> milestones, double gamma)
    : LRScheduler(optimizer), milestones_(std::move(milestones)), gamma_(gamma) {}

// The closed form at epoch 0: a milestone at 0 has already decayed it.
std::vector<double> MultiStepLR::lr_at_start() {
  const auto hits = std::count_if(milestones_.begin(), milestones_.end(), [](std::int64_t m) { return m <= 0; });
  std::vector<double> lrs = base_lrs_;
  for (double& lr : lrs) lr *= std::pow(gamma_, static_cast<double>(hits));
  return lrs;
}

std::vector<double> MultiStepLR::compute_lr() {
  const auto hits = std::count(milestones_.begin(), milestones_.end(), last_epoch());
  std::vector<double> lrs = current_lr();
  if (hits > 0)
    for (double& lr : lrs) lr *= std::pow(gamma_, static_cast<double>(hits));
  return lrs;
}

LinearLR::LinearLR(Optimizer& optimizer, double start_factor, double end_factor, std::int64_t total_iters)
    : LRScheduler(optimizer), start_factor_(start_factor), end_factor_(end_factor), total_iters_(total_iters) {
  TAPEGRAD_CHECK(start_factor > 0 && start_factor <= 1 && end_factor >= 0 && end_factor <= 1,
                 "LinearLR: start_factor must lie in (0, 1] and end_factor in [0, 1], got {} and {}", start_factor,
                 end_factor);
  TAPEGRAD_CHECK(total_iters > 0, "LinearLR: total_iters must be positive, got {}", total_iters);
  std::vector<double> lrs = current_lr();
  for (double& lr : lrs) lr *= start_factor_;
  set_lr(lrs);
}

std::vector<double> LinearLR::lr_at_start() {
  std::vector<double> lrs = base_lrs_;
  for (double& lr : lrs) lr *= start_factor_;
  return lrs;
}

// PyTorch's recursive form: each epoch's factor relative to the previous one.
std::vector<double> LinearLR::compute_lr() {
  std::vector<double> lrs = current_lr();
  if (last_epoch() > total_iters_) return lrs;
  const double slope = end_factor_ - start_factor_;
  const double ratio = 1. + slope / (static_cast<double>(total_iters_) * start_factor_ +
                                     static_cast<double>(last_epoch() - 1) * slope);
  for (double& lr : lrs) lr *= ratio;
  return lrs;
}

std::string LRScheduler::state() const {
  return Json{{"last_epoch", last_epoch_}, {"base_lrs", base_lrs_}, {"last_lr", last_lr_}}.dump();
}

void LRScheduler::load_state(const std::string& saved) {
  const Json state = parse_state(saved, "LRScheduler");
  const auto last_epoch = field<std::int64_t>(state, "last_epoch", "LRScheduler");
  auto base_lrs = field<std::vector<double>>(state, "base_lrs", "LRScheduler");
  auto last_lr = field<std::vector<double>>(state, "last_lr", "LRScheduler");
  check_group_count(base_lrs.size(), optimizer_.num_param_groups(), "LRScheduler");
  check_group_count(last_lr.size(), optimizer_.num_param_groups(), "LRScheduler");
  last_epoch_ = last_epoch;
  base_lrs_ = std::move(base_lrs);
  last_lr_ = std::move(last_lr);
}

void LRScheduler::rebase(const std::vector<double>& initial_lrs) {
  TAPEGRAD_CHECK(initial_lrs.size() == base_lrs_.size(), "LRScheduler: rebase: got {} learning rates for {} groups",
                 initial_lrs.size(), base_lrs_.size());
  for (std::size_t group = 0; group < base_lrs_.size(); ++group) {
    TAPEGRAD_CHECK(initial_lrs[group] > 0 && base_lrs_[group] > 0,
                   "LRScheduler: rebase: learning rates must be positive, got {} for a schedule based on {}",
                   initial_lrs[group], base_lrs_[group]);
    last_lr_[group] = last_lr_[group] == base_lrs_[group] ? initial_lrs[group]
                                                          : last_lr_[group] * (initial_lrs[group] / base_lrs_[group]);
    base_lrs_[group] = initial_lrs[group];
  }
}

StepLR::StepLR(Optimizer& optimizer, std::int64_t step_size, double gamma)
    : LRScheduler(optimizer), step_size_(step_size), gamma_(gamma) {
  TAPEGRAD_CHECK(step_size > 0, "StepLR: step_size must be positive, got {}", step_size);
}

std::vector<double> StepLR::compute_lr() {
  std::vector<double> lrs = current_lr();
  if (last_epoch() % step_size_ == 0)
    for (double& lr : lrs) lr *= gamma_;
  return lrs;
}

ExponentialLR::ExponentialLR(Optimizer& optimizer, double gamma) : LRScheduler(optimizer), gamma_(gamma) {}

std::vector<double> ExponentialLR::compute_lr() {
  std::vector<double> lrs = current_lr();
  for (double& lr : lrs) lr *= gamma_;
  return lrs;
}

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, std::int64_t t_max, double eta_min)
    : LRScheduler(optimizer), t_max_(t_max), eta_min_(eta_min) {
  TAPEGRAD_CHECK(t_max > 0, "CosineAnnealingLR: T_max must be positive, got {}", t_max);
}

std::vector<double> CosineAnnealingLR::compute_lr() {
  using std::numbers::pi;
  const auto epoch = static_cast<double>(last_epoch()), t_max = static_cast<double>(t_max_);
  std::vector<double> lrs = current_lr();
  for (std::size_t group = 0; group < lrs.size(); ++group) {
    if ((last_epoch() - 1 - t_max_) % (2 * t_max_) == 0) {
      // The first epoch of a rising half: the recursion below would divide by 0.
      lrs[group] = lrs[group] + (base_lrs_[group] - eta_min_) * (1 - std::cos(pi / t_max)) / 2;
    } else {
      lrs[group] = (1 + std::cos(pi * epoch / t_max)) / (1 + std::cos(pi * (epoch - 1) / t_max)) *
                       (lrs[group] - eta_min_) +
                   eta_min_;
    }
  }
  return lrs;
}

namespace {

std::int64_t one_cycle_total_steps(const OneCycleLROptions& options) {
  if (options.total_steps != 0) {
    TAPEGRAD_CHECK(options.total_steps > 0, "OneCycleLR: total_steps must be positive, got {}", options.total_steps);
    return options.total_steps;
  }
  TAPEGRAD_CHECK(options.epochs > 0 && options.steps_per_epoch > 0,
                 "OneCycleLR: give total_steps, or epochs and steps_per_epoch (both positive); got total_steps 0, "
                 "epochs {}, steps_per_epoch {}", options.epochs, options.steps_per_epoch);
  return options.epochs * options.steps_per_epoch;
}

std::vector<double> one_per_group(std::vector<double> values, std::size_t groups, const char* what) {
  TAPEGRAD_CHECK(values.size() == 1 || values.size() == groups,
                 "OneCycleLR: expected 1 or {} values of {} (one per parameter group), got {}", groups, what,
                 values.size());
  if (values.size() == 1) values.assign(groups, values[0]);
  return values;
}

}  // namespace

OneCycleLR::OneCycleLR(Optimizer& optimizer, double max_lr, OneCycleLROptions options)
    : OneCycleLR(optimizer, std::vector<double>{max_lr}, options) {}

OneCycleLR::OneCycleLR(Optimizer& optimizer, std::vector<double> max_lrs, OneCycleLROptions options)
    : LRScheduler(optimizer), options_(options), total_steps_(one_cycle_total_steps(options)) {
  TAPEGRAD_CHECK(options.pct_start >= 0 && options.pct_start <= 1,
                 "OneCycleLR: pct_start must lie in [0, 1], got {}", options.pct_start);
  TAPEGRAD_CHECK(!options.cycle_momentum || optimizer.has_momentum(),
                 "OneCycleLR: the {} optimizer has no momentum (nor Adam's beta1) to cycle; set cycle_momentum = "
                 "false", optimizer.name());
  max_lrs_ = one_per_group(std::move(max_lrs), optimizer.num_param_groups(), "max_lr");
  for (std::size_t group = 0; group < max_lrs_.size(); ++group) {
    base_lrs_[group] = max_lrs_[group] / options.div_factor;
    optimizer.set_group_initial_lr(group, base_lrs_[group]);
    min_lrs_.push_back(base_lrs_[group] / options.final_div_factor);
  }
  // PyTorch's phase boundaries, in floating point: the first ends at pct_start * total_steps - 1.
  const auto total = static_cast<double>(total_steps_);
  const double base_momentum = options.base_momentum, max_momentum = options.max_momentum;
  if (options.three_phase) {
    phases_ = {{options.pct_start * total - 1, Anchor::Initial, Anchor::Max, max_momentum, base_momentum},
               {2 * options.pct_start * total - 2, Anchor::Max, Anchor::Initial, base_momentum, max_momentum},
               {total - 1, Anchor::Initial, Anchor::Min, max_momentum, max_momentum}};
  } else {
    phases_ = {{options.pct_start * total - 1, Anchor::Initial, Anchor::Max, max_momentum, base_momentum},
               {total - 1, Anchor::Max, Anchor::Min, base_momentum, max_momentum}};
  }
  set_lr(compute_lr());
}

double OneCycleLR::anneal(double start, double end, double pct) const {
  if (options_.anneal_strategy == OneCycleLROptions::Anneal::Linear) return (end - start) * pct + start;
  const double cos_out = std::cos(std::numbers::pi * pct) + 1;
  return end + (start - end) / 2.0 * cos_out;
}

double OneCycleLR::anchor_lr(Anchor anchor, std::size_t group) const {
  switch (anchor) {
    case Anchor::Initial: return base_lrs_[group];
    case Anchor::Max: return max_lrs_[group];
    case Anchor::Min: return min_lrs_[group];
  }
  return 0;
}

// PyTorch's get_lr: the phase holding the step, and the position within it.
std::vector<double> OneCycleLR::compute_lr() {
  const std::int64_t step = last_epoch();
  TAPEGRAD_CHECK(step <= total_steps_, "OneCycleLR: stepped {} times, past the end of its schedule of {} steps; "
                 "build it with total_steps (or epochs * steps_per_epoch) covering every step() of the training",
                 step, total_steps_);
  std::vector<double> lrs;
  for (std::size_t group = 0; group < max_lrs_.size(); ++group) {
    double start_step = 0;
    for (std::size_t i = 0; i < phases_.size(); ++i) {
      const Phase& phase = phases_[i];
      if (static_cast<double>(step) <= phase.end_step || i == phases_.size() - 1) {
        const double pct = (static_cast<double>(step) - start_step) / (phase.end_step - start_step);
        lrs.push_back(anneal(anchor_lr(phase.start_lr, group), anchor_lr(phase.end_lr, group), pct));
        if (options_.cycle_momentum)
          optimizer_.set_group_momentum(group, anneal(phase.start_momentum, phase.end_momentum, pct));
        break;
      }
      start_step = phase.end_step;
    }
  }
  return lrs;
}

SequentialLR::SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers,
                           std::vector<std::int64_t> milestones)
    : LRScheduler(optimizer), schedulers_(std::move(schedulers)), milestones_(std::move(milestones)) {
  TAPEGRAD_CHECK(!schedulers_.empty(), "SequentialLR: needs at least one scheduler");
  for (std::size_t i = 0; i < schedulers_.size(); ++i) {
    TAPEGRAD_CHECK(schedulers_[i] != nullptr, "SequentialLR: scheduler {} is null", i);
    TAPEGRAD_CHECK(&schedulers_[i]->optimizer() == &optimizer, "SequentialLR: scheduler {} belongs to another "
                   "optimizer; every scheduler must be built on the optimizer given to SequentialLR", i);
  }
  TAPEGRAD_CHECK(milestones_.size() == schedulers_.size() - 1,
                 "SequentialLR: expected one milestone fewer than schedulers, got {} schedulers and {} milestones",
                 schedulers_.size(), milestones_.size());
  TAPEGRAD_CHECK(std::is_sorted(milestones_.begin(), milestones_.end()),
                 "SequentialLR: milestones must be in increasing order, got {}", fmt::join(milestones_, ", "));
  // As PyTorch: the groups go back to their initial lrs and the first scheduler takes its epoch 0.
  schedulers_[0]->restart();
  set_lr(schedulers_[0]->last_lr());
}

std::vector<double> SequentialLR::compute_lr() {
  const auto later = std::upper_bound(milestones_.begin(), milestones_.end(), last_epoch());
  const auto index = static_cast<std::size_t>(later - milestones_.begin());
  LRScheduler& scheduler = *schedulers_[index];
  if (index > 0 && milestones_[index - 1] == last_epoch()) {
    scheduler.restart();
  } else {
    scheduler.step();
  }
  return scheduler.last_lr();
}

std::string SequentialLR::state() const {
  Json state = Json::parse(LRScheduler::state());
  Json& saved = state["schedulers"] = Json::array();
  for (const auto& scheduler : schedulers_) saved.push_back(Json::parse(scheduler->state()));
  return state.dump();
}

void SequentialLR::load_state(const std::string& saved) {
  const Json state = parse_state(saved, "SequentialLR");
  const auto schedulers = field<std::vector<Json>>(state, "schedulers", "SequentialLR");
  TAPEGRAD_CHECK(schedulers.size() == schedulers_.size(),
                 "SequentialLR: load_state: the saved state has {} schedulers, this one {}", schedulers.size(),
                 schedulers_.size());
  LRScheduler::load_state(saved);
  for (std::size_t i = 0; i < schedulers_.size(); ++i) schedulers_[i]->load_state(schedulers[i].dump());
}

void SequentialLR::rebase(const std::vector<double>& initial_lrs) {
  LRScheduler::rebase(initial_lrs);
  for (const auto& scheduler : schedulers_) scheduler->rebase(initial_lrs);
}

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, ReduceLROnPlateauOptions options)
    : optimizer_(optimizer), options_(std::move(options)) {
  const std::size_t groups = optimizer_.num_param_groups();
  TAPEGRAD_CHECK(options_.factor < 1.0, "ReduceLROnPlateau: factor should be < 1.0, got {}", options_.factor);
  TAPEGRAD_CHECK(options_.min_lr.size() == 1 || options_.min_lr.size() == groups,
                 "ReduceLROnPlateau: expected 1 or {} min_lr values (one per parameter group), got {}", groups,
                 options_.min_lr.size());
  min_lrs_ = options_.min_lr.size() == 1 ? std::vector<double>(groups, options_.min_lr[0]) : options_.min_lr;
  const double inf = std::numeric_limits<double>::infinity();
  best_ = options_.mode == ReduceLROnPlateauOptions::Mode::Min ? inf : -inf;
  for (std::size_t group = 0; group < groups; ++group) last_lr_.push_back(optimizer_.group_lr(group));
}

bool ReduceLROnPlateau::is_better(double metric) const {
  using Mode = ReduceLROnPlateauOptions::Mode;
  const bool relative = options_.threshold_mode == ReduceLROnPlateauOptions::ThresholdMode::Rel;
  const double threshold = options_.threshold;
  if (options_.mode == Mode::Min)
    return relative ? metric < best_ * (1 - threshold) : metric < best_ - threshold;
  return relative ? metric > best_ * (threshold + 1) : metric > best_ + threshold;
}

void ReduceLROnPlateau::step(double metric) {
  ++last_epoch_;
  if (is_better(metric)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    ++num_bad_epochs_;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    num_bad_epochs_ = 0;  // bad epochs during the cooldown do not count
  }
  if (num_bad_epochs_ > options_.patience) {
    for (std::size_t group = 0; group < optimizer_.num_param_groups(); ++group) {
      const double old_lr = optimizer_.group_lr(group);
      const double new_lr = std::max(old_lr * options_.factor, min_lrs_[group]);
      if (old_lr - new_lr > options_.eps) optimizer_.set_group_lr(group, new_lr);
    }
    cooldown_counter_ = options_.cooldown;
    num_bad_epochs_ = 0;
  }
  for (std::size_t group = 0; group < last_lr_.size(); ++group) last_lr_[group] = optimizer_.group_lr(group);
}

std::string ReduceLROnPlateau::state() const {
  // JSON has no infinity: the initial best is saved as null.
  const Json best = std::isinf(best_) ? Json(nullptr) : Json(best_);
  return Json{{"last_epoch", last_epoch_}, {"best", best}, {"num_bad_epochs", num_bad_epochs_},
              {"cooldown_counter", cooldown_counter_}, {"last_lr", last_lr_}}
      .dump();
}

void ReduceLROnPlateau::load_state(const std::string& saved) {
  const char* name = "ReduceLROnPlateau";
  const Json state = parse_state(saved, name);
  const auto last_epoch = field<std::int64_t>(state, "last_epoch", name);
  const auto num_bad_epochs = field<std::int64_t>(state, "num_bad_epochs", name);
  const auto cooldown_counter = field<std::int64_t>(state, "cooldown_counter", name);
  auto last_lr = field<std::vector<double>>(state, "last_lr", name);
  check_group_count(last_lr.size(), optimizer_.num_param_groups(), name);
  const auto best = field<Json>(state, "best", name);
  const double inf = std::numeric_limits<double>::infinity();
  best_ = best.is_null() ? (options_.mode == ReduceLROnPlateauOptions::Mode::Min ? inf : -inf) : best.get<double>();
  last_epoch_ = last_epoch;
  num_bad_epochs_ = num_bad_epochs;
  cooldown_counter_ = cooldown_counter;
  last_lr_ = std::move(last_lr);
}

}  // namespace tapegrad::optim
