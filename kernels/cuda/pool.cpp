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

// Zeros, then a scatter-add over the flattened planes: both contiguous, so [N, C, H * W] and
// [N, C, out_h * out_w] views of them are the same memory.
void CudaBackend::max_pool2d_backward(const TensorDesc& grad_values, const TensorDesc& indices, const Window2d& window,
                                      const TensorDesc& grad_input) {
  check_float(grad_values.dtype, "max_pool2d_backward");
  fill(grad_input, 0.0);
  const auto planes = [&](const TensorDesc& desc, std::int64_t plane_size) {
    TensorDesc flat = desc;
    flat.shape = {window.batch, window.channels, plane_size};
    flat.strides = {window.channels * plane_size, plane_size, 1};
    return flat;
  };
  const std::int64_t out_plane = window.out_h * window.out_w;
  scatter_add(planes(grad_values, out_plane), 2, planes(indices, out_plane),
              planes(grad_input, window.height * window.width));
}

}  // namespace tapegrad::kernels::cuda
