// CUDA fused optimizer updates: one thread per element runs the same per-element rule as the CPU
// loop (kernels/optim_updates.h); one kernel template serves every rule. Kernels first, then
// their launcher.
#include <variant>

#include <tapegrad/kernels/cuda/device_loops.cuh>
#include <tapegrad/kernels/optim_updates.h>

namespace tapegrad::kernels::cuda {

template <class Update, class T>
__global__ void optimizer_step_kernel(T* param, const T* grad, StateBuffers<T> state, std::int64_t n, Update update) {
  TAPEGRAD_GRID_STRIDE_LOOP(i, n) { update.apply(param, grad, state, i); }
}

template <class T>
void optimizer_step(const OptimizerStep& step, T* param, const T* grad, StateBuffers<T> state, std::int64_t n,
                    Stream stream) {
  std::visit(
      [&](const auto& rule) {
        using Update = typename std::decay_t<decltype(rule)>::template Update<T>;
        launch_elementwise("optimizer_step", n, stream, optimizer_step_kernel<Update, T>, param, grad, state, n,
                           Update::from(rule));
      },
      step);
}

template void optimizer_step<float>(const OptimizerStep&, float*, const float*, StateBuffers<float>, std::int64_t,
                                    Stream);
template void optimizer_step<double>(const OptimizerStep&, double*, const double*, StateBuffers<double>, std::int64_t,
                                     Stream);

}  // namespace tapegrad::kernels::cuda
