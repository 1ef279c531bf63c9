// CUDA fused optimizer updates: one thread per element runs the same per-element arithmetic as
// the CPU loop (kernels/optim_updates.h). Kernels first, then their launchers.
#include <tapegrad/kernels/cuda/device_loops.cuh>
#include <tapegrad/kernels/optim_updates.h>

namespace tapegrad::kernels::cuda {

template <class T>
__global__ void adam_step_kernel(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq,
                                 std::int64_t n, AdamUpdate<T> update) {
  TAPEGRAD_GRID_STRIDE_LOOP(i, n) { update.apply(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, i); }
}

template <class T>
__global__ void sgd_step_kernel(T* param, const T* grad, T* momentum_buffer, std::int64_t n, SgdUpdate<T> update) {
  TAPEGRAD_GRID_STRIDE_LOOP(i, n) { update.apply(param, grad, momentum_buffer, i); }
}

template <class T>
__global__ void rmsprop_step_kernel(T* param, const T* grad, T* square_avg, T* grad_avg, T* momentum_buffer,
                                    std::int64_t n, RmspropUpdate<T> update) {
  TAPEGRAD_GRID_STRIDE_LOOP(i, n) { update.apply(param, grad, square_avg, grad_avg, momentum_buffer, i); }
}

template <class T>
__global__ void adagrad_step_kernel(T* param, const T* grad, T* sum, std::int64_t n, AdagradUpdate<T> update) {
  TAPEGRAD_GRID_STRIDE_LOOP(i, n) { update.apply(param, grad, sum, i); }
}

template <class T>
void adam_step(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq, std::int64_t n,
               const AdamStep& step, Stream stream) {
  launch_elementwise("adam_step", n, stream, adam_step_kernel<T>, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, n,
                     AdamUpdate<T>::from(step));
}

template <class T>
void sgd_step(T* param, const T* grad, T* momentum_buffer, std::int64_t n, const SgdStep& step, Stream stream) {
  launch_elementwise("sgd_step", n, stream, sgd_step_kernel<T>, param, grad, momentum_buffer, n,
                     SgdUpdate<T>::from(step));
}

template <class T>
void rmsprop_step(T* param, const T* grad, T* square_avg, T* grad_avg, T* momentum_buffer, std::int64_t n,
                  const RmspropStep& step, Stream stream) {
  launch_elementwise("rmsprop_step", n, stream, rmsprop_step_kernel<T>, param, grad, square_avg, grad_avg,
                     momentum_buffer, n, RmspropUpdate<T>::from(step));
}

template <class T>
void adagrad_step(T* param, const T* grad, T* sum, std::int64_t n, const AdagradStep& step, Stream stream) {
  launch_elementwise("adagrad_step", n, stream, adagrad_step_kernel<T>, param, grad, sum, n,
                     AdagradUpdate<T>::from(step));
}

#define TAPEGRAD_OPTIMIZER_STEPS(T)                                                                              \
  template void adam_step<T>(T*, const T*, T*, T*, T*, std::int64_t, const AdamStep&, Stream);                   \
  template void sgd_step<T>(T*, const T*, T*, std::int64_t, const SgdStep&, Stream);                             \
  template void rmsprop_step<T>(T*, const T*, T*, T*, T*, std::int64_t, const RmspropStep&, Stream);             \
  template void adagrad_step<T>(T*, const T*, T*, std::int64_t, const AdagradStep&, Stream);
TAPEGRAD_OPTIMIZER_STEPS(float)
TAPEGRAD_OPTIMIZER_STEPS(double)
#undef TAPEGRAD_OPTIMIZER_STEPS

}  // namespace tapegrad::kernels::cuda
