// The fused optimizer updates: each optimizer's step hyperparameters with, nested in them, the
// update of one element, written once for the CPU loop and the CUDA kernel. The backend has one
// entry for all of them (Backend::optimizer_step), which takes an OptimizerStep: the type of the
// step names the rule. A new optimizer adds its step struct here, appends it to OptimizerStep,
// and writes its class in optim/; nothing else changes.
//
// The arithmetic, operation by operation, is torch.optim's single-tensor path (and, for SGD,
// RMSprop and Adagrad, exactly the sequence of in-place tensor ops they replace), so
// trajectories match on either device.
#pragma once

#include <cmath>
#include <cstdint>
#include <variant>

#include <tapegrad/kernels/host_device.h>

namespace tapegrad::kernels {

// The state buffers of one parameter, in the order its rule names them; unused ones are null.
inline constexpr int kMaxOptimizerState = 3;
template <class T>
struct StateBuffers {
  T* buffer[kMaxOptimizerState] = {};
};

// Coupled weight decay as the tensor op `grad + weight_decay * param` computes it.
template <class T>
TAPEGRAD_HOST_DEVICE inline T decayed_gradient(T g, T p, T weight_decay, bool decay) {
  return decay ? g + weight_decay * p : g;
}

// Adam / AdamW (torch.optim.Adam's single-tensor arithmetic). State: exp_avg, exp_avg_sq and,
// with amsgrad, max_exp_avg_sq.
struct AdamStep {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool decoupled_weight_decay = false;  // AdamW: param *= 1 - lr * weight_decay first
  bool amsgrad = false;                 // divide by the running maximum of exp_avg_sq
  double bias_correction1 = 1, bias_correction2 = 1;  // 1 - beta^step

  // Arrays each element streams: the CPU's parallel decision weighs the update by it.
  int streamed_arrays() const { return amsgrad ? 5 : 4; }

  template <class T>
  struct Update {
    T beta1, beta2, one_minus_beta1, one_minus_beta2, weight_decay, decay_factor, neg_step_size,
        bias_correction2_sqrt, eps;
    bool coupled_decay, decoupled_decay, amsgrad;

    // The step's scalars in T, computed once per parameter on the host.
    static Update from(const AdamStep& s) {
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

    TAPEGRAD_HOST_DEVICE void apply(T* param, const T* grad, StateBuffers<T> state, std::int64_t i) const {
      T* exp_avg = state.buffer[0];
      T* exp_avg_sq = state.buffer[1];
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
        T* max_exp_avg_sq = state.buffer[2];
        const T previous = max_exp_avg_sq[i];
        second = (v > previous || v != v) ? v : previous;  // torch.maximum: NaN propagates
        max_exp_avg_sq[i] = second;
      }
      const T denom = std::sqrt(second) / bias_correction2_sqrt + eps;
      param[i] = p + neg_step_size * m / denom;
    }
  };
};

// SGD (torch.optim.SGD): coupled weight decay, then momentum with dampening (the buffer starts
// as the first gradient), optionally Nesterov. State: momentum_buffer, with momentum.
struct SgdStep {
  double lr = 0, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false;
  bool first_step = false;  // the momentum buffer holds nothing yet

  int streamed_arrays() const { return momentum != 0 ? 2 : 1; }

  template <class T>
  struct Update {
    T neg_lr, momentum, one_minus_dampening, weight_decay, neg_lr_momentum;
    bool decay, use_momentum, nesterov, first_step;

    static Update from(const SgdStep& s) {
      return {static_cast<T>(-s.lr), static_cast<T>(s.momentum), static_cast<T>(1 - s.dampening),
              static_cast<T>(s.weight_decay), static_cast<T>(-s.lr * s.momentum), s.weight_decay != 0,
              s.momentum != 0, s.nesterov, s.first_step};
    }

    TAPEGRAD_HOST_DEVICE void apply(T* param, const T* grad, StateBuffers<T> state, std::int64_t i) const {
      const T g = decayed_gradient(grad[i], param[i], weight_decay, decay);
      if (!use_momentum) {
        param[i] = param[i] + neg_lr * g;
        return;
      }
      T* momentum_buffer = state.buffer[0];
      const T buffer = first_step ? g : momentum_buffer[i] * momentum + one_minus_dampening * g;
      momentum_buffer[i] = buffer;
      param[i] = nesterov ? (param[i] + neg_lr * g) + neg_lr_momentum * buffer : param[i] + neg_lr * buffer;
    }
  };
};

// RMSprop (torch.optim.RMSprop): square average, optionally centered by the gradient average,
// optional momentum. State: square_avg, grad_avg (centered) and momentum_buffer (momentum).
struct RmspropStep {
  double lr = 0, alpha = 0.99, eps = 1e-8, weight_decay = 0, momentum = 0;
  bool centered = false;

  int streamed_arrays() const { return 4; }

  template <class T>
  struct Update {
    T neg_lr, alpha, one_minus_alpha, eps, weight_decay, momentum;
    bool decay, centered, use_momentum;

    static Update from(const RmspropStep& s) {
      return {static_cast<T>(-s.lr), static_cast<T>(s.alpha), static_cast<T>(1 - s.alpha), static_cast<T>(s.eps),
              static_cast<T>(s.weight_decay), static_cast<T>(s.momentum), s.weight_decay != 0, s.centered,
              s.momentum > 0};
    }

    TAPEGRAD_HOST_DEVICE void apply(T* param, const T* grad, StateBuffers<T> state, std::int64_t i) const {
      T* square_avg = state.buffer[0];
      const T g = decayed_gradient(grad[i], param[i], weight_decay, decay);
      const T v = square_avg[i] * alpha + one_minus_alpha * g * g;
      square_avg[i] = v;
      T avg;
      if (centered) {
        T* grad_avg = state.buffer[1];
        const T mean = grad_avg[i] * alpha + one_minus_alpha * g;
        grad_avg[i] = mean;
        avg = std::sqrt(v + T(-1) * mean * mean);
      } else {
        avg = std::sqrt(v);
      }
      avg = avg + eps;
      if (use_momentum) {
        T* momentum_buffer = state.buffer[2];
        const T buffer = momentum_buffer[i] * momentum + T(1) * g / avg;
        momentum_buffer[i] = buffer;
        param[i] = param[i] + neg_lr * buffer;
      } else {
        param[i] = param[i] + neg_lr * g / avg;
      }
    }
  };
};

// Adagrad (torch.optim.Adagrad) at the already decayed learning rate. State: sum.
struct AdagradStep {
  double lr = 0, eps = 1e-10, weight_decay = 0;

  int streamed_arrays() const { return 3; }

  template <class T>
  struct Update {
    T neg_lr, eps, weight_decay;
    bool decay;

    static Update from(const AdagradStep& s) {
      return {static_cast<T>(-s.lr), static_cast<T>(s.eps), static_cast<T>(s.weight_decay), s.weight_decay != 0};
    }

    TAPEGRAD_HOST_DEVICE void apply(T* param, const T* grad, StateBuffers<T> state, std::int64_t i) const {
      T* sum = state.buffer[0];
      const T g = decayed_gradient(grad[i], param[i], weight_decay, decay);
      const T total = sum[i] + T(1) * g * g;
      sum[i] = total;
      param[i] = param[i] + neg_lr * g / (std::sqrt(total) + eps);
    }
  };
};

// One step of any fused update; its type picks the rule.
using OptimizerStep = std::variant<SgdStep, AdamStep, RmspropStep, AdagradStep>;

}  // namespace tapegrad::kernels
