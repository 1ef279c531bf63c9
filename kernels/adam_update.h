// One Adam / AdamW update of one element, written once for the CPU loop and the CUDA kernel.
// The arithmetic, operation by operation, is torch.optim.Adam's single-tensor path, so
// trajectories match it on either device.
#pragma once

#include <cmath>

#include <tapegrad/kernels/host_device.h>
#include <tapegrad/kernels/kernel_params.h>

namespace tapegrad::kernels {

template <class T>
struct AdamUpdate {
  T beta1, beta2, one_minus_beta1, one_minus_beta2, weight_decay, decay_factor, neg_step_size,
      bias_correction2_sqrt, eps;
  bool coupled_decay, decoupled_decay, amsgrad;

  // The step's scalars in T, computed once per parameter on the host.
  static AdamUpdate from(const AdamStep& s) {
    return {static_cast<T>(s.beta1),
            static_cast<T>(s.beta2),
            static_cast<T>(1 - s.beta1),
            static_cast<T>(1 - s.beta2),
            static_cast<T>(s.weight_decay),
            static_cast<T>(1 - s.lr * s.weight_decay),
            static_cast<T>(-(s.lr / s.bias_correction1)),
            static_cast<T>(std::sqrt(s.bias_correction2)),
            static_cast<T>(s.eps),
            !s.decoupled_weight_decay && s.weight_decay != 0,
            s.decoupled_weight_decay && s.weight_decay != 0,
            s.amsgrad};
  }

  // Updates element i of the parameter and its state; max_exp_avg_sq is touched only with amsgrad.
  TAPEGRAD_HOST_DEVICE void apply(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq,
                                  std::int64_t i) const {
    T p = param[i];
    T g = grad[i];
    if (decoupled_decay) p = p * decay_factor;
    if (coupled_decay) g = g + weight_decay * p;
    const T m = exp_avg[i] * beta1 + one_minus_beta1 * g;
    const T v = exp_avg_sq[i] * beta2 + one_minus_beta2 * g * g;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    T second = v;
    if (amsgrad) {
      const T previous = max_exp_avg_sq[i];
      second = (v > previous || v != v) ? v : previous;  // torch.maximum: NaN propagates
      max_exp_avg_sq[i] = second;
    }
    const T denom = std::sqrt(second) / bias_correction2_sqrt + eps;
    param[i] = p + neg_step_size * m / denom;
  }
};

}  // namespace tapegrad::kernels
