// Learning-rate schedulers, as torch.optim.lr_scheduler computes them: LambdaLR, StepLR,
// MultiStepLR, ExponentialLR, LinearLR, CosineAnnealingLR and OneCycleLR change every group's lr
// once per step() (an epoch, or a batch for OneCycleLR), in PyTorch's form (recursive where
// PyTorch's is), so their sequences match PyTorch's to the last bit; SequentialLR runs several
// one after another; ReduceLROnPlateau lowers the lr when a monitored metric stops improving.
// Constructing one counts as epoch 0 and sets the learning rates PyTorch's does then: unchanged,
// except LinearLR (start_factor times their value), LambdaLR (lambda(0) times the initial lr)
// and OneCycleLR (max_lr / div_factor).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
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
  // The initial learning rates the schedule is computed from, one per group (PyTorch's base_lrs).
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  std::int64_t last_epoch() const { return last_epoch_; }

  // The epoch count and learning rates as JSON text (store it e.g. in a tensor file's
  // metadata); load_state restores them, so a resumed schedule continues exactly.
  virtual std::string state() const;
  virtual void load_state(const std::string& saved);
  // Makes `initial_lrs` (one per group) the base learning rates of a schedule already under way,
  // as a resumed run given another learning rate needs: PyTorch's scheduler.base_lrs are replaced
  // and the learning rates it last set are scaled by the same ratio, so every schedule (each is
  // linear in its base learning rates) continues as if it had started from `initial_lrs`. The
  // optimizer's groups are left to the caller.
  virtual void rebase(const std::vector<double>& initial_lrs);

  const Optimizer& optimizer() const { return optimizer_; }

 protected:
  // The learning rates of epoch last_epoch() (already advanced), from the groups' current ones.
  virtual std::vector<double> compute_lr() = 0;
  // The learning rates of epoch 0 computed from base_lrs_ (PyTorch's closed form at epoch 0),
  // where SequentialLR restarts the schedule at its milestone.
  virtual std::vector<double> lr_at_start() { return base_lrs_; }
  std::vector<double> current_lr() const;
  // Sets every group's learning rate and last_lr(), outside step() (a constructor's epoch 0).
  void set_lr(const std::vector<double>& lrs);

  Optimizer& optimizer_;
  std::vector<double> base_lrs_;  // the groups' initial learning rates (Optimizer::group_initial_lr)

 private:
  friend class SequentialLR;
  // Back to epoch 0 with lr_at_start(), as PyTorch's scheduler.step(0).
  void restart();

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
  std::vector<double> lr_at_start() override;

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
  std::vector<double> lr_at_start() override;

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
  std::vector<double> lr_at_start() override;

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

struct OneCycleLROptions {
  enum class Anneal { Cos, Linear };
  // The schedule's length in step() calls: total_steps, or when it is 0, epochs * steps_per_epoch.
  std::int64_t total_steps = 0;
  std::int64_t epochs = 0;
  std::int64_t steps_per_epoch = 0;
  double pct_start = 0.3;  // the fraction of the steps spent raising the lr
  Anneal anneal_strategy = Anneal::Cos;
  // Momentum (Adam's beta1) moves opposite to the lr, between these two.
  bool cycle_momentum = true;
  double base_momentum = 0.85;
  double max_momentum = 0.95;
  double div_factor = 25;         // the initial lr is max_lr / div_factor
  double final_div_factor = 1e4;  // the last is the initial lr / final_div_factor
  // Three phases: up to max_lr, back down to the initial lr, then down to the last lr. Two
  // (the default): up, then straight down to the last.
  bool three_phase = false;
};

// The 1cycle policy (Smith & Topin), stepped once per batch: the lr rises from max_lr /
// div_factor to max_lr over pct_start of the steps, then anneals far below the start, while the
// momentum does the opposite. max_lr is one value or one per group. Stepping past total_steps
// throws, as PyTorch's.
class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(Optimizer& optimizer, double max_lr, OneCycleLROptions options);
  OneCycleLR(Optimizer& optimizer, std::vector<double> max_lrs, OneCycleLROptions options);
  std::int64_t total_steps() const { return total_steps_; }

 protected:
  std::vector<double> compute_lr() override;
  std::vector<double> lr_at_start() override { return compute_lr(); }

 private:
  enum class Anchor { Initial, Max, Min };
  struct Phase {
    double end_step;
    Anchor start_lr, end_lr;
    double start_momentum, end_momentum;
  };
  double anneal(double start, double end, double pct) const;
  double anchor_lr(Anchor anchor, std::size_t group) const;

  OneCycleLROptions options_;
  std::int64_t total_steps_;
  std::vector<double> max_lrs_, min_lrs_;  // the initial lrs are base_lrs_
  std::vector<Phase> phases_;
};

// Runs `schedulers` one after another: schedulers[0] from the start, schedulers[i] from epoch
// milestones[i - 1] on, which restarts it at its epoch 0 from the groups' initial learning
// rates, as PyTorch's SequentialLR. The schedulers must be built on the same optimizer; only
// the SequentialLR is stepped. Its state() holds theirs.
class SequentialLR : public LRScheduler {
 public:
  SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers,
               std::vector<std::int64_t> milestones);

  std::string state() const override;
  void load_state(const std::string& saved) override;
  void rebase(const std::vector<double>& initial_lrs) override;

 protected:
  std::vector<double> compute_lr() override;

 private:
  std::vector<std::shared_ptr<LRScheduler>> schedulers_;
  std::vector<std::int64_t> milestones_;
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
