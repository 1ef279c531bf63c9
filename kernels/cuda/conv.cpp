// The CUDA backend's im2col and col2im, host side: the kernels are kernels/cuda/conv.cu.
#include <tapegrad/kernels/cuda/cuda_backend.h>

#include <tapegrad/kernels/cuda/host_helpers.h>

namespace tapegrad::kernels::cuda {

void CudaBackend::im2col(const TensorDesc& image, const Window2d& window, const TensorDesc& columns) {
  check_float(image.dtype, "im2col");
  activate();
  const ImageStrides strides(image);
  if (image.dtype == DType::Float32)
    cuda::im2col<float>(image.ptr<float>(), strides.values, window, columns.ptr<float>(), stream_);
  else
    cuda::im2col<double>(image.ptr<double>(), strides.values, window, columns.ptr<double>(), stream_);
}

void CudaBackend::col2im(const TensorDesc& columns, const Window2d& window, const TensorDesc& image) {
  check_float(columns.dtype, "col2im");
  activate();
  if (columns.dtype == DType::Float32)
    cuda::col2im<float>(columns.ptr<float>(), window, image.ptr<float>(), stream_);
  else
    cuda::col2im<double>(columns.ptr<double>(), window, image.ptr<double>(), stream_);
}

}  // namespace tapegrad::kernels::cuda
