// nn::Module: the base of every layer and model. A module registers its parameters, buffers
// and submodules by name, so everything generic — listing parameters with dotted names, moving
// to a device, train/eval, zero_grad, printing, saving and loading — works for any model,
// including ones users write by subclassing:
//
//   struct Net : nn::Module {
//     std::shared_ptr<nn::Linear> fc = register_module("fc", std::make_shared<nn::Linear>(784, 10));
//     Tensor forward(const Tensor& x) override { return fc->forward(x); }
//   };
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/autodiff/serialize.h>
#include <tapegrad/autodiff/tensor.h>

namespace tapegrad::nn {

class Module;
struct ForwardHooks;

// Runs before forward with the module and its input; a tensor returned replaces the input.
using ForwardPreHook = std::function<std::optional<Tensor>(Module& module, const Tensor& input)>;
// Runs after forward with the module, its input and output; a tensor returned replaces the output.
using ForwardHook = std::function<std::optional<Tensor>(Module& module, const Tensor& input, const Tensor& output)>;

// What registering a hook returns: remove() unregisters it (again: nothing), as PyTorch's
// RemovableHandle. It does not keep the module alive, and dropping it keeps the hook.
class RemovableHandle {
 public:
  RemovableHandle() = default;
  void remove();

 private:
  friend class Module;
  RemovableHandle(std::weak_ptr<ForwardHooks> hooks, std::uint64_t id) : hooks_(std::move(hooks)), id_(id) {}
  std::weak_ptr<ForwardHooks> hooks_;
  std::uint64_t id_ = 0;
};

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  // Copies would silently share parameters; modules are held through shared_ptr or moved.
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  Module(Module&&) = default;
  Module& operator=(Module&&) = default;

  // The computation; modules that take one tensor override it (losses take two, see loss.h).
  virtual Tensor forward(const Tensor& input);
  // forward, with the forward hooks around it when there are any, as calling a PyTorch module.
  Tensor operator()(const Tensor& input) { return hooks_ ? forward_with_hooks(input) : forward(input); }
  // Whether a forward hook was ever registered (removing it leaves the answer true): callers
  // that would skip operator() for a faster path take it only when this is false.
  bool ever_had_forward_hooks() const { return hooks_ != nullptr; }

  // Hooks run by operator() (not by a direct forward call) in registration order. A hook
  // returning a tensor replaces the input (pre-hook) or output (hook) that the next one sees;
  // one returning std::nullopt, or nothing at all, leaves it.
  template <class Hook>
  RemovableHandle register_forward_pre_hook(Hook&& hook) {
    if constexpr (std::is_void_v<std::invoke_result_t<Hook&, Module&, const Tensor&>>) {
      return add_forward_pre_hook([hook = std::forward<Hook>(hook)](Module& module, const Tensor& input) mutable
                                  -> std::optional<Tensor> {
        hook(module, input);
        return std::nullopt;
      });
    } else {
      return add_forward_pre_hook(ForwardPreHook(std::forward<Hook>(hook)));
    }
  }
  template <class Hook>
  RemovableHandle register_forward_hook(Hook&& hook) {
    if constexpr (std::is_void_v<std::invoke_result_t<Hook&, Module&, const Tensor&, const Tensor&>>) {
      return add_forward_hook([hook = std::forward<Hook>(hook)](Module& module, const Tensor& input,
                                                                const Tensor& output) mutable -> std::optional<Tensor> {
        hook(module, input, output);
        return std::nullopt;
      });
    } else {
      return add_forward_hook(ForwardHook(std::forward<Hook>(hook)));
    }
  }

  // Calls fn on every submodule (each child's tree first, then the child) and then on this
  // module, as PyTorch's apply, e.g. to initialize weights: model.apply(init_weights).
  Module& apply(const std::function<void(Module&)>& fn);
  // Sets requires_grad on every parameter: requires_grad_(false) freezes the module.
  Module& requires_grad_(bool requires_grad = true);

