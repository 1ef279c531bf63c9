// A first tapegrad program: fit a small tanh network to noisy samples of sin(x) by full-batch
// gradient descent on the tape, then confirm its gradients against finite differences. Exits
// non-zero unless the loss fell and the gradient check passed.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/tapegrad.h>

using namespace tapegrad;

namespace {

constexpr std::int64_t kSamples = 64;
constexpr std::int64_t kHidden = 16;
constexpr int kSteps = 2000;
constexpr int kPrintEvery = 250;
constexpr double kLearningRate = 0.05;  // at 0.1 the steps overshoot and the loss spikes

// The model: y = tanh(x W1 + b1) W2 + b2, with params = {W1 [1,16], b1 [16], W2 [16,1], b2 [1]}.
Tensor predict(const std::vector<Tensor>& params, const Tensor& x) {
  const Tensor hidden = tanh(matmul(x, params[0]) + params[1]);  // [64, 16]
  return matmul(hidden, params[2]) + params[3];                  // [64, 1]
}

Tensor mse_loss(const std::vector<Tensor>& params, const Tensor& x, const Tensor& y) {
  return mean(pow(predict(params, x) - y, 2));
}

}  // namespace

int main() {
  // Everything is float64 so that gradcheck, which needs float64 finite differences, can check
  // the very model that was trained.
  Generator generator(42);
  const TensorOptions f64(kFloat64);

  // Data: 64 points on [-3, 3] and noisy targets sin(x) + 0.05 N(0, 1).
  const Tensor x = linspace(-3, 3, kSamples, f64).reshape({kSamples, 1});
  const Tensor y = sin(x) + 0.05 * randn({kSamples, 1}, generator, f64);

  // Parameters: leaves that require grad, scaled like PyTorch's default (1/sqrt(fan_in)).
  std::vector<Tensor> params = {
      randn({1, kHidden}, generator, f64).requires_grad_(),
      zeros({kHidden}, f64).requires_grad_(),
      (randn({kHidden, 1}, generator, f64) / std::sqrt(double(kHidden))).requires_grad_(),
      zeros({1}, f64).requires_grad_(),
  };

  double first_loss = 0, last_loss = 0;
  for (int step = 0; step <= kSteps; ++step) {
    const Tensor loss = mse_loss(params, x, y);  // forward: records the tape
    last_loss = loss.item();
    if (step == 0) first_loss = last_loss;
    if (step % kPrintEvery == 0) fmt::print("step {:5d}  loss {:.6f}\n", step, last_loss);
    if (step == kSteps) break;

    loss.backward();  // reverse pass: fills p.grad() for every parameter
    NoGradGuard no_grad;  // the update is not part of the model, so it is not recorded
    for (Tensor& p : params) {
      p.sub_(p.grad(), kLearningRate);
      p.grad().zero_();  // gradients accumulate across backward() calls unless cleared
    }
  }
  const bool loss_fell = last_loss < 0.5 * first_loss;
  fmt::print("loss went from {:.6f} to {:.6f}\n", first_loss, last_loss);

  // Gradient check: d loss / d params by reverse mode against central finite differences.
  const GradcheckReport report =
      gradcheck([&](const std::vector<Tensor>& p) { return mse_loss(p, x, y); }, params);
  std::size_t passed = 0;
  double max_abs_error = 0;
  for (const GradcheckInputReport& input : report.inputs) {
    passed += input.ok ? 1 : 0;
    max_abs_error = std::max(max_abs_error, input.max_abs_error);
  }
  fmt::print("{}", report);
  fmt::print("gradcheck: {}/{} parameters ok (max abs error {:.1e})\n", passed, report.inputs.size(), max_abs_error);

  if (!loss_fell) fmt::print(stderr, "quickstart: the loss did not fall by half\n");
  return loss_fell && report.ok() ? 0 : 1;
}
