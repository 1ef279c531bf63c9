// Sequential's forward and indexing.
#include <tapegrad/nn/sequential.h>

#include <string>

namespace tapegrad::nn {

void Sequential::append(std::shared_ptr<Module> module) {
  register_module(std::to_string(size()), std::move(module));
}

Tensor Sequential::forward(const Tensor& input) {
  Tensor x = input;
  for (const auto& entry : named_children()) x = entry.second->forward(x);
  return x;
}

const std::shared_ptr<Module>& Sequential::operator[](std::ptrdiff_t index) const {
  const auto count = static_cast<std::ptrdiff_t>(size());
  TAPEGRAD_CHECK(index >= -count && index < count, "Sequential: index {} is out of range for {} modules", index, count);
  return named_children()[static_cast<std::size_t>(index < 0 ? index + count : index)].second;
}

}  // namespace tapegrad::nn
