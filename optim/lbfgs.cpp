// L-BFGS following torch/optim/lbfgs.py line by line, including its strong-Wolfe line search
// (_strong_wolfe, after lswolfe.lua) and cubic interpolation (after polyinterp.lua), so that
// iterates, evaluation counts and stopping decisions match PyTorch's. Its state, global to the
// optimizer, is kept on the first parameter as PyTorch does: buffers "d", "prev_flat_grad",
// "old_dirs.<i>", "old_stps.<i>"; scalars "t", "H_diag", "prev_loss", "func_evals", "ro.<i>";
// the state's step counts iterations.
#include <tapegrad/optim/lbfgs.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <deque>
#include <optional>
#include <utility>

#include <tapegrad/autodiff/ops.h>
#include <tapegrad/optim/update_ops.h>

namespace tapegrad::optim {
namespace {

double max_abs(const Tensor& t) { return abs(t).max().item(); }
double dot_value(const Tensor& a, const Tensor& b) { return dot(a, b).item(); }

// The minimizer of the cubic through (x1, f1) and (x2, f2) with slopes g1, g2, clamped to
// `bounds` (default: between the points); the middle when the cubic has no minimum.
double cubic_interpolate(double x1, double f1, double g1, double x2, double f2, double g2,
                         std::optional<std::pair<double, double>> bounds = std::nullopt) {
  const auto [xmin_bound, xmax_bound] = bounds ? *bounds : (x1 <= x2 ? std::pair(x1, x2) : std::pair(x2, x1));
  const double d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2);
  const double d2_square = d1 * d1 - g1 * g2;
  if (d2_square < 0) return (xmin_bound + xmax_bound) / 2.;
  const double d2 = std::sqrt(d2_square);
  const double min_pos = x1 <= x2 ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
                                  : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
  return std::min(std::max(min_pos, xmin_bound), xmax_bound);
}

struct Evaluation {
  double loss;
  Tensor flat_grad;
};

struct LineSearchResult {
  double loss;
  Tensor flat_grad;
  double t;
  std::int64_t evaluations;
};

// Finds a step t along d satisfying the strong Wolfe conditions (sufficient decrease c1,
// curvature c2), starting from t; `evaluate(t)` returns the loss and gradient at x + t d.
template <class Evaluate>
LineSearchResult strong_wolfe(Evaluate&& evaluate, double t, const Tensor& d, double f, const Tensor& g, double gtd,
                              double tolerance_change, double c1 = 1e-4, double c2 = 0.9, int max_ls = 25) {
  const double d_norm = max_abs(d);
  Evaluation next = evaluate(t);
  std::int64_t evaluations = 1;
  double gtd_new = dot_value(next.flat_grad, d);

  // Bracket an interval containing a point satisfying the Wolfe criteria.
  double t_prev = 0, f_prev = f, gtd_prev = gtd;
  Tensor g_prev = g;
  bool done = false;
  int ls_iter = 0;
  std::array<double, 2> bracket{}, bracket_f{}, bracket_gtd{};
  std::array<Tensor, 2> bracket_g;
  const auto bracket_with_previous = [&] {
    bracket = {t_prev, t};
    bracket_f = {f_prev, next.loss};
    bracket_g = {g_prev, next.flat_grad};
    bracket_gtd = {gtd_prev, gtd_new};
  };
  while (ls_iter < max_ls) {
    if (next.loss > f + c1 * t * gtd || (ls_iter > 1 && next.loss >= f_prev)) {
      bracket_with_previous();
      break;
    }
    if (std::abs(gtd_new) <= -c2 * gtd) {
      bracket = {t, t};
      bracket_f = {next.loss, next.loss};
      bracket_g = {next.flat_grad, next.flat_grad};
      done = true;
      break;
    }
    if (gtd_new >= 0) {
      bracket_with_previous();
      break;
    }
    // Extrapolate by cubic interpolation, at least 1% and at most 10x beyond t.
    const double min_step = t + 0.01 * (t - t_prev);
    const double max_step = t * 10;
    const double previous_t = t;
    t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, next.loss, gtd_new, std::pair(min_step, max_step));
    t_prev = previous_t;
    f_prev = next.loss;
    g_prev = next.flat_grad;
    gtd_prev = gtd_new;
    next = evaluate(t);
    ++evaluations;
    gtd_new = dot_value(next.flat_grad, d);
    ++ls_iter;
  }
  if (ls_iter == max_ls) {
    bracket = {0, t};
    bracket_f = {f, next.loss};
    bracket_g = {g, next.flat_grad};
  }

