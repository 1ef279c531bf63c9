// Fused optimizer updates: one pass over a parameter and its state instead of the eight
// in-place passes the same update takes as separate tensor ops (kernels/adam_update.h).
#include <tapegrad/kernels/adam_update.h>
#include <tapegrad/kernels/cpu/cpu_backend.h>
#include <tapegrad/kernels/cpu/parallel.h>

namespace tapegrad::kernels::cpu {

void CpuBackend::adam_step(const TensorDesc& param, const TensorDesc& grad, const TensorDesc& exp_avg,
                           const TensorDesc& exp_avg_sq, const TensorDesc& max_exp_avg_sq, const AdamStep& step) {
  TAPEGRAD_CHECK(is_floating(param.dtype), "adam_step: expected float32 or float64 parameters, got {}", param.dtype);
  const std::int64_t n = param.numel();
  const auto run = [&](auto zero) {
    using T = decltype(zero);
    const AdamUpdate<T> update = AdamUpdate<T>::from(step);
    T* p = param.ptr<T>();
    const T* g = grad.ptr<T>();
    T* m = exp_avg.ptr<T>();
    T* v = exp_avg_sq.ptr<T>();
    T* v_max = step.amsgrad ? max_exp_avg_sq.ptr<T>() : nullptr;
    const auto range = [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t i = begin; i < end; ++i) update.apply(p, g, m, v, v_max, i);
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
