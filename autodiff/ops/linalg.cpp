// Matrix products through BLAS, and joining tensors. Transposed views reach BLAS as transpose
// flags, never as copies, so the backward of a product (which multiplies by transposes) costs
// exactly two gemms.
#include <tapegrad/autodiff/ops/common.h>

namespace tapegrad {

using namespace detail;

namespace {

// A [rows, cols] matrix at `data` as BLAS sees it, or nothing if its strides need a copy first.
std::optional<kernels::GemmOperand> as_gemm_operand(const kernels::TensorDesc& m, int row_dim, std::int64_t batch_stride) {
  const std::int64_t rows = m.shape[row_dim], cols = m.shape[row_dim + 1];
  std::int64_t row_stride = m.strides[row_dim], col_stride = m.strides[row_dim + 1];
  if (cols <= 1) col_stride = 1;           // strides of size-1 dims are free to choose
  if (rows <= 1) row_stride = std::max<std::int64_t>(cols, 1);
  if (col_stride == 1 && row_stride >= std::max<std::int64_t>(cols, 1))
    return kernels::GemmOperand{m.data, row_stride, batch_stride, false};
  if (row_stride == 1 && col_stride >= std::max<std::int64_t>(rows, 1))
    return kernels::GemmOperand{m.data, col_stride, batch_stride, true};
  return std::nullopt;
}

// Batched product of [B|1, m, k] and [B|1, k, n] tensors (a batch of 1 is shared).
Tensor batched_product(const Tensor& a_in, const Tensor& b_in) {
  Tensor a = a_in, b = b_in;
  // The batches are equal or one is 1 (checked by matmul); a batch of 0 against 1 gives 0.
  const std::int64_t batch = a.shape()[0] == 1 ? b.shape()[0] : a.shape()[0];
  const std::int64_t m = a.shape()[1], k = a.shape()[2], n = b.shape()[2];
  if (batch == 0 || m == 0 || n == 0) return empty({batch, m, n}, options_of(a));
  auto operand = [&](Tensor& t) {
    const std::int64_t batch_stride = t.shape()[0] == 1 ? 0 : t.strides()[0];
    std::optional<kernels::GemmOperand> op = as_gemm_operand(t.desc(), 1, batch_stride);
    if (!op) {
      t = contiguous(t.detach());
      op = as_gemm_operand(t.desc(), 1, t.shape()[0] == 1 ? 0 : t.strides()[0]);
    }
    return *op;
  };
  kernels::GemmProblem problem;
  problem.dtype = a.dtype();
  problem.batch = batch;
  problem.m = m;
  problem.n = n;
  problem.k = k;
  problem.a = operand(a);
  problem.b = operand(b);
  Tensor out = empty({batch, m, n}, options_of(a));
  problem.c = {out.desc().data, n, m * n};
  if (k == 0) {
    out.detach().zero_();
    return out;
  }
  backend_of(a).gemm(problem);
  return out;
}

void check_matmul(const char* op, const Tensor& a, const Tensor& b, std::int64_t k_a, std::int64_t k_b) {
  TAPEGRAD_CHECK(k_a == k_b, "{}: shapes {} and {} cannot be multiplied ({} vs {} in the contracted dim)", op, a.shape(),
                 b.shape(), k_a, k_b);
}

// The dims before a matrix's last two.
Shape batch_dims(const Tensor& matrices) {
  Shape batch;
  for (int d = 0; d + 2 < matrices.dim(); ++d) batch.push_back(matrices.shape()[d]);
  return batch;
}

// Batch dims broadcast as NumPy's (trailing dims aligned; each pair equal or one of them 1).
Shape broadcast_batch(const Tensor& a, const Tensor& b, const Shape& batch_a, const Shape& batch_b) {
  const int ndim = std::max(batch_a.size(), batch_b.size());
  Shape batch = Dims::filled(ndim, 1);
  for (int i = 0; i < ndim; ++i) {
    const int ia = batch_a.size() - ndim + i, ib = batch_b.size() - ndim + i;
    const std::int64_t size_a = ia >= 0 ? batch_a[ia] : 1, size_b = ib >= 0 ? batch_b[ib] : 1;
    TAPEGRAD_CHECK(size_a == size_b || size_a == 1 || size_b == 1,
                   "matmul: the batch dims of shapes {} and {} cannot be broadcast ({} vs {}); batch sizes must be "
                   "equal or 1", a.shape(), b.shape(), size_a, size_b);
    batch[i] = size_a == 1 ? size_b : size_a;
  }
  return batch;
}

// Product of 3-D operands (either may have batch 1), recorded with its gradient.
Tensor product(const Tensor& a, const Tensor& b) {
  Tensor out = batched_product(a, b);
  if (should_record(a, b))
    record("matmul", out, {a, b},
           [sa = SavedTensor::input(a), sb = SavedTensor::input(b), shape_a = a.shape(), shape_b = b.shape()](
               BackwardContext& ctx) {
             const Tensor& g = ctx.grad();  // [B, m, n]
             // dA: [B, m, k] = dC [B, m, n] x B^T [B, n, k]; dB: [B, k, n] = A^T [B, k, m] x dC
             if (ctx.needs_input_grad(0))
               ctx.set_input_grad(0, sum_to(matmul(g, transpose(ctx.unpack(sb), 1, 2)), shape_a));
             if (ctx.needs_input_grad(1))
               ctx.set_input_grad(1, sum_to(matmul(transpose(ctx.unpack(sa), 1, 2), g), shape_b));
           });
  return out;
}


// out [rows, out_features] = x [rows, in] W^T (+ bias): the bias is written first and the gemm
// accumulates onto it (beta = 1), and W is read transposed in place.
Tensor linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  const std::int64_t rows = x.shape()[0], in = x.shape()[1], out_features = weight.shape()[0];
  Tensor out = empty({rows, out_features}, options_of(x));
  if (out.numel() == 0) return out;
  if (bias.defined()) {
    backend_of(x).copy(broadcast_desc(bias, out.shape()), out.desc());
  } else if (in == 0) {
    out.detach().zero_();
  }
  if (in == 0) return out;
  const Tensor a = contiguous(x.detach()), w = contiguous(weight.detach());
  kernels::GemmProblem problem;
  problem.dtype = x.dtype();
  problem.m = rows;
  problem.n = out_features;
  problem.k = in;
  problem.a = {a.desc().data, in, 0, false};
  problem.b = {w.desc().data, in, 0, true};
  problem.c = {out.desc().data, out_features, 0};
  problem.beta = bias.defined() ? 1 : 0;
  backend_of(x).gemm(problem);
  return out;
}

}  // namespace

Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias) {
  check_compatible("linear", input, weight);
  TAPEGRAD_CHECK(input.is_floating_point(), "linear: expected floating-point tensors, got {}; convert with .to(kFloat32)",
                 input.dtype());
  TAPEGRAD_CHECK(weight.dim() == 2, "linear: weight must be [out_features, in_features], got shape {}", weight.shape());
  TAPEGRAD_CHECK(input.dim() >= 1 && input.shape()[input.dim() - 1] == weight.shape()[1],
                 "linear: expected an input of shape [..., {}], got {} (the weight is {})", weight.shape()[1],
                 input.shape(), weight.shape());
  if (bias.defined()) {
    check_compatible("linear", input, bias);
    TAPEGRAD_CHECK(bias.dim() == 1 && bias.shape()[0] == weight.shape()[0],
                   "linear: bias must be [{}] for a weight of shape {}, got shape {}", weight.shape()[0], weight.shape(),
                   bias.shape());
  }
  // Leading dims fold into the rows of one product.
  std::int64_t rows = 1;
  for (int d = 0; d + 1 < input.dim(); ++d) rows *= input.shape()[d];
  const Tensor x = reshape(input, {rows, weight.shape()[1]});
  Tensor out = linear_forward(x, weight, bias);
  if (should_record(x, weight, bias))
    record("linear", out, {x, weight, bias},
           [sx = SavedTensor::input(x), sw = SavedTensor::input(weight)](BackwardContext& ctx) {
             const Tensor& g = ctx.grad();  // [rows, out]
             // dx: [rows, in] = g W; dW: [out, in] = g^T x, produced contiguous; db: [out] = column sums of g
             if (ctx.needs_input_grad(0)) ctx.set_input_grad(0, matmul(g, ctx.unpack(sw)));
             if (ctx.needs_input_grad(1)) ctx.set_input_grad(1, matmul(g.t(), ctx.unpack(sx)));
             if (ctx.needs_input_grad(2)) ctx.set_input_grad(2, sum(g, {0}));
           });
  Shape shape = input.shape();
  shape[shape.size() - 1] = weight.shape()[0];
  return reshape(out, shape);
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_compatible("matmul", a, b);
  TAPEGRAD_CHECK(a.is_floating_point(), "matmul: expected floating-point operands, got {}; convert with .to(kFloat32)",
                 a.dtype());
  const int da = a.dim(), db = b.dim();
  TAPEGRAD_CHECK(da >= 1 && db >= 1,
                 "matmul: both operands need at least 1 dim, got shapes {} and {}; multiply by a 0-dim tensor with mul",
                 a.shape(), b.shape());
  if (da == 1 && db == 1) {
    check_matmul("matmul", a, b, a.shape()[0], b.shape()[0]);
    return dot(a, b);
  }
  // A 1-D lhs is a row [1, k] and a 1-D rhs a column [k, 1]; that dim leaves the result.
  const Tensor lhs = da == 1 ? unsqueeze(a, 0) : a;
  const Tensor rhs = db == 1 ? unsqueeze(b, 1) : b;
  const std::int64_t m = lhs.shape()[lhs.dim() - 2], k = lhs.shape()[lhs.dim() - 1];
  const std::int64_t n = rhs.shape()[rhs.dim() - 1];
  check_matmul("matmul", a, b, k, rhs.shape()[rhs.dim() - 2]);
  const Shape batch = broadcast_batch(a, b, batch_dims(lhs), batch_dims(rhs));
  const std::int64_t batch_count = numel_of(batch);
  Tensor out;
  if (rhs.dim() == 2) {
    // A shared rhs: the lhs batch folds into its rows, one gemm (as torch).
    out = product(reshape(lhs, {1, batch_count * m, k}), unsqueeze(rhs, 0));
  } else {
    // Each operand broadcast to the batch and its batch dims merged: a view unless the batch
    // strides do not merge, stride 0 along a broadcast batch (the expand's backward sums it).
    const auto batched = [&](const Tensor& t, std::int64_t rows, std::int64_t cols) {
      Shape expanded = batch;
      expanded.push_back(rows);
      expanded.push_back(cols);
      return reshape(expand(t, expanded), {batch_count, rows, cols});
    };
    out = product(batched(lhs, m, k), batched(rhs, k, n));
  }
  Shape shape = batch;
  if (da != 1) shape.push_back(m);
  if (db != 1) shape.push_back(n);
  return reshape(out, shape);
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  check_compatible("bmm", a, b);
  TAPEGRAD_CHECK(a.is_floating_point(), "bmm: expected floating-point operands, got {}; convert with .to(kFloat32)",
                 a.dtype());
  TAPEGRAD_CHECK(a.dim() == 3 && b.dim() == 3,
                 "bmm: expects two 3-D tensors [B, n, m] and [B, m, p], got shapes {} and {}; use matmul for other ranks",
                 a.shape(), b.shape());
  TAPEGRAD_CHECK(a.shape()[0] == b.shape()[0],
                 "bmm: batch sizes of shapes {} and {} differ ({} vs {}); bmm does not broadcast, matmul does", a.shape(),
                 b.shape(), a.shape()[0], b.shape()[0]);
  check_matmul("bmm", a, b, a.shape()[2], b.shape()[1]);
  return product(a, b);
}

