// Fused optimizer updates: one pass over a parameter and its state instead of the several
// in-place passes the same update takes as separate tensor ops (kernels/optim_updates.h).
#include <tapegrad/kernels/cpu/cpu_backend.h>
#include <tapegrad/kernels/cpu/parallel.h>
#include <tapegrad/kernels/optim_updates.h>

namespace tapegrad::kernels::cpu {
namespace {

// Calls update(T{}, begin, end) over the parameter's elements, split across threads when large.
template <class Update>
void run_update(const TensorDesc& param, const char* op, Update&& update) {
  TAPEGRAD_CHECK(is_floating(param.dtype), "{}: expected float32 or float64 parameters, got {}", op, param.dtype);
  const std::int64_t n = param.numel();
  const auto run = [&](auto zero) {
    const auto range = [&](std::int64_t begin, std::int64_t end) { update(zero, begin, end); };
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

template <class T>
T* optional_ptr(const TensorDesc& t, bool used) {
  return used ? t.ptr<T>() : nullptr;
}

}  // namespace

void CpuBackend::adam_step(const TensorDesc& param, const TensorDesc& grad, const TensorDesc& exp_avg,
                           const TensorDesc& exp_avg_sq, const TensorDesc& max_exp_avg_sq, const AdamStep& step) {
  run_update(param, "adam_step", [&](auto zero, std::int64_t begin, std::int64_t end) {
    using T = decltype(zero);
    const AdamUpdate<T> update = AdamUpdate<T>::from(step);
    T* p = param.ptr<T>();
    const T* g = grad.ptr<T>();
    T* m = exp_avg.ptr<T>();
    T* v = exp_avg_sq.ptr<T>();
    T* v_max = optional_ptr<T>(max_exp_avg_sq, step.amsgrad);
    for (std::int64_t i = begin; i < end; ++i) update.apply(p, g, m, v, v_max, i);
  });
}

void CpuBackend::sgd_step(const TensorDesc& param, const TensorDesc& grad, const TensorDesc& momentum_buffer,
                          const SgdStep& step) {
  run_update(param, "sgd_step", [&](auto zero, std::int64_t begin, std::int64_t end) {
    using T = decltype(zero);
    const SgdUpdate<T> update = SgdUpdate<T>::from(step);
    T* p = param.ptr<T>();
    const T* g = grad.ptr<T>();
    T* buffer = optional_ptr<T>(momentum_buffer, step.momentum != 0);
    for (std::int64_t i = begin; i < end; ++i) update.apply(p, g, buffer, i);
  });
}

void CpuBackend::rmsprop_step(const TensorDesc& param, const TensorDesc& grad, const TensorDesc& square_avg,
                              const TensorDesc& grad_avg, const TensorDesc& momentum_buffer,
                              const RmspropStep& step) {
  run_update(param, "rmsprop_step", [&](auto zero, std::int64_t begin, std::int64_t end) {
    using T = decltype(zero);
    const RmspropUpdate<T> update = RmspropUpdate<T>::from(step);
    T* p = param.ptr<T>();
    const T* g = grad.ptr<T>();
    T* v = square_avg.ptr<T>();
    T* mean = optional_ptr<T>(grad_avg, step.centered);
    T* buffer = optional_ptr<T>(momentum_buffer, step.momentum > 0);
    for (std::int64_t i = begin; i < end; ++i) update.apply(p, g, v, mean, buffer, i);
  });
}

void CpuBackend::adagrad_step(const TensorDesc& param, const TensorDesc& grad, const TensorDesc& sum,
                              const AdagradStep& step) {
  run_update(param, "adagrad_step", [&](auto zero, std::int64_t begin, std::int64_t end) {
    using T = decltype(zero);
    const AdagradUpdate<T> update = AdagradUpdate<T>::from(step);
    T* p = param.ptr<T>();
    const T* g = grad.ptr<T>();
    T* total = sum.ptr<T>();
    for (std::int64_t i = begin; i < end; ++i) update.apply(p, g, total, i);
  });
}

}  // namespace tapegrad::kernels::cpu
