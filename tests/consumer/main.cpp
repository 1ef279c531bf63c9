// The README's example, compiled against an installed tapegrad: fits a line by gradient descent
// on the tape, then checks a gradient against finite differences. Exits non-zero on failure.
#include <tapegrad/tapegrad.h>

using namespace tapegrad;

int main() {
  manual_seed(0);
  Tensor x = randn({64, 3});
  Tensor y = matmul(x, tensor({1.5, -2.0, 0.5}, Shape{3, 1})) + 0.3;  // the line to recover

  Tensor w = zeros({3, 1}, TensorOptions().with_requires_grad());
  Tensor b = zeros({1}, TensorOptions().with_requires_grad());
  for (int step = 0; step < 200; ++step) {
    Tensor loss = mean(pow(matmul(x, w) + b - y, 2));
    loss.backward();  // fills w.grad() and b.grad()
    NoGradGuard no_grad;  // the update itself is not part of the model
    w.sub_(w.grad(), 0.1);
    b.sub_(b.grad(), 0.1);
    w.set_grad({});
    b.set_grad({});
  }
  fmt::print("w = {}\nb = {}\n", w, b);

  // Reverse mode against central differences, in float64.
  Tensor a = randn({2, 3}, kFloat64).requires_grad_();
  auto f = [](const std::vector<Tensor>& in) { return tanh(matmul(in[0], in[0].t())); };
  GradcheckReport report = gradcheck(f, {a});
  fmt::print("d tanh(a a^T) / da: {}\n", report);
  if (!report.ok()) return 1;

  // CUDA where the installed package has its module, a runtime and a GPU; otherwise the reason.
  if (cuda::is_available())
    fmt::print("CUDA: {} device(s)\n", cuda::device_count());
  else
    fmt::print("CUDA not available: {}\n", cuda::unavailable_reason());
  return 0;
}
