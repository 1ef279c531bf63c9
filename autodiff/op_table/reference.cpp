#include <tapegrad/autodiff/op_table/reference.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include <tapegrad/autodiff/ops.h>
#include <tapegrad/kernels/error.h>

namespace tapegrad::reference {

double at(const Tensor& t, const Index& index) {
  TAPEGRAD_CHECK(t.device().is_cpu(), "reference: expected a CPU tensor, got one on {}", t.device());
  TAPEGRAD_CHECK(static_cast<int>(index.size()) == t.dim(), "reference: index of {} dims for a tensor of {}",
                 index.size(), t.dim());
  std::int64_t offset = 0;
  for (int d = 0; d < t.dim(); ++d) offset += index[static_cast<std::size_t>(d)] * t.strides()[d];
  switch (t.dtype()) {
    case kFloat32: return t.data_ptr<float>()[offset];
    case kFloat64: return t.data_ptr<double>()[offset];
    case kInt64: return static_cast<double>(t.data_ptr<std::int64_t>()[offset]);
    case kBool: return t.data_ptr<bool>()[offset] ? 1 : 0;
    default: fail("reference: no reads of {} tensors", t.dtype());
  }
}

double at_broadcast(const Tensor& t, const Index& index) {
  const std::size_t skipped = index.size() - static_cast<std::size_t>(t.dim());
  Index own(static_cast<std::size_t>(t.dim()));
  for (int d = 0; d < t.dim(); ++d)
    own[static_cast<std::size_t>(d)] = t.shape()[d] == 1 ? 0 : index[skipped + static_cast<std::size_t>(d)];
  return at(t, own);
}

void for_each_index(const Shape& shape, const std::function<void(const Index&)>& f) {
  if (numel_of(shape) == 0) return;
  Index index(static_cast<std::size_t>(shape.size()), 0);
  while (true) {
    f(index);
    int d = shape.size() - 1;
    for (; d >= 0; --d) {
      auto& i = index[static_cast<std::size_t>(d)];
      if (++i < shape[d]) break;
      i = 0;
    }
    if (d < 0) return;
  }
}

Tensor generate(const Shape& shape, const std::function<double(const Index&)>& f) {
  std::vector<double> out;
  out.reserve(static_cast<std::size_t>(numel_of(shape)));
  for_each_index(shape, [&](const Index& index) { out.push_back(f(index)); });
  return from_vector(out, shape);
}

Tensor elementwise(const std::vector<Tensor>& inputs, const std::function<double(std::span<const double>)>& f) {
  Shape shape;
  for (const Tensor& input : inputs) shape = broadcast_shapes(shape, input.shape(), "reference");
  std::vector<double> arguments(inputs.size());
  return generate(shape, [&](const Index& index) {
    for (std::size_t i = 0; i < inputs.size(); ++i) arguments[i] = at_broadcast(inputs[i], index);
    return f(arguments);
  });
}

Tensor unary(const Tensor& x, const std::function<double(double)>& f) {
  return elementwise({x}, [&](std::span<const double> v) { return f(v[0]); });
}

Tensor binary(const Tensor& a, const Tensor& b, const std::function<double(double, double)>& f) {
  return elementwise({a, b}, [&](std::span<const double> v) { return f(v[0], v[1]); });
}

namespace {
// Whether each dim of an n-dim tensor is reduced; dims empty means all of them.
std::vector<bool> reduced_dims(std::vector<std::int64_t> dims, int n) {
  std::vector<bool> reduced(static_cast<std::size_t>(n), dims.empty());
  for (std::int64_t d : dims) reduced[static_cast<std::size_t>(wrap_dim(d, n, "reference"))] = true;
  return reduced;
}
}  // namespace

Tensor reduce(const Tensor& x, std::vector<std::int64_t> dims, bool keepdim,
              const std::function<double(const std::vector<double>&)>& f) {
  // A 0-dim tensor reduces over dim 0 (or -1) to itself, as in PyTorch.
  if (x.dim() == 0) return from_vector(std::vector<double>{f({at(x, {})})}, Shape{});
  const std::vector<bool> reduced = reduced_dims(std::move(dims), x.dim());
  Shape kept, reduced_shape;
  for (int d = 0; d < x.dim(); ++d) {
    if (reduced[static_cast<std::size_t>(d)]) reduced_shape.push_back(x.shape()[d]);
    else kept.push_back(x.shape()[d]);
  }
  const Tensor values = generate(kept, [&](const Index& kept_index) {
    std::vector<double> line;
    for_each_index(reduced_shape, [&](const Index& reduced_index) {
      Index index;
      std::size_t k = 0, r = 0;
      for (int d = 0; d < x.dim(); ++d)
        index.push_back(reduced[static_cast<std::size_t>(d)] ? reduced_index[r++] : kept_index[k++]);
      line.push_back(at(x, index));
    });
    return f(line);
  });
  if (!keepdim) return values;
  Shape keep_shape;
  for (int d = 0; d < x.dim(); ++d) keep_shape.push_back(reduced[static_cast<std::size_t>(d)] ? 1 : x.shape()[d]);
  return with_shape(values, keep_shape);
}

Tensor along(const Tensor& x, std::int64_t dim,
             const std::function<std::vector<double>(const std::vector<double>&)>& f) {
  const auto d = static_cast<std::size_t>(wrap_dim(dim, x.dim(), "reference"));
  if (x.dim() == 0) return from_vector(f({at(x, {})}), Shape{});
  return generate(x.shape(), [&](const Index& index) {
    Index line_index = index;
    std::vector<double> line;
    for (std::int64_t i = 0; i < x.shape()[static_cast<int>(d)]; ++i) {
      line_index[d] = i;
      line.push_back(at(x, line_index));
    }
    return f(line)[static_cast<std::size_t>(index[d])];
  });
}

std::vector<double> values(const Tensor& x) {
  std::vector<double> out;
  for_each_index(x.shape(), [&](const Index& index) { out.push_back(at(x, index)); });
  return out;
}

Tensor with_shape(const Tensor& x, const Shape& shape) { return from_vector(values(x), shape); }

Tensor batched(const Tensor& x) {
  return x.dim() == 3 ? with_shape(x, {1, x.shape()[0], x.shape()[1], x.shape()[2]}) : x;
}

Tensor unbatched(const Tensor& y) { return with_shape(y, {y.shape()[1], y.shape()[2], y.shape()[3]}); }

double sum_of(const std::vector<double>& v) {
  double total = 0;
  for (double e : v) total += e;
  return total;
}

double max_of(const std::vector<double>& v) {
  double best = -std::numeric_limits<double>::infinity();
  for (double e : v) best = std::max(best, e);
  return best;
}

double min_of(const std::vector<double>& v) {
  double best = std::numeric_limits<double>::infinity();
  for (double e : v) best = std::min(best, e);
  return best;
}

double logsumexp_of(const std::vector<double>& v) {
  const double m = max_of(v);
  double total = 0;
  for (double e : v) total += std::exp(e - m);
  return m + std::log(total);
}

}  // namespace tapegrad::reference
