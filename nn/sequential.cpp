// Sequential's forward and indexing.
#include <tapegrad/nn/sequential.h>

#include <string>

namespace tapegrad::nn {

void Sequential::append(std::shared_ptr<Module> module) {
  register_module(std::to_string(size()), std::move(module));
}

Tensor Sequential::forward(const Tensor& input) {
  Tensor x = input;
  for (const auto& entry : named_children()) x = (*entry.second)(x);  // through operator(), so hooks run
  return x;
}

const std::shared_ptr<Module>& Sequential::operator[](std::ptrdiff_t index) const { return child_at(index); }

}  // namespace tapegrad::nn
