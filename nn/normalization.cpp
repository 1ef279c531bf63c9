#include <tapegrad/nn/normalization.h>

#include <fmt/ranges.h>

#include <tapegrad/autodiff/ops.h>

namespace tapegrad::nn {

LayerNorm::LayerNorm(const LayerNormOptions& options) : options_(options) {
  TAPEGRAD_CHECK(!options.normalized_shape.empty(), "LayerNorm: normalized_shape must name at least one dim");
  for (std::int64_t size : options.normalized_shape)
    TAPEGRAD_CHECK(size > 0, "LayerNorm: normalized_shape must be positive, got {}", options.normalized_shape);
  TAPEGRAD_CHECK(options.eps > 0, "LayerNorm: eps must be positive, got {}", options.eps);
  if (options.elementwise_affine) {
    weight = register_parameter("weight", ones(options.normalized_shape, options.dtype));
    bias = register_parameter("bias", zeros(options.normalized_shape, options.dtype));
  }
}

Tensor LayerNorm::forward(const Tensor& input) {
  return layer_norm(input, options_.normalized_shape, weight, bias, options_.eps);
}

std::string LayerNorm::extra_repr() const {
  // Python's tuple: "(4,)" for one dim, "(3, 4)" for more.
  const Shape& shape = options_.normalized_shape;
  return fmt::format("({}{}), eps={}, elementwise_affine={}", fmt::join(shape, ", "), shape.size() == 1 ? "," : "",
                     options_.eps, options_.elementwise_affine ? "True" : "False");
}

GroupNorm::GroupNorm(const GroupNormOptions& options) : options_(options) {
  TAPEGRAD_CHECK(options.num_groups > 0 && options.num_channels > 0 && options.num_channels % options.num_groups == 0,
                 "GroupNorm: num_channels ({}) must be a positive multiple of num_groups ({})", options.num_channels,
                 options.num_groups);
  TAPEGRAD_CHECK(options.eps > 0, "GroupNorm: eps must be positive, got {}", options.eps);
  if (options.affine) {
    weight = register_parameter("weight", ones({options.num_channels}, options.dtype));
    bias = register_parameter("bias", zeros({options.num_channels}, options.dtype));
  }
}

Tensor GroupNorm::forward(const Tensor& input) {
  TAPEGRAD_CHECK(input.defined() && input.dim() >= 2 && input.size(1) == options_.num_channels,
                 "GroupNorm: expected an input [N, {}, ...], got {}", options_.num_channels,
                 input.defined() ? fmt::format("shape {}", input.shape()) : "an undefined tensor");
  return group_norm(input, options_.num_groups, weight, bias, options_.eps);
}

std::string GroupNorm::extra_repr() const {
  return fmt::format("{}, {}, eps={}, affine={}", options_.num_groups, options_.num_channels, options_.eps,
                     options_.affine ? "True" : "False");
}

}  // namespace tapegrad::nn
