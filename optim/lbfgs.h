// L-BFGS, a port of torch.optim.LBFGS (itself after minFunc): a quasi-Newton method that keeps
// the last `history_size` curvature pairs, with a fixed step or a strong-Wolfe line search.
// It works on all parameters flattened into one vector, re-evaluates the loss many times per
// step and so needs step(closure). Like PyTorch's, it takes a single parameter group.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <tapegrad/optim/optimizer.h>

namespace tapegrad::optim {

enum class LineSearch { None, StrongWolfe };

struct LBFGSOptions {
  double lr = 1;
  std::int64_t max_iter = 20;  // iterations per step()
  std::int64_t max_eval = 0;   // loss evaluations per step(); 0: max_iter * 5 / 4, PyTorch's default
  double tolerance_grad = 1e-7;    // stop when max |gradient| falls to this
  double tolerance_change = 1e-9;  // stop when the loss or the parameters move less than this
  std::int64_t history_size = 100;
  LineSearch line_search = LineSearch::None;

  template <class Visit>
  void fields(Visit&& visit) {
    visit("lr", lr);
    visit("max_iter", max_iter);
    visit("max_eval", max_eval);
    visit("tolerance_grad", tolerance_grad);
    visit("tolerance_change", tolerance_change);
    visit("history_size", history_size);
    visit("line_search", line_search);
  }
  void validate() const;
};

class LBFGS : public OptimizerWith<LBFGSOptions> {
 public:
  explicit LBFGS(std::vector<Tensor> params, LBFGSOptions options = {});
  std::string name() const override { return "LBFGS"; }

  // PyTorch's state['func_evals'] and state['n_iter']: loss evaluations and iterations over all
  // step() calls so far (saved and loaded with the state); 0 before the first step.
  std::int64_t func_evals() const;
  std::int64_t n_iter() const;

 protected:
  Tensor run_step(const Closure& closure) override;
  // Its buffers are flat vectors over all parameters, and the curvature pairs come complete.
  void check_loaded_state(std::size_t index, const Tensor& param, const ParamState& state) const override;
};

}  // namespace tapegrad::optim
