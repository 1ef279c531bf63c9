// Rows of the indexing ops: index_select and gather, and their adjoints index_add_into_zeros
// and scatter_add_into_zeros. Indices are fixed int64 constants (repeats included, so the
// adjoints really add); each reference follows the op's definition one output element at a time.
#include <tapegrad/autodiff/op_table/rows.h>

namespace tapegrad::op_rows {
namespace {

using reference::at;
using reference::Index;
using SI = SampleInputs;
constexpr auto kWithInt64 = OpDTypes::FloatingAndInt64;

// out[..., i, ...] = a[..., index[i], ...] along d (a 0-dim `a` is its own single element).
Tensor index_select_reference(const Tensor& a, int d, const Tensor& index) {
  const std::vector<double> picks = reference::values(index);
  if (a.dim() == 0) return reference::generate({}, [&](const Index&) { return at(a, {}); });
  Shape shape = a.shape();
  shape[d] = static_cast<std::int64_t>(picks.size());
  const auto k = static_cast<std::size_t>(d);
  return reference::generate(shape, [&](Index i) {
    i[k] = static_cast<std::int64_t>(picks[static_cast<std::size_t>(i[k])]);
    return at(a, i);
  });
}

OpInfo index_select_row(SampleInputs& in) {
  RowBuilder row("index_select", 2, kWithInt64, {0}, in);
  // d is dim resolved by hand.
  const auto pick = [&](Tensor a, std::int64_t dim, Tensor index, int d) {
    const std::string detail = fmt::format("dim {}, index {}", dim, describe(index));
    row.sample(detail, {std::move(a), std::move(index)},
               [dim](const Inputs& v) { return index_select(v[0], dim, v[1]); },
               [d](const Inputs& v) { return index_select_reference(v[0], d, v[1]); });
  };
  pick(row.x({4, 3}), 0, SI::indices({2, 0, 2}, {3}), 0);
  pick(row.xt({3, 4}), 1, SI::indices({3, 1}, {2}), 1);
  pick(row.x({5}), 0, SI::indices({4, 4, 1, 0}, {4}), 0);
  pick(row.x({2, 3, 4}), -1, SI::indices({3, 0}, {2}), 2);
  pick(row.x({4, 3}), 1, SI::indices({1}, {}), 1);
  pick(row.x({}), 0, SI::indices({0}, {1}), 0);
  pick(row.x({4, 3}), 0, SI::indices({}, {0}), 0);
  pick(row.x({0, 3}), 1, SI::indices({2, 2}, {2}), 1);
  row.sample("Tensor::index_select, dim 0", {row.x({5}), SI::indices({1, 3}, {2})},
             [](const Inputs& v) { return v[0].index_select(0, v[1]); },
             [](const Inputs& v) { return index_select_reference(v[0], 0, v[1]); });
  const GradcheckFunction dim0 = [](const Inputs& v) { return index_select(v[0], 0, v[1]); };
  row.error("index 4 of size 4", {row.x({4, 3}), SI::indices({1, 4}, {2})}, dim0,
            {"index 4 is out of bounds", "size 4"});
  row.error("index -1", {row.x({4, 3}), SI::indices({-1}, {1})}, dim0, {"out of bounds"});
  row.error("a 2-D index", {row.x({4, 3}), SI::indices({0, 1}, {1, 2})}, dim0, {"must be 1-D", "[1, 2]"});
  row.error("float64 indices", {row.x({4, 3}), row.x({2})}, dim0, {"must be int64", "float64"});
  row.error("dim 2 of a matrix", {row.x({4, 3}), SI::indices({0}, {1})},
            [](const Inputs& v) { return index_select(v[0], 2, v[1]); }, {"out of range"});
  return row.build();
}

// out[i] = a[i with dim d replaced by index[i]].
Tensor gather_reference(const Tensor& a, int d, const Tensor& index) {
  return reference::generate(index.shape(), [&](const Index& i) {
    Index source = i;
    if (a.dim() > 0) source[static_cast<std::size_t>(d)] = static_cast<std::int64_t>(at(index, i));
    return at(a, source);
  });
}

OpInfo gather_row(SampleInputs& in) {
  RowBuilder row("gather", 2, kWithInt64, {0}, in);
  const auto take = [&](Tensor a, std::int64_t dim, Tensor index, int d) {
    const std::string detail = fmt::format("dim {}, index {}", dim, describe(index));
    row.sample(detail, {std::move(a), std::move(index)},
               [dim](const Inputs& v) { return gather(v[0], dim, v[1]); },
               [d](const Inputs& v) { return gather_reference(v[0], d, v[1]); });
  };
  take(row.x({3, 4}), 1, SI::indices({0, 3, 1, 1, 2, 0}, {3, 2}), 1);
  take(row.x({3, 4}), 0, SI::indices({2, 0, 1, 2, 0, 0, 1, 1}, {2, 4}), 0);
  take(row.xt({3, 4}), 0, SI::indices({1, 0, 2, 2}, {1, 4}), 0);
  take(row.x({2, 2, 3}), -1, SI::indices({2, 2, 0, 1, 1, 0, 0, 2}, {2, 2, 2}), 2);
  take(row.x({3, 4}), 0, SI::indices({2, 0, 1, 1}, {2, 2}), 0);
  take(row.x({}), 0, SI::indices({0}, {}), 0);
  take(row.x({3, 4}), 1, SI::indices({}, {3, 0}), 1);
  row.sample("Tensor::gather, dim 1", {row.x({2, 3}), SI::indices({2, 2, 0, 1}, {2, 2})},
             [](const Inputs& v) { return v[0].gather(1, v[1]); },
             [](const Inputs& v) { return gather_reference(v[0], 1, v[1]); });
  const GradcheckFunction dim1 = [](const Inputs& v) { return gather(v[0], 1, v[1]); };
  row.error("index 4 along size 4", {row.x({3, 4}), SI::indices({0, 4}, {1, 2})}, dim1,
            {"index 4 is out of bounds", "size 4"});
  row.error("a 1-D index for a matrix", {row.x({3, 4}), SI::indices({0, 1}, {2})}, dim1,
            {"same number of dims", "[2]", "[3, 4]"});
  row.error("index [4,1] for [3,4]", {row.x({3, 4}), SI::indices({0, 0, 0, 0}, {4, 1})}, dim1, {"exceeds"});
  row.error("float64 indices", {row.x({3, 4}), row.x({3, 1})}, dim1, {"must be int64", "float64"});
  row.error("dim 2 of a matrix", {row.x({3, 4}), SI::indices({0}, {1, 1})},
            [](const Inputs& v) { return gather(v[0], 2, v[1]); }, {"out of range"});
  return row.build();
}

// Zeros of `shape` plus, at each output index, every source element whose index along d maps there.
Tensor index_add_reference(const Tensor& source, const Shape& shape, int d, const Tensor& index) {
  const std::vector<double> targets = reference::values(index);
  const auto k = static_cast<std::size_t>(d);
  return reference::generate(shape, [&](const Index& i) {
    if (shape.empty()) return targets[0] == 0 ? at(source, {}) : 0.0;
    double total = 0;
    Index from = i;
    for (std::size_t n = 0; n < targets.size(); ++n) {
      if (static_cast<std::int64_t>(targets[n]) != i[k]) continue;
      from[k] = static_cast<std::int64_t>(n);
      total += at(source, from);
    }
    return total;
  });
}

OpInfo index_add_into_zeros_row(SampleInputs& in) {
  RowBuilder row("index_add_into_zeros", 2, kWithInt64, {0}, in);
  const auto add = [&](Tensor source, Shape shape, std::int64_t dim, Tensor index, int d) {
    const std::string detail = fmt::format("into {}, dim {}, index {}", shape, dim, describe(index));
    row.sample(detail, {std::move(source), std::move(index)},
               [shape, dim](const Inputs& v) { return index_add_into_zeros(v[0], shape, dim, v[1]); },
               [shape, d](const Inputs& v) { return index_add_reference(v[0], shape, d, v[1]); });
  };
  add(row.x({3, 3}), {4, 3}, 0, SI::indices({0, 2, 0}, {3}), 0);
  add(row.xt({3, 2}), {3, 4}, 1, SI::indices({3, 1}, {2}), 1);
  add(row.x({4}), {3}, 0, SI::indices({2, 2, 0, 1}, {4}), 0);
  add(row.x({2, 2, 3}), {2, 4, 3}, -2, SI::indices({3, 0}, {2}), 1);
  add(row.x({}), {}, 0, SI::indices({0}, {1}), 0);
  add(row.x({2, 0}), {2, 3}, 1, SI::indices({}, {0}), 1);
  add(row.x({0, 3}), {0, 3}, 1, SI::indices({2, 2, 1}, {3}), 1);
  const auto into_4x3 = [](const Inputs& v) { return index_add_into_zeros(v[0], {4, 3}, 0, v[1]); };
  row.error("source [3,3] with 2 indices", {row.x({3, 3}), SI::indices({0, 1}, {2})}, into_4x3,
            {"does not match", "[3, 3]"});
  row.error("source [3,2] into [4,3]", {row.x({3, 2}), SI::indices({0, 1, 2}, {3})}, into_4x3,
            {"does not match", "[3, 2]"});
  row.error("index [3,1]", {row.x({3, 3}), SI::indices({0, 1, 2}, {3, 1})}, into_4x3, {"1-D", "[3, 1]"});
  row.error("float64 indices", {row.x({3, 3}), row.x({3})}, into_4x3, {"must be int64", "float64"});
  row.error("dim 2 of [4,3]", {row.x({3, 3}), SI::indices({0, 1, 2}, {3})},
            [](const Inputs& v) { return index_add_into_zeros(v[0], {4, 3}, 2, v[1]); }, {"out of range"});
  // A bad index is refused by the kernel as "index_add: index 4 is out of bounds ...", which
  // does not name this op (kernels/cpu/indexing.cpp, kernels/cuda/cuda_backend.cpp): left out.
  return row.build();
}

// Zeros of `shape` plus source[j] at j with dim d replaced by index[j], for every j.
Tensor scatter_add_reference(const Tensor& source, const Shape& shape, int d, const Tensor& index) {
  const auto k = static_cast<std::size_t>(d);
  return reference::generate(shape, [&](const Index& i) {
    double total = 0;
    reference::for_each_index(index.shape(), [&](const Index& j) {
      for (std::size_t e = 0; e < j.size(); ++e)
        if (e != k && j[e] != i[e]) return;
      if (shape.empty() || static_cast<std::int64_t>(at(index, j)) == i[k]) total += at(source, j);
    });
    return total;
  });
}

OpInfo scatter_add_into_zeros_row(SampleInputs& in) {
  RowBuilder row("scatter_add_into_zeros", 2, kWithInt64, {0}, in);
  const auto add = [&](Tensor source, Shape shape, std::int64_t dim, Tensor index, int d) {
    const std::string detail = fmt::format("into {}, dim {}, index {}", shape, dim, describe(index));
    row.sample(detail, {std::move(source), std::move(index)},
               [shape, dim](const Inputs& v) { return scatter_add_into_zeros(v[0], shape, dim, v[1]); },
               [shape, d](const Inputs& v) { return scatter_add_reference(v[0], shape, d, v[1]); });
  };
  add(row.x({3, 2}), {3, 4}, 1, SI::indices({0, 3, 1, 1, 2, 0}, {3, 2}), 1);
  add(row.x({2, 3}), {4, 3}, 0, SI::indices({3, 0, 3, 3, 1, 0}, {2, 3}), 0);
  add(row.xt({2, 3}), {3, 3}, 1, SI::indices({0, 0, 2, 1, 2, 1}, {2, 3}), 1);
  add(row.x({2, 2}), {3, 4}, 0, SI::indices({2, 0, 2, 1}, {2, 2}), 0);
  add(row.x({2, 2, 2}), {2, 2, 3}, -1, SI::indices({2, 2, 0, 1, 1, 1, 0, 2}, {2, 2, 2}), 2);
  add(row.x({}), {}, 0, SI::indices({0}, {}), 0);
  add(row.x({3, 0}), {3, 4}, 1, SI::indices({}, {3, 0}), 1);
  const auto into_3x4 = [](const Inputs& v) { return scatter_add_into_zeros(v[0], {3, 4}, 1, v[1]); };
  row.error("index [3,1] for source [3,2]", {row.x({3, 2}), SI::indices({0, 1, 2}, {3, 1})}, into_3x4,
            {"must match", "[3, 1]", "[3, 2]"});
  row.error("index [4,2] into [3,4]", {row.x({4, 2}), SI::indices({0, 0, 0, 0, 0, 0, 0, 0}, {4, 2})}, into_3x4,
            {"exceeds"});
  row.error("float64 indices", {row.x({3, 2}), row.x({3, 2})}, into_3x4, {"must be int64", "float64"});
  row.error("dim 2 of [3,4]", {row.x({3, 2}), SI::indices({0, 0, 0, 0, 0, 0}, {3, 2})},
            [](const Inputs& v) { return scatter_add_into_zeros(v[0], {3, 4}, 2, v[1]); }, {"out of range"});
  // A bad index is refused by the kernel as "scatter_add: index 4 is out of bounds ...", which
  // does not name this op (kernels/cpu/indexing.cpp, kernels/cuda/cuda_backend.cpp): left out.
  return row.build();
}

}  // namespace

std::vector<OpInfo> indexing_rows(SampleInputs& in) {
  return {index_select_row(in), gather_row(in), index_add_into_zeros_row(in), scatter_add_into_zeros_row(in)};
}

}  // namespace tapegrad::op_rows
