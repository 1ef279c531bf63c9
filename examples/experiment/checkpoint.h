// Checkpoints written at each epoch's end: the model, the optimizer's state, how far training
// got, the random generators' positions and the metrics so far, in one safetensors file written
// atomically. Resuming from it and training on gives bit-identical weights to a run that was
// never interrupted (same seed and thread count): data order depends only on (seed, epoch), and
// every other random draw comes from a generator whose position is saved here.
//
// A checkpoint also records the run's defining configuration (see Program) and the optimizer's
// initial learning rates, and the whole file is covered by a checksum: a damaged or edited
// checkpoint is refused, naming the file, before any of it is used.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <tapegrad/tapegrad.h>

#include "metrics.h"

namespace experiment {

// A run's defining configuration: each flag's name without the dashes ("lr") and its value as
// text ("0.001").
using Configuration = std::map<std::string, std::string>;

// The configuration every checkpoint this process writes records; Program::run sets it from the
// parsed flags before the program's body runs.
void set_run_configuration(Configuration configuration);

// The configuration `checkpoint` records, or none for a checkpoint written before checkpoints
// recorded one. Throws, naming the file, when the file is damaged.
std::optional<Configuration> recorded_configuration(const std::filesystem::path& checkpoint);

class Checkpointer {
 public:
  // The default generator is always tracked; `model`, `optimizer` and `metrics` must outlive this.
  Checkpointer(std::filesystem::path path, tapegrad::nn::Module& model, tapegrad::optim::Optimizer& optimizer,
               MetricsLog& metrics);

  // Also saves and restores `generator` (e.g. an augmentation's own), under `name`.
  void track(std::string name, tapegrad::Generator& generator);
  // Also saves and restores a learning-rate schedule's position, so a resumed run continues it.
  void track(tapegrad::optim::LRScheduler& scheduler) { scheduler_ = &scheduler; }
  // When several runs share the metrics table, each with its own checkpoint: restoring replaces
  // only the rows whose first cell `owned` accepts, and keeps the other runs' rows as they are.
  void own_rows(std::function<bool(std::string_view)> owned) { owned_rows_ = std::move(owned); }

  // With `resume` and a checkpoint on disk: restores everything and returns the epochs already
  // done (the next epoch to run). Otherwise 0, and nothing changes. A damaged or mismatched
  // checkpoint throws, naming the file. When the optimizer was built with other initial learning
  // rates than the checkpoint's run (a resume with --override and another --lr), those apply:
  // each group's restored learning rate is scaled by new / old initial rate and a tracked
  // schedule is rebased on the new rates (LRScheduler::rebase), so training continues as if the
  // run had started with them.
  std::int64_t restore_if(bool resume);
  // After epoch `epochs_done - 1` has finished and its metrics are logged.
  void save(std::int64_t epochs_done, std::int64_t steps_done);

  std::int64_t steps_done() const { return steps_done_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  tapegrad::nn::Module& model_;
  tapegrad::optim::Optimizer& optimizer_;
  MetricsLog& metrics_;
  std::vector<std::pair<std::string, tapegrad::Generator*>> generators_;
  std::function<bool(std::string_view)> owned_rows_;
  // Applies the initial learning rates the optimizer was built with over `restored` ones.
  void rebase_learning_rates(const std::vector<double>& restored);

  tapegrad::optim::LRScheduler* scheduler_ = nullptr;
  std::vector<double> initial_lrs_;  // each group's, as the program built the optimizer
  std::int64_t steps_done_ = 0;
};

}  // namespace experiment
