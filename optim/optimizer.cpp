// The optimizer base: stepping, gradients, per-parameter state and its save/load. Saved options,
// shapes and step counts travel as JSON in the tensor file's metadata; numbers are written with
// round-trip precision, so a resumed run continues bit for bit.
#include <tapegrad/optim/optimizer.h>

#include <charconv>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include <tapegrad/autodiff/ops.h>

namespace tapegrad::optim {
namespace {

using Json = nlohmann::json;

constexpr const char* kKindKey = "optimizer.kind";
constexpr const char* kGroupsKey = "optimizer.param_groups";
constexpr const char* kStateKey = "optimizer.state";

const Tensor* find_named(const NamedTensors& tensors, std::string_view name) {
  for (const auto& [key, tensor] : tensors)
    if (key == name) return &tensor;
  return nullptr;
}

Tensor find_or_add(NamedTensors& tensors, std::string_view name, const Tensor& like, double initial) {
  if (const Tensor* found = find_named(tensors, name)) return *found;
  tensors.emplace_back(std::string(name), full(like.shape(), initial, TensorOptions(like.dtype()).with_device(like.device())));
  return tensors.back().second;
}

std::string buffer_key(std::size_t index, const std::string& buffer) { return fmt::format("state.{}.{}", index, buffer); }

const std::string& metadata_entry(const TensorFile& saved, const char* key) {
  const auto found = saved.metadata.find(key);
  TAPEGRAD_CHECK(found != saved.metadata.end(), "load_state_dict: the saved state has no '{}' entry; it is not an "
                 "optimizer state", key);
  return found->second;
}

}  // namespace

Tensor ParamState::buffer(std::string_view name, const Tensor& like, double initial) {
  return find_or_add(buffers, name, like, initial);
}

Tensor ParamState::find(std::string_view name) const {
  const Tensor* found = find_named(buffers, name);
  return found == nullptr ? Tensor() : *found;
}

void ParamState::set_buffer(std::string_view name, const Tensor& value) {
  for (auto& [key, tensor] : buffers)
    if (key == name) {
      tensor = value;
      return;
    }
  buffers.emplace_back(std::string(name), value);
}

Tensor ParamState::scratch_buffer(std::string_view name, const Tensor& like) { return find_or_add(scratch, name, like, 0); }

Tensor Optimizer::step(const Closure& closure) { return run_step(closure); }

void Optimizer::zero_grad(bool set_to_none) {
  NoGradGuard no_grad;
  for (std::size_t group = 0; group < num_param_groups(); ++group)
    for (const Tensor& param : group_params(group)) {
      Tensor grad = param.grad();
      if (!grad.defined()) continue;
      if (set_to_none) {
        param.set_grad({});
      } else {
        grad.zero_();
      }
    }
}

void Optimizer::set_lr(double lr) {
  for (std::size_t group = 0; group < num_param_groups(); ++group) set_group_lr(group, lr);
}

double Optimizer::group_momentum(std::size_t) const {
  fail("{}: the optimizer has no momentum (nor Adam's beta1) for a scheduler to set; turn the scheduler's "
       "momentum cycling off (OneCycleLROptions::cycle_momentum = false)", name());
}

void Optimizer::set_group_momentum(std::size_t group, double) { (void)group_momentum(group); }

double Optimizer::group_initial_lr(std::size_t group) {
  TAPEGRAD_CHECK(group < num_param_groups(), "{}: no parameter group {}; there are {}", name(), group,
                 num_param_groups());
  if (initial_lrs_.size() <= group) initial_lrs_.resize(group + 1);
  if (!initial_lrs_[group]) initial_lrs_[group] = group_lr(group);
  return *initial_lrs_[group];
}

void Optimizer::set_group_initial_lr(std::size_t group, double lr) {
  (void)group_initial_lr(group);
  initial_lrs_[group] = lr;
}

const ParamState* Optimizer::state(const Tensor& param) const {
  const auto found = state_.find(param.impl_ptr().get());
  return found == state_.end() ? nullptr : &found->second;
}

// The messages do not name the optimizer: the constructor checks its groups before the
// subclass, which knows the name, exists.
void Optimizer::check_new_params(const std::vector<Tensor>& params) const {
  TAPEGRAD_CHECK(!params.empty(), "optimizer: got an empty parameter list for a parameter group");
  std::unordered_set<const TensorImpl*> seen;
  for (std::size_t group = 0; group < num_param_groups(); ++group)
    for (const Tensor& param : group_params(group)) seen.insert(param.impl_ptr().get());
  for (const Tensor& param : params) {
    TAPEGRAD_CHECK(param.defined(), "optimizer: a parameter is an undefined tensor");
    TAPEGRAD_CHECK(param.is_floating_point(), "optimizer: parameters must be floating point, got a {} tensor of shape {}",
                   param.dtype(), param.shape());
    TAPEGRAD_CHECK(param.is_leaf(), "optimizer: can't optimize a non-leaf tensor (shape {}); optimize the leaves it is "
                   "computed from", param.shape());
    TAPEGRAD_CHECK(seen.insert(param.impl_ptr().get()).second,
                   "optimizer: a parameter of shape {} appears more than once in the parameter groups", param.shape());
  }
}

TensorFile Optimizer::state_dict() const {
  TensorFile saved;
  Json groups = Json::array(), states = Json::object();
  std::size_t index = 0;
  for (std::size_t group = 0; group < num_param_groups(); ++group) {
    Json options = Json::object(), shapes = Json::array();
    for (const auto& [field, value] : encode_group_options(group)) options[field] = value;
    for (const Tensor& param : group_params(group)) {
      shapes.push_back(std::vector<std::int64_t>(param.shape().begin(), param.shape().end()));
      if (const ParamState* param_state = state(param)) {
        Json buffers = Json::array();
        for (const auto& [buffer, tensor] : param_state->buffers) {
          buffers.push_back(buffer);
          saved.tensors.emplace_back(buffer_key(index, buffer), tensor.clone());
        }
        Json scalars = Json::object();
        for (const auto& [scalar, value] : param_state->scalars) scalars[scalar] = value;
        states[std::to_string(index)] = {{"step", param_state->step}, {"buffers", buffers}, {"scalars", scalars}};
      }
      ++index;
    }
    groups.push_back({{"options", options}, {"shapes", shapes}});
  }
  saved.metadata[kKindKey] = name();
  saved.metadata[kGroupsKey] = groups.dump();
  saved.metadata[kStateKey] = states.dump();
  return saved;
}

void Optimizer::load_state_dict(const TensorFile& saved) {
  const std::string& kind = metadata_entry(saved, kKindKey);
  TAPEGRAD_CHECK(kind == name(), "load_state_dict: the saved state belongs to a {} optimizer, this one is {}", kind,
                 name());
  std::vector<Tensor> params;
  std::vector<FlatOptions> options;
  std::unordered_map<const TensorImpl*, ParamState> loaded;
  try {
    const Json groups = Json::parse(metadata_entry(saved, kGroupsKey));
    const Json states = Json::parse(metadata_entry(saved, kStateKey));
    TAPEGRAD_CHECK(groups.is_array() && groups.size() == num_param_groups(),
                   "load_state_dict: the saved state has {} parameter groups, this {} optimizer has {}",
                   groups.is_array() ? groups.size() : 0, name(), num_param_groups());
    for (std::size_t group = 0; group < num_param_groups(); ++group) {
      const std::vector<Tensor>& mine = group_params(group);
      const Json& shapes = groups[group].at("shapes");
      TAPEGRAD_CHECK(shapes.size() == mine.size(),
                     "load_state_dict: parameter group {} has {} parameters in the saved state and {} here", group,
                     shapes.size(), mine.size());
      for (std::size_t i = 0; i < mine.size(); ++i) {
        const auto saved_shape = shapes[i].get<std::vector<std::int64_t>>();
        TAPEGRAD_CHECK(saved_shape == std::vector<std::int64_t>(mine[i].shape().begin(), mine[i].shape().end()),
                       "load_state_dict: parameter {} of group {} has shape {} here but {} in the saved state", i,
                       group, mine[i].shape(), shapes[i].dump());
        params.push_back(mine[i]);
      }
      FlatOptions flat;
      for (const auto& [field, value] : groups[group].at("options").items()) flat.emplace_back(field, value.get<double>());
      options.push_back(std::move(flat));
    }
    for (const auto& [key, entry] : states.items()) {
      std::size_t index = 0;
      const auto [end, error] = std::from_chars(key.data(), key.data() + key.size(), index);
      TAPEGRAD_CHECK(error == std::errc() && end == key.data() + key.size() && !key.empty(),
                     "load_state_dict: malformed {} optimizer state: '{}' is not a parameter index", name(), key);
      TAPEGRAD_CHECK(index < params.size(), "load_state_dict: the saved state has state for parameter {}, but there "
                     "are {} parameters", index, params.size());
      const Tensor& param = params[index];
      ParamState param_state;
      const Json& step = entry.at("step");
      TAPEGRAD_CHECK(step.is_number_integer() && step.get<std::int64_t>() >= 0, "load_state_dict: malformed {} "
                     "optimizer state: the step count of parameter {} is {}, not a whole number", name(), index,
                     step.dump());
      param_state.step = step.get<std::int64_t>();
      for (const auto& buffer : entry.at("buffers")) {
        const std::string buffer_name = buffer.get<std::string>();
        const Tensor& stored = saved.at(buffer_key(index, buffer_name));
        param_state.buffers.emplace_back(buffer_name, stored.to(param.dtype()).to(param.device()).clone());
      }
      for (const auto& [scalar, value] : entry.at("scalars").items()) param_state.scalars[scalar] = value.get<double>();
      check_loaded_state(index, param, param_state);
      loaded[param.impl_ptr().get()] = std::move(param_state);
    }
  } catch (const Json::exception& error) {
    fail("load_state_dict: malformed {} optimizer state: {}", name(), error.what());
  }
  load_group_options(options);
  state_.swap(loaded);
}

void Optimizer::check_loaded_state(std::size_t index, const Tensor& param, const ParamState& state) const {
  for (const auto& [buffer, tensor] : state.buffers)
    TAPEGRAD_CHECK(tensor.shape() == param.shape(), "load_state_dict: the saved {} state '{}' of parameter {} has "
                   "shape {}, but the parameter has shape {}; {}", name(), buffer, index, tensor.shape(), param.shape(),
                   kOtherParametersAdvice);
}

void Optimizer::save(const std::filesystem::path& path) const {
  const TensorFile saved = state_dict();
  save_tensors(path, saved.tensors, saved.metadata);
}

void Optimizer::load(const std::filesystem::path& path) { load_state_dict(load_tensors(path)); }

namespace detail {

double saved_field(const FlatOptions& saved, const std::string& name) {
  for (const auto& [field, value] : saved)
    if (field == name) return value;
  fail("load_state_dict: the saved options lack '{}'", name);
}

}  // namespace detail
}  // namespace tapegrad::optim
