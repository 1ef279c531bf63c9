// CUDA elementwise kernels: unary/binary ops through the same functors as the CPU loops, where,
// addcmul, copies with dtype conversion, fills and Philox random fills. Kernels first, then
// their launchers.
#include <tapegrad/kernels/convert.h>
#include <tapegrad/kernels/cuda/device_loops.cuh>

namespace tapegrad::kernels::cuda {

// ---- kernels ----

// O is T, or bool for comparisons.
template <class F, class T, class O>
__global__ void unary_kernel(StridedLayout<2> layout, std::int64_t n, const T* in, O* out, F f) {
  TAPEGRAD_GRID_STRIDE_LOOP(i, n) {
    std::int64_t off[2];
    layout.offsets(i, off);
    out[off[1]] = static_cast<O>(f(in[off[0]]));
  }
}

template <class F, class T, class O>
__global__ void binary_kernel(StridedLayout<3> layout, std::int64_t n, const T* a, const T* b, O* out, F f) {
  TAPEGRAD_GRID_STRIDE_LOOP(i, n) {
    std::int64_t off[3];
    layout.offsets(i, off);
    out[off[2]] = static_cast<O>(f(a[off[0]], b[off[1]]));
  }
}

template <class T>
__global__ void where_kernel(StridedLayout<4> layout, std::int64_t n, const bool* condition, const T* a, const T* b,
                             T* out) {
  TAPEGRAD_GRID_STRIDE_LOOP(i, n) {
    std::int64_t off[4];
    layout.offsets(i, off);
    out[off[3]] = condition[off[0]] ? a[off[1]] : b[off[2]];
  }
}

template <class T>
__global__ void addcmul_kernel(StridedLayout<3> layout, std::int64_t n, const T* a, const T* b, T value, AddedTerm term,
                               T* out) {
  TAPEGRAD_GRID_STRIDE_LOOP(i, n) {
    std::int64_t off[3];
    layout.offsets(i, off);
    out[off[2]] += term == AddedTerm::Quotient ? value * a[off[0]] / b[off[1]] : value * a[off[0]] * b[off[1]];
  }
}

template <class S, class D>
__global__ void copy_kernel(StridedLayout<2> layout, std::int64_t n, const S* src, D* dst) {
  TAPEGRAD_GRID_STRIDE_LOOP(i, n) {
    std::int64_t off[2];
    layout.offsets(i, off);
    dst[off[1]] = convert_element<D>(src[off[0]]);
  }
}

template <class T>
__global__ void fill_kernel(StridedLayout<1> layout, std::int64_t n, T* dst, T value) {
  TAPEGRAD_GRID_STRIDE_LOOP(i, n) { dst[layout.offset(0, i)] = value; }
}

template <class T>
__global__ void fill_random_kernel(StridedLayout<1> layout, std::int64_t n, T* dst, Distribution dist, double a,
                                   double b, std::uint64_t seed, std::uint64_t offset) {
  TAPEGRAD_GRID_STRIDE_LOOP(i, n) { dst[layout.offset(0, i)] = random_element<T>(dist, a, b, seed, offset + i); }
}

template <class T>
__global__ void fill_range_kernel(T* dst, std::int64_t stride, std::int64_t n, double start, double step) {
  TAPEGRAD_GRID_STRIDE_LOOP(i, n) { dst[i * stride] = static_cast<T>(start + static_cast<double>(i) * step); }
}

// ---- launchers ----

template <class T>
void unary(UnaryOp op, const StridedLayout<2>& layout, std::int64_t n, const T* in, T* out, const UnaryScalars& scalars,
           Stream stream) {
  dispatch_unary(op, scalars, [&](auto f) {
    launch_elementwise("unary", n, stream, unary_kernel<decltype(f), T, T>, layout, n, in, out, f);
  });
}

template <class T>
bool compare_scalar(UnaryOp op, const StridedLayout<2>& layout, std::int64_t n, const T* in, bool* out,
                    const UnaryScalars& scalars, Stream stream) {
  return dispatch_scalar_comparison(op, scalars, [&](auto f) {
    launch_elementwise("compare_scalar", n, stream, unary_kernel<decltype(f), T, bool>, layout, n, in, out, f);
  });
}

template <class T>
void binary(BinaryOp op, const StridedLayout<3>& layout, std::int64_t n, const T* a, const T* b, T* out, double alpha,
            Stream stream) {
  dispatch_binary(op, alpha, [&](auto f) {
    launch_elementwise("binary", n, stream, binary_kernel<decltype(f), T, T>, layout, n, a, b, out, f);
  });
}

template <class T>
bool compare(BinaryOp op, const StridedLayout<3>& layout, std::int64_t n, const T* a, const T* b, bool* out,
             Stream stream) {
  return dispatch_comparison(op, [&](auto f) {
    launch_elementwise("compare", n, stream, binary_kernel<decltype(f), T, bool>, layout, n, a, b, out, f);
  });
}

template <class T>
void where(const StridedLayout<4>& layout, std::int64_t n, const bool* condition, const T* a, const T* b, T* out,
           Stream stream) {
  launch_elementwise("where", n, stream, where_kernel<T>, layout, n, condition, a, b, out);
}

template <class T>
void addcmul(const StridedLayout<3>& layout, std::int64_t n, const T* a, const T* b, T value, AddedTerm term, T* out,
             Stream stream) {
  launch_elementwise("addcmul", n, stream, addcmul_kernel<T>, layout, n, a, b, value, term, out);
}

template <class S, class D>
void copy(const StridedLayout<2>& layout, std::int64_t n, const S* src, D* dst, Stream stream) {
  launch_elementwise("copy", n, stream, copy_kernel<S, D>, layout, n, src, dst);
}

template <class T>
void fill(const StridedLayout<1>& layout, std::int64_t n, T* dst, T value, Stream stream) {
  launch_elementwise("fill", n, stream, fill_kernel<T>, layout, n, dst, value);
}

template <class T>
void fill_random(const StridedLayout<1>& layout, std::int64_t n, T* dst, Distribution dist, double a, double b,
                 std::uint64_t seed, std::uint64_t offset, Stream stream) {
  launch_elementwise("fill_random", n, stream, fill_random_kernel<T>, layout, n, dst, dist, a, b, seed, offset);
}

template <class T>
void fill_range(T* dst, std::int64_t stride, std::int64_t n, double start, double step, Stream stream) {
  launch_elementwise("fill_range", n, stream, fill_range_kernel<T>, dst, stride, n, start, step);
}

// ---- instantiations: arithmetic for float32, float64 and int64; moves and comparisons for every dtype ----

#define TAPEGRAD_ARITHMETIC(T)                                                                                     \
  template void unary<T>(UnaryOp, const StridedLayout<2>&, std::int64_t, const T*, T*, const UnaryScalars&,         \
                         Stream);                                                                                   \
  template void binary<T>(BinaryOp, const StridedLayout<3>&, std::int64_t, const T*, const T*, T*, double, Stream); \
  template void addcmul<T>(const StridedLayout<3>&, std::int64_t, const T*, const T*, T, AddedTerm, T*, Stream);     \
  template void fill_range<T>(T*, std::int64_t, std::int64_t, double, double, Stream);
TAPEGRAD_ARITHMETIC(float)
TAPEGRAD_ARITHMETIC(double)
TAPEGRAD_ARITHMETIC(std::int64_t)
#undef TAPEGRAD_ARITHMETIC

template void fill_random<float>(const StridedLayout<1>&, std::int64_t, float*, Distribution, double, double,
                                 std::uint64_t, std::uint64_t, Stream);
template void fill_random<double>(const StridedLayout<1>&, std::int64_t, double*, Distribution, double, double,
                                  std::uint64_t, std::uint64_t, Stream);

#define TAPEGRAD_COPY_FROM(S)                                                                             \
  template void copy<S, float>(const StridedLayout<2>&, std::int64_t, const S*, float*, Stream);           \
  template void copy<S, double>(const StridedLayout<2>&, std::int64_t, const S*, double*, Stream);         \
  template void copy<S, std::int64_t>(const StridedLayout<2>&, std::int64_t, const S*, std::int64_t*,      \
                                      Stream);                                                             \
  template void copy<S, std::uint8_t>(const StridedLayout<2>&, std::int64_t, const S*, std::uint8_t*,      \
                                      Stream);                                                             \
  template void copy<S, bool>(const StridedLayout<2>&, std::int64_t, const S*, bool*, Stream);             \
  template void fill<S>(const StridedLayout<1>&, std::int64_t, S*, S, Stream);                             \
  template bool compare_scalar<S>(UnaryOp, const StridedLayout<2>&, std::int64_t, const S*, bool*,         \
                                  const UnaryScalars&, Stream);                                            \
  template bool compare<S>(BinaryOp, const StridedLayout<3>&, std::int64_t, const S*, const S*, bool*,     \
                           Stream);                                                                        \
  template void where<S>(const StridedLayout<4>&, std::int64_t, const bool*, const S*, const S*, S*, Stream);
TAPEGRAD_COPY_FROM(float)
TAPEGRAD_COPY_FROM(double)
TAPEGRAD_COPY_FROM(std::int64_t)
TAPEGRAD_COPY_FROM(std::uint8_t)
TAPEGRAD_COPY_FROM(bool)
#undef TAPEGRAD_COPY_FROM

}  // namespace tapegrad::kernels::cuda
