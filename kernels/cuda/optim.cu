// CUDA fused optimizer update: one thread per element runs the same per-element Adam/AdamW
// arithmetic as the CPU loop (kernels/adam_update.h).
#include <tapegrad/kernels/adam_update.h>
#include <tapegrad/kernels/cuda/device_loops.cuh>

namespace tapegrad::kernels::cuda {

template <class T>
__global__ void adam_step_kernel(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq,
                                 std::int64_t n, AdamUpdate<T> update) {
  TAPEGRAD_GRID_STRIDE_LOOP(i, n) { update.apply(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, i); }
}

template <class T>
void adam_step(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq, std::int64_t n,
               const AdamStep& step, Stream stream) {
  launch_elementwise("adam_step", n, stream, adam_step_kernel<T>, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, n,
                     AdamUpdate<T>::from(step));
}

template void adam_step<float>(float*, const float*, float*, float*, float*, std::int64_t, const AdamStep&, Stream);
template void adam_step<double>(double*, const double*, double*, double*, double*, std::int64_t, const AdamStep&,
                                Stream);

}  // namespace tapegrad::kernels::cuda
