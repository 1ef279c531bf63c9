#include "checkpoint.h"

#include <charconv>
#include <cstdio>
#include <limits>
#include <system_error>

#include <fmt/format.h>

namespace experiment {

using namespace tapegrad;

namespace {

constexpr std::string_view kModelPrefix = "model/";
constexpr std::string_view kOptimizerPrefix = "optimizer/";
constexpr std::string_view kConfigurationPrefix = "config.";
constexpr const char* kWhat = "checkpoint";

Configuration& run_configuration() {
  static Configuration configuration;
  return configuration;
}

std::string initial_lr_key(std::size_t group) { return fmt::format("initial_lr.{}", group); }

const std::string& field(const TensorFile& file, const std::string& key, const std::filesystem::path& path) {
  const auto found = file.metadata.find(key);
  if (found == file.metadata.end())
    throw Error(fmt::format("checkpoint '{}' has no '{}' field; it was not written by this program: delete it or run "
                            "without --resume", path.string(), key));
  return found->second;
}

// The field's text as a number of type T, all of it: no sign, space, suffix or overflow.
template <class T>
T parse_number(const TensorFile& file, const std::string& key, const std::filesystem::path& path, T largest,
               const char* kind) {
  const std::string& text = field(file, key, path);
  T value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || text.front() == '-' || error != std::errc() || end != text.data() + text.size() || value > largest)
    throw Error(fmt::format("checkpoint '{}': the field '{}' is '{}', not {}; the file was not written by this program: "
                            "delete it or restore a copy", path.string(), key, text, kind));
  return value;
}

std::uint64_t parse_u64(const TensorFile& file, const std::string& key, const std::filesystem::path& path) {
  return parse_number<std::uint64_t>(file, key, path, std::numeric_limits<std::uint64_t>::max(), "a whole number");
}

std::int64_t parse_count(const TensorFile& file, const std::string& key, const std::filesystem::path& path) {
  return static_cast<std::int64_t>(parse_number<std::uint64_t>(
      file, key, path, static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()), "a whole number"));
}

double parse_lr(const TensorFile& file, const std::string& key, const std::filesystem::path& path) {
  const double lr = parse_number<double>(file, key, path, std::numeric_limits<double>::max(), "a positive number");
  if (!(lr > 0))
    throw Error(fmt::format("checkpoint '{}': the field '{}' is {}, not a positive number; delete it or restore a copy",
                            path.string(), key, lr));
  return lr;
}

}  // namespace

void set_run_configuration(Configuration configuration) { run_configuration() = std::move(configuration); }

std::optional<Configuration> recorded_configuration(const std::filesystem::path& checkpoint) {
  const TensorFile file = load_tensors(checkpoint, kWhat);
  Configuration configuration;
  for (const auto& [key, value] : file.metadata)
    if (key.starts_with(kConfigurationPrefix)) configuration.emplace(key.substr(kConfigurationPrefix.size()), value);
  if (configuration.empty()) return std::nullopt;  // every program that checkpoints has --seed at least
  return configuration;
}

Checkpointer::Checkpointer(std::filesystem::path path, nn::Module& model, optim::Optimizer& optimizer,
                           MetricsLog& metrics)
    : path_(std::move(path)), model_(model), optimizer_(optimizer), metrics_(metrics) {
  track("default", default_generator());
  for (std::size_t group = 0; group < optimizer_.num_param_groups(); ++group)
    initial_lrs_.push_back(optimizer_.group_initial_lr(group));
}

void Checkpointer::track(std::string name, Generator& generator) { generators_.emplace_back(std::move(name), &generator); }

void Checkpointer::save(std::int64_t epochs_done, std::int64_t steps_done) {
  steps_done_ = steps_done;
  NamedTensors tensors;
  for (const auto& [name, tensor] : model_.state_dict()) tensors.emplace_back(std::string(kModelPrefix) + name, tensor);
  const TensorFile optimizer_state = optimizer_.state_dict();
  for (const auto& [name, tensor] : optimizer_state.tensors)
    tensors.emplace_back(std::string(kOptimizerPrefix) + name, tensor);

  std::map<std::string, std::string> metadata;
  for (const auto& [key, value] : optimizer_state.metadata) metadata.emplace(std::string(kOptimizerPrefix) + key, value);
  for (const auto& [flag, value] : run_configuration()) metadata.emplace(std::string(kConfigurationPrefix) + flag, value);
  for (std::size_t group = 0; group < initial_lrs_.size(); ++group)
    metadata[initial_lr_key(group)] = fmt::format("{}", initial_lrs_[group]);  // shortest text that reads back exactly
  metadata["epochs_done"] = std::to_string(epochs_done);
  metadata["steps_done"] = std::to_string(steps_done);
  for (const auto& [name, generator] : generators_) {
    metadata["generator." + name + ".seed"] = std::to_string(generator->seed());
    metadata["generator." + name + ".offset"] = std::to_string(generator->offset());
  }
  metadata["metrics"] = metrics_.text();
  if (scheduler_ != nullptr) metadata["scheduler"] = scheduler_->state();
  save_tensors(path_, tensors, metadata, kWhat);
}

