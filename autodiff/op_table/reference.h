// Double-precision references for the op table: element reads through strides and loops over
// multi-indices, sharing no code with the ops they check. Samples are tiny, so clarity wins over
// speed. Every result is a float64 CPU tensor.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include <tapegrad/autodiff/tensor.h>

namespace tapegrad::reference {

using Index = std::vector<std::int64_t>;

// Element `index` of a CPU tensor of any dtype, read through its strides.
double at(const Tensor& t, const Index& index);
// The element of `t` that broadcasting maps to `index` of the (larger) output: trailing dims
// aligned, dims of size 1 read at 0.
double at_broadcast(const Tensor& t, const Index& index);

// Calls f on every multi-index of `shape`, last dim fastest.
void for_each_index(const Shape& shape, const std::function<void(const Index&)>& f);
// A float64 tensor of `shape` whose element at each index is f(index).
Tensor generate(const Shape& shape, const std::function<double(const Index&)>& f);

// f applied to broadcast elements of the inputs (all tensors, the same count as f's arguments).
Tensor elementwise(const std::vector<Tensor>& inputs, const std::function<double(std::span<const double>)>& f);
Tensor unary(const Tensor& x, const std::function<double(double)>& f);
Tensor binary(const Tensor& a, const Tensor& b, const std::function<double(double, double)>& f);

// f of the elements of x over `dims` (empty: all dims), one result per kept position.
Tensor reduce(const Tensor& x, std::vector<std::int64_t> dims, bool keepdim,
              const std::function<double(const std::vector<double>&)>& f);
// f maps each line of x along `dim` to a line of the same length (softmax and its kin).
Tensor along(const Tensor& x, std::int64_t dim,
             const std::function<std::vector<double>(const std::vector<double>&)>& f);

// The row-major elements of x, as doubles.
std::vector<double> values(const Tensor& x);
// Reads x's elements in row-major order into a tensor of `shape` (reshape-like ops).
Tensor with_shape(const Tensor& x, const Shape& shape);
// A [C, H, W] image as a batch of one (4-D inputs pass through), and a batch of one back to [C, H, W].
Tensor batched(const Tensor& x);
Tensor unbatched(const Tensor& y);
// Whether position i lies in [0, size).
inline bool inside(std::int64_t i, std::int64_t size) { return i >= 0 && i < size; }

double sum_of(const std::vector<double>& v);
double max_of(const std::vector<double>& v);
double min_of(const std::vector<double>& v);
double logsumexp_of(const std::vector<double>& v);

}  // namespace tapegrad::reference
