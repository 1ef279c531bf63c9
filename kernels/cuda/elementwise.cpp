// The CUDA backend's copies, fills and elementwise ops, host side: the kernels are
// kernels/cuda/elementwise.cu.
#include <tapegrad/kernels/cuda/cuda_backend.h>

#include <cmath>

#include <tapegrad/kernels/convert.h>
#include <tapegrad/kernels/cuda/cuda_check.h>
#include <tapegrad/kernels/cuda/host_helpers.h>

namespace tapegrad::kernels::cuda {

void CudaBackend::copy(const TensorDesc& src, const TensorDesc& dst) {
  activate();
  if (src.dtype == dst.dtype && is_contiguous(src) && is_contiguous(dst)) {
    TAPEGRAD_CUDA_CHECK(cudaMemcpyAsync(dst.data, src.data, dst.numel() * dtype_size(dst.dtype),
                                        cudaMemcpyDeviceToDevice, stream_));
    return;
  }
  const auto layout = coalesce<2>(dst.shape, {&src.strides, &dst.strides});
  dispatch_storage_dtype(src.dtype, [&](auto szero) {
    using S = decltype(szero);
    dispatch_storage_dtype(dst.dtype, [&](auto dzero) {
      using D = decltype(dzero);
      cuda::copy<S, D>(layout, dst.numel(), src.ptr<S>(), dst.ptr<D>(), stream_);
    });
  });
}

void CudaBackend::fill(const TensorDesc& dst, double value) {
  activate();
  if (value == 0.0 && !std::signbit(value) && is_contiguous(dst)) {  // all-zero bytes in every dtype
    TAPEGRAD_CUDA_CHECK(cudaMemsetAsync(dst.data, 0, dst.numel() * dtype_size(dst.dtype), stream_));
    return;
  }
  const auto layout = coalesce<1>(dst.shape, {&dst.strides});
  dispatch_storage_dtype(dst.dtype, [&](auto zero) {
    using T = decltype(zero);
    cuda::fill<T>(layout, dst.numel(), dst.ptr<T>(), convert_element<T>(value), stream_);
  });
}

void CudaBackend::fill_random(const TensorDesc& dst, Distribution dist, double a, double b, std::uint64_t seed,
                              std::uint64_t offset) {
  TAPEGRAD_CHECK(is_floating(dst.dtype), "random fill needs a floating dtype, got {}", dst.dtype);
  activate();
  // Coalescing keeps the row-major order of elements, so counters match the CPU's.
  const auto layout = coalesce<1>(dst.shape, {&dst.strides});
  if (dst.dtype == DType::Float32)
    cuda::fill_random<float>(layout, dst.numel(), dst.ptr<float>(), dist, a, b, seed, offset, stream_);
  else
    cuda::fill_random<double>(layout, dst.numel(), dst.ptr<double>(), dist, a, b, seed, offset, stream_);
}

void CudaBackend::fill_range(const TensorDesc& dst, double start, double step) {
  activate();
  dispatch_dtype(dst.dtype, [&](auto zero) {
    using T = decltype(zero);
    cuda::fill_range<T>(dst.ptr<T>(), dst.shape.empty() ? 0 : dst.strides[0], dst.numel(), start, step, stream_);
  });
}

void CudaBackend::unary(UnaryOp op, const TensorDesc& in, const TensorDesc& out, const UnaryScalars& scalars) {
  activate();
  const auto layout = coalesce<2>(out.shape, {&in.strides, &out.strides});
  if (out.dtype == DType::Bool) {  // a comparison with a scalar, on elements of any dtype
    dispatch_storage_dtype(in.dtype, [&](auto zero) {
      using T = decltype(zero);
      if (!cuda::compare_scalar<T>(op, layout, out.numel(), in.ptr<T>(), out.ptr<bool>(), scalars, stream_))
        refuse_storage_dtype(DType::Bool);  // arithmetic with bool results
    });
    return;
  }
  dispatch_dtype(out.dtype, [&](auto zero) {
    using T = decltype(zero);
    cuda::unary<T>(op, layout, out.numel(), in.ptr<T>(), out.ptr<T>(), scalars, stream_);
  });
}

void CudaBackend::binary(BinaryOp op, const TensorDesc& a, const TensorDesc& b, const TensorDesc& out, double alpha) {
  activate();
  const auto layout = coalesce<3>(out.shape, {&a.strides, &b.strides, &out.strides});
  if (out.dtype == DType::Bool) {  // a comparison, on elements of any dtype
    dispatch_storage_dtype(a.dtype, [&](auto zero) {
      using T = decltype(zero);
      if (!cuda::compare<T>(op, layout, out.numel(), a.ptr<T>(), b.ptr<T>(), out.ptr<bool>(), stream_))
        refuse_storage_dtype(DType::Bool);  // arithmetic with bool results
    });
    return;
  }
  dispatch_dtype(out.dtype, [&](auto zero) {
    using T = decltype(zero);
    cuda::binary<T>(op, layout, out.numel(), a.ptr<T>(), b.ptr<T>(), out.ptr<T>(), alpha, stream_);
  });
}

void CudaBackend::where(const TensorDesc& condition, const TensorDesc& a, const TensorDesc& b,
                        const TensorDesc& out) {
  activate();
  TAPEGRAD_CHECK(condition.dtype == DType::Bool, "where needs a bool condition, got {}", condition.dtype);
  const auto layout = coalesce<4>(out.shape, {&condition.strides, &a.strides, &b.strides, &out.strides});
  dispatch_storage_dtype(out.dtype, [&](auto zero) {
    using T = decltype(zero);
    cuda::where<T>(layout, out.numel(), condition.ptr<bool>(), a.ptr<T>(), b.ptr<T>(), out.ptr<T>(), stream_);
  });
}

void CudaBackend::addcmul(const TensorDesc& a, const TensorDesc& b, double value, AddedTerm term,
                          const TensorDesc& out) {
  activate();
  const auto layout = coalesce<3>(out.shape, {&a.strides, &b.strides, &out.strides});
  dispatch_dtype(out.dtype, [&](auto zero) {
    using T = decltype(zero);
    cuda::addcmul<T>(layout, out.numel(), a.ptr<T>(), b.ptr<T>(), static_cast<T>(value), term, out.ptr<T>(),
                     stream_);
  });
}

}  // namespace tapegrad::kernels::cuda
