// Indexing ops with int64 indices, paired with their adjoints: index_select <-> index_add,
// gather <-> scatter_add. Each is the other's gradient, so second derivatives come for free.
#include <tapegrad/autodiff/ops/common.h>

namespace tapegrad {

using namespace detail;

Tensor index_select(const Tensor& a, std::int64_t dim_arg, const Tensor& index) {
  check_defined("index_select", a);
  check_index("index_select", index, a);
  TAPEGRAD_CHECK(index.dim() <= 1, "index_select: index must be 1-D, got shape {}", index.shape());
  const Tensor input = at_least_1d(a);
  const int dim = wrap_dim(dim_arg, a.dim(), "index_select");
  Shape shape = input.shape();
  shape[dim] = index.numel();
  Tensor out = empty(shape, options_of(a));
  backend_of(a).index_select(input.desc(), dim, reshape(index, {-1}).desc(), out.desc());
  if (a.dim() == 0) out = reshape(out, {});
  if (should_record(a))
    record("index_select", out, {a}, [index, input_shape = a.shape(), dim](BackwardContext& ctx) {
      ctx.set_input_grad(0, index_add_into_zeros(ctx.grad(), input_shape, dim, index));
    });
  return out;
}

Tensor index_add_into_zeros(const Tensor& source, const Shape& shape, std::int64_t dim_arg, const Tensor& index) {
  check_defined("index_add_into_zeros", source);
  check_index("index_add_into_zeros", index, source);
  TAPEGRAD_CHECK(index.dim() <= 1, "index_add_into_zeros: index must be 1-D, got shape {}", index.shape());
  const int dim = wrap_dim(dim_arg, shape.size(), "index_add_into_zeros");
  Tensor out = zeros(shape, options_of(source));
  const Tensor target = at_least_1d(out);
  const Tensor src = at_least_1d(source);
  // As torch.index_add: the source has the output's shape except along dim, where it has one
  // slice per index.
  bool matches = src.dim() == target.dim() && src.shape()[dim] == index.numel();
  for (int d = 0; matches && d < target.dim(); ++d) matches = d == dim || src.shape()[d] == target.shape()[d];
  TAPEGRAD_CHECK(matches,
                 "index_add_into_zeros: source of shape {} does not match {} indices along dim {} of shape {} (expected "
                 "the output's shape with {} along dim {})", source.shape(), index.numel(), dim, shape, index.numel(),
                 dim);
  backend_of(source).index_add(src.desc(), dim, reshape(index, {-1}).desc(), target.desc());
  if (should_record(source))
    record("index_add", out, {source}, [index, dim](BackwardContext& ctx) {
      ctx.set_input_grad(0, index_select(ctx.grad(), dim, index));
    });
  return out;
}

Tensor gather(const Tensor& a, std::int64_t dim_arg, const Tensor& index) {
  check_defined("gather", a);
  check_index("gather", index, a);
  const int dim = wrap_dim(dim_arg, a.dim(), "gather");
  if (a.dim() == 0) {  // kernels index strides by dim: give a scalar one
    TAPEGRAD_CHECK(index.dim() == 0, "gather: index has shape {} but the tensor is 0-dim", index.shape());
    return reshape(gather(reshape(a, {1}), 0, reshape(index, {1})), {});
  }
  TAPEGRAD_CHECK(index.dim() == a.dim(), "gather: index has shape {} but the tensor has shape {}; they need the same "
                 "number of dims", index.shape(), a.shape());
  for (int d = 0; d < a.dim(); ++d)
    TAPEGRAD_CHECK(d == dim || index.shape()[d] <= a.shape()[d],
                   "gather: index shape {} exceeds the tensor's shape {} at dim {}", index.shape(), a.shape(), d);
  Tensor out = empty(index.shape(), options_of(a));
  backend_of(a).gather(a.desc(), dim, index.desc(), out.desc());
  if (should_record(a))
    record("gather", out, {a}, [index, input_shape = a.shape(), dim](BackwardContext& ctx) {
      ctx.set_input_grad(0, scatter_add_into_zeros(ctx.grad(), input_shape, dim, index));
    });
  return out;
}

Tensor scatter_add_into_zeros(const Tensor& source, const Shape& shape, std::int64_t dim_arg, const Tensor& index) {
  check_defined("scatter_add_into_zeros", source);
  check_index("scatter_add_into_zeros", index, source);
  const int dim = wrap_dim(dim_arg, shape.size(), "scatter_add_into_zeros");
  if (shape.empty()) {  // kernels index strides by dim: give a scalar one
    TAPEGRAD_CHECK(source.dim() == 0 && index.dim() == 0,
                   "scatter_add_into_zeros: source of shape {} and index of shape {} must be 0-dim for a 0-dim "
                   "output",
                   source.shape(), index.shape());
    return reshape(scatter_add_into_zeros(reshape(source, {1}), {1}, 0, reshape(index, {1})), {});
  }
  TAPEGRAD_CHECK(index.shape() == source.shape() && index.dim() == shape.size(),
                 "scatter_add_into_zeros: index of shape {} must match the source's shape {} and have the {} dims "
                 "of {}", index.shape(), source.shape(), shape.size(), shape);
  for (int d = 0; d < shape.size(); ++d)
    TAPEGRAD_CHECK(d == dim || index.shape()[d] <= shape[d],
                   "scatter_add_into_zeros: index shape {} exceeds the output shape {} at dim {}", index.shape(), shape,
                   d);
  Tensor out = zeros(shape, options_of(source));
  backend_of(source).scatter_add(source.desc(), dim, index.desc(), out.desc());
  if (should_record(source))
    record("scatter_add", out, {source}, [index, dim](BackwardContext& ctx) {
      ctx.set_input_grad(0, gather(ctx.grad(), dim, index));
    });
  return out;
}

Tensor Tensor::index_select(std::int64_t dim, const Tensor& index) const { return tapegrad::index_select(*this, dim, index); }
Tensor Tensor::gather(std::int64_t dim, const Tensor& index) const { return tapegrad::gather(*this, dim, index); }

}  // namespace tapegrad
