#include "checkpoint.h"

#include <fmt/format.h>

namespace experiment {

using namespace tapegrad;

namespace {

constexpr std::string_view kModelPrefix = "model/";
constexpr std::string_view kOptimizerPrefix = "optimizer/";

std::uint64_t parse_u64(const std::map<std::string, std::string>& metadata, const std::string& key,
                        const std::filesystem::path& path) {
  const auto found = metadata.find(key);
  if (found == metadata.end())
    throw Error(fmt::format("checkpoint '{}' has no '{}' entry; it was not written by this program (delete it or "
                            "run without --resume)", path.string(), key));
  return std::stoull(found->second);
}

}  // namespace

Checkpointer::Checkpointer(std::filesystem::path path, nn::Module& model, optim::Optimizer& optimizer,
                           MetricsLog& metrics)
    : path_(std::move(path)), model_(model), optimizer_(optimizer), metrics_(metrics) {
  track("default", default_generator());
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
  metadata["epochs_done"] = std::to_string(epochs_done);
  metadata["steps_done"] = std::to_string(steps_done);
  for (const auto& [name, generator] : generators_) {
    metadata["generator." + name + ".seed"] = std::to_string(generator->seed());
    metadata["generator." + name + ".offset"] = std::to_string(generator->offset());
  }
  metadata["metrics"] = metrics_.text();
  if (scheduler_ != nullptr) metadata["scheduler"] = scheduler_->state();
  save_tensors(path_, tensors, metadata);
}

std::int64_t Checkpointer::restore_if(bool resume) {
  if (!resume || !std::filesystem::exists(path_)) return 0;
  const TensorFile file = load_tensors(path_);

  NamedTensors model_state;
  TensorFile optimizer_state;
  for (const auto& [name, tensor] : file.tensors) {
    if (name.starts_with(kModelPrefix)) model_state.emplace_back(name.substr(kModelPrefix.size()), tensor);
    else if (name.starts_with(kOptimizerPrefix)) optimizer_state.tensors.emplace_back(name.substr(kOptimizerPrefix.size()), tensor);
  }
  for (const auto& [key, value] : file.metadata)
    if (key.starts_with(kOptimizerPrefix)) optimizer_state.metadata.emplace(key.substr(kOptimizerPrefix.size()), value);

  const std::int64_t epochs_done = static_cast<std::int64_t>(parse_u64(file.metadata, "epochs_done", path_));
  const std::int64_t steps_done = static_cast<std::int64_t>(parse_u64(file.metadata, "steps_done", path_));
  std::vector<std::pair<std::uint64_t, std::uint64_t>> positions;
  for (const auto& [name, generator] : generators_)
    positions.emplace_back(parse_u64(file.metadata, "generator." + name + ".seed", path_),
                           parse_u64(file.metadata, "generator." + name + ".offset", path_));
  const auto metrics = file.metadata.find("metrics");
  if (metrics == file.metadata.end())
    throw Error(fmt::format("checkpoint '{}' has no metrics; delete it or run without --resume", path_.string()));

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
  if (owned_rows_) metrics_.restore_rows(metrics->second, owned_rows_);
  else metrics_.restore(metrics->second);
  steps_done_ = steps_done;
  return epochs_done;
}

}  // namespace experiment
