// Learning-rate schedulers, as torch.optim.lr_scheduler computes them: StepLR, ExponentialLR
// and CosineAnnealingLR change every group's lr once per step() (an epoch), in PyTorch's
// recursive form, so their sequences match PyTorch's to the last bit; ReduceLROnPlateau lowers
// it when a monitored metric stops improving. Constructing one counts as epoch 0 and leaves the
// learning rates unchanged, as in PyTorch.
#pragma once

#include <cstdint>
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

  Optimizer& optimizer_;
  std::vector<double> base_lrs_;  // the groups' learning rates when the scheduler was built

 private:
  std::int64_t last_epoch_ = 0;
  std::vector<double> last_lr_;
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
