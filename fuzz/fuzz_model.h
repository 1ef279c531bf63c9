// The small model the nn_load and checkpoint targets load into, and their seed files are saved
// from: parameters and buffers of two dtypes (BatchNorm's running statistics and its int64
// count), with an optimizer that keeps state.
#pragma once

#include <memory>
#include <vector>

#include <tapegrad/tapegrad.h>

namespace tapegrad::fuzz {

inline std::shared_ptr<nn::Sequential> make_model() {
  return std::make_shared<nn::Sequential>(nn::Linear(3, 4), nn::BatchNorm1d(4), nn::ReLU(), nn::Linear(4, 2));
}

inline optim::Adam make_optimizer(nn::Module& model) { return optim::Adam(model.parameters(), {.lr = 0.01}); }

// The metrics table's columns, as the checkpoint target's MetricsLog expects them.
inline std::vector<std::string> metrics_columns() { return {"epoch", "loss"}; }

}  // namespace tapegrad::fuzz
