// Losses as modules, PyTorch's nn.CrossEntropyLoss, NLLLoss, MSELoss and BCEWithLogitsLoss;
// each is the function of autodiff/ops with the reduction fixed at construction.
#pragma once

#include <tapegrad/autodiff/ops.h>
#include <tapegrad/nn/module.h>

namespace tapegrad::nn {

class Loss : public Module {
 public:
  explicit Loss(Reduction reduction) : reduction_(reduction) {}
  virtual Tensor forward(const Tensor& input, const Tensor& target) = 0;
  Tensor operator()(const Tensor& input, const Tensor& target) { return forward(input, target); }
  Reduction reduction() const { return reduction_; }
  std::string extra_repr() const override;

 private:
  using Module::forward;  // a loss always takes the target too
  Reduction reduction_;
};

// Class weights, when given, are a buffer: they move with to(device) and save with the module.
class CrossEntropyLoss : public Loss {
 public:
  explicit CrossEntropyLoss(Reduction reduction = Reduction::Mean)
      : CrossEntropyLoss(CrossEntropyOptions{.reduction = reduction}) {}
  explicit CrossEntropyLoss(CrossEntropyOptions options) : Loss(options.reduction), options_(std::move(options)) {
    if (options_.weight.defined()) options_.weight = register_buffer("weight", options_.weight);
  }
  Tensor forward(const Tensor& logits, const Tensor& target) override { return cross_entropy(logits, target, options_); }
  std::string name() const override { return "CrossEntropyLoss"; }

 private:
  CrossEntropyOptions options_;
};

class NLLLoss : public Loss {
 public:
  explicit NLLLoss(Reduction reduction = Reduction::Mean) : Loss(reduction) {}
  Tensor forward(const Tensor& log_probs, const Tensor& target) override { return nll_loss(log_probs, target, reduction()); }
  std::string name() const override { return "NLLLoss"; }
};

class MSELoss : public Loss {
 public:
  explicit MSELoss(Reduction reduction = Reduction::Mean) : Loss(reduction) {}
  Tensor forward(const Tensor& input, const Tensor& target) override { return mse_loss(input, target, reduction()); }
  std::string name() const override { return "MSELoss"; }
};

class BCEWithLogitsLoss : public Loss {
 public:
  explicit BCEWithLogitsLoss(Reduction reduction = Reduction::Mean) : Loss(reduction) {}
  Tensor forward(const Tensor& logits, const Tensor& target) override {
    return binary_cross_entropy_with_logits(logits, target, reduction());
  }
  std::string name() const override { return "BCEWithLogitsLoss"; }
};

}  // namespace tapegrad::nn
