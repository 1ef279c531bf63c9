// Running the tape backwards: backward() accumulates into leaves' .grad; grad() returns the
// gradients of chosen inputs without touching .grad.
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include <tapegrad/autodiff/tensor.h>

namespace tapegrad {

// Accumulates d(outputs)/d(leaf) into every leaf's .grad. Each output needs a gradient of its
// shape, which may be omitted for a single-element output (it is then 1).
void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs = {},
              std::optional<bool> retain_graph = std::nullopt, bool create_graph = false);

// Returns d(sum_i <outputs[i], grad_outputs[i]>)/d(inputs[j]) for each input. With create_graph
// the backward pass itself is recorded, so the results can be differentiated again.
// retain_graph defaults to create_graph. An input the outputs do not depend on is an error unless
// allow_unused, when its gradient is an undefined Tensor.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, std::optional<bool> retain_graph = std::nullopt,
                         bool create_graph = false, bool allow_unused = false);

// Runs `callback` when the backward pass under way on this thread has finished, after every node
// and hook (PyTorch's Variable._execution_engine.queue_callback): data-parallel training waits
// for its gradient reductions there. Callable only from inside a pass (a hook); callbacks run in
// the order queued, and not at all when the pass throws.
void queue_backward_callback(std::function<void()> callback);

}  // namespace tapegrad
