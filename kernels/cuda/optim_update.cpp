// The CUDA backend's fused optimizer updates, host side: the kernel is kernels/cuda/optim_update.cu.
#include <tapegrad/kernels/cuda/cuda_backend.h>
#include <tapegrad/kernels/cuda/launchers.h>

namespace tapegrad::kernels::cuda {
namespace {

template <class T>
StateBuffers<T> state_buffers(std::span<const TensorDesc> state) {
  StateBuffers<T> buffers;
  for (std::size_t i = 0; i < state.size(); ++i) buffers.buffer[i] = state[i].ptr<T>();
  return buffers;
}

}  // namespace

void CudaBackend::optimizer_step(const OptimizerStep& step, const TensorDesc& param, const TensorDesc& grad,
                                 std::span<const TensorDesc> state) {
  TAPEGRAD_CHECK(is_floating(param.dtype), "optimizer step: expected float32 or float64 parameters, got {}",
                 param.dtype);
  TAPEGRAD_CHECK(state.size() <= kMaxOptimizerState, "optimizer step: {} state buffers, at most {} are supported",
                 state.size(), kMaxOptimizerState);
  activate();
  if (param.dtype == DType::Float32)
    cuda::optimizer_step<float>(step, param.ptr<float>(), grad.ptr<float>(), state_buffers<float>(state), param.numel(),
                                stream_);
  else
    cuda::optimizer_step<double>(step, param.ptr<double>(), grad.ptr<double>(), state_buffers<double>(state),
                                 param.numel(), stream_);
}

}  // namespace tapegrad::kernels::cuda