  // Zoom: shrink the bracket until a point satisfies the criteria.
  bool insufficient_progress = false;
  int low = bracket_f[0] <= bracket_f[1] ? 0 : 1, high = 1 - low;
  while (!done && ls_iter < max_ls) {
    if (std::abs(bracket[1] - bracket[0]) * d_norm < tolerance_change) break;
    t = cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1]);
    // A trial too close to an end of the bracket (or, after one such trial, at it) moves to 10%
    // of the bracket's length from that end.
    const double upper = std::max(bracket[0], bracket[1]), lower = std::min(bracket[0], bracket[1]);
    const double eps = 0.1 * (upper - lower);
    if (std::min(upper - t, t - lower) < eps) {
      if (insufficient_progress || t >= upper || t <= lower) {
        t = std::abs(t - upper) < std::abs(t - lower) ? upper - eps : lower + eps;
        insufficient_progress = false;
      } else {
        insufficient_progress = true;
      }
    } else {
      insufficient_progress = false;
    }
    next = evaluate(t);
    ++evaluations;
    gtd_new = dot_value(next.flat_grad, d);
    ++ls_iter;
    if (next.loss > f + c1 * t * gtd || next.loss >= bracket_f[low]) {
      // Armijo condition not satisfied or not lower than the lowest point.
      bracket[high] = t;
      bracket_f[high] = next.loss;
      bracket_g[high] = next.flat_grad;
      bracket_gtd[high] = gtd_new;
      low = bracket_f[0] <= bracket_f[1] ? 0 : 1;
      high = 1 - low;
    } else {
      if (std::abs(gtd_new) <= -c2 * gtd) {
        done = true;
      } else if (gtd_new * (bracket[high] - bracket[low]) >= 0) {
        // The old high becomes the new low.
        bracket[high] = bracket[low];
        bracket_f[high] = bracket_f[low];
        bracket_g[high] = bracket_g[low];
        bracket_gtd[high] = bracket_gtd[low];
      }
      bracket[low] = t;
      bracket_f[low] = next.loss;
      bracket_g[low] = next.flat_grad;
      bracket_gtd[low] = gtd_new;
    }
  }
  return {bracket_f[low], bracket_g[low], bracket[low], evaluations};
}

// The parameters seen as one flat vector.
class FlatParams {
 public:
  explicit FlatParams(const std::vector<Tensor>& params) : params_(params) {
    for (const Tensor& param : params_) {
      TAPEGRAD_CHECK(param.dtype() == params_[0].dtype() && param.device() == params_[0].device(),
                     "LBFGS: all parameters must share a dtype and device; got {} on {} and {} on {}",
                     params_[0].dtype(), params_[0].device(), param.dtype(), param.device());
    }
  }

  // All gradients concatenated (zeros for parameters without one); always a fresh tensor.
  Tensor gather_grad() const {
    std::vector<Tensor> views;
    for (const Tensor& param : params_) {
      const Tensor grad = param.grad();
      views.push_back(grad.defined() ? grad.reshape({-1})
                                     : zeros({param.numel()}, TensorOptions(param.dtype()).with_device(param.device())));
    }
    return cat(views);
  }
  // params += step_size * direction
  void add(double step_size, const Tensor& direction) const {
    std::int64_t offset = 0;
    for (const Tensor& param : params_) {
      Tensor(param).add_(direction.narrow(0, offset, param.numel()).view(param.shape()), step_size);
      offset += param.numel();
    }
  }
  std::vector<Tensor> clone() const {
    std::vector<Tensor> copies;
    for (const Tensor& param : params_) copies.push_back(param.clone());
    return copies;
  }
  void set(const std::vector<Tensor>& values) const {
    for (std::size_t i = 0; i < params_.size(); ++i) Tensor(params_[i]).copy_(values[i]);
  }

 private:
  const std::vector<Tensor>& params_;
};

// The curvature pairs (y, s) and ro = 1 / y.s, oldest first.
struct History {
  std::deque<Tensor> old_dirs, old_stps;
  std::deque<double> ro;

