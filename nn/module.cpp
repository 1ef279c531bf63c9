// The generic half of every module: registration, traversal with dotted names, mode, device
// moves, printing, and saving/loading the state as safetensors.
#include <tapegrad/nn/module.h>

#include <algorithm>
#include <map>
#include <unordered_set>

#include <tapegrad/autodiff/grad_mode.h>
#include <tapegrad/autodiff/ops.h>

namespace tapegrad::nn {

Tensor Module::forward(const Tensor&) {
  fail("{}: this module does not define forward(tensor); call the module's own forward", name());
}

// A module's hooks in registration order, each under the id its handle removes.
struct ForwardHooks {
  std::uint64_t next_id = 0;
  std::vector<std::pair<std::uint64_t, ForwardPreHook>> pre;
  std::vector<std::pair<std::uint64_t, ForwardHook>> post;
};

void RemovableHandle::remove() {
  const std::shared_ptr<ForwardHooks> hooks = hooks_.lock();
  if (!hooks) return;
  const auto has_id = [id = id_](const auto& entry) { return entry.first == id; };
  std::erase_if(hooks->pre, has_id);
  std::erase_if(hooks->post, has_id);
}

RemovableHandle Module::add_forward_pre_hook(ForwardPreHook hook) {
  TAPEGRAD_CHECK(hook != nullptr, "{}: register_forward_pre_hook: the hook is empty", name());
  if (!hooks_) hooks_ = std::make_shared<ForwardHooks>();
  hooks_->pre.emplace_back(hooks_->next_id, std::move(hook));
  return {hooks_, hooks_->next_id++};
}

RemovableHandle Module::add_forward_hook(ForwardHook hook) {
  TAPEGRAD_CHECK(hook != nullptr, "{}: register_forward_hook: the hook is empty", name());
  if (!hooks_) hooks_ = std::make_shared<ForwardHooks>();
  hooks_->post.emplace_back(hooks_->next_id, std::move(hook));
  return {hooks_, hooks_->next_id++};
}

Tensor Module::forward_with_hooks(const Tensor& input) {
  // Copies of the lists, so a hook may remove itself or others while they run.
  const auto pre = hooks_->pre;
  Tensor x = input;
  for (const auto& [id, hook] : pre)
    if (std::optional<Tensor> replaced = hook(*this, x)) x = std::move(*replaced);
  Tensor y = forward(x);
  const auto post = hooks_->post;
  for (const auto& [id, hook] : post)
    if (std::optional<Tensor> replaced = hook(*this, x, y)) y = std::move(*replaced);
  return y;
}

void Module::check_new_name(const std::string& name, const char* what) const {
  TAPEGRAD_CHECK(!name.empty() && name.find('.') == std::string::npos,
                 "{}: {} name '{}' must be non-empty and contain no '.'", this->name(), what, name);
  const auto taken = [&](const auto& list) {
    return std::any_of(list.begin(), list.end(), [&](const auto& entry) { return entry.first == name; });
  };
  TAPEGRAD_CHECK(!taken(parameters_) && !taken(buffers_) && !taken(children_),
                 "{}: the name '{}' is already registered", this->name(), name);
}

Tensor Module::register_parameter(const std::string& name, Tensor tensor, bool requires_grad) {
  check_new_name(name, "parameter");
  TAPEGRAD_CHECK(tensor.defined() && tensor.is_leaf(), "{}: parameter '{}' must be a defined leaf tensor", this->name(),
                 name);
  tensor.requires_grad_(requires_grad);
  parameters_.emplace_back(name, tensor);
  return tensor;
}

Tensor Module::register_buffer(const std::string& name, Tensor tensor) {
  check_new_name(name, "buffer");
  TAPEGRAD_CHECK(tensor.defined(), "{}: buffer '{}' is undefined", this->name(), name);
  buffers_.emplace_back(name, tensor);
  return tensor;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name(name, "submodule");
  TAPEGRAD_CHECK(module != nullptr, "{}: submodule '{}' is null", this->name(), name);
  children_.emplace_back(name, std::move(module));
}

void Module::replace_module(const std::string& name, std::shared_ptr<Module> module) {
  const auto found =
      std::find_if(children_.begin(), children_.end(), [&](const auto& entry) { return entry.first == name; });
  TAPEGRAD_CHECK(found != children_.end(), "{}: there is no submodule '{}' to replace; register it first", this->name(),
                 name);
  TAPEGRAD_CHECK(module != nullptr, "{}: submodule '{}' is null", this->name(), name);
  found->second = std::move(module);
}

std::shared_ptr<Module> Module::remove_module(const std::string& name) {
  const auto found =
      std::find_if(children_.begin(), children_.end(), [&](const auto& entry) { return entry.first == name; });
  TAPEGRAD_CHECK(found != children_.end(), "{}: there is no submodule '{}' to remove", this->name(), name);
  std::shared_ptr<Module> removed = std::move(found->second);
  children_.erase(found);
  return removed;
}

const std::shared_ptr<Module>& Module::child_at(std::ptrdiff_t index) const {
  const auto count = static_cast<std::ptrdiff_t>(children_.size());
  TAPEGRAD_CHECK(count > 0, "{}: index {} is out of range: it holds no modules", name(), index);
  TAPEGRAD_CHECK(index >= -count && index < count, "{}: index {} is out of range for {} modules; valid indices are "
                 "-{} to {}", name(), index, count, count, count - 1);
  return children_[static_cast<std::size_t>(index < 0 ? index + count : index)].second;
}

void Module::collect(NamedTensors& out, const std::string& prefix, bool buffers, bool recurse,
                     std::unordered_set<const TensorImpl*>* seen) const {
  for (const auto& [name, tensor] : buffers ? buffers_ : parameters_)
    if (seen == nullptr || seen->insert(tensor.impl_ptr().get()).second) out.emplace_back(prefix + name, tensor);
  if (!recurse) return;
  for (const auto& [name, child] : children_) child->collect(out, prefix + name + ".", buffers, true, seen);
}

NamedTensors Module::named_parameters(bool recurse) const {
  NamedTensors out;
  std::unordered_set<const TensorImpl*> seen;
  collect(out, "", false, recurse, &seen);
  return out;
}

NamedTensors Module::named_buffers(bool recurse) const {
  NamedTensors out;
  std::unordered_set<const TensorImpl*> seen;
  collect(out, "", true, recurse, &seen);
  return out;
}

namespace {
std::vector<Tensor> tensors_of(const NamedTensors& named) {
  std::vector<Tensor> out;
  out.reserve(named.size());
  for (const auto& entry : named) out.push_back(entry.second);
  return out;
}
}  // namespace

std::vector<Tensor> Module::parameters(bool recurse) const { return tensors_of(named_parameters(recurse)); }
std::vector<Tensor> Module::buffers(bool recurse) const { return tensors_of(named_buffers(recurse)); }

NamedTensors Module::state_dict() const {
  NamedTensors out;
  collect(out, "", false, true, nullptr);
  collect(out, "", true, true, nullptr);
  return out;
}

std::vector<std::shared_ptr<Module>> Module::children() const {
  std::vector<std::shared_ptr<Module>> out;
  for (const auto& entry : children_) out.push_back(entry.second);
  return out;
}

namespace {
// M is Module or const Module, so both overloads of named_modules() share the walk.
template <class M>
void walk_modules(M& module, const std::string& prefix, std::unordered_set<const Module*>& seen,
                  std::vector<std::pair<std::string, M*>>& out) {
  if (!seen.insert(&module).second) return;
  out.emplace_back(prefix, &module);
  for (const auto& [name, child] : module.named_children())
    walk_modules<M>(*child, prefix.empty() ? name : prefix + "." + name, seen, out);
}

template <class M>
std::vector<std::pair<std::string, M*>> modules_under(M& root) {
  std::vector<std::pair<std::string, M*>> out;
  std::unordered_set<const Module*> seen;
  walk_modules<M>(root, "", seen, out);
  return out;
}

template <class M>
std::vector<M*> without_names(const std::vector<std::pair<std::string, M*>>& named) {
  std::vector<M*> out;
  out.reserve(named.size());
  for (const auto& entry : named) out.push_back(entry.second);
  return out;
}
}  // namespace

std::vector<std::pair<std::string, Module*>> Module::named_modules() { return modules_under<Module>(*this); }
std::vector<std::pair<std::string, const Module*>> Module::named_modules() const {
  return modules_under<const Module>(*this);
}
std::vector<Module*> Module::modules() { return without_names(named_modules()); }
std::vector<const Module*> Module::modules() const { return without_names(named_modules()); }

Module& Module::apply(const std::function<void(Module&)>& fn) {
  // A child registered under two names is visited once, as PyTorch's children() yields it once.
  std::unordered_set<const Module*> visited;
  for (const auto& entry : children_)
    if (visited.insert(entry.second.get()).second) entry.second->apply(fn);
  fn(*this);
  return *this;
}

Module& Module::requires_grad_(bool requires_grad) {
  for (Tensor parameter : parameters()) parameter.requires_grad_(requires_grad);
  return *this;
}

Module& Module::train(bool on) {
  training_ = on;
  for (const auto& entry : children_) entry.second->train(on);
  return *this;
}

void Module::zero_grad(bool set_to_none) {
  NoGradGuard no_grad;
  for (const Tensor& parameter : parameters()) {
    if (set_to_none) {
      parameter.set_grad({});
    } else if (Tensor grad = parameter.grad(); grad.defined()) {
      grad.zero_();
    }
  }
}

Module& Module::to(Device device) {
  NoGradGuard no_grad;
  for (const auto& [name, tensor] : state_dict()) {
    if (tensor.device() == device) continue;
    // set_data drops a gradient that no longer fits the data, so the gradient moves after it.
    const Tensor grad = tensor.grad();
    tensor.set_data(tensor.to(device));
    if (grad.defined()) tensor.set_grad(grad.to(device));
  }
  return *this;
}

Module& Module::to(DType dtype) {
  NoGradGuard no_grad;
  // Only floating-point state converts: counters such as num_batches_tracked stay integers.
  for (const auto& [name, tensor] : state_dict())
    if (tensor.is_floating_point() && tensor.dtype() != dtype) tensor.set_data(tensor.to(dtype));
  return *this;
}

std::int64_t Module::parameter_count() const {
  std::int64_t count = 0;
  for (const Tensor& parameter : parameters()) count += parameter.numel();
  return count;
}

std::int64_t Module::trainable_parameter_count() const {
  std::int64_t count = 0;
  for (const Tensor& parameter : parameters())
    if (parameter.requires_grad()) count += parameter.numel();
  return count;
}

std::vector<std::string> Module::child_lines() const {
  std::vector<std::string> lines;
  for (const auto& [child_name, child] : children_) lines.push_back("(" + child_name + "): " + child->str());
  return lines;
}

namespace {
// Indents every line after the first by two spaces, as PyTorch's _addindent: a submodule's own
// lines then sit under its entry.
std::string indent_following_lines(const std::string& text) {
  std::string out;
  for (const char c : text) {
    out += c;
    if (c == '\n') out += "  ";
  }
  return out;
}
}  // namespace

std::string Module::str() const {
  const std::vector<std::string> lines = child_lines();
  std::string out = name() + "(" + extra_repr();
  if (lines.empty()) return out + ")";
  if (!extra_repr().empty()) out += ",";
  for (const std::string& line : lines) out += "\n  " + indent_following_lines(line);
  return out + "\n)";
}

void save(const Module& module, const std::filesystem::path& path) {
  save_tensors(path, module.state_dict(), {{"tapegrad.module", module.name()}});
}

void Module::load_state_dict(const NamedTensors& saved, const std::string& source) {
  const NamedTensors state = state_dict();
  std::map<std::string, const Tensor*> stored;
  for (const auto& [name, tensor] : saved) stored.emplace(name, &tensor);

  // Validate everything first, so a bad state leaves the module as it was.
  std::vector<std::pair<Tensor, const Tensor*>> copies;
  for (const auto& [name, tensor] : state) {
    const auto found = stored.find(name);
    TAPEGRAD_CHECK(found != stored.end(), "load({}): there is no tensor '{}', which the {} module needs; was it "
                   "saved from a different model?", source, name, this->name());
    const Tensor& value = *found->second;
    TAPEGRAD_CHECK(value.shape() == tensor.shape(), "load({}): '{}' has shape {} in the file but {} in the module",
                   source, name, value.shape(), tensor.shape());
    TAPEGRAD_CHECK(value.dtype() == tensor.dtype(), "load({}): '{}' has dtype {} in the file but {} in the module; "
                   "convert the module with .to(dtype) first", source, name, value.dtype(), tensor.dtype());
    copies.emplace_back(tensor, &value);
    stored.erase(found);
  }
  if (!stored.empty()) {
    std::vector<std::string> extra;
    for (const auto& entry : stored) extra.push_back(entry.first);
    fail("load({}): it has tensors the {} module does not: {}; was it saved from a different model?",
         source, this->name(), fmt::join(extra, ", "));
  }

  NoGradGuard no_grad;
  for (const auto& [tensor, value] : copies) tensor.detach().copy_(*value);
}

void load(Module& module, const std::filesystem::path& path) {
  module.load_state_dict(load_tensors(path).tensors, fmt::format("'{}'", path.string()));
}

}  // namespace tapegrad::nn
