// The optimizer base: parameter groups with their own options, per-parameter state, zero_grad,
// step (with an optional closure that re-evaluates the loss), learning-rate access for
// schedulers, and state save/load so training resumes exactly where it stopped.
//
// A new optimizer is an options struct plus a subclass of OptimizerWith<Options> overriding
// update(), which receives one parameter, its gradient and its state, under NoGradGuard:
//
//   struct SignSgdOptions {
//     double lr = 0.01;
//     template <class Visit> void fields(Visit&& visit) { visit("lr", lr); }
//   };
//   class SignSgd : public optim::OptimizerWith<SignSgdOptions> {
//    public:
//     using OptimizerWith::OptimizerWith;
//     std::string name() const override { return "SignSgd"; }
//    protected:
//     void update(Tensor& param, const Tensor& grad, optim::ParamState& state,
//                 const SignSgdOptions& options) override {
//       param.sub_(sign(grad), options.lr);
//     }
//   };
//
// Options structs are aggregates (`Adam adam(params, {.lr = 0.01, .amsgrad = true})`) with a
// `fields` visitor listing their members (double, bool, integer, enum or std::array of those),
// which is how they are saved; an optional `validate()` rejects bad values, and an optional
// `l1` member turns on the proximal L1 step described at OptimizerWith::run_step.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <tapegrad/autodiff/grad_mode.h>
#include <tapegrad/autodiff/serialize.h>
#include <tapegrad/autodiff/tensor.h>
#include <tapegrad/kernels/error.h>

namespace tapegrad::optim {

// Re-evaluates the model and returns the loss; step(closure) runs it with grad mode on.
using Closure = std::function<Tensor()>;

// What an optimizer remembers about one parameter between steps. Buffers and scalars are saved
// with the optimizer; scratch tensors are an update's working memory, kept only so that steps
// after the first allocate nothing.
struct ParamState {
  std::int64_t step = 0;  // updates applied to this parameter, counting the current one
  NamedTensors buffers;
  std::map<std::string, double, std::less<>> scalars;
  NamedTensors scratch;

  // Buffers and scratch are returned as handles (copies share the storage), which stay valid
  // when more buffers are added.
  // The buffer called `name`, created on first use filled with `initial` and shaped like `like`.
  Tensor buffer(std::string_view name, const Tensor& like, double initial = 0);
  // The buffer called `name`, or an undefined tensor when there is none yet.
  Tensor find(std::string_view name) const;
  // Stores `value` as the buffer called `name`, replacing any previous one.
  void set_buffer(std::string_view name, const Tensor& value);
  // Working memory shaped like `like`; its contents are whatever the previous step left.
  Tensor scratch_buffer(std::string_view name, const Tensor& like);
};

// An options struct flattened to named numbers: how options travel through saved metadata.
using FlatOptions = std::vector<std::pair<std::string, double>>;

class Optimizer {
 public:
  Optimizer() = default;
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // The kind ("Adam", "SGD", ...): saved state loads only into an optimizer of the same kind.
  virtual std::string name() const = 0;

  // One optimization step from the gradients in each parameter's .grad. With a closure, it is
  // called first (grad mode on) and its loss returned; methods such as L-BFGS call it again.
  // Parameters without a gradient are skipped, as PyTorch does.
  Tensor step(const Closure& closure = {});
  // Drops every gradient (set_to_none, PyTorch's default) or zeroes it in place.
  void zero_grad(bool set_to_none = true);

  virtual std::size_t num_param_groups() const = 0;
  virtual const std::vector<Tensor>& group_params(std::size_t group) const = 0;
  virtual double group_lr(std::size_t group) const = 0;
  virtual void set_group_lr(std::size_t group, double lr) = 0;
  double lr() const { return group_lr(0); }  // the first group's
  void set_lr(double lr);                     // every group's
  // The group's momentum (SGD's and RMSprop's `momentum`, Adam's beta1), for schedulers that
  // cycle it as PyTorch's OneCycleLR does; the two throw for optimizers without one.
  virtual bool has_momentum() const { return false; }
  virtual double group_momentum(std::size_t group) const;
  virtual void set_group_momentum(std::size_t group, double momentum);
  // The group's initial learning rate, PyTorch's group['initial_lr']: the first scheduler built
  // on this optimizer records the group's lr then (OneCycleLR sets its own), and every
  // scheduler's schedule starts from it.
  double group_initial_lr(std::size_t group);
  void set_group_initial_lr(std::size_t group, double lr);

