// Adagrad, as torch.optim.Adagrad computes it: each coordinate's step shrinks with the sum of
// its squared gradients, and the learning rate decays as lr / (1 + (t - 1) lr_decay).
#pragma once

#include <string>

#include <tapegrad/optim/optimizer.h>

namespace tapegrad::optim {

struct AdagradOptions {
  double lr = 1e-2;
  double lr_decay = 0;
  double weight_decay = 0;
  double initial_accumulator_value = 0;
  double eps = 1e-10;
  double l1 = 0;  // proximal L1 strength (see OptimizerWith::run_step)

  template <class Visit>
  void fields(Visit&& visit) {
    visit("lr", lr);
    visit("lr_decay", lr_decay);
    visit("weight_decay", weight_decay);
    visit("initial_accumulator_value", initial_accumulator_value);
    visit("eps", eps);
    visit("l1", l1);
  }
  void validate() const;
};

// sum += g^2; p -= lr / (1 + (t - 1) lr_decay) * g / (sqrt(sum) + eps), with
// g = grad + weight_decay * p and sum starting at initial_accumulator_value.
class Adagrad : public OptimizerWith<AdagradOptions> {
 public:
  using OptimizerWith::OptimizerWith;
  std::string name() const override { return "Adagrad"; }

 protected:
  void update(Tensor& param, const Tensor& grad, ParamState& state, const AdagradOptions& options) override;
};

}  // namespace tapegrad::optim