  static History read(ParamState& state) {
    History history;
    for (int i = 0;; ++i) {
      const Tensor dir = state.find(fmt::format("old_dirs.{}", i));
      if (!dir.defined()) break;
      history.old_dirs.push_back(dir);
      history.old_stps.push_back(state.find(fmt::format("old_stps.{}", i)));
      history.ro.push_back(state.scalars.at(fmt::format("ro.{}", i)));
    }
    return history;
  }
  void write(ParamState& state) const {
    std::erase_if(state.buffers, [](const auto& entry) { return entry.first.starts_with("old_"); });
    std::erase_if(state.scalars, [](const auto& entry) { return entry.first.starts_with("ro."); });
    for (std::size_t i = 0; i < ro.size(); ++i) {
      state.buffers.emplace_back(fmt::format("old_dirs.{}", i), old_dirs[i]);
      state.buffers.emplace_back(fmt::format("old_stps.{}", i), old_stps[i]);
      state.scalars[fmt::format("ro.{}", i)] = ro[i];
    }
  }
};

}  // namespace

void LBFGSOptions::validate() const {
  detail::check_non_negative("LBFGS", "learning rate", lr);
  TAPEGRAD_CHECK(max_iter >= 1, "LBFGS: invalid max_iter: {} (must be >= 1)", max_iter);
  TAPEGRAD_CHECK(max_eval >= 0, "LBFGS: invalid max_eval: {} (must be >= 1, or 0 for max_iter * 5 / 4)", max_eval);
  detail::check_non_negative("LBFGS", "tolerance_grad", tolerance_grad);
  detail::check_non_negative("LBFGS", "tolerance_change", tolerance_change);
  TAPEGRAD_CHECK(history_size >= 1, "LBFGS: invalid history_size: {} (must be >= 1)", history_size);
  TAPEGRAD_CHECK(line_search == LineSearch::None || line_search == LineSearch::StrongWolfe,
                 "LBFGS: unknown line search {}", static_cast<int>(line_search));
}

LBFGS::LBFGS(std::vector<Tensor> params, LBFGSOptions options) : OptimizerWith(std::move(params), options) {}

std::int64_t LBFGS::func_evals() const {
  const ParamState* saved = state(group_params(0)[0]);
  if (saved == nullptr) return 0;
  const auto found = saved->scalars.find("func_evals");
  return found == saved->scalars.end() ? 0 : static_cast<std::int64_t>(found->second);
}

// The state's step counts iterations, as PyTorch's n_iter.
std::int64_t LBFGS::n_iter() const {
  const ParamState* saved = state(group_params(0)[0]);
  return saved == nullptr ? 0 : saved->step;
}

void LBFGS::check_loaded_state(std::size_t index, const Tensor& /*param*/, const ParamState& state) const {
  std::int64_t elements = 0;
  for (const Tensor& param : group_params(0)) elements += param.numel();
  const Shape flat{elements};
  for (const auto& [buffer, tensor] : state.buffers)
    TAPEGRAD_CHECK(tensor.shape() == flat, "load_state_dict: the saved LBFGS state '{}' of parameter {} has shape {}, "
                   "but LBFGS keeps vectors over all {} parameter elements, shape {}; {}", buffer, index,
                   tensor.shape(), elements, flat, kOtherParametersAdvice);
  const bool directions_kept = state.find("d").defined() && state.find("prev_flat_grad").defined();
  TAPEGRAD_CHECK(state.step == 0 || directions_kept, "load_state_dict: malformed LBFGS state: parameter {} is at "
                 "iteration {} but its 'd' or 'prev_flat_grad' buffer is missing", index, state.step);
  for (int i = 0; state.find(fmt::format("old_dirs.{}", i)).defined(); ++i) {
    const bool complete =
        state.find(fmt::format("old_stps.{}", i)).defined() && state.scalars.contains(fmt::format("ro.{}", i));
    TAPEGRAD_CHECK(complete, "load_state_dict: malformed LBFGS state: curvature pair {} of parameter {} lacks "
                   "'old_stps.{}' or 'ro.{}'", i, index, i, i);
  }
}

