// The CUDA kernels' launchers, as the backend (host code compiled by the C++ compiler) calls
// them: plain pointers, layouts and scalars, templated on the element type and instantiated in
// the .cu file of each op family. Free of library headers that nvcc cannot compile.
#pragma once

#include <cstdint>

#include <tapegrad/kernels/elementwise_ops.h>
#include <tapegrad/kernels/kernel_params.h>
#include <tapegrad/kernels/optim_updates.h>
#include <tapegrad/kernels/philox.h>
#include <tapegrad/kernels/strided_layout.h>

struct CUstream_st;

namespace tapegrad::kernels::cuda {

using Stream = CUstream_st*;

// Where index kernels report an index out of range: a device int64 [3] = {flag, index, extent},
// read back by the backend after the launch.
struct IndexStatus {
  std::int64_t* slots;
};

// Throws a tapegrad::Error naming `kernel` if its launch failed (defined with the backend).
void check_launch(const char* kernel);

// ---- elementwise.cu ----
template <class S, class D>
void copy(const StridedLayout<2>& layout, std::int64_t n, const S* src, D* dst, Stream stream);
template <class T>
void fill(const StridedLayout<1>& layout, std::int64_t n, T* dst, T value, Stream stream);
// Element i of the row-major order takes Philox counter offset + i, as on the CPU.
template <class T>
void fill_random(const StridedLayout<1>& layout, std::int64_t n, T* dst, Distribution dist, double a, double b,
                 std::uint64_t seed, std::uint64_t offset, Stream stream);
template <class T>
void fill_range(T* dst, std::int64_t stride, std::int64_t n, double start, double step, Stream stream);
// layout: operands (in, out)
template <class T>
void unary(UnaryOp op, const StridedLayout<2>& layout, std::int64_t n, const T* in, T* out, const UnaryScalars& scalars,
           Stream stream);
// layout: operands (a, b, out)
template <class T>
void binary(BinaryOp op, const StridedLayout<3>& layout, std::int64_t n, const T* a, const T* b, T* out, double alpha,
            Stream stream);
// out = (in op scalar) for the comparison ops, on elements of any dtype; false (launching
// nothing) for another op. layout: operands (in, out)
template <class T>
bool compare_scalar(UnaryOp op, const StridedLayout<2>& layout, std::int64_t n, const T* in, bool* out,
                    const UnaryScalars& scalars, Stream stream);
// out = (a op b) for the comparison ops, as compare_scalar. layout: operands (a, b, out)
template <class T>
bool compare(BinaryOp op, const StridedLayout<3>& layout, std::int64_t n, const T* a, const T* b, bool* out,
             Stream stream);
// layout: operands (condition, a, b, out)
template <class T>
void where(const StridedLayout<4>& layout, std::int64_t n, const bool* condition, const T* a, const T* b, T* out,
           Stream stream);
// out += value * a * b (or a / b); layout: operands (a, b, out)
template <class T>
void addcmul(const StridedLayout<3>& layout, std::int64_t n, const T* a, const T* b, T value, AddedTerm term, T* out,
             Stream stream);

// ---- reduce.cu ----
// out[m] = sum over k of in[kept.offset(0, m) + reduced.offset(0, k)], each output summed in
// one fixed order (deterministic). kept: operands (in, out) over the kept dims; reduced: in's
// strides over the reduced dims.
template <class T>
void reduce_sum(const StridedLayout<2>& kept, std::int64_t outputs, const StridedLayout<1>& reduced,
                std::int64_t reduction, const T* in, T* out, Stream stream);
// Per slice along a dim of `extent` elements `step` apart; slices: operands (in, values, indices).
template <class T>
void reduce_extreme(const StridedLayout<3>& slices, std::int64_t count, std::int64_t extent, std::int64_t step,
                Extreme extreme, const T* in, T* values, std::int64_t* indices, Stream stream);
// slices: operands (in, out)
template <class T>
void softmax(const StridedLayout<2>& slices, std::int64_t count, std::int64_t extent, std::int64_t in_step,
             std::int64_t out_step, SoftmaxOutput output, const T* in, T* out, Stream stream);
// Running sums along a dim, one thread per slice walking it in index order; slices: operands (in, out).
template <class T>
void cumsum(const StridedLayout<2>& slices, std::int64_t count, std::int64_t extent, std::int64_t in_step,
            std::int64_t out_step, const T* in, T* out, Stream stream);
// The stable sorting permutation of each slice, one thread per slice sorting by insertion;
// slices: operands (in, indices).
template <class T>
void argsort(const StridedLayout<2>& slices, std::int64_t count, std::int64_t extent, std::int64_t in_step,
             std::int64_t out_step, SortOrder order, const T* in, std::int64_t* indices, Stream stream);

// ---- conv.cu ----
// image strides are (n, c, h, w); columns and the col2im image are contiguous.
template <class T>
void im2col(const T* image, const std::int64_t (&image_strides)[4], const Window2d& window, T* columns,
            Stream stream);
template <class T>
void col2im(const T* columns, const Window2d& window, T* image, Stream stream);

// ---- pool.cu ----
template <class T>
void max_pool2d(const T* input, const std::int64_t (&input_strides)[4], const Window2d& window, T* values,
                std::int64_t* indices, Stream stream);

// ---- indexing.cu ----
// out[p] = in[in_offset(p) + index[p] * in_step] over the elements p of out; layout: operands
// (index, out, in) with in's stride 0 along the indexed dim.
template <class T>
void gather(const StridedLayout<3>& layout, std::int64_t n, const std::int64_t* index, std::int64_t extent,
            std::int64_t in_step, const T* in, T* out, IndexStatus status, Stream stream);
// out[out_offset(s) + index[s, i] * out_step] += src[s, i] for i = 0, 1, ... in order, one thread
// per slice s (no atomics: the result does not depend on scheduling). slices: operands (index,
// src, out) over the shape with the summed dim removed.
template <class T>
void scatter_add(const StridedLayout<3>& slices, std::int64_t count, std::int64_t length,
                 std::int64_t index_step, std::int64_t src_step, const std::int64_t* index, const T* src,
                 std::int64_t extent, std::int64_t out_step, T* out, IndexStatus status, Stream stream);

// ---- optim_update.cu ----
template <class T>
void optimizer_step(const OptimizerStep& step, T* param, const T* grad, StateBuffers<T> state, std::int64_t n,
                    Stream stream);

}  // namespace tapegrad::kernels::cuda
