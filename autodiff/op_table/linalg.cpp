// Rows of matmul, bmm, linear, dot, outer, cat and stack. The references spell out each product as
// a sum over the contracted index, and each join as a lookup of the part an index falls in.
#include <cmath>
#include <utility>

#include <tapegrad/autodiff/op_table/rows.h>

namespace tapegrad::op_rows {
namespace {

using reference::at;
using reference::Index;

// torch.matmul by its definition: a 1-D lhs is a row and a 1-D rhs a column (that dim dropped
// from the result); the dims before the last two broadcast, a missing or size-1 one read at 0.
Tensor matmul_reference(const Tensor& a, const Tensor& b) {
  const int da = a.dim(), db = b.dim();
  const int batch_a = std::max(da - 2, 0), batch_b = std::max(db - 2, 0), batch_ndim = std::max(batch_a, batch_b);
  const std::int64_t k = a.shape()[da - 1];
  Shape shape;
  for (int d = 0; d < batch_ndim; ++d) {
    const int ia = d - (batch_ndim - batch_a), ib = d - (batch_ndim - batch_b);
    const std::int64_t size_a = ia >= 0 ? a.shape()[ia] : 1, size_b = ib >= 0 ? b.shape()[ib] : 1;
    shape.push_back(size_a == 1 ? size_b : size_a);
  }
  if (da >= 2) shape.push_back(a.shape()[da - 2]);
  if (db >= 2) shape.push_back(b.shape()[db - 1]);
  // The element of t at the output's batch position, then (row, col).
  const auto element = [&](const Tensor& t, int batch_t, const Index& index, std::int64_t row, std::int64_t col) {
    Index at_t;
    for (int d = 0; d < batch_t; ++d) {
      const std::int64_t position = index[static_cast<std::size_t>(batch_ndim - batch_t + d)];
      at_t.push_back(t.shape()[d] == 1 ? 0 : position);
    }
    if (t.dim() >= 2) at_t.push_back(row);
    at_t.push_back(col);
    return at(t, at_t);
  };
  return reference::generate(shape, [&](const Index& index) {
    const std::int64_t i = da >= 2 ? index[static_cast<std::size_t>(batch_ndim)] : 0;
    const std::int64_t j = db >= 2 ? index.back() : 0;
    double total = 0;
    for (std::int64_t p = 0; p < k; ++p)
      total += element(a, batch_a, index, i, p) * (db >= 2 ? element(b, batch_b, index, p, j) : at(b, {p}));
    return total;
  });
}

OpInfo matmul_row(SampleInputs& in) {
  RowBuilder row("matmul", 2, OpDTypes::Floating, {0, 1}, in);
  const GradcheckFunction call = [](const Inputs& v) { return matmul(v[0], v[1]); };
  const GradcheckFunction reference = [](const Inputs& v) { return matmul_reference(v[0], v[1]); };
  // Every rank combination (1-D operands promoted, a 2-D operand shared across the batch, batch
  // dims broadcast from size 1 or from fewer dims), then empty rows, contracted dim, columns and
  // batches.
  const std::pair<Shape, Shape> shapes[] = {
      {{3}, {3}},           {{2, 3}, {3, 4}},       {{1, 3}, {3, 1}},          {{3, 1}, {1, 4}},
      {{3}, {3, 4}},        {{2, 3}, {3}},          {{2, 2, 3}, {2, 3, 4}},    {{2, 2, 3}, {3, 4}},
      {{2, 3}, {2, 3, 4}},  {{1, 2, 3}, {2, 3, 4}}, {{2, 2, 3}, {1, 3, 4}},    {{3}, {2, 3, 4}},
      {{2, 2, 3}, {3}},     {{2, 1, 2, 3}, {3, 3, 4}}, {{2, 3, 2, 3}, {3, 4}}, {{2, 3}, {2, 2, 3, 4}},
      {{3}, {2, 1, 3, 4}},  {{2, 2, 2, 3}, {3}},    {{1, 2, 3}, {2, 1, 3, 4}}, {{0, 3}, {3, 4}},
      {{2, 0}, {0, 4}},     {{2, 3}, {3, 0}},       {{2, 0, 3}, {3, 4}},       {{0, 2, 3}, {3, 4}},
      {{2, 3}, {0, 3, 4}},  {{0, 2, 3}, {2, 1, 3, 4}}};
  for (const auto& [a, b] : shapes) row.sample("", {row.x(a), row.x(b)}, call, reference);
  row.sample("", {row.xt({2, 3}), row.x({3, 4})}, call, reference);
  row.sample("", {row.x({2, 3}), row.xt({3, 4})}, call, reference);
  row.sample("", {row.xt({2, 2, 3}), row.xt({2, 3, 4})}, call, reference);
  row.sample("", {row.x({3}), row.xt({3, 4})}, call, reference);
  row.sample("", {row.xt({2, 2, 2, 3}), row.x({3, 4})}, call, reference);
  row.sample("", {row.xt({2, 1, 2, 3}), row.xt({2, 3, 4})}, call, reference);
  row.sample("lhs.t() x rhs.t()", {row.x({4, 2}), row.x({3, 4})},
             [](const Inputs& v) { return matmul(v[0].t(), v[1].t()); },
             [](const Inputs& v) {
               return reference::generate({2, 3}, [&](const Index& i) {
                 double total = 0;
                 for (std::int64_t p = 0; p < 4; ++p) total += at(v[0], {p, i[0]}) * at(v[1], {i[1], p});
                 return total;
               });
             });
  row.error("[2,3] x [4,5]", {row.x({2, 3}), row.x({4, 5})}, call, {"cannot be multiplied", "3 vs 4"});
  row.error("[3] x [4]", {row.x({3}), row.x({4})}, call, {"cannot be multiplied"});
  row.error("[2,2,3] x [2,4,4]", {row.x({2, 2, 3}), row.x({2, 4, 4})}, call, {"cannot be multiplied"});
  row.error("batches 2 and 3", {row.x({2, 2, 3}), row.x({3, 3, 4})}, call, {"batch dims", "2 vs 3"});
  row.error("batches [2,2] and [3,1]", {row.x({2, 2, 2, 3}), row.x({3, 1, 3, 4})}, call, {"batch dims", "2 vs 3"});
  row.error("a 0-dim operand", {row.x({}), row.x({3})}, call, {"at least 1 dim"});
  return row.build();
}

// A product per batch entry, batches equal.
Tensor bmm_reference(const Inputs& v) {
  const Tensor &a = v[0], &b = v[1];
  return reference::generate({a.shape()[0], a.shape()[1], b.shape()[2]}, [&](const Index& i) {
    double total = 0;
    for (std::int64_t p = 0; p < a.shape()[2]; ++p) total += at(a, {i[0], i[1], p}) * at(b, {i[0], p, i[2]});
    return total;
  });
}

OpInfo bmm_row(SampleInputs& in) {
  RowBuilder row("bmm", 2, OpDTypes::Floating, {0, 1}, in);
  const GradcheckFunction call = [](const Inputs& v) { return bmm(v[0], v[1]); };
  const std::pair<Shape, Shape> shapes[] = {{{2, 2, 3}, {2, 3, 4}}, {{1, 1, 3}, {1, 3, 1}}, {{0, 2, 3}, {0, 3, 4}},
                                            {{2, 0, 3}, {2, 3, 4}}, {{2, 2, 0}, {2, 0, 4}}};
  for (const auto& [a, b] : shapes) row.sample("", {row.x(a), row.x(b)}, call, bmm_reference);
  row.sample("", {row.xt({2, 2, 3}), row.xt({2, 3, 4})}, call, bmm_reference);
  row.error("[2,3] x [2,3,4]", {row.x({2, 3}), row.x({2, 3, 4})}, call, {"3-D tensors", "matmul"});
  row.error("batches 2 and 1", {row.x({2, 2, 3}), row.x({1, 3, 4})}, call, {"batch sizes", "2 vs 1"});
  row.error("[2,2,3] x [2,4,4]", {row.x({2, 2, 3}), row.x({2, 4, 4})}, call, {"cannot be multiplied", "3 vs 4"});
  return row.build();
}

// input [..., in] W^T + bias, for weight [out, in].
Tensor linear_reference(const Inputs& v) {
  const Tensor &x = v[0], &w = v[1];
  Shape shape = x.shape();
  shape[shape.size() - 1] = w.shape()[0];
  return reference::generate(shape, [&](const Index& index) {
    Index xi = index;
    const std::int64_t o = index.back();
    double total = v.size() > 2 ? at(v[2], {o}) : 0;
    for (std::int64_t p = 0; p < w.shape()[1]; ++p) {
      xi.back() = p;
      total += at(x, xi) * at(w, {o, p});
    }
    return total;
  });
}

OpInfo linear_row(SampleInputs& in) {
  RowBuilder row("linear", 3, OpDTypes::Floating, {0, 1, 2}, in);
  const GradcheckFunction with_bias = [](const Inputs& v) { return linear(v[0], v[1], v[2]); };
  const GradcheckFunction no_bias = [](const Inputs& v) { return linear(v[0], v[1]); };
  row.sample("", {row.x({5, 3}), row.x({4, 3}), row.x({4})}, with_bias, linear_reference);
  row.sample("no bias, batched input", {row.x({2, 3, 3}), row.x({4, 3})}, no_bias, linear_reference);
  row.sample("batched input", {row.x({2, 2, 3}), row.xt({4, 3}), row.x({4})}, with_bias, linear_reference);
  row.sample("", {row.xt({5, 3}), row.x({2, 3}), row.x({2})}, with_bias, linear_reference);
  row.sample("1-D input", {row.x({3}), row.x({4, 3}), row.x({4})}, with_bias, linear_reference);
  row.sample("no rows", {row.x({0, 3}), row.x({4, 3}), row.x({4})}, with_bias, linear_reference);
  row.sample("no input features", {row.x({2, 0}), row.x({4, 0}), row.x({4})}, with_bias, linear_reference);
  row.sample("no bias, no input features", {row.x({2, 0}), row.x({4, 0})}, no_bias, linear_reference);
  row.error("input [2,3], weight [4,5]", {row.x({2, 3}), row.x({4, 5})}, no_bias,
            {"expected an input of shape", "[2, 3]"});
  row.error("a 1-D weight", {row.x({2, 3}), row.x({3})}, no_bias, {"weight must be"});
  row.error("bias [3] for weight [4,3]", {row.x({2, 3}), row.x({4, 3}), row.x({3})}, with_bias, {"bias must be [4]"});
  return row.build();
}

Tensor dot_reference(const Inputs& v) {
  double total = 0;
  for (std::int64_t i = 0; i < v[0].shape()[0]; ++i) total += at(v[0], {i}) * at(v[1], {i});
  return reference::generate({}, [&](const Index&) { return total; });
}

OpInfo dot_row(SampleInputs& in) {
  RowBuilder row("dot", 2, OpDTypes::FloatingAndInt64, {0, 1}, in);
  const GradcheckFunction call = [](const Inputs& v) { return dot(v[0], v[1]); };
  row.sample("", {row.x({4}), row.x({4})}, call, dot_reference);
  row.sample("", {row.x({1}), row.x({1})}, call, dot_reference);
  row.sample("", {row.x({0}), row.x({0})}, call, dot_reference);
  row.sample("lhs[::2]", {row.x({8}), row.x({4})}, [](const Inputs& v) { return dot(v[0].slice(0, 0, 8, 2), v[1]); },
             [](const Inputs& v) {
               double total = 0;
               for (std::int64_t i = 0; i < 4; ++i) total += at(v[0], {2 * i}) * at(v[1], {i});
               return reference::generate({}, [&](const Index&) { return total; });
             });
  row.error("[3] and [4]", {row.x({3}), row.x({4})}, call, {"1-D tensors of equal length", "[3]", "[4]"});
  row.error("[2,2] and [4]", {row.x({2, 2}), row.x({4})}, call, {"1-D tensors"});
  return row.build();
}

OpInfo outer_row(SampleInputs& in) {
  RowBuilder row("outer", 2, OpDTypes::FloatingAndInt64, {0, 1}, in);
  const GradcheckFunction call = [](const Inputs& v) { return outer(v[0], v[1]); };
  const GradcheckFunction reference = [](const Inputs& v) {
    return reference::generate({v[0].shape()[0], v[1].shape()[0]},
                               [&](const Index& i) { return at(v[0], {i[0]}) * at(v[1], {i[1]}); });
  };
  for (const auto& [a, b] : {std::pair<Shape, Shape>{{3}, {4}}, {{1}, {3}}, {{0}, {3}}})
    row.sample("", {row.x(a), row.x(b)}, call, reference);
  row.sample("lhs[::2]", {row.x({6}), row.x({4})}, [](const Inputs& v) { return outer(v[0].slice(0, 0, 6, 2), v[1]); },
             [](const Inputs& v) {
               return reference::generate({3, 4},
                                          [&](const Index& i) { return at(v[0], {2 * i[0]}) * at(v[1], {i[1]}); });
             });
  row.error("[2,3] and [3]", {row.x({2, 3}), row.x({3})}, call, {"1-D tensors", "[2, 3]"});
  return row.build();
}

// The parts joined along `dim`: an index past a part's length moves on to the next part.
Tensor cat_reference(const Inputs& parts, std::int64_t dim) {
  const int d = static_cast<int>(dim < 0 ? dim + parts[0].dim() : dim);
  Shape shape = parts[0].shape();
  shape[d] = 0;
  for (const Tensor& part : parts) shape[d] += part.shape()[d];
  return reference::generate(shape, [&](Index index) {
    for (const Tensor& part : parts) {
      if (index[static_cast<std::size_t>(d)] < part.shape()[d]) return at(part, index);
      index[static_cast<std::size_t>(d)] -= part.shape()[d];
    }
    return std::nan("");
  });
}

OpInfo cat_row(SampleInputs& in) {
  RowBuilder row("cat", 3, OpDTypes::FloatingAndInt64, {0, 1, 2}, in);
  const auto join = [&](Inputs parts, std::int64_t dim) {
    row.sample(fmt::format("dim {}", dim), std::move(parts), [dim](const Inputs& v) { return cat(v, dim); },
               [dim](const Inputs& v) { return cat_reference(v, dim); });
  };
  join({row.x({2, 3}), row.x({1, 3})}, 0);
  join({row.x({2, 3}), row.x({2, 1}), row.xt({2, 2})}, 1);
  join({row.x({2, 2, 3}), row.x({2, 2, 2})}, -1);
  join({row.xt({3, 2}), row.x({0, 2}), row.x({1, 2})}, 0);
  join({row.x({2, 0}), row.x({2, 3})}, -1);
  join({row.x({3}), row.x({2})}, -1);
  join({row.x({4})}, 0);
  row.sample("[x, x * x]", {row.x({3})}, [](const Inputs& v) { return cat({v[0], mul(v[0], v[0])}, 0); },
             [](const Inputs& v) {
               return reference::generate({6}, [&](const Index& i) {
                 const double e = at(v[0], {i[0] % 3});
                 return i[0] < 3 ? e : e * e;
               });
             });
  const GradcheckFunction two = [](const Inputs& v) { return cat(v, 0); };
  row.error("[2,3] and [2,4] along dim 0", {row.x({2, 3}), row.x({2, 4})}, two, {"differs", "outside dim 0"});
  row.error("[2,3] and [3]", {row.x({2, 3}), row.x({3})}, two, {"tensor 1 has shape"});
  row.error("0-dim tensors", {row.x({}), row.x({})}, two, {"zero-dimensional"});
  row.error("dim 2 of matrices", {row.x({2, 3}), row.x({2, 3})}, [](const Inputs& v) { return cat(v, 2); },
            {"out of range"});
  row.error("no tensors", {}, [](const Inputs&) { return cat({}, 0); }, {"non-empty"});
  return row.build();
}

// The parts as slices along a new dim `dim`.
Tensor stack_reference(const Inputs& parts, std::int64_t dim) {
  const int d = static_cast<int>(dim < 0 ? dim + parts[0].dim() + 1 : dim);
  Shape shape = parts[0].shape();
  shape.insert(d, static_cast<std::int64_t>(parts.size()));
  return reference::generate(shape, [&](const Index& index) {
    Index within = index;
    within.erase(within.begin() + d);
    return at(parts[static_cast<std::size_t>(index[static_cast<std::size_t>(d)])], within);
  });
}

OpInfo stack_row(SampleInputs& in) {
  RowBuilder row("stack", 3, OpDTypes::FloatingAndInt64, {0, 1, 2}, in);
  const auto join = [&](Inputs parts, std::int64_t dim) {
    row.sample(fmt::format("dim {}", dim), std::move(parts), [dim](const Inputs& v) { return stack(v, dim); },
               [dim](const Inputs& v) { return stack_reference(v, dim); });
  };
  join({row.x({2, 3}), row.x({2, 3})}, 0);
  join({row.x({2, 3}), row.xt({2, 3}), row.x({2, 3})}, -1);
  join({row.xt({2, 3}), row.x({2, 3})}, 1);
  join({row.x({}), row.x({})}, 0);
  join({row.x({}), row.x({}), row.x({})}, -1);
  join({row.x({0, 3}), row.x({0, 3})}, 1);
  join({row.x({3})}, 0);
  const GradcheckFunction two = [](const Inputs& v) { return stack(v, 0); };
  row.error("[2,3] and [3,2]", {row.x({2, 3}), row.x({3, 2})}, two, {"tensor 1 has shape"});
  row.error("dim 3 of matrices", {row.x({2, 3}), row.x({2, 3})}, [](const Inputs& v) { return stack(v, 3); },
            {"out of range"});
  row.error("no tensors", {}, [](const Inputs&) { return stack({}, 0); }, {"non-empty"});
  return row.build();
}

}  // namespace

std::vector<OpInfo> linalg_rows(SampleInputs& in) {
  return {matmul_row(in), bmm_row(in), linear_row(in), dot_row(in), outer_row(in), cat_row(in), stack_row(in)};
}

}  // namespace tapegrad::op_rows