std::int64_t Checkpointer::restore_if(bool resume) {
  if (!resume || !std::filesystem::exists(path_)) return 0;
  const TensorFile file = load_tensors(path_, kWhat);

  NamedTensors model_state;
  TensorFile optimizer_state;
  for (const auto& [name, tensor] : file.tensors) {
    if (name.starts_with(kModelPrefix)) model_state.emplace_back(name.substr(kModelPrefix.size()), tensor);
    else if (name.starts_with(kOptimizerPrefix)) optimizer_state.tensors.emplace_back(name.substr(kOptimizerPrefix.size()), tensor);
  }
  for (const auto& [key, value] : file.metadata)
    if (key.starts_with(kOptimizerPrefix)) optimizer_state.metadata.emplace(key.substr(kOptimizerPrefix.size()), value);

  const std::int64_t epochs_done = parse_count(file, "epochs_done", path_);
  const std::int64_t steps_done = parse_count(file, "steps_done", path_);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> positions;
  for (const auto& [name, generator] : generators_)
    positions.emplace_back(parse_u64(file, "generator." + name + ".seed", path_),
                           parse_u64(file, "generator." + name + ".offset", path_));
  const std::string& metrics = field(file, "metrics", path_);
  // Checkpoints written before the initial learning rates were recorded have none: their
  // schedule's base rates, or the rates restored, stand in for them.
  std::vector<double> restored_lrs;
  if (file.metadata.contains(initial_lr_key(0)))
    for (std::size_t group = 0; group < initial_lrs_.size(); ++group)
      restored_lrs.push_back(parse_lr(file, initial_lr_key(group), path_));

  // Everything read and checked above; the module checks its state before copying any of it.
  const auto schedule = file.metadata.find("scheduler");
  if (scheduler_ != nullptr && schedule == file.metadata.end())
    throw Error(fmt::format("checkpoint '{}' has no learning-rate schedule; delete it or run without --resume",
                            path_.string()));
  const std::string source = fmt::format("'{}'", path_.string());
  model_.load_state_dict(model_state, source);
  optimizer_.load_state_dict(optimizer_state);
  for (std::size_t i = 0; i < generators_.size(); ++i) {
    generators_[i].second->manual_seed(positions[i].first);
    generators_[i].second->set_offset(positions[i].second);
  }
  if (scheduler_ != nullptr) scheduler_->load_state(schedule->second);
  if (restored_lrs.empty()) {
    if (scheduler_ != nullptr) restored_lrs = scheduler_->base_lrs();
    else
      for (std::size_t group = 0; group < initial_lrs_.size(); ++group) restored_lrs.push_back(optimizer_.group_lr(group));
  }
  rebase_learning_rates(restored_lrs);
  try {
    if (owned_rows_) metrics_.restore_rows(metrics, owned_rows_);
    else metrics_.restore(metrics);
  } catch (const std::runtime_error& error) {
    throw Error(fmt::format("checkpoint '{}': the field 'metrics' does not fit: {}", path_.string(), error.what()));
  }
  steps_done_ = steps_done;
  return epochs_done;
}

void Checkpointer::rebase_learning_rates(const std::vector<double>& restored) {
  if (restored == initial_lrs_) return;
  for (std::size_t group = 0; group < initial_lrs_.size(); ++group) {
    const double lr = optimizer_.group_lr(group);
    const double rebased = lr == restored[group] ? initial_lrs_[group] : lr * (initial_lrs_[group] / restored[group]);
    optimizer_.set_group_lr(group, rebased);
    optimizer_.set_group_initial_lr(group, initial_lrs_[group]);
    fmt::print("{}: the learning rate{} now starts from {} instead of {}, and continues at {}\n", path_.string(),
               initial_lrs_.size() > 1 ? fmt::format(" of group {}", group) : "", initial_lrs_[group], restored[group],
               rebased);
  }
  if (scheduler_ != nullptr) scheduler_->rebase(initial_lrs_);
  std::fflush(stdout);
}

}  // namespace experiment
