// The CUDA backend's max pooling, host side: the kernel is kernels/cuda/pool.cu.
#include <tapegrad/kernels/cuda/cuda_backend.h>

#include <tapegrad/kernels/cuda/host_helpers.h>

namespace tapegrad::kernels::cuda {

void CudaBackend::max_pool2d(const TensorDesc& input, const Window2d& window, const TensorDesc& values,
                             const TensorDesc& indices) {
  check_float(input.dtype, "max_pool2d");
  activate();
  const ImageStrides strides(input);
  if (input.dtype == DType::Float32)
    cuda::max_pool2d<float>(input.ptr<float>(), strides.values, window, values.ptr<float>(),
                            indices.ptr<std::int64_t>(), stream_);
  else
    cuda::max_pool2d<double>(input.ptr<double>(), strides.values, window, values.ptr<double>(),
                             indices.ptr<std::int64_t>(), stream_);
}

}  // namespace tapegrad::kernels::cuda
