// Fused optimizer updates: one pass over a parameter and its state instead of the eight
// in-place passes the same update takes as separate tensor ops. The arithmetic, operation by
// operation, is torch.optim.Adam's single-tensor path, so trajectories match it.
#include <cmath>

#include <tapegrad/kernels/cpu/cpu_backend.h>
#include <tapegrad/kernels/cpu/parallel.h>

namespace tapegrad::kernels::cpu {
namespace {

template <class T>
void adam_range(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq, const AdamStep& s,
                std::int64_t begin, std::int64_t end) {
  const T beta1 = static_cast<T>(s.beta1), beta2 = static_cast<T>(s.beta2);
  const T one_minus_beta1 = static_cast<T>(1 - s.beta1), one_minus_beta2 = static_cast<T>(1 - s.beta2);
  const T weight_decay = static_cast<T>(s.weight_decay);
  const T decay_factor = static_cast<T>(1 - s.lr * s.weight_decay);
  const T neg_step_size = static_cast<T>(-(s.lr / s.bias_correction1));
  const T bias_correction2_sqrt = static_cast<T>(std::sqrt(s.bias_correction2));
  const T eps = static_cast<T>(s.eps);
  const bool coupled_decay = !s.decoupled_weight_decay && s.weight_decay != 0;
  const bool decoupled_decay = s.decoupled_weight_decay && s.weight_decay != 0;
  for (std::int64_t i = begin; i < end; ++i) {
    T p = param[i];
    T g = grad[i];
    if (decoupled_decay) p = p * decay_factor;
    if (coupled_decay) g = g + weight_decay * p;
    const T m = exp_avg[i] * beta1 + one_minus_beta1 * g;
    const T v = exp_avg_sq[i] * beta2 + one_minus_beta2 * g * g;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    T second = v;
    if (s.amsgrad) {
      const T previous = max_exp_avg_sq[i];
      second = (v > previous || v != v) ? v : previous;  // torch.maximum: NaN propagates
      max_exp_avg_sq[i] = second;
    }
    const T denom = std::sqrt(second) / bias_correction2_sqrt + eps;
    param[i] = p + neg_step_size * m / denom;
  }
}

}  // namespace

void CpuBackend::adam_step(const TensorDesc& param, const TensorDesc& grad, const TensorDesc& exp_avg,
                           const TensorDesc& exp_avg_sq, const TensorDesc& max_exp_avg_sq, const AdamStep& step) {
  TAPEGRAD_CHECK(is_floating(param.dtype), "adam_step: expected float32 or float64 parameters, got {}", param.dtype);
  const std::int64_t n = param.numel();
  const auto run = [&](auto zero) {
    using T = decltype(zero);
    const auto range = [&](std::int64_t begin, std::int64_t end) {
      adam_range(param.ptr<T>(), grad.ptr<T>(), exp_avg.ptr<T>(), exp_avg_sq.ptr<T>(),
                 step.amsgrad ? max_exp_avg_sq.ptr<T>() : nullptr, step, begin, end);
    };
    if (worth_parallel(n * 4))  // about four times the work of a plain elementwise op per element
      parallel_for(n, range);
    else
      range(0, n);
  };
  if (param.dtype == DType::Float32)
    run(float{});
  else
    run(double{});
}

}  // namespace tapegrad::kernels::cpu
