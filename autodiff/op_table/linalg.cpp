// Rows of matmul, linear, dot, outer, cat and stack. The references spell out each product as
// a sum over the contracted index, and each join as a lookup of the part an index falls in.
#include <cmath>
#include <utility>

#include <tapegrad/autodiff/op_table/rows.h>

namespace tapegrad::op_rows {
namespace {

using reference::at;
using reference::Index;

// torch.matmul by its definition: a 1-D lhs is a row and a 1-D rhs a column (that dim dropped
// from the result), and a 3-D operand's batch is shared by a 2-D one or broadcast from size 1.
Tensor matmul_reference(const Tensor& a, const Tensor& b) {
  const int da = a.dim(), db = b.dim();
  const std::int64_t k = a.shape()[da - 1];
  const std::int64_t batch_a = da == 3 ? a.shape()[0] : 1, batch_b = db == 3 ? b.shape()[0] : 1;
  Shape shape;
  if (da == 3 || db == 3) shape.push_back(batch_a == 1 ? batch_b : batch_a);
  if (da >= 2) shape.push_back(a.shape()[da - 2]);
  if (db >= 2) shape.push_back(b.shape()[db - 1]);
  const auto lhs = [&](std::int64_t batch, std::int64_t i, std::int64_t p) {
    return da == 1 ? at(a, {p}) : da == 2 ? at(a, {i, p}) : at(a, {a.shape()[0] == 1 ? 0 : batch, i, p});
  };
  const auto rhs = [&](std::int64_t batch, std::int64_t p, std::int64_t j) {
    return db == 1 ? at(b, {p}) : db == 2 ? at(b, {p, j}) : at(b, {b.shape()[0] == 1 ? 0 : batch, p, j});
  };
  return reference::generate(shape, [&](const Index& index) {
    std::size_t d = 0;
    const std::int64_t batch = da == 3 || db == 3 ? index[d++] : 0;
    const std::int64_t i = da >= 2 ? index[d++] : 0;
    const std::int64_t j = db >= 2 ? index[d++] : 0;
    double total = 0;
    for (std::int64_t p = 0; p < k; ++p) total += lhs(batch, i, p) * rhs(batch, p, j);
    return total;
  });
}

OpInfo matmul_row(SampleInputs& in) {
  RowBuilder row("matmul", 2, OpDTypes::Floating, {0, 1}, in);
  const GradcheckFunction call = [](const Inputs& v) { return matmul(v[0], v[1]); };
  const GradcheckFunction reference = [](const Inputs& v) { return matmul_reference(v[0], v[1]); };
  // Every rank combination matmul takes (1-D operands promoted, a 2-D or batch-1 operand shared
  // across the batch), then empty rows, contracted dim, columns and batches.
  const std::pair<Shape, Shape> shapes[] = {
      {{3}, {3}},           {{2, 3}, {3, 4}},       {{1, 3}, {3, 1}},       {{3, 1}, {1, 4}},
      {{3}, {3, 4}},        {{2, 3}, {3}},          {{2, 2, 3}, {2, 3, 4}}, {{2, 2, 3}, {3, 4}},
      {{2, 3}, {2, 3, 4}},  {{1, 2, 3}, {2, 3, 4}}, {{2, 2, 3}, {1, 3, 4}}, {{3}, {2, 3, 4}},
      {{2, 2, 3}, {3}},     {{0, 3}, {3, 4}},       {{2, 0}, {0, 4}},       {{2, 3}, {3, 0}},
      {{2, 0, 3}, {3, 4}},  {{0, 2, 3}, {3, 4}},    {{2, 3}, {0, 3, 4}}};
  for (const auto& [a, b] : shapes) row.sample("", {row.x(a), row.x(b)}, call, reference);
  row.sample("", {row.xt({2, 3}), row.x({3, 4})}, call, reference);
  row.sample("", {row.x({2, 3}), row.xt({3, 4})}, call, reference);
  row.sample("", {row.xt({2, 2, 3}), row.xt({2, 3, 4})}, call, reference);
  row.sample("", {row.x({3}), row.xt({3, 4})}, call, reference);
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
  row.error("batches 2 and 3", {row.x({2, 2, 3}), row.x({3, 3, 4})}, call, {"batch sizes"});
  row.error("a 0-dim operand", {row.x({}), row.x({3})}, call, {"1-D, 2-D and 3-D"});
  row.error("a 4-D operand", {row.x({1, 2, 2, 3}), row.x({3, 4})}, call, {"1-D, 2-D and 3-D"});
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
  return {matmul_row(in), linear_row(in), dot_row(in), outer_row(in), cat_row(in), stack_row(in)};
}

}  // namespace tapegrad::op_rows