  // This parameter's state, or null before its first step.
  const ParamState* state(const Tensor& param) const;

  // Everything needed to resume: buffers as tensors "state.<i>.<buffer>" (i counts parameters
  // across groups in order) and the kind, group options, parameter shapes, step counts and
  // scalars in the metadata. A snapshot: later steps do not change it.
  TensorFile state_dict() const;
  // Restores a state_dict() of an optimizer of the same kind over parameters of the same
  // shapes; throws naming the mismatch and leaves this optimizer unchanged when they differ.
  void load_state_dict(const TensorFile& saved);
  void save(const std::filesystem::path& path) const;
  void load(const std::filesystem::path& path);

 protected:
  virtual Tensor run_step(const Closure& closure) = 0;
  ParamState& state_for(const Tensor& param) { return state_[param.impl_ptr().get()]; }
  // Rejects parameters an optimizer cannot own: empty lists, non-leaves, integer tensors and
  // tensors already in a group.
  void check_new_params(const std::vector<Tensor>& params) const;
  virtual FlatOptions encode_group_options(std::size_t group) const = 0;
  // Decodes and validates the options of every group, then installs them all; throws before
  // changing anything.
  virtual void load_group_options(const std::vector<FlatOptions>& options) = 0;
  // Refuses a loaded state its steps could not use. By default every buffer is shaped like its
  // parameter, as in the element-wise optimizers. Refusals of buffers shaped for other parameters
  // end with kOtherParametersAdvice.
  virtual void check_loaded_state(std::size_t index, const Tensor& param, const ParamState& state) const;

  static constexpr const char* kOtherParametersAdvice =
      "the state was saved for other parameters. Load the state saved with this model, or start the optimizer afresh";

 private:
  std::unordered_map<const TensorImpl*, ParamState> state_;
  std::vector<std::optional<double>> initial_lrs_;  // by group; none until a scheduler asks
};

namespace detail {

template <class T>
void encode_field(FlatOptions& out, const std::string& name, const T& value) {
  if constexpr (std::is_arithmetic_v<T> || std::is_enum_v<T>) {
    out.emplace_back(name, static_cast<double>(value));
  } else {
    for (std::size_t i = 0; i < value.size(); ++i) encode_field(out, name + "." + std::to_string(i), value[i]);
  }
}

// The value called `name`; throws when the saved options lack it.
double saved_field(const FlatOptions& saved, const std::string& name);

template <class T>
void decode_field(const FlatOptions& saved, const std::string& name, T& value) {
  if constexpr (std::is_same_v<T, bool>) {
    value = saved_field(saved, name) != 0;
  } else if constexpr (std::is_arithmetic_v<T> || std::is_enum_v<T>) {
    value = static_cast<T>(saved_field(saved, name));
  } else {
    for (std::size_t i = 0; i < value.size(); ++i) decode_field(saved, name + "." + std::to_string(i), value[i]);
  }
}

// Soft-thresholding, the proximal map of threshold * |p|_1: p - clamp(p, -threshold, threshold)
// equals sign(p) * max(|p| - threshold, 0) with the same rounding, and is exactly 0 inside.
void soft_threshold(Tensor& param, double threshold, ParamState& state);

}  // namespace detail

template <class Options>
struct ParamGroup {
  std::vector<Tensor> params;
  std::optional<Options> options;  // none: the optimizer's defaults
};

template <class Options>
class OptimizerWith : public Optimizer {
 public:
  using Group = ParamGroup<Options>;

  explicit OptimizerWith(std::vector<Tensor> params, Options defaults = {})
      : OptimizerWith(std::vector<Group>{Group{std::move(params), std::nullopt}}, std::move(defaults)) {}
  // The defaults are validated when a group uses them: SGD's lr has no default, so a group
  // list in which every group sets one needs none.
  explicit OptimizerWith(std::vector<Group> groups, Options defaults = {}) : defaults_(std::move(defaults)) {
    for (Group& group : groups) add_param_group(std::move(group));
  }

