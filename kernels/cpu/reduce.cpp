// CPU reductions: sums over any set of dims, max/min with argmax along one dim, the
// numerically stable softmax / log-softmax, running sums along one dim, and each slice's sorting
// permutation.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include <tapegrad/kernels/cpu/cpu_backend.h>
#include <tapegrad/kernels/cpu/strided_loop.h>
#include <tapegrad/kernels/element_rules.h>

namespace tapegrad::kernels::cpu {
namespace {

bool reduces_to_single_element(const TensorDesc& out) {
  for (int d = 0; d < out.shape.size(); ++d)
    if (out.shape[d] != 1 && out.strides[d] != 0) return false;
  return true;
}

// The shape walked by a per-slice kernel: `shape` with `dim` collapsed to 1.
Shape without_dim(const Shape& shape, int dim) {
  Shape s = shape;
  s[dim] = 1;
  return s;
}

// Elements per partial sum of a whole-tensor sum. Partials depend only on the size, and are added
// in order, so the total is the same whatever the thread count.
constexpr std::int64_t kSumChunk = 1 << 14;

template <class Acc, class T>
Acc sum_run(const T* x, std::int64_t n, std::int64_t stride) {
  Acc acc = 0;
  if (stride == 1) {
#pragma omp simd reduction(+ : acc)
    for (std::int64_t i = 0; i < n; ++i) acc += x[i];
  } else {
    for (std::int64_t i = 0; i < n; ++i) acc += x[i * stride];
  }
  return acc;
}

template <class Acc, class T>
Acc sum_all(const TensorDesc& in, const T* x) {
  const std::int64_t total = in.numel();
  if (!all_contiguous<1>(in.shape, {&in.strides})) {
    Acc acc = 0;
    for_each_strided<1>(in.shape, {&in.strides}, Split::None, [&](std::int64_t n, const auto& off, const auto& st) {
      acc += sum_run<Acc>(x + off[0], n, st[0]);
    });
    return acc;
  }
  const std::int64_t chunks = (total + kSumChunk - 1) / kSumChunk;
  if (chunks <= 1) return sum_run<Acc>(x, total, 1);
  std::vector<Acc> partials(chunks);
  const auto sum_chunks = [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t c = begin; c < end; ++c)
      partials[c] = sum_run<Acc>(x + c * kSumChunk, std::min(kSumChunk, total - c * kSumChunk), 1);
  };
  if (worth_parallel(total))
    parallel_for(chunks, sum_chunks);
  else
    sum_chunks(0, chunks);
  Acc acc = 0;
  for (Acc p : partials) acc += p;
  return acc;
}

// A sum that keeps some dims and reduces long stretches of the others (the bias gradient of a
// convolution: [N, C, H, W] summed to [C]) runs as one independent sum per kept position, each
// walking its reduced elements in order, so threads take whole positions and the result does
// not depend on the thread count. Returns false, doing nothing, for the other sums.
constexpr std::int64_t kMinReducedPerPosition = 1 << 12;

template <class Acc, class T>
bool sum_by_kept_positions(const TensorDesc& in, const TensorDesc& out, const T* x, T* y) {
  Shape kept, reduced;
  Strides kept_in, kept_out, reduced_in;
  for (int d = 0; d < in.shape.size(); ++d) {
    if (out.strides[d] != 0) {
      kept.push_back(in.shape[d]);
      kept_in.push_back(in.strides[d]);
      kept_out.push_back(out.strides[d]);
    } else {
      reduced.push_back(in.shape[d]);
      reduced_in.push_back(in.strides[d]);
    }
  }
  const std::int64_t positions = numel_of(kept), per_position = numel_of(reduced);
  if (positions < 2 || per_position < kMinReducedPerPosition) return false;
  const auto sum_positions = [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t p = begin; p < end; ++p) {
      std::int64_t rest = p, in_offset = 0, out_offset = 0;
      for (int d = kept.size() - 1; d >= 0; --d) {
        in_offset += (rest % kept[d]) * kept_in[d];
        out_offset += (rest % kept[d]) * kept_out[d];
        rest /= kept[d];
      }
      T total = 0;
      for_each_strided<1>(reduced, {&reduced_in}, Split::None, [&](std::int64_t n, const auto& off, const auto& st) {
        total += static_cast<T>(sum_run<Acc>(x + in_offset + off[0], n, st[0]));
      });
      y[out_offset] = total;
    }
  };
  if (worth_parallel(positions * per_position))
    parallel_for(positions, sum_positions);
  else
    sum_positions(0, positions);
  return true;
}

}  // namespace

