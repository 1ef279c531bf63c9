// The CUDA backend's reductions, softmax and running sums, host side: the kernels are kernels/cuda/reduce.cu.
#include <tapegrad/kernels/cuda/cuda_backend.h>

#include <tapegrad/kernels/cuda/host_helpers.h>

namespace tapegrad::kernels::cuda {

void CudaBackend::reduce_sum(const TensorDesc& in, const TensorDesc& out) {
  activate();
  const ReducePlan plan = plan_reduce_sum(in, out);
  if (plan.reduction == 0) {  // sums over nothing are zero
    fill(summed_output(out), 0.0);
    return;
  }
  dispatch_dtype(in.dtype, [&](auto zero) {
    using T = decltype(zero);
    cuda::reduce_sum<T>(plan.kept, plan.outputs, plan.reduced, plan.reduction, in.ptr<T>(), out.ptr<T>(), stream_);
  });
}

void CudaBackend::reduce_extreme(const TensorDesc& in, int dim, Extreme extreme, const TensorDesc& values,
                                 const TensorDesc& indices) {
  activate();
  const auto plan = plan_slices<3>(in.shape, dim, {&in.strides, &values.strides, &indices.strides});
  dispatch_dtype(in.dtype, [&](auto zero) {
    using T = decltype(zero);
    cuda::reduce_extreme<T>(plan.slices, plan.count, plan.extent, in.strides[dim], extreme, in.ptr<T>(),
                            values.ptr<T>(), indices.ptr<std::int64_t>(), stream_);
  });
}

void CudaBackend::softmax(const TensorDesc& in, int dim, SoftmaxOutput output, const TensorDesc& out) {
  check_float(in.dtype, output == SoftmaxOutput::LogProbabilities ? "log_softmax" : "softmax");
  activate();
  const auto plan = plan_slices<2>(in.shape, dim, {&in.strides, &out.strides});
  if (in.dtype == DType::Float32)
    cuda::softmax<float>(plan.slices, plan.count, plan.extent, in.strides[dim], out.strides[dim], output,
                         in.ptr<float>(), out.ptr<float>(), stream_);
  else
    cuda::softmax<double>(plan.slices, plan.count, plan.extent, in.strides[dim], out.strides[dim], output,
                          in.ptr<double>(), out.ptr<double>(), stream_);
}

void CudaBackend::cumsum(const TensorDesc& in, int dim, const TensorDesc& out) {
  activate();
  const auto plan = plan_slices<2>(in.shape, dim, {&in.strides, &out.strides});
  dispatch_dtype(in.dtype, [&](auto zero) {
    using T = decltype(zero);
    cuda::cumsum<T>(plan.slices, plan.count, plan.extent, in.strides[dim], out.strides[dim], in.ptr<T>(),
                    out.ptr<T>(), stream_);
  });
}

void CudaBackend::argsort(const TensorDesc& in, int dim, SortOrder order, const TensorDesc& indices) {
  activate();
  const auto plan = plan_slices<2>(in.shape, dim, {&in.strides, &indices.strides});
  dispatch_dtype(in.dtype, [&](auto zero) {
    using T = decltype(zero);
    cuda::argsort<T>(plan.slices, plan.count, plan.extent, in.strides[dim], indices.strides[dim], order, in.ptr<T>(),
                     indices.ptr<std::int64_t>(), stream_);
  });
}

}  // namespace tapegrad::kernels::cuda
