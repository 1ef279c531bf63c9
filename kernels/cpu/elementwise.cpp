// CPU elementwise kernels: unary/binary ops, where, copies with dtype conversion, fills.
// Each runs the shared op functor inside the strided loop nest; the contiguous case gets its
// own branch so the compiler emits a plain vectorized loop.
#include <cstring>
#include <type_traits>

#include <tapegrad/kernels/convert.h>
#include <tapegrad/kernels/cpu/cpu_backend.h>
#include <tapegrad/kernels/cpu/strided_loop.h>

namespace tapegrad::kernels::cpu {

namespace {
// Scalars (losses, the parameters of small problems) skip the loop machinery entirely.
bool is_single_element(const TensorDesc& out) {
  for (auto d : out.shape)
    if (d != 1) return false;
  return true;
}
}  // namespace

namespace {

// y = f(x) over the strided operands; O is T, or bool for comparisons.
template <class T, class O, class F>
void unary_loop(F f, const TensorDesc& in, const TensorDesc& out) {
  const T* x = in.ptr<T>();
  O* y = out.ptr<O>();
  if (is_single_element(out)) {
    *y = static_cast<O>(f(*x));
    return;
  }
  for_each_strided<2>(out.shape, {&in.strides, &out.strides}, Split::Anywhere,
                      [&](std::int64_t n, const auto& off, const auto& st) {
                        const T* xs = x + off[0];
                        O* ys = y + off[1];
                        if (st[0] == 1 && st[1] == 1) {
                          for (std::int64_t i = 0; i < n; ++i) ys[i] = static_cast<O>(f(xs[i]));
                        } else {
                          for (std::int64_t i = 0; i < n; ++i) ys[i * st[1]] = static_cast<O>(f(xs[i * st[0]]));
                        }
                      });
}

// c = f(a, b) over the strided operands; O is T, or bool for comparisons.
template <class T, class O, class F>
void binary_loop(F f, const TensorDesc& a, const TensorDesc& b, const TensorDesc& out) {
  const T* pa = a.ptr<T>();
  const T* pb = b.ptr<T>();
  O* pc = out.ptr<O>();
  if (is_single_element(out)) {
    *pc = static_cast<O>(f(*pa, *pb));
    return;
  }
  for_each_strided<3>(out.shape, {&a.strides, &b.strides, &out.strides}, Split::Anywhere,
                      [&](std::int64_t n, const auto& off, const auto& st) {
                        const T* as = pa + off[0];
                        const T* bs = pb + off[1];
                        O* cs = pc + off[2];
                        if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
                          for (std::int64_t i = 0; i < n; ++i) cs[i] = static_cast<O>(f(as[i], bs[i]));
                        } else if (st[0] == 1 && st[1] == 0 && st[2] == 1) {
                          const T bv = *bs;
                          for (std::int64_t i = 0; i < n; ++i) cs[i] = static_cast<O>(f(as[i], bv));
                        } else if (st[0] == 0 && st[1] == 1 && st[2] == 1) {
                          const T av = *as;
                          for (std::int64_t i = 0; i < n; ++i) cs[i] = static_cast<O>(f(av, bs[i]));
                        } else {
                          for (std::int64_t i = 0; i < n; ++i)
                            cs[i * st[2]] = static_cast<O>(f(as[i * st[0]], bs[i * st[1]]));
                        }
                      });
}

}  // namespace

void CpuBackend::unary(UnaryOp op, const TensorDesc& in, const TensorDesc& out, const UnaryScalars& scalars) {
  if (out.dtype == DType::Bool) {  // a comparison with a scalar, on elements of any dtype
    dispatch_storage_dtype(in.dtype, [&](auto zero) {
      using T = decltype(zero);
      const bool compared = dispatch_scalar_comparison(op, scalars, [&](auto f) { unary_loop<T, bool>(f, in, out); });
      if (!compared) refuse_storage_dtype(DType::Bool);  // arithmetic with bool results
    });
    return;
  }
  dispatch_dtype(out.dtype, [&](auto zero) {
    using T = decltype(zero);
    dispatch_unary(op, scalars, [&](auto f) { unary_loop<T, T>(f, in, out); });
  });
}

