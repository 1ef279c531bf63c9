// RMSprop, as torch.optim.RMSprop computes it: a running average of squared gradients scales
// each step; optionally centered (subtracting the squared running mean gradient) and with
// momentum.
#pragma once

#include <string>

#include <tapegrad/optim/optimizer.h>

namespace tapegrad::optim {

struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0;
  double momentum = 0;
  bool centered = false;
  double l1 = 0;  // proximal L1 strength (see OptimizerWith::run_step)

  template <class Visit>
  void fields(Visit&& visit) {
    visit("lr", lr);
    visit("alpha", alpha);
    visit("eps", eps);
    visit("weight_decay", weight_decay);
    visit("momentum", momentum);
    visit("centered", centered);
    visit("l1", l1);
  }
  void validate() const;
};

// s = alpha s + (1 - alpha) g^2; avg = sqrt(s - m^2) + eps with m = alpha m + (1 - alpha) g when
// centered, else sqrt(s) + eps; then p -= lr * buf with buf = momentum buf + g / avg, or
// p -= lr * g / avg without momentum; g = grad + weight_decay * p.
class RMSprop : public OptimizerWith<RMSpropOptions> {
 public:
  using OptimizerWith::OptimizerWith;
  std::string name() const override { return "RMSprop"; }

 protected:
  void update(Tensor& param, const Tensor& grad, ParamState& state, const RMSpropOptions& options) override;
};

}  // namespace tapegrad::optim
