// Rows of the shape ops: reshape and view, flatten, squeeze/unsqueeze, transpose and permute,
// narrow, slice and select, split and chunk, expand, contiguous, clone and to_dtype. Each reference reads the
// input element by element at the position the op's definition names; -1 sizes and negative
// starts are resolved by hand in the samples, not by the code under test.
#include <tapegrad/autodiff/op_table/rows.h>

namespace tapegrad::op_rows {
namespace {

using reference::at;
using reference::Index;
constexpr auto kWithInt64 = OpDTypes::FloatingAndInt64;

// x's elements in row-major order, laid out as `shape` (reshape, view, flatten, (un)squeeze).
void to_shape(RowBuilder& row, Tensor x, const std::string& detail, GradcheckFunction call, Shape shape) {
  row.sample(detail, {std::move(x)}, std::move(call),
             [shape](const Inputs& v) { return reference::with_shape(v[0], shape); });
}

// x with its dims reordered: dim k of the result is dim order[k] of x.
Tensor permuted(const Tensor& x, const std::vector<int>& order) {
  Shape shape;
  for (int d : order) shape.push_back(x.shape()[d]);
  return reference::generate(shape, [&](const Index& index) {
    Index source(order.size());
    for (std::size_t k = 0; k < order.size(); ++k) source[static_cast<std::size_t>(order[k])] = index[k];
    return at(x, source);
  });
}

// `count` elements of x along dim, from `start` in steps of `step` (narrow, slice).
Tensor stepped(const Tensor& x, int dim, std::int64_t start, std::int64_t step, std::int64_t count) {
  Shape shape = x.shape();
  shape[dim] = count;
  return reference::generate(shape, [&](Index index) {
    index[static_cast<std::size_t>(dim)] = start + step * index[static_cast<std::size_t>(dim)];
    return at(x, index);
  });
}

// Piece `index` of a split or chunk; the robustness fuzzer reshapes inputs, so it may not exist.
Tensor piece_of(const std::vector<Tensor>& pieces, std::size_t index) {
  TAPEGRAD_CHECK(index < pieces.size(), "the sample reads piece {}, but the input split into {}", index, pieces.size());
  return pieces[index];
}

Tensor identity(const Inputs& v) { return reference::unary(v[0], [](double e) { return e; }); }

OpInfo reshape_row(SampleInputs& in) {
  RowBuilder row("reshape", 1, kWithInt64, {0}, in);
  const auto to = [&](Tensor x, Shape shape, Shape resolved) {
    to_shape(row, std::move(x), fmt::format("to {}", shape), [shape](const Inputs& v) { return reshape(v[0], shape); },
             resolved);
  };
  to(row.x({2, 3}), {3, 2}, {3, 2});
  to(row.xt({2, 3}), {6}, {6});  // copies
  to(row.xt({2, 3}), {1, 2, 3}, {1, 2, 3});
  to(row.x({2, 3, 4}), {4, -1}, {4, 6});
  to(row.x({}), {1, 1}, {1, 1});
  to(row.x({1, 1}), {}, {});
  to(row.x({0, 3}), {3, 0}, {3, 0});
  to(row.x({0, 3}), {-1}, {0});
  row.error("[2,3] to [4]", {row.x({2, 3})}, [](const Inputs& v) { return reshape(v[0], {4}); },
            {"[4] is invalid", "[2, 3]", "6 elements"});
  row.error("[2,3] to [-1,-1]", {row.x({2, 3})}, [](const Inputs& v) { return reshape(v[0], {-1, -1}); },
            {"only one dimension can be -1"});
  return row.build();
}

OpInfo view_row(SampleInputs& in) {
  RowBuilder row("view", 1, kWithInt64, {0}, in);
  row.contiguous_inputs_only();
  const auto to = [&](Tensor x, Shape shape, Shape resolved) {
    to_shape(row, std::move(x), fmt::format("to {}", shape), [shape](const Inputs& v) { return view(v[0], shape); },
             resolved);
  };
  to(row.x({2, 3, 4}), {6, 4}, {6, 4});
  to(row.x({2, 3}), {3, 1, 2}, {3, 1, 2});
  to(row.x({2, 3, 4}), {-1, 12}, {2, 12});
  to(row.x({}), {1}, {1});
  to(row.x({0, 3}), {3, 0, 1}, {3, 0, 1});
  to(row.xt({2, 3}), {1, 2, 3}, {1, 2, 3});  // strides that still allow a view
  row.error("[2,3]^T to [6]", {row.xt({2, 3})}, [](const Inputs& v) { return view(v[0], {6}); },
            {"incompatible with the strides", "reshape()"});
  row.error("[2,3] to [5]", {row.x({2, 3})}, [](const Inputs& v) { return view(v[0], {5}); }, {"[5] is invalid"});
  return row.build();
}

OpInfo flatten_row(SampleInputs& in) {
  RowBuilder row("flatten", 1, kWithInt64, {0}, in);
  const auto merge = [&](Tensor x, std::int64_t start, std::int64_t end, Shape resolved) {
    to_shape(row, std::move(x), fmt::format("dims {}..{}", start, end),
             [start, end](const Inputs& v) { return flatten(v[0], start, end); }, resolved);
  };
  merge(row.x({2, 3, 4}), 0, -1, {24});
  merge(row.x({2, 3, 4}), 1, 2, {2, 12});
  merge(row.xt({2, 3, 4}), 0, 1, {6, 4});
  merge(row.xt({2, 3}), 0, -1, {6});
  merge(row.x({2, 3, 4}), -2, -1, {2, 12});
  merge(row.x({2, 3}), 1, 1, {2, 3});
  merge(row.x({}), 0, -1, {1});
  merge(row.x({0, 3}), 0, -1, {0});
  row.error("dims 2..1", {row.x({2, 3, 4})}, [](const Inputs& v) { return flatten(v[0], 2, 1); }, {"comes after"});
  row.error("dim 3 of [2,3,4]", {row.x({2, 3, 4})}, [](const Inputs& v) { return flatten(v[0], 0, 3); },
            {"out of range"});
  row.error("dims 3..5 of a 0-dim tensor", {row.x({})}, [](const Inputs& v) { return flatten(v[0], 3, 5); },
            {"out of range"});
  return row.build();
}

OpInfo squeeze_row(SampleInputs& in) {
  RowBuilder row("squeeze", 1, kWithInt64, {0}, in);
  const GradcheckFunction all = [](const Inputs& v) { return squeeze(v[0]); };
  const auto one = [&](Tensor x, std::int64_t dim, Shape resolved) {
    to_shape(row, std::move(x), fmt::format("dim {}", dim), [dim](const Inputs& v) { return squeeze(v[0], dim); },
             resolved);
  };
  to_shape(row, row.x({3, 1, 2}), "all", all, {3, 2});
  to_shape(row, row.xt({1, 2, 3}), "all", all, {2, 3});
  to_shape(row, row.x({1, 1}), "all", all, {});
  to_shape(row, row.x({}), "all", all, {});
  to_shape(row, row.x({0, 1, 3}), "all", all, {0, 3});
  one(row.x({3, 1, 2}), 1, {3, 2});
  one(row.x({3, 1, 2}), -2, {3, 2});
  one(row.x({3, 1, 2}), 0, {3, 1, 2});  // not of size 1: unchanged
  one(row.xt({1, 2, 3}), 0, {2, 3});
  one(row.x({}), 0, {});
  one(row.x({}), -1, {});
  row.error("dim 3 of [3,1,2]", {row.x({3, 1, 2})}, [](const Inputs& v) { return squeeze(v[0], 3); }, {"out of range"});
  row.error("dim 5 of a 0-dim tensor", {row.x({})}, [](const Inputs& v) { return squeeze(v[0], 5); },
            {"out of range"});
  return row.build();
}

OpInfo unsqueeze_row(SampleInputs& in) {
  RowBuilder row("unsqueeze", 1, kWithInt64, {0}, in);
  const auto one = [&](Tensor x, std::int64_t dim, Shape resolved) {
    to_shape(row, std::move(x), fmt::format("dim {}", dim), [dim](const Inputs& v) { return unsqueeze(v[0], dim); },
             resolved);
  };
  one(row.x({2, 3}), 0, {1, 2, 3});
  one(row.xt({2, 3}), -1, {2, 3, 1});
  one(row.xt({2, 3}), 1, {2, 1, 3});
  one(row.x({2, 3}), 2, {2, 3, 1});
  one(row.x({}), 0, {1});
  one(row.x({}), -1, {1});
  one(row.x({0, 3}), 1, {0, 1, 3});
  row.error("dim 3 of [2,3]", {row.x({2, 3})}, [](const Inputs& v) { return unsqueeze(v[0], 3); },
            {"out of range", "2 dimensions", "[-3, 2]"});
  row.error("dim -4 of [2,3]", {row.x({2, 3})}, [](const Inputs& v) { return unsqueeze(v[0], -4); }, {"out of range"});
  return row.build();
}

OpInfo transpose_row(SampleInputs& in) {
  RowBuilder row("transpose", 1, kWithInt64, {0}, in);
  const auto swap = [&](Tensor x, std::int64_t d0, std::int64_t d1, std::vector<int> order) {
    row.sample(fmt::format("dims {},{}", d0, d1), {std::move(x)},
               [d0, d1](const Inputs& v) { return transpose(v[0], d0, d1); },
               [order](const Inputs& v) { return permuted(v[0], order); });
  };
  swap(row.x({2, 3}), 0, 1, {1, 0});
  swap(row.x({2, 3, 4}), 0, 2, {2, 1, 0});
  swap(row.xt({3, 4}), -1, -2, {1, 0});
  swap(row.xt({2, 3, 4}), 0, -1, {2, 1, 0});
  swap(row.x({2, 3, 4}), 1, 1, {0, 1, 2});
  swap(row.x({0, 3}), 0, 1, {1, 0});
  swap(row.x({}), 0, -1, {});
  row.error("dims 0,2 of a matrix", {row.x({2, 3})}, [](const Inputs& v) { return transpose(v[0], 0, 2); },
            {"out of range"});
  row.error("dims 5 and 7 of a 0-dim tensor", {row.x({})}, [](const Inputs& v) { return transpose(v[0], 5, 7); },
            {"out of range"});
  return row.build();
}

OpInfo permute_row(SampleInputs& in) {
  RowBuilder row("permute", 1, kWithInt64, {0}, in);
  const auto reorder = [&](Tensor x, Dims dims, std::vector<int> order) {
    row.sample(fmt::format("{}", dims), {std::move(x)}, [dims](const Inputs& v) { return permute(v[0], dims); },
               [order](const Inputs& v) { return permuted(v[0], order); });
  };
  reorder(row.x({2, 3, 4}), {2, 0, 1}, {2, 0, 1});
  reorder(row.xt({2, 3, 4}), {1, 2, 0}, {1, 2, 0});
  reorder(row.xt({2, 3}), {-1, 0}, {1, 0});
  reorder(row.x({2, 3}), {0, 1}, {0, 1});
  reorder(row.x({0, 2, 3}), {2, 0, 1}, {2, 0, 1});
  reorder(row.x({}), {}, {});
  row.error("[0,1] of [2,3,4]", {row.x({2, 3, 4})}, [](const Inputs& v) { return permute(v[0], {0, 1}); },
            {"got 2 dims", "[2, 3, 4]"});
  row.error("[0,0,1]", {row.x({2, 3, 4})}, [](const Inputs& v) { return permute(v[0], {0, 0, 1}); }, {"appears twice"});
  row.error("[0,1,3]", {row.x({2, 3, 4})}, [](const Inputs& v) { return permute(v[0], {0, 1, 3}); }, {"out of range"});
  return row.build();
}

OpInfo narrow_row(SampleInputs& in) {
  RowBuilder row("narrow", 1, kWithInt64, {0}, in);
  // d and `first` are dim and start resolved against the shape by hand.
  const auto window = [&](Tensor x, std::int64_t dim, std::int64_t start, std::int64_t length, int d,
                          std::int64_t first) {
    row.sample(fmt::format("dim {}, {}+{}", dim, start, length), {std::move(x)},
               [dim, start, length](const Inputs& v) { return narrow(v[0], dim, start, length); },
               [d, first, length](const Inputs& v) { return stepped(v[0], d, first, 1, length); });
  };
  window(row.x({4, 3}), 0, 1, 2, 0, 1);
  window(row.xt({3, 4}), 1, -3, 2, 1, 1);
  window(row.x({2, 3, 4}), -1, 2, 2, 2, 2);
  window(row.x({4, 3}), 1, 3, 0, 1, 3);
  window(row.x({0, 3}), 1, 1, 2, 1, 1);
  window(row.x({5}), 0, 4, 1, 0, 4);
  row.error("dim 0, 3+2 of [4,3]", {row.x({4, 3})}, [](const Inputs& v) { return narrow(v[0], 0, 3, 2); },
            {"start 3 with length 2", "[3, 5)", "out of bounds", "size 4"});
  row.error("dim 0, -5+1 of [4]", {row.x({4})}, [](const Inputs& v) { return narrow(v[0], 0, -5, 1); },
            {"start -5", "must be in [-4, 4]"});
  row.error("a 0-dim tensor", {row.x({})}, [](const Inputs& v) { return narrow(v[0], 0, 0, 1); }, {"0-dim"});
  row.error("dim 2 of a matrix", {row.x({4, 3})}, [](const Inputs& v) { return narrow(v[0], 2, 0, 1); },
            {"out of range"});
  return row.build();
}

OpInfo slice_row(SampleInputs& in) {
  RowBuilder row("slice", 1, kWithInt64, {0}, in);
  // The elements taken, by hand: `count` of them from `first` in steps of `step` along d.
  const auto take = [&](Tensor x, std::int64_t dim, std::int64_t start, std::int64_t end, std::int64_t step, int d,
                        std::int64_t first, std::int64_t count) {
    row.sample(fmt::format("dim {}, {}:{}:{}", dim, start, end, step), {std::move(x)},
               [dim, start, end, step](const Inputs& v) { return slice(v[0], dim, start, end, step); },
               [d, first, step, count](const Inputs& v) { return stepped(v[0], d, first, step, count); });
  };
  take(row.x({6, 3}), 0, 1, 6, 2, 0, 1, 3);
  take(row.x({3, 7}), 1, -5, -1, 3, 1, 2, 2);
  take(row.xt({4, 5}), 1, 0, 5, 2, 1, 0, 3);
  take(row.xt({4, 5}), -2, 1, 3, 1, 0, 1, 2);
  take(row.x({5}), 0, 2, 100, 2, 0, 2, 2);      // end past the size
  take(row.x({4, 3}), 0, -100, 2, 1, 0, 0, 2);  // start before the beginning
  take(row.x({4, 3}), 0, 3, 1, 1, 0, 3, 0);     // start after end: empty
  take(row.x({2, 3, 4}), 2, 1, 4, 5, 2, 1, 1);  // step past the end
  take(row.x({0, 3}), 1, 0, 2, 1, 1, 0, 2);
  row.error("step 0", {row.x({4, 3})}, [](const Inputs& v) { return slice(v[0], 0, 0, 4, 0); },
            {"step must be positive"});
  row.error("a 0-dim tensor", {row.x({})}, [](const Inputs& v) { return slice(v[0], 0, 0, 1); }, {"0-dim"});
  row.error("dim -3 of a matrix", {row.x({4, 3})}, [](const Inputs& v) { return slice(v[0], -3, 0, 1); },
            {"out of range"});
  return row.build();
}

OpInfo select_row(SampleInputs& in) {
  RowBuilder row("select", 1, kWithInt64, {0}, in);
  // `position` is `index` resolved against the dim's size; the dim is dropped.
  const auto pick = [&](Tensor x, std::int64_t dim, std::int64_t index, int d, std::int64_t position) {
    row.sample(fmt::format("dim {}, index {}", dim, index), {std::move(x)},
               [dim, index](const Inputs& v) { return select(v[0], dim, index); },
               [d, position](const Inputs& v) {
                 Shape shape = v[0].shape();
                 shape.erase(d);
                 return reference::generate(shape, [&](Index i) {
                   i.insert(i.begin() + d, position);
                   return at(v[0], i);
                 });
               });
  };
  pick(row.x({3, 4}), 0, 1, 0, 1);
  pick(row.xt({3, 4}), 1, -1, 1, 3);
  pick(row.x({2, 3, 4}), -2, 0, 1, 0);
  pick(row.x({4}), 0, 2, 0, 2);
  pick(row.x({0, 3}), 1, 2, 1, 2);
  row.sample("operator[] 1", {row.x({2, 3, 4})}, [](const Inputs& v) { return v[0][1]; },
             [](const Inputs& v) {
               return reference::generate({3, 4}, [&](const Index& i) { return at(v[0], {1, i[0], i[1]}); });
             });
  row.error("index 4 of size 4", {row.x({4, 3})}, [](const Inputs& v) { return select(v[0], 0, 4); },
            {"index 4 is out of bounds", "size 4"});
  row.error("index -4 of size 3", {row.x({4, 3})}, [](const Inputs& v) { return select(v[0], 1, -4); },
            {"out of bounds"});
  row.error("a 0-dim tensor", {row.x({})}, [](const Inputs& v) { return select(v[0], 0, 0); }, {"0-dim"});
  row.error("dim 2 of a matrix", {row.x({4, 3})}, [](const Inputs& v) { return select(v[0], 2, 0); }, {"out of range"});
  return row.build();
}

OpInfo expand_row(SampleInputs& in) {
  RowBuilder row("expand", 1, kWithInt64, {0}, in);
  const auto to = [&](Tensor x, Shape shape, Shape resolved) {
    row.sample(fmt::format("to {}", shape), {std::move(x)}, [shape](const Inputs& v) { return expand(v[0], shape); },
               [resolved](const Inputs& v) {
                 return reference::generate(resolved, [&](const Index& i) { return reference::at_broadcast(v[0], i); });
               });
  };
  to(row.x({3, 1}), {3, 4}, {3, 4});
  to(row.x({3}), {2, 3}, {2, 3});
  to(row.x({}), {2, 3}, {2, 3});
  to(row.x({3, 1}), {2, -1, 4}, {2, 3, 4});
  to(row.xt({1, 2, 3}), {4, 2, 3}, {4, 2, 3});
  to(row.xt({2, 3}), {2, 2, 3}, {2, 2, 3});
  to(row.x({3, 1}), {3, 0}, {3, 0});
  to(row.x({2, 3}), {2, 3}, {2, 3});
  row.error("[3,2] to [3,4]", {row.x({3, 2})}, [](const Inputs& v) { return expand(v[0], {3, 4}); },
            {"cannot be expanded", "[3, 4]"});
  row.error("[2,3] to [3]", {row.x({2, 3})}, [](const Inputs& v) { return expand(v[0], {3}); }, {"fewer dims"});
  row.error("[3] to [-1,3]", {row.x({3})}, [](const Inputs& v) { return expand(v[0], {-1, 3}); }, {"non-negative"});
  return row.build();
}

// contiguous or clone: the same values, whatever the layout.
OpInfo copy_row(const std::string& name, Tensor (*op)(const Tensor&), SampleInputs& in) {
  RowBuilder row(name, 1, kWithInt64, {0}, in);
  for (const Tensor& x : {row.xt({2, 3}), row.x({2, 3}), row.x({}), row.xt({2, 3, 4}), row.x({0, 3})})
    row.sample("", {x}, [op](const Inputs& v) { return op(v[0]); }, identity);
  return row.build();
}

double through_float32(double e) { return static_cast<float>(e); }

// to_dtype converts any dtype (int64 included: its rule is FloatingAndInt64), so the first
// sample goes through float32 and back to the input's own dtype: int64 comes back int64.
OpInfo to_dtype_row(SampleInputs& in) {
  RowBuilder row("to_dtype", 1, kWithInt64, {0}, in);
  // float32 keeps about 7 digits, so a 1e-6 step would be lost in rounding; the round trip is
  // linear, so a large step is exact apart from that rounding.
  GradcheckOptions float32_steps;
  float32_steps.eps = 1e-2;
  row.tolerances(float32_steps);
  const GradcheckFunction round_trip = [](const Inputs& v) {
    const Tensor narrow = to_dtype(v[0], kFloat32);
    return to_dtype(narrow, v[0].dtype());
  };
  const GradcheckFunction rounded = [](const Inputs& v) { return reference::unary(v[0], through_float32); };
  for (const Tensor& x : {row.x({2, 3}), row.xt({3, 2}), row.x({}), row.x({0, 3})})
    row.sample("to float32 and back", {x}, round_trip, rounded);
  row.sample("(x32 * x32) to float64", {row.xt({2, 3})},
             [](const Inputs& v) {
               const Tensor narrow = to_dtype(v[0], kFloat32);
               return to_dtype(mul(narrow, narrow), kFloat64);
             },
             [](const Inputs& v) {
               return reference::unary(v[0], [](double e) {
                 const float f = static_cast<float>(e);
                 return static_cast<double>(f * f);
               });
             });
  return row.build();
}

// Piece `piece` of a split along dim 0 or 1, against the elements it should hold.
OpInfo split_row(SampleInputs& in) {
  RowBuilder row("split", 1, kWithInt64, {0}, in);
  const auto piece = [&](Tensor x, std::int64_t split_size, std::int64_t dim, std::size_t index, std::int64_t first,
                         std::int64_t length) {
    row.sample(fmt::format("size {}, dim {}, piece {}", split_size, dim, index), {std::move(x)},
               [split_size, dim, index](const Inputs& v) { return piece_of(split(v[0], split_size, dim), index); },
               [dim, first, length](const Inputs& v) { return stepped(v[0], static_cast<int>(dim), first, 1, length); });
  };
  piece(row.x({5, 3}), 2, 0, 1, 2, 2);
  piece(row.x({5, 3}), 2, 0, 2, 4, 1);  // the last piece is smaller
  piece(row.xt({3, 4}), 3, 1, 1, 3, 1);
  row.sample("sizes {1, 3}, dim 1, piece 1", {row.x({2, 4})},
             [](const Inputs& v) { return piece_of(split(v[0], std::vector<std::int64_t>{1, 3}, 1), 1); },
             [](const Inputs& v) { return stepped(v[0], 1, 1, 1, 3); });
  row.sample("size 2 of an empty dim", {row.x({0, 3})}, [](const Inputs& v) { return piece_of(split(v[0], 2, 0), 0); },
             [](const Inputs& v) { return stepped(v[0], 0, 0, 1, 0); });
  row.error("sizes {1, 2} of 4", {row.x({4})},
            [](const Inputs& v) { return piece_of(split(v[0], std::vector<std::int64_t>{1, 2}, 0), 0); },
            {"add up to 3", "size 4"});
  row.error("size 0", {row.x({4})}, [](const Inputs& v) { return piece_of(split(v[0], 0, 0), 0); }, {"positive"});
  row.error("a 0-dim tensor", {row.x({})}, [](const Inputs& v) { return piece_of(split(v[0], 1, 0), 0); }, {"0-dim"});
  return row.build();
}

OpInfo chunk_row(SampleInputs& in) {
  RowBuilder row("chunk", 1, kWithInt64, {0}, in);
  const auto piece = [&](Tensor x, std::int64_t chunks, std::int64_t dim, std::size_t index, std::int64_t first,
                         std::int64_t length) {
    // The op gets dim counted from the end (dim - 2 of a matrix); the reference gets it resolved.
    row.sample(fmt::format("{} chunks, dim {}, piece {}", chunks, dim - 2, index), {std::move(x)},
               [chunks, dim, index](const Inputs& v) { return piece_of(chunk(v[0], chunks, dim - 2), index); },
               [dim, first, length](const Inputs& v) { return stepped(v[0], static_cast<int>(dim), first, 1, length); });
  };
  piece(row.x({5, 2}), 2, 0, 1, 3, 2);   // pieces of ceil(5 / 2) = 3: [0, 3) and [3, 5)
  piece(row.xt({2, 6}), 3, 1, 2, 4, 2);
  piece(row.x({2, 5}), 4, 1, 2, 4, 1);   // pieces of 2: only three of them
  row.sample("count of 6 in 4 chunks", {row.x({6})},
             [](const Inputs& v) { return full({}, static_cast<double>(chunk(v[0], 4).size()), kFloat64); },
             [](const Inputs&) { return full({}, 3.0, kFloat64); });
  row.error("0 chunks", {row.x({4})}, [](const Inputs& v) { return piece_of(chunk(v[0], 0), 0); }, {"positive"});
  return row.build();
}

}  // namespace

std::vector<OpInfo> shape_rows(SampleInputs& in) {
  std::vector<OpInfo> rows;
  for (auto row : {reshape_row, view_row, flatten_row, squeeze_row, unsqueeze_row, transpose_row, permute_row,
                   narrow_row, slice_row, select_row, expand_row, to_dtype_row, split_row, chunk_row})
    rows.push_back(row(in));
  rows.push_back(copy_row("contiguous", contiguous, in));
  rows.push_back(copy_row("clone", clone, in));
  return rows;
}

}  // namespace tapegrad::op_rows
