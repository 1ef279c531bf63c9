// Anomaly mode's check of the gradients a node produces, run by the engine after each node's
// backward while the mode is on (see anomaly_mode.h).
#pragma once

#include <span>

#include <tapegrad/autodiff/node.h>

namespace tapegrad::detail {

// Throws AnomalyError for the first of `grads` (one per input of `node`) that holds NaN or Inf,
// naming the node, the input and the forward call that recorded the node, as PyTorch's
// detect_anomaly.
void check_backward_finite(const Node& node, std::span<const Tensor> grads);

}  // namespace tapegrad::detail
