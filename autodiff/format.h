// Printing tensors like PyTorch does: `fmt::format("{}", t)` or `t.str()` gives the values
// (summarized with "..." past 1000 elements), then shape, dtype and autodiff state.
#pragma once

#include <string>

#include <fmt/format.h>

#include <tapegrad/autodiff/tensor.h>

template <>
struct fmt::formatter<tapegrad::Tensor> : fmt::formatter<std::string> {
  auto format(const tapegrad::Tensor& tensor, format_context& ctx) const {
    return fmt::formatter<std::string>::format(tensor.defined() ? tensor.str() : std::string("tensor(undefined)"), ctx);
  }
};
