// Adam and AdamW, as torch.optim.Adam / AdamW compute them: bias-corrected first and second
// moment estimates, optionally AMSGrad's running maximum of the second moment. Adam adds the
// L2 penalty to the gradient; AdamW decays the weights directly (decoupled weight decay).
#pragma once

#include <array>
#include <string>

#include <tapegrad/optim/optimizer.h>

namespace tapegrad::optim {

// Adam's and AdamW's options, which differ only in the default weight decay.
// (The default comes from a type, not a double template argument, which clang 14 does not take.)
template <class Defaults>
struct AdamOptionsWith {
  double lr = 1e-3;
  std::array<double, 2> betas{0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = Defaults::kWeightDecay;
  bool amsgrad = false;
  double l1 = 0;  // proximal L1 strength (see OptimizerWith::run_step)

  template <class Visit>
  void fields(Visit&& visit) {
    visit("lr", lr);
    visit("betas", betas);
    visit("eps", eps);
    visit("weight_decay", weight_decay);
    visit("amsgrad", amsgrad);
    visit("l1", l1);
  }
  void validate() const;
};
struct AdamDefaults {
  static constexpr double kWeightDecay = 0.0;
};
struct AdamWDefaults {
  static constexpr double kWeightDecay = 1e-2;
};
using AdamOptions = AdamOptionsWith<AdamDefaults>;
using AdamWOptions = AdamOptionsWith<AdamWDefaults>;
template <> void AdamOptions::validate() const;
template <> void AdamWOptions::validate() const;

// m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2 (vmax = max(vmax, v) with amsgrad);
// p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps), with g = grad + weight_decay * p.
class Adam : public OptimizerWith<AdamOptions> {
 public:
  using OptimizerWith::OptimizerWith;
  std::string name() const override { return "Adam"; }

 protected:
  void update(Tensor& param, const Tensor& grad, ParamState& state, const AdamOptions& options) override;
};

// Adam's step on the raw gradient after p *= 1 - lr * weight_decay.
class AdamW : public OptimizerWith<AdamWOptions> {
 public:
  using OptimizerWith::OptimizerWith;
  std::string name() const override { return "AdamW"; }

 protected:
  void update(Tensor& param, const Tensor& grad, ParamState& state, const AdamWOptions& options) override;
};

}  // namespace tapegrad::optim
