// Running the tape backwards: backward() accumulates into leaves' .grad; grad() returns the
// gradients of chosen inputs without touching .grad.
#pragma once

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

}  // namespace tapegrad