void CpuBackend::reduce_sum(const TensorDesc& in, const TensorDesc& out) {
  dispatch_dtype(in.dtype, [&](auto zero) {
    using T = decltype(zero);
    using Acc = Accumulator<T>;
    const T* x = in.ptr<T>();
    T* y = out.ptr<T>();
    if (reduces_to_single_element(out)) {
      *y = static_cast<T>(sum_all<Acc>(in, x));
      return;
    }
    if (sum_by_kept_positions<Acc>(in, out, x, y)) return;
    fill(summed_output(out), 0.0);
    for_each_strided<2>(in.shape, {&in.strides, &out.strides}, Split::None,
                        [&](std::int64_t n, const auto& off, const auto& st) {
                          const T* xs = x + off[0];
                          T* ys = y + off[1];
                          if (st[1] == 0) {
                            *ys += static_cast<T>(sum_run<Acc>(xs, n, st[0]));
                          } else if (st[0] == 1 && st[1] == 1) {
                            for (std::int64_t i = 0; i < n; ++i) ys[i] += xs[i];
                          } else {
                            for (std::int64_t i = 0; i < n; ++i) ys[i * st[1]] += xs[i * st[0]];
                          }
                        });
  });
}

void CpuBackend::reduce_extreme(const TensorDesc& in, int dim, Extreme extreme, const TensorDesc& values,
                                const TensorDesc& indices) {
  const std::int64_t extent = in.shape[dim], step = in.strides[dim];
  dispatch_dtype(in.dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* x = in.ptr<T>();
    T* v = values.ptr<T>();
    std::int64_t* idx = indices.ptr<std::int64_t>();
    const Shape slices = without_dim(in.shape, dim);
    for_each_strided<3>(slices, {&in.strides, &values.strides, &indices.strides}, Split::Anywhere,
                        [&](std::int64_t n, const auto& off, const auto& st) {
                          for (std::int64_t i = 0; i < n; ++i)
                            extreme_of_slice(x + off[0] + i * st[0], extent, step, extreme, v[off[1] + i * st[1]],
                                             idx[off[2] + i * st[2]]);
                        });
  });
}

namespace {

// Calls slice(x, y) with the start of every slice of `in` along `dim` and of the matching slice
// of `out`; threads take whole slices, each costing `units_per_slice`.
template <class T, class F>
void for_each_slice_pair(const TensorDesc& in, const TensorDesc& out, int dim, std::int64_t units_per_slice,
                         F&& slice) {
  const T* x = in.ptr<T>();
  T* y = out.ptr<T>();
  for_each_strided<2>(without_dim(in.shape, dim), {&in.strides, &out.strides}, Split::Anywhere,
                      [&](std::int64_t n, const auto& off, const auto& st) {
                        for (std::int64_t i = 0; i < n; ++i) slice(x + off[0] + i * st[0], y + off[1] + i * st[1]);
                      },
                      units_per_slice);
}

}  // namespace

void CpuBackend::softmax(const TensorDesc& in, int dim, SoftmaxOutput output, const TensorDesc& out) {
  TAPEGRAD_CHECK(is_floating(in.dtype), "softmax: expected float32 or float64 data, got {}", in.dtype);
  const std::int64_t extent = in.shape[dim], in_step = in.strides[dim], out_step = out.strides[dim];
  const auto run = [&](auto zero) {
    using T = decltype(zero);
    for_each_slice_pair<T>(in, out, dim, 1, [&](const T* x, T* y) {
      softmax_slice(x, y, extent, in_step, out_step, output);
    });
  };
  if (in.dtype == DType::Float32)
    run(float{});
  else
    run(double{});
}

// Slices are independent, so threads take whole ones, each summed in order by one thread: the
// result does not depend on the thread count. A slice costs `extent` elements of work.
void CpuBackend::cumsum(const TensorDesc& in, int dim, const TensorDesc& out) {
  const std::int64_t extent = in.shape[dim], in_step = in.strides[dim], out_step = out.strides[dim];
  dispatch_dtype(in.dtype, [&](auto zero) {
    using T = decltype(zero);
    for_each_slice_pair<T>(in, out, dim, extent,
                           [&](const T* x, T* y) { cumsum_slice(x, y, extent, in_step, out_step); });
  });
}

// Each slice's positions sorted by std::stable_sort (n log n) with the rule both devices share;
// threads take whole slices, a slice costing about its length in units.
void CpuBackend::argsort(const TensorDesc& in, int dim, SortOrder order, const TensorDesc& indices) {
  const std::int64_t extent = in.shape[dim], in_step = in.strides[dim], out_step = indices.strides[dim];
  dispatch_dtype(in.dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* x = in.ptr<T>();
    std::int64_t* idx = indices.ptr<std::int64_t>();
    for_each_strided<2>(without_dim(in.shape, dim), {&in.strides, &indices.strides}, Split::Anywhere,
                        [&](std::int64_t n, const auto& off, const auto& st) {
                          std::vector<std::int64_t> positions(static_cast<std::size_t>(extent));
                          for (std::int64_t s = 0; s < n; ++s) {
                            const T* xs = x + off[0] + s * st[0];
                            std::iota(positions.begin(), positions.end(), std::int64_t{0});
                            std::stable_sort(positions.begin(), positions.end(), [&](std::int64_t a, std::int64_t b) {
                              return sorts_before(xs[a * in_step], xs[b * in_step], order);
                            });
                            std::int64_t* out = idx + off[1] + s * st[1];
                            for (std::int64_t j = 0; j < extent; ++j)
                              out[j * out_step] = positions[static_cast<std::size_t>(j)];
                          }
                        },
                        extent);
  });
}

}  // namespace tapegrad::kernels::cpu
