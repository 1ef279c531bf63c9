// Learning-rate schedulers, as torch.optim.lr_scheduler computes them: LambdaLR, StepLR,
// MultiStepLR, ExponentialLR, LinearLR and CosineAnnealingLR change every group's lr once per
// step() (an epoch), in PyTorch's form (recursive where PyTorch's is), so their sequences match
// PyTorch's to the last bit; ReduceLROnPlateau lowers it when a monitored metric stops improving.
// Constructing one counts as epoch 0 and leaves the learning rates unchanged, as in PyTorch,
// except LinearLR, which starts them at start_factor times their value.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <tapegrad/optim/optimizer.h>

namespace tapegrad::optim {

class LRScheduler {
 public:
  explicit LRScheduler(Optimizer& optimizer);
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  // Advances one epoch and sets every group's learning rate.
  void step();
  // The learning rates the last step() (or the constructor) set, one per group.
  const std::vector<double>& last_lr() const { return last_lr_; }
  std::int64_t last_epoch() const { return last_epoch_; }

  // The epoch count and learning rates as JSON text (store it e.g. in a tensor file's
  // metadata); load_state restores them, so a resumed schedule continues exactly.
  std::string state() const;
  void load_state(const std::string& saved);

 protected:
  // The learning rates of epoch last_epoch() (already advanced), from the groups' current ones.
  virtual std::vector<double> compute_lr() = 0;
  std::vector<double> current_lr() const;
  // Sets every group's learning rate and last_lr(), outside step() (a constructor's epoch 0).
  void set_lr(const std::vector<double>& lrs);

  Optimizer& optimizer_;
  std::vector<double> base_lrs_;  // the groups' learning rates when the scheduler was built

 private:
  std::int64_t last_epoch_ = 0;
  std::vector<double> last_lr_;
};

// lr = base_lr * lambda(epoch), one function for every group or one per group.
class LambdaLR : public LRScheduler {
 public:
  using Lambda = std::function<double(std::int64_t epoch)>;
  LambdaLR(Optimizer& optimizer, Lambda lambda);
  LambdaLR(Optimizer& optimizer, std::vector<Lambda> lambdas);

 protected:
  std::vector<double> compute_lr() override;

 private:
  std::vector<Lambda> lambdas_;
};

// lr = base_lr * gamma^(epoch / step_size): decays by gamma every step_size epochs.
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, std::int64_t step_size, double gamma = 0.1);

 protected:
  std::vector<double> compute_lr() override;

 private:
  std::int64_t step_size_;
  double gamma_;
};

// Multiplies the learning rate by gamma at each milestone epoch (by gamma^k for a milestone
// listed k times).
class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& optimizer, std::vector<std::int64_t> milestones, double gamma = 0.1);

 protected:
  std::vector<double> compute_lr() override;

 private:
  std::vector<std::int64_t> milestones_;
  double gamma_;
};

// A linear ramp of the factor on base_lr from start_factor to end_factor over total_iters
// epochs, then constant: warm-up when start_factor < end_factor.
class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& optimizer, double start_factor = 1.0 / 3, double end_factor = 1.0, std::int64_t total_iters = 5);

 protected:
  std::vector<double> compute_lr() override;

 private:
  double start_factor_, end_factor_;
  std::int64_t total_iters_;
};

// lr = base_lr * gamma^epoch.
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& optimizer, double gamma);

 protected:
  std::vector<double> compute_lr() override;

 private:
  double gamma_;
};

// lr = eta_min + (base_lr - eta_min) (1 + cos(pi epoch / T_max)) / 2, continuing as a cosine
// (back up after T_max) when stepped further.
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, std::int64_t t_max, double eta_min = 0);

 protected:
  std::vector<double> compute_lr() override;

 private:
  std::int64_t t_max_;
  double eta_min_;
};

struct ReduceLROnPlateauOptions {
  enum class Mode { Min, Max };
  enum class ThresholdMode { Rel, Abs };
  Mode mode = Mode::Min;  // Min: lower metrics are better
  double factor = 0.1;    // new lr = lr * factor
  std::int64_t patience = 10;  // epochs without improvement tolerated before reducing
  double threshold = 1e-4;     // what counts as an improvement, relative or absolute
  ThresholdMode threshold_mode = ThresholdMode::Rel;
  std::int64_t cooldown = 0;  // epochs to wait after a reduction before counting again
  std::vector<double> min_lr = {0};  // one for all groups, or one per group
  double eps = 1e-8;                 // reductions smaller than this are skipped
};

class ReduceLROnPlateau {
 public:
  explicit ReduceLROnPlateau(Optimizer& optimizer, ReduceLROnPlateauOptions options = {});

  // Records one epoch's metric and reduces the learning rates after `patience` epochs without
  // improvement.
  void step(double metric);
  const std::vector<double>& last_lr() const { return last_lr_; }
  std::int64_t last_epoch() const { return last_epoch_; }
  double best() const { return best_; }
  std::int64_t num_bad_epochs() const { return num_bad_epochs_; }

  // The counters and best metric as JSON text; see LRScheduler::state.
  std::string state() const;
  void load_state(const std::string& saved);

 private:
  bool is_better(double metric) const;

  Optimizer& optimizer_;
  ReduceLROnPlateauOptions options_;
  std::vector<double> min_lrs_;
  double best_;
  std::int64_t num_bad_epochs_ = 0;
  std::int64_t cooldown_counter_ = 0;
  std::int64_t last_epoch_ = 0;
  std::vector<double> last_lr_;
};

}  // namespace tapegrad::optim
