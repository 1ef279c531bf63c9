// How the CUDA backend turns strided tensor descriptions into what its kernels take: which dims
// a reduction keeps and which it sums, the slices of per-slice kernels, and index_select /
// index_add expressed as gather / scatter_add with a broadcast index. Host code without CUDA
// types, so the CPU tests build the same plans and run the per-thread functions
// (element_math.h) over them.
#pragma once

#include <cstdint>

#include <tapegrad/kernels/backend.h>
#include <tapegrad/kernels/coalesce.h>

namespace tapegrad::kernels::cuda {

// out[m] = sum over k < reduction of in[kept.offset(0, m) + reduced.offset(0, k)], stored at
// kept.offset(1, m); `out` comes with in's shape and stride 0 along the summed dims.
struct ReducePlan {
  StridedLayout<2> kept;
  std::int64_t outputs = 0;
  StridedLayout<1> reduced;
  std::int64_t reduction = 0;
};

inline ReducePlan plan_reduce_sum(const TensorDesc& in, const TensorDesc& out) {
  Shape kept_shape = in.shape, reduced_shape = in.shape;
  for (int d = 0; d < in.shape.size(); ++d) {
    if (out.strides[d] == 0)
      kept_shape[d] = 1;
    else
      reduced_shape[d] = 1;
  }
  return {coalesce<2>(kept_shape, {&in.strides, &out.strides}), numel_of(kept_shape),
          coalesce<1>(reduced_shape, {&in.strides}), numel_of(reduced_shape)};
}

// The slices of a per-slice kernel along `dim`: count slices, each `extent` elements.
template <int N>
struct SlicePlan {
  StridedLayout<N> slices;
  std::int64_t count = 0;
  std::int64_t extent = 0;
};

template <int N>
SlicePlan<N> plan_slices(const Shape& shape, int dim, const std::array<const Strides*, N>& strides) {
  Shape slices = shape;
  slices[dim] = 1;
  return {coalesce<N>(slices, strides), shape[dim] == 0 ? 0 : numel_of(slices), shape[dim]};
}

// out[p] = in[layout.offset(2, p) + index[layout.offset(0, p)] * in_step], out at layout.offset(1, p).
struct GatherPlan {
  StridedLayout<3> layout;
  std::int64_t n = 0;
  std::int64_t extent = 0;
  std::int64_t in_step = 0;
};

inline Strides zero_at(Strides strides, int dim) {
  strides[dim] = 0;
  return strides;
}

inline GatherPlan plan_gather(const TensorDesc& in, int dim, const TensorDesc& index, const TensorDesc& out) {
  const Strides in_strides = zero_at(in.strides, dim);
  return {coalesce<3>(index.shape, {&index.strides, &out.strides, &in_strides}), numel_of(index.shape),
          in.shape[dim], in.strides[dim]};
}

// index_select is a gather whose index varies only along dim.
inline GatherPlan plan_index_select(const TensorDesc& in, int dim, const TensorDesc& index, const TensorDesc& out) {
  Strides index_strides = Dims::filled(out.shape.size(), 0);
  index_strides[dim] = index.shape.empty() ? 0 : index.strides[0];
  const Strides in_strides = zero_at(in.strides, dim);
  return {coalesce<3>(out.shape, {&index_strides, &out.strides, &in_strides}), numel_of(out.shape), in.shape[dim],
          in.strides[dim]};
}

// For each slice s (operands index, src, out over the shape without the summed dim) and i <
// length: out[offset(2, s) + index[offset(0, s) + i * index_step] * out_step] += src[offset(1, s) + i * src_step].
struct ScatterPlan {
  StridedLayout<3> slices;
  std::int64_t count = 0;
  std::int64_t length = 0;
  std::int64_t index_step = 0, src_step = 0;
  std::int64_t extent = 0, out_step = 0;
};

inline ScatterPlan plan_scatter_add(const TensorDesc& src, int dim, const TensorDesc& index, const TensorDesc& out) {
  const Strides out_strides = zero_at(out.strides, dim);
  const SlicePlan<3> plan = plan_slices<3>(index.shape, dim, {&index.strides, &src.strides, &out_strides});
  return {plan.slices, plan.count, plan.extent, index.strides[dim], src.strides[dim], out.shape[dim], out.strides[dim]};
}

// index_add is a scatter_add whose index varies only along dim.
inline ScatterPlan plan_index_add(const TensorDesc& src, int dim, const TensorDesc& index, const TensorDesc& out) {
  const Strides index_strides = Dims::filled(src.shape.size(), 0);
  const Strides out_strides = zero_at(out.strides, dim);
  const SlicePlan<3> plan = plan_slices<3>(src.shape, dim, {&index_strides, &src.strides, &out_strides});
  return {plan.slices, plan.count, plan.extent, index.shape.empty() ? 0 : index.strides[0], src.strides[dim],
          out.shape[dim], out.strides[dim]};
}

// A (batched) gemm as cuBLAS, column-major, is asked for it. A row-major matrix read column-major
// is its transpose, so the row-major C = op(A) op(B) is the column-major C^T = op(B)^T op(A)^T:
// the operands swap places, and m with n. This is the only place that translation is written.
struct ColumnMajorGemm {
  bool transpose_first = false, transpose_second = false;
  std::int64_t rows = 0, cols = 0, inner = 0;  // of the column-major product: n, m, k
  const void* first = nullptr;                 // B
  std::int64_t first_ld = 0, first_stride = 0;
  const void* second = nullptr;  // A
  std::int64_t second_ld = 0, second_stride = 0;
  void* out = nullptr;
  std::int64_t out_ld = 0, out_stride = 0;
  std::int64_t batch = 1;
};

inline ColumnMajorGemm to_column_major(const GemmProblem& p) {
  // A leading dimension must be at least 1 even for empty operands.
  const auto ld = [](std::int64_t v) { return v > 1 ? v : std::int64_t{1}; };
  return {p.b.transposed, p.a.transposed, p.n, p.m, p.k, p.b.data, ld(p.b.leading_dim), p.b.batch_stride,
          p.a.data, ld(p.a.leading_dim), p.a.batch_stride, p.c.data, ld(p.c.leading_dim), p.c.batch_stride, p.batch};
}

}  // namespace tapegrad::kernels::cuda