  // Parameters (tensors the optimizer updates) and buffers (state such as running statistics),
  // this module's first, then each submodule's in registration order, with dotted names
  // ("0.weight", "encoder.fc.bias"). A tensor registered in several places (a module used
  // twice, tied weights) comes once, under its first name, as in PyTorch.
  std::vector<Tensor> parameters(bool recurse = true) const;
  NamedTensors named_parameters(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  NamedTensors named_buffers(bool recurse = true) const;
  // Parameters then buffers: what save() writes and load() expects. Unlike named_parameters(),
  // a shared tensor appears under each of its names, as in PyTorch's state_dict.
  NamedTensors state_dict() const;
  // Copies `saved` into the parameters and buffers. Every name, shape and dtype must match
  // exactly; a mismatch, a missing or an unexpected name throws (naming `source`, e.g. the file)
  // before anything is changed.
  void load_state_dict(const NamedTensors& saved, const std::string& source = "a state dict");
  std::vector<std::shared_ptr<Module>> children() const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const { return children_; }
  // Every module of the tree: this one first, named "", then depth-first in registration order
  // with dotted names ("layers.0"); a module registered in several places comes once, under its
  // first name, as in PyTorch. The pointers are valid while this module holds its submodules.
  std::vector<std::pair<std::string, Module*>> named_modules();
  std::vector<std::pair<std::string, const Module*>> named_modules() const;
  std::vector<Module*> modules();
  std::vector<const Module*> modules() const;

  // Training mode (the default) vs evaluation: Dropout and BatchNorm behave differently.
  Module& train(bool on = true);
  Module& eval() { return train(false); }
  bool is_training() const { return training_; }

  // Drops every parameter's gradient (set_to_none, PyTorch's default) or zeroes it in place.
  void zero_grad(bool set_to_none = true);
  // Moves (or converts) every parameter and buffer in place: handles held elsewhere, e.g. by an
  // optimizer built before the move, see the new data.
  Module& to(Device device);
  Module& to(DType dtype);

  // Elements of all parameters, and of those that require grad (what training updates).
  std::int64_t parameter_count() const;
  std::int64_t trainable_parameter_count() const;

  // The type name, e.g. "Linear", and its options as printed inside the parentheses.
  virtual std::string name() const { return "Module"; }
  virtual std::string extra_repr() const { return ""; }
  // A summary like PyTorch's print(model): each module with its options, submodules indented.
  std::string str() const;

 protected:
  // The entries str() prints inside the parentheses, one per submodule: "(name): Child(...)".
  virtual std::vector<std::string> child_lines() const;

  // Registration returns its argument, so a layer can keep a typed handle:
  //   weight_ = register_parameter("weight", ...);
  Tensor register_parameter(const std::string& name, Tensor tensor, bool requires_grad = true);
  Tensor register_buffer(const std::string& name, Tensor tensor);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }
  // The same for a module given by value, moved in: register_module("layers", nn::ModuleList{...}).
  template <class M>
    requires std::is_base_of_v<Module, std::decay_t<M>>
  std::shared_ptr<std::decay_t<M>> register_module(const std::string& name, M&& module) {
    return register_module(name, std::make_shared<std::decay_t<M>>(std::forward<M>(module)));
  }
  // Puts `module` in the place of the submodule registered as `name`, keeping the order, as
  // assigning to an existing submodule name does in PyTorch.
  void replace_module(const std::string& name, std::shared_ptr<Module> module);
  // Unregisters the submodule `name` and returns it, as deleting it does in PyTorch.
  std::shared_ptr<Module> remove_module(const std::string& name);
  // The submodule at position `index` of the registration order (negative counts from the end,
  // as in Python); throws when out of range.
  const std::shared_ptr<Module>& child_at(std::ptrdiff_t index) const;

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void check_new_name(const std::string& name, const char* what) const;
  // Appends this module's (and with `recurse` its submodules') parameters or buffers; with
  // `seen`, only tensors not in it, which it then records.
  void collect(NamedTensors& out, const std::string& prefix, bool buffers, bool recurse,
               std::unordered_set<const TensorImpl*>* seen) const;
  Tensor forward_with_hooks(const Tensor& input);
  RemovableHandle add_forward_pre_hook(ForwardPreHook hook);
  RemovableHandle add_forward_hook(ForwardHook hook);

  NamedTensors parameters_;
  NamedTensors buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
  std::shared_ptr<ForwardHooks> hooks_;  // created by the first hook, so a plain call costs nothing more
};

// Writes every parameter and buffer of `module` to a safetensors file (see autodiff/serialize.h).
void save(const Module& module, const std::filesystem::path& path);
// Reads them back. Every name, shape and dtype must match the module exactly; any mismatch, a
// missing or unexpected name, or a damaged file throws before anything is changed.
void load(Module& module, const std::filesystem::path& path);

}  // namespace tapegrad::nn

template <class M>
  requires std::is_base_of_v<tapegrad::nn::Module, M>
struct fmt::formatter<M> : fmt::formatter<std::string> {
  auto format(const M& module, format_context& ctx) const { return fmt::formatter<std::string>::format(module.str(), ctx); }
};
