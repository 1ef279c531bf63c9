// Fused optimizer updates: one pass over a parameter and its state instead of the several
// in-place passes the same update takes as separate tensor ops. One loop serves every rule of
// kernels/optim_updates.h.
#include <variant>

#include <tapegrad/kernels/cpu/cpu_backend.h>
#include <tapegrad/kernels/cpu/parallel.h>
#include <tapegrad/kernels/cpu/split_choice.h>
#include <tapegrad/kernels/optim_updates.h>
#include <tapegrad/kernels/optimizer_step_args.h>

namespace tapegrad::kernels::cpu {
namespace {

// The element loop, kept out of line so that it sees only values of its own: inlined into a
// kernel, the stores into the parameter kept the compiler from hoisting the update's fields and
// flags out of the loop, and the serial path ran ten times slower than the parallel one.
template <class Update, class T>
[[gnu::noinline]] void apply_range(const Update update, std::int64_t begin, std::int64_t end, T* param, const T* grad,
                                   StateBuffers<T> state) {
  for (std::int64_t i = begin; i < end; ++i) update.apply(param, grad, state, i);
}

// One step of `Step`'s rule over the parameter's elements, split across threads when large, and
// as measured when of a middle size (kernels/cpu/split_choice.h): a parallel region costs as much
// as a few thousand elements of a small update, so the work is weighed by the arrays each
// element streams.
template <class T, class Step>
void run_update(const Step& step, const TensorDesc& param, const TensorDesc& grad, std::span<const TensorDesc> state) {
  const auto update = Step::template Update<T>::from(step);
  T* p = param.ptr<T>();
  const T* g = grad.ptr<T>();
  const StateBuffers<T> buffers = state_buffers<T>(state);
  const auto range = [&](std::int64_t begin, std::int64_t end) { apply_range(update, begin, end, p, g, buffers); };
  const std::int64_t n = param.numel(), work = n * step.streamed_arrays();
  const auto run = [&](bool split) {
    if (split)
      parallel_for(n, range);
    else
      range(0, n);
  };
  if (worth_measuring(work))
    run_timed_choice({WorkSite::Kind::Update, {n, step.streamed_arrays(), 0, 0}}, run);
  else
    run(worth_parallel(work));
}

}  // namespace

void CpuBackend::optimizer_step(const OptimizerStep& step, const TensorDesc& param, const TensorDesc& grad,
                                std::span<const TensorDesc> state) {
  check_optimizer_step(param, state);
  std::visit(
      [&](const auto& rule) {
        if (param.dtype == DType::Float32)
          run_update<float>(rule, param, grad, state);
        else
          run_update<double>(rule, param, grad, state);
      },
      step);
}

}  // namespace tapegrad::kernels::cpu
