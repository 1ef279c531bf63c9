// Sorting along a dim: sort and topk order each slice with the backend's argsort (stable, NaN
// the greatest value, as torch's) and read the values with gather, so the values' gradient is
// gather's, scattered back through the indices, and has derivatives of its own.
#include <tapegrad/autodiff/ops/common.h>

namespace tapegrad {

using namespace detail;

namespace {

// The int64 positions that order each slice of `input` (at least 1-D) along dim.
Tensor sorting_permutation(const Tensor& input, int dim, kernels::SortOrder order) {
  Tensor indices = empty(input.shape(), TensorOptions(kInt64).with_device(input.device()));
  backend_of(input).argsort(input.desc(), dim, order, indices.desc());
  return indices;
}

kernels::SortOrder order_of(bool descending) {
  return descending ? kernels::SortOrder::Descending : kernels::SortOrder::Ascending;
}

// The values at `indices` along dim, both given back 0-dim for a 0-dim input.
ValuesIndices values_at(const Tensor& a, const Tensor& input, int dim, const Tensor& indices) {
  const Tensor values = gather(input, dim, indices);
  if (a.dim() == 0) return {reshape(values, {}), reshape(indices, {})};
  return {values, indices};
}

}  // namespace

// The order is always stable: stable=false lets ties come in any order, a stable one included.
ValuesIndices sort(const Tensor& a, std::int64_t dim_arg, bool descending, [[maybe_unused]] bool stable) {
  check_defined("sort", a);
  const int dim = wrap_dim(dim_arg, a.dim(), "sort");
  const Tensor input = at_least_1d(a);
  return values_at(a, input, dim, sorting_permutation(input, dim, order_of(descending)));
}

// Always in sorted order, one of the orders sorted=false allows.
ValuesIndices topk(const Tensor& a, std::int64_t k, std::int64_t dim_arg, bool largest, [[maybe_unused]] bool sorted) {
  check_defined("topk", a);
  const int dim = wrap_dim(dim_arg, a.dim(), "topk");
  const Tensor input = at_least_1d(a);
  const std::int64_t extent = input.shape()[dim];
  TAPEGRAD_CHECK(k >= 0 && k <= extent,
                 "topk: k ({}) is out of range for dim {} of size {} in a tensor of shape {}; expected 0 <= k <= {}", k,
                 dim_arg, extent, a.shape(), extent);
  const Tensor first_k = narrow(sorting_permutation(input, dim, order_of(largest)), dim, 0, k);
  return values_at(a, input, dim, contiguous(first_k));
}

}  // namespace tapegrad
