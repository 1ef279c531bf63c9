// Sequential: modules applied in order, named "0", "1", ... as PyTorch's nn.Sequential.
//   nn::Sequential model(nn::Linear(784, 128), nn::ReLU(), nn::Linear(128, 10));
#pragma once

#include <utility>

#include <tapegrad/nn/containers.h>

namespace tapegrad::nn {

// Indexing, push_back, append and extend come from ModuleSequence (nn/containers.h), as
// ModuleList's do.
class Sequential : public ModuleSequence {
 public:
  Sequential() = default;
  // Modules by value (moved in) or shared_ptrs to modules (shared).
  template <class... Modules>
  explicit Sequential(Modules&&... modules) {
    (push_back(std::forward<Modules>(modules)), ...);
  }

  Tensor forward(const Tensor& input) override;
  std::string name() const override { return "Sequential"; }
};

}  // namespace tapegrad::nn
