// The CUDA backend's fused optimizer updates, host side: the kernel is kernels/cuda/optim_update.cu.
#include <tapegrad/kernels/cuda/cuda_backend.h>
#include <tapegrad/kernels/cuda/launchers.h>
#include <tapegrad/kernels/optimizer_step_args.h>

namespace tapegrad::kernels::cuda {

void CudaBackend::optimizer_step(const OptimizerStep& step, const TensorDesc& param, const TensorDesc& grad,
                                 std::span<const TensorDesc> state) {
  check_optimizer_step(param, state);
  activate();
  if (param.dtype == DType::Float32)
    cuda::optimizer_step<float>(step, param.ptr<float>(), grad.ptr<float>(), state_buffers<float>(state), param.numel(),
                                stream_);
  else
    cuda::optimizer_step<double>(step, param.ptr<double>(), grad.ptr<double>(), state_buffers<double>(state),
                                 param.numel(), stream_);
}

}  // namespace tapegrad::kernels::cuda