void CpuBackend::binary(BinaryOp op, const TensorDesc& a, const TensorDesc& b, const TensorDesc& out, double alpha) {
  if (out.dtype == DType::Bool) {  // a comparison, on elements of any dtype
    dispatch_storage_dtype(a.dtype, [&](auto zero) {
      using T = decltype(zero);
      const bool compared = dispatch_comparison(op, [&](auto f) { binary_loop<T, bool>(f, a, b, out); });
      if (!compared) refuse_storage_dtype(DType::Bool);  // arithmetic with bool results
    });
    return;
  }
  dispatch_dtype(out.dtype, [&](auto zero) {
    using T = decltype(zero);
    dispatch_binary(op, alpha, [&](auto f) { binary_loop<T, T>(f, a, b, out); });
  });
}

// Work for one thread runs here, straight on the addresses, a scalar apart from the loop (whose
// vectorized set-up costs more than its one element); larger arrays (and bool results, which the
// strided form treats as comparisons) take the strided loop, which splits them across threads.
void CpuBackend::unary_contiguous(UnaryOp op, DType dtype, const void* in, void* out, std::int64_t count,
                                  const UnaryScalars& scalars) {
  if (dtype == DType::Bool || worth_parallel(count))
    return Backend::unary_contiguous(op, dtype, in, out, count, scalars);
  dispatch_dtype(dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* x = static_cast<const T*>(in);
    T* y = static_cast<T*>(out);
    if (count == 1)
      dispatch_unary(op, scalars, [&](auto f) { *y = static_cast<T>(f(*x)); });
    else
      dispatch_unary(op, scalars, [&](auto f) {
        for (std::int64_t i = 0; i < count; ++i) y[i] = static_cast<T>(f(x[i]));
      });
  });
}

void CpuBackend::binary_contiguous(BinaryOp op, DType dtype, const void* a, const void* b, void* out,
                                   std::int64_t count, double alpha) {
  if (dtype == DType::Bool || worth_parallel(count))
    return Backend::binary_contiguous(op, dtype, a, b, out, count, alpha);
  dispatch_dtype(dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* x = static_cast<const T*>(a);
    const T* y = static_cast<const T*>(b);
    T* z = static_cast<T*>(out);
    if (count == 1)
      dispatch_binary(op, alpha, [&](auto f) { *z = static_cast<T>(f(*x, *y)); });
    else
      dispatch_binary(op, alpha, [&](auto f) {
        for (std::int64_t i = 0; i < count; ++i) z[i] = static_cast<T>(f(x[i], y[i]));
      });
  });
}

// The condition is bool (the autodiff layer refuses other masks, as torch); the values may be of
// any dtype, since where only moves them.
void CpuBackend::where(const TensorDesc& condition, const TensorDesc& a, const TensorDesc& b,
                       const TensorDesc& out) {
  TAPEGRAD_CHECK(condition.dtype == DType::Bool, "where needs a bool condition, got {}", condition.dtype);
  const bool* pc = condition.ptr<bool>();
  dispatch_storage_dtype(out.dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* pa = a.ptr<T>();
    const T* pb = b.ptr<T>();
    T* po = out.ptr<T>();
    for_each_strided<4>(out.shape, {&condition.strides, &a.strides, &b.strides, &out.strides}, Split::Anywhere,
                        [&](std::int64_t n, const auto& off, const auto& st) {
                          for (std::int64_t i = 0; i < n; ++i)
                            po[off[3] + i * st[3]] = pc[off[0] + i * st[0]] ? pa[off[1] + i * st[1]]
                                                                            : pb[off[2] + i * st[2]];
                        });
  });
}