Tensor dot(const Tensor& a, const Tensor& b) {
  check_compatible("dot", a, b);
  TAPEGRAD_CHECK(a.dim() == 1 && b.dim() == 1 && a.numel() == b.numel(),
                 "dot: expects two 1-D tensors of equal length, got shapes {} and {}", a.shape(), b.shape());
  return sum(mul(a, b));
}

Tensor outer(const Tensor& a, const Tensor& b) {
  check_compatible("outer", a, b);
  TAPEGRAD_CHECK(a.dim() == 1 && b.dim() == 1, "outer: expects two 1-D tensors, got shapes {} and {}", a.shape(),
                 b.shape());
  return mul(unsqueeze(a, 1), unsqueeze(b, 0));
}

Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim_arg) {
  TAPEGRAD_CHECK(!tensors.empty(), "cat: expected a non-empty list of tensors");
  const Tensor& first = tensors[0];
  check_defined("cat", first);
  TAPEGRAD_CHECK(first.dim() > 0, "cat: zero-dimensional tensors cannot be concatenated; use stack");
  const int dim = wrap_dim(dim_arg, first.dim(), "cat");
  Shape shape = first.shape();
  shape[dim] = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    check_compatible("cat", first, t);
    TAPEGRAD_CHECK(t.dim() == first.dim(), "cat: tensor {} has shape {}, but tensor 0 has shape {}", i, t.shape(),
                   first.shape());
    for (int d = 0; d < t.dim(); ++d)
      TAPEGRAD_CHECK(d == dim || t.shape()[d] == first.shape()[d],
                     "cat: tensor {} has shape {}, which differs from tensor 0's {} outside dim {}", i, t.shape(),
                     first.shape(), dim);
    shape[dim] += t.shape()[dim];
  }
  Tensor out = empty(shape, options_of(first));
  std::vector<std::int64_t> offsets;
  {
    NoGradGuard no_grad;
    std::int64_t offset = 0;
    for (const Tensor& t : tensors) {
      offsets.push_back(offset);
      backend_of(out).copy(t.desc(), narrow(out, dim, offset, t.shape()[dim]).desc());
      offset += t.shape()[dim];
    }
  }
  if (GradMode::is_enabled() && std::any_of(tensors.begin(), tensors.end(), [](const Tensor& t) { return t.requires_grad(); })) {
    std::vector<std::int64_t> lengths;
    for (const Tensor& t : tensors) lengths.push_back(t.shape()[dim]);
    record("cat", out, std::span<const Tensor>(tensors), [offsets, lengths, dim](BackwardContext& ctx) {
      for (std::size_t i = 0; i < offsets.size(); ++i)
        if (ctx.needs_input_grad(i)) ctx.set_input_grad(i, narrow(ctx.grad(), dim, offsets[i], lengths[i]));
    });
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim_arg) {
  TAPEGRAD_CHECK(!tensors.empty(), "stack: expected a non-empty list of tensors");
  check_defined("stack", tensors[0]);
  const int dim = wrap_dim(dim_arg, tensors[0].dim() + 1, "stack");
  std::vector<Tensor> expanded;
  expanded.reserve(tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    check_compatible("stack", tensors[0], tensors[i]);
    TAPEGRAD_CHECK(tensors[i].shape() == tensors[0].shape(), "stack: tensor {} has shape {}, but tensor 0 has shape {}",
                   i, tensors[i].shape(), tensors[0].shape());
    expanded.push_back(unsqueeze(tensors[i], dim));
  }
  return cat(expanded, dim);
}

Tensor Tensor::matmul(const Tensor& other) const { return tapegrad::matmul(*this, other); }

}  // namespace tapegrad
