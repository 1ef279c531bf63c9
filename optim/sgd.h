// Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight decay,
// as torch.optim.SGD computes it.
#pragma once

#include <limits>
#include <string>

#include <tapegrad/optim/optimizer.h>

namespace tapegrad::optim {

struct SGDOptions {
  double lr = std::numeric_limits<double>::quiet_NaN();  // required, as in PyTorch
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
  double l1 = 0;  // proximal L1 strength (see OptimizerWith::run_step)

  template <class Visit>
  void fields(Visit&& visit) {
    visit("lr", lr);
    visit("momentum", momentum);
    visit("dampening", dampening);
    visit("weight_decay", weight_decay);
    visit("nesterov", nesterov);
    visit("l1", l1);
  }
  void validate() const;
};

// buf = momentum * buf + (1 - dampening) * g (buf = g on the first step);
// p -= lr * (nesterov ? g + momentum * buf : buf), with g = grad + weight_decay * p.
class SGD : public OptimizerWith<SGDOptions> {
 public:
  using OptimizerWith::OptimizerWith;
  std::string name() const override { return "SGD"; }

 protected:
  void update(Tensor& param, const Tensor& grad, ParamState& state, const SGDOptions& options) override;
};

}  // namespace tapegrad::optim