void CpuBackend::addcmul(const TensorDesc& a, const TensorDesc& b, double value, AddedTerm term,
                         const TensorDesc& out) {
  const bool divide = term == AddedTerm::Quotient;
  dispatch_dtype(out.dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* pa = a.ptr<T>();
    const T* pb = b.ptr<T>();
    T* po = out.ptr<T>();
    const T scale = static_cast<T>(value);
    for_each_strided<3>(out.shape, {&a.strides, &b.strides, &out.strides}, Split::Anywhere,
                        [&](std::int64_t n, const auto& off, const auto& st) {
                          const T* as = pa + off[0];
                          const T* bs = pb + off[1];
                          T* os = po + off[2];
                          if (divide) {
                            for (std::int64_t i = 0; i < n; ++i) os[i * st[2]] += scale * as[i * st[0]] / bs[i * st[1]];
                          } else {
                            for (std::int64_t i = 0; i < n; ++i) os[i * st[2]] += scale * as[i * st[0]] * bs[i * st[1]];
                          }
                        });
  });
}

void CpuBackend::copy(const TensorDesc& src, const TensorDesc& dst) {
  dispatch_storage_dtype(src.dtype, [&](auto szero) {
    using S = decltype(szero);
    dispatch_storage_dtype(dst.dtype, [&](auto dzero) {
      using D = decltype(dzero);
      const S* ps = src.ptr<S>();
      D* pd = dst.ptr<D>();
      for_each_strided<2>(dst.shape, {&src.strides, &dst.strides}, Split::Anywhere,
                          [&](std::int64_t n, const auto& off, const auto& st) {
                            if constexpr (std::is_same_v<S, D>) {
                              if (st[0] == 1 && st[1] == 1) {
                                std::memcpy(pd + off[1], ps + off[0], n * sizeof(D));
                                return;
                              }
                            }
                            for (std::int64_t i = 0; i < n; ++i)
                              pd[off[1] + i * st[1]] = convert_element<D>(ps[off[0] + i * st[0]]);
                          });
    });
  });
}

void CpuBackend::fill(const TensorDesc& dst, double value) {
  dispatch_storage_dtype(dst.dtype, [&](auto zero) {
    using T = decltype(zero);
    const T v = convert_element<T>(value);
    T* p = dst.ptr<T>();
    for_each_strided<1>(dst.shape, {&dst.strides}, Split::Anywhere, [&](std::int64_t n, const auto& off, const auto& st) {
      for (std::int64_t i = 0; i < n; ++i) p[off[0] + i * st[0]] = v;
    });
  });
}

void CpuBackend::fill_random(const TensorDesc& dst, Distribution dist, double a, double b, std::uint64_t seed,
                             std::uint64_t offset) {
  TAPEGRAD_CHECK(is_floating(dst.dtype), "random fill needs a floating dtype, got {}", dst.dtype);
  // Counters follow the row-major order of dst, whatever its strides.
  const Strides row_major = contiguous_strides(dst.shape);
  dispatch_dtype(dst.dtype, [&](auto zero) {
    using T = decltype(zero);
    T* p = dst.ptr<T>();
    for_each_strided<2>(dst.shape, {&row_major, &dst.strides}, Split::Anywhere,
                        [&](std::int64_t n, const auto& off, const auto& st) {
                          for (std::int64_t i = 0; i < n; ++i)
                            p[off[1] + i * st[1]] =
                                random_element<T>(dist, a, b, seed, offset + off[0] + i * st[0]);
                        });
  });
}

void CpuBackend::fill_range(const TensorDesc& dst, double start, double step) {
  dispatch_dtype(dst.dtype, [&](auto zero) {
    using T = decltype(zero);
    T* p = dst.ptr<T>();
    const std::int64_t n = dst.numel();
    for (std::int64_t i = 0; i < n; ++i) p[i * dst.strides[0]] = static_cast<T>(start + static_cast<double>(i) * step);
  });
}

}  // namespace tapegrad::kernels::cpu