  void add_param_group(Group group) {
    check_new_params(group.params);
    if (!group.options) group.options = defaults_;
    validate(*group.options);
    groups_.push_back(std::move(group));
  }
  // Every group's options are set (the defaults were filled in when it was added).
  std::vector<Group>& param_groups() { return groups_; }
  const std::vector<Group>& param_groups() const { return groups_; }
  Options& options(std::size_t group) { return *groups_[checked(group)].options; }
  const Options& options(std::size_t group) const { return *groups_[checked(group)].options; }
  const Options& defaults() const { return defaults_; }

  std::size_t num_param_groups() const override { return groups_.size(); }
  const std::vector<Tensor>& group_params(std::size_t group) const override { return groups_[checked(group)].params; }
  double group_lr(std::size_t group) const override { return options(group).lr; }
  void set_group_lr(std::size_t group, double lr) override { options(group).lr = lr; }
  bool has_momentum() const override { return kHasBeta1 || kHasMomentum; }
  double group_momentum(std::size_t group) const override {
    if constexpr (kHasBeta1) return options(group).betas[0];
    else if constexpr (kHasMomentum) return options(group).momentum;
    else return Optimizer::group_momentum(group);
  }
  void set_group_momentum(std::size_t group, double momentum) override {
    if constexpr (kHasBeta1) options(group).betas[0] = momentum;
    else if constexpr (kHasMomentum) options(group).momentum = momentum;
    else Optimizer::set_group_momentum(group, momentum);
  }

 protected:
  // The update of one parameter with its gradient, run under NoGradGuard; state.step already
  // counts this step. Optimizers that work on all parameters at once override run_step instead.
  virtual void update(Tensor& /*param*/, const Tensor& /*grad*/, ParamState& /*state*/, const Options& /*options*/) {
    fail("{}: the optimizer defines neither update() nor run_step()", name());
  }

  // Updates every parameter that has a gradient, then, when the group's options have `l1`
  // non-zero, applies the proximal step of lr * l1 * |p|_1 (soft-thresholding), which makes
  // any optimizer a proximal method for an L1 penalty that is not part of the loss.
  Tensor run_step(const Closure& closure) override {
    Tensor loss;
    if (closure) {
      GradModeGuard grad_on(true);
      loss = closure();
    }
    NoGradGuard no_grad;
    for (Group& group : groups_) {
      const Options& options = *group.options;
      for (Tensor& param : group.params) {
        const Tensor grad = param.grad();
        if (!grad.defined()) continue;
        ParamState& state = state_for(param);
        ++state.step;
        update(param, grad, state, options);
        if constexpr (requires { options.l1; }) {
          if (options.l1 != 0) detail::soft_threshold(param, options.lr * options.l1, state);
        }
      }
    }
    return loss;
  }

  FlatOptions encode_group_options(std::size_t group) const override {
    Options copy = options(group);
    FlatOptions flat;
    copy.fields([&](const char* field, const auto& value) { detail::encode_field(flat, field, value); });
    return flat;
  }

  void load_group_options(const std::vector<FlatOptions>& saved) override {
    std::vector<Options> decoded(saved.size(), defaults_);
    for (std::size_t i = 0; i < saved.size(); ++i) {
      decoded[i].fields([&](const char* field, auto& value) { detail::decode_field(saved[i], field, value); });
      validate(decoded[i]);
    }
    for (std::size_t i = 0; i < saved.size(); ++i) groups_[i].options = std::move(decoded[i]);
  }

 private:
  std::size_t checked(std::size_t group) const {
    TAPEGRAD_CHECK(group < groups_.size(), "{}: no parameter group {}; there are {}", name(), group, groups_.size());
    return group;
  }
  static void validate(const Options& options) {
    if constexpr (requires { options.validate(); }) options.validate();
  }
  static constexpr bool kHasBeta1 = requires(Options options) { options.betas[0]; };
  static constexpr bool kHasMomentum = requires(Options options) { options.momentum; };

  Options defaults_;
  std::vector<Group> groups_;
};

}  // namespace tapegrad::optim
