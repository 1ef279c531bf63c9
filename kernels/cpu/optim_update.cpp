// Fused optimizer updates: one pass over a parameter and its state instead of the several
// in-place passes the same update takes as separate tensor ops (kernels/optim_updates.h).
#include <tapegrad/kernels/cpu/cpu_backend.h>
#include <tapegrad/kernels/cpu/parallel.h>
#include <tapegrad/kernels/optim_updates.h>

namespace tapegrad::kernels::cpu {
namespace {

// Calls update(T{}, begin, end) over the parameter's elements, split across threads when large.
// `work_per_element` weighs an element against one of a plain elementwise op (the arrays it
// streams): a parallel region costs as much as a few thousand elements of a small update.
template <class Update>
void run_update(const TensorDesc& param, const char* op, std::int64_t work_per_element, Update&& update) {
  TAPEGRAD_CHECK(is_floating(param.dtype), "{}: expected float32 or float64 parameters, got {}", op, param.dtype);
  const std::int64_t n = param.numel();
  const auto run = [&](auto zero) {
    const auto range = [&](std::int64_t begin, std::int64_t end) { update(zero, begin, end); };
    if (worth_parallel(n * work_per_element))
      parallel_for(n, range);
    else
      range(0, n);
  };
  if (param.dtype == DType::Float32)
    run(float{});
  else
    run(double{});
}

// The element loop, kept out of line so that it sees only values of its own: inlined into a
// kernel, the stores into the parameter kept the compiler from hoisting the update's fields and
// flags out of the loop, and the serial path ran ten times slower than the parallel one.
template <class Update, class... Arrays>
[[gnu::noinline]] void apply_range(const Update update, std::int64_t begin, std::int64_t end, Arrays... arrays) {
  for (std::int64_t i = begin; i < end; ++i) update.apply(arrays..., i);
}

template <class T>
T* optional_ptr(const TensorDesc& t, bool used) {
  return used ? t.ptr<T>() : nullptr;
}

}  // namespace

void CpuBackend::adam_step(const TensorDesc& param, const TensorDesc& grad, const TensorDesc& exp_avg,
                           const TensorDesc& exp_avg_sq, const TensorDesc& max_exp_avg_sq, const AdamStep& step) {
  run_update(param, "adam_step", step.amsgrad ? 5 : 4, [&](auto zero, std::int64_t begin, std::int64_t end) {
    using T = decltype(zero);
    const AdamUpdate<T> update = AdamUpdate<T>::from(step);
    T* p = param.ptr<T>();
    const T* g = grad.ptr<T>();
    T* m = exp_avg.ptr<T>();
    T* v = exp_avg_sq.ptr<T>();
    T* v_max = optional_ptr<T>(max_exp_avg_sq, step.amsgrad);
    apply_range(update, begin, end, p, g, m, v, v_max);
  });
}

void CpuBackend::sgd_step(const TensorDesc& param, const TensorDesc& grad, const TensorDesc& momentum_buffer,
                          const SgdStep& step) {
  run_update(param, "sgd_step", step.momentum != 0 ? 2 : 1, [&](auto zero, std::int64_t begin, std::int64_t end) {
    using T = decltype(zero);
    const SgdUpdate<T> update = SgdUpdate<T>::from(step);
    T* p = param.ptr<T>();
    const T* g = grad.ptr<T>();
    T* buffer = optional_ptr<T>(momentum_buffer, step.momentum != 0);
    apply_range(update, begin, end, p, g, buffer);
  });
}

void CpuBackend::rmsprop_step(const TensorDesc& param, const TensorDesc& grad, const TensorDesc& square_avg,
                              const TensorDesc& grad_avg, const TensorDesc& momentum_buffer,
                              const RmspropStep& step) {
  run_update(param, "rmsprop_step", 4, [&](auto zero, std::int64_t begin, std::int64_t end) {
    using T = decltype(zero);
    const RmspropUpdate<T> update = RmspropUpdate<T>::from(step);
    T* p = param.ptr<T>();
    const T* g = grad.ptr<T>();
    T* v = square_avg.ptr<T>();
    T* mean = optional_ptr<T>(grad_avg, step.centered);
    T* buffer = optional_ptr<T>(momentum_buffer, step.momentum > 0);
    apply_range(update, begin, end, p, g, v, mean, buffer);
  });
}

void CpuBackend::adagrad_step(const TensorDesc& param, const TensorDesc& grad, const TensorDesc& sum,
                              const AdagradStep& step) {
  run_update(param, "adagrad_step", 3, [&](auto zero, std::int64_t begin, std::int64_t end) {
    using T = decltype(zero);
    const AdagradUpdate<T> update = AdagradUpdate<T>::from(step);
    T* p = param.ptr<T>();
    const T* g = grad.ptr<T>();
    T* total = sum.ptr<T>();
    apply_range(update, begin, end, p, g, total);
  });
}

}  // namespace tapegrad::kernels::cpu
