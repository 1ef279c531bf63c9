// The fused optimizer updates of one element, written once for the CPU loop and the CUDA
// kernel. The arithmetic, operation by operation, is torch.optim's single-tensor path (and, for
// SGD, RMSprop and Adagrad, exactly the sequence of in-place tensor ops they replace), so
// trajectories match on either device.
#pragma once

#include <cmath>
#include <cstdint>

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

// Coupled weight decay as the tensor op `grad + weight_decay * param` computes it.
template <class T>
TAPEGRAD_HOST_DEVICE inline T decayed_gradient(T g, T p, T weight_decay, bool decay) {
  return decay ? g + weight_decay * p : g;
}

template <class T>
struct SgdUpdate {
  T neg_lr, momentum, one_minus_dampening, weight_decay, neg_lr_momentum;
  bool decay, use_momentum, nesterov, first_step;

  static SgdUpdate from(const SgdStep& s) {
    return {static_cast<T>(-s.lr), static_cast<T>(s.momentum), static_cast<T>(1 - s.dampening),
            static_cast<T>(s.weight_decay), static_cast<T>(-s.lr * s.momentum), s.weight_decay != 0,
            s.momentum != 0, s.nesterov, s.first_step};
  }

  // momentum_buffer is touched only with momentum.
  TAPEGRAD_HOST_DEVICE void apply(T* param, const T* grad, T* momentum_buffer, std::int64_t i) const {
    const T g = decayed_gradient(grad[i], param[i], weight_decay, decay);
    if (!use_momentum) {
      param[i] = param[i] + neg_lr * g;
      return;
    }
    const T buffer = first_step ? g : momentum_buffer[i] * momentum + one_minus_dampening * g;
    momentum_buffer[i] = buffer;
    param[i] = nesterov ? (param[i] + neg_lr * g) + neg_lr_momentum * buffer : param[i] + neg_lr * buffer;
  }
};

template <class T>
struct RmspropUpdate {
  T neg_lr, alpha, one_minus_alpha, eps, weight_decay, momentum;
  bool decay, centered, use_momentum;

  static RmspropUpdate from(const RmspropStep& s) {
    return {static_cast<T>(-s.lr), static_cast<T>(s.alpha), static_cast<T>(1 - s.alpha), static_cast<T>(s.eps),
            static_cast<T>(s.weight_decay), static_cast<T>(s.momentum), s.weight_decay != 0, s.centered,
            s.momentum > 0};
  }

  // grad_avg is touched only when centered, momentum_buffer only with momentum.
  TAPEGRAD_HOST_DEVICE void apply(T* param, const T* grad, T* square_avg, T* grad_avg, T* momentum_buffer,
                                  std::int64_t i) const {
    const T g = decayed_gradient(grad[i], param[i], weight_decay, decay);
    const T v = square_avg[i] * alpha + one_minus_alpha * g * g;
    square_avg[i] = v;
    T avg;
    if (centered) {
      const T mean = grad_avg[i] * alpha + one_minus_alpha * g;
      grad_avg[i] = mean;
      avg = std::sqrt(v + T(-1) * mean * mean);
    } else {
      avg = std::sqrt(v);
    }
    avg = avg + eps;
    if (use_momentum) {
      const T buffer = momentum_buffer[i] * momentum + T(1) * g / avg;
      momentum_buffer[i] = buffer;
      param[i] = param[i] + neg_lr * buffer;
    } else {
      param[i] = param[i] + neg_lr * g / avg;
    }
  }
};

template <class T>
struct AdagradUpdate {
  T neg_lr, eps, weight_decay;
  bool decay;

  static AdagradUpdate from(const AdagradStep& s) {
    return {static_cast<T>(-s.lr), static_cast<T>(s.eps), static_cast<T>(s.weight_decay), s.weight_decay != 0};
  }

  TAPEGRAD_HOST_DEVICE void apply(T* param, const T* grad, T* sum, std::int64_t i) const {
    const T g = decayed_gradient(grad[i], param[i], weight_decay, decay);
    const T total = sum[i] + T(1) * g * g;
    sum[i] = total;
    param[i] = param[i] + neg_lr * g / (std::sqrt(total) + eps);
  }
};

}  // namespace tapegrad::kernels