Tensor LBFGS::run_step(const Closure& closure) {
  TAPEGRAD_CHECK(static_cast<bool>(closure), "LBFGS: step() needs a closure that re-evaluates the loss and its "
                 "gradients");
  TAPEGRAD_CHECK(num_param_groups() == 1, "LBFGS doesn't support per-parameter options (parameter groups); it has {}",
                 num_param_groups());
  const LBFGSOptions& options = this->options(0);
  const std::int64_t max_eval = options.max_eval > 0 ? options.max_eval : options.max_iter * 5 / 4;
  const FlatParams flat(group_params(0));
  ParamState& state = state_for(group_params(0)[0]);
  double& func_evals = state.scalars["func_evals"];

  NoGradGuard no_grad;
  const auto evaluate = [&] {
    GradModeGuard grad_on(true);
    return closure();
  };
  const Tensor orig_loss = evaluate();
  double loss = orig_loss.item();
  std::int64_t current_evals = 1;
  func_evals += 1;
  Tensor flat_grad = flat.gather_grad();
  bool opt_cond = max_abs(flat_grad) <= options.tolerance_grad;
  if (opt_cond) return orig_loss;

  Tensor d = state.find("d");
  Tensor prev_flat_grad = state.find("prev_flat_grad");
  double t = state.scalars["t"];
  double h_diag = state.scalars["H_diag"];
  double prev_loss = state.scalars["prev_loss"];
  History history = History::read(state);

  std::int64_t n_iter = 0;
  while (n_iter < options.max_iter) {
    ++n_iter;
    ++state.step;

    // The descent direction: steepest descent first, then the two-loop recursion.
    if (state.step == 1) {
      d = neg(flat_grad);
      history = {};
      h_diag = 1;
    } else {
      const Tensor y = flat_grad - prev_flat_grad;
      const Tensor s = d * t;
      const double ys = dot_value(y, s);
      if (ys > 1e-10) {
        if (static_cast<std::int64_t>(history.ro.size()) == options.history_size) {
          history.old_dirs.pop_front();
          history.old_stps.pop_front();
          history.ro.pop_front();
        }
        history.old_dirs.push_back(y);
        history.old_stps.push_back(s);
        history.ro.push_back(1. / ys);
        h_diag = ys / dot_value(y, y);  // scale of the initial inverse Hessian
      }
      const std::size_t num_old = history.ro.size();
      std::vector<double> al(num_old);
      Tensor q = neg(flat_grad);
      for (std::size_t i = num_old; i-- > 0;) {
        al[i] = dot_value(history.old_stps[i], q) * history.ro[i];
        q.add_(history.old_dirs[i], -al[i]);
      }
      d = q * h_diag;
      for (std::size_t i = 0; i < num_old; ++i) {
        const double be_i = dot_value(history.old_dirs[i], d) * history.ro[i];
        d.add_(history.old_stps[i], al[i] - be_i);
      }
    }
    if (prev_flat_grad.defined()) {
      prev_flat_grad.copy_(flat_grad);
    } else {
      prev_flat_grad = flat_grad.clone();
    }
    prev_loss = loss;

    // The step length: scaled to the gradient on the very first iteration, then lr.
    t = state.step == 1 ? std::min(1., 1. / abs(flat_grad).sum().item()) * options.lr : options.lr;
    const double gtd = dot_value(flat_grad, d);
    if (gtd > -options.tolerance_change) break;  // not a descent direction any more

    std::int64_t ls_func_evals = 0;
    if (options.line_search == LineSearch::StrongWolfe) {
      const std::vector<Tensor> x_init = flat.clone();
      const auto evaluate_at = [&](double step) {
        flat.add(step, d);
        const double value = evaluate().item();
        Evaluation result{value, flat.gather_grad()};
        flat.set(x_init);
        return result;
      };
      LineSearchResult found = strong_wolfe(evaluate_at, t, d, loss, flat_grad, gtd, options.tolerance_change);
      loss = found.loss;
      flat_grad = std::move(found.flat_grad);
      t = found.t;
      ls_func_evals = found.evaluations;
      flat.add(t, d);
      opt_cond = max_abs(flat_grad) <= options.tolerance_grad;
    } else {
      flat.add(t, d);
      // The last iteration does not re-evaluate: in a stochastic setting it would not be used.
      if (n_iter != options.max_iter) {
        loss = evaluate().item();
        flat_grad = flat.gather_grad();
        opt_cond = max_abs(flat_grad) <= options.tolerance_grad;
        ls_func_evals = 1;
      }
    }
    current_evals += ls_func_evals;
    func_evals += static_cast<double>(ls_func_evals);

    if (n_iter == options.max_iter || current_evals >= max_eval || opt_cond) break;
    if (max_abs(d) * std::abs(t) <= options.tolerance_change) break;  // no progress in x
    if (std::abs(loss - prev_loss) < options.tolerance_change) break;  // no progress in f
  }

  state.set_buffer("d", d);
  state.set_buffer("prev_flat_grad", prev_flat_grad);
  state.scalars["t"] = t;
  state.scalars["H_diag"] = h_diag;
  state.scalars["prev_loss"] = prev_loss;
  history.write(state);
  return orig_loss;
}

}  // namespace tapegrad::optim
