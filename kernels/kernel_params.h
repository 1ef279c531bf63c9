// Plain parameter structs the backend interface passes to kernels: free of library headers, so
// the CUDA kernels take them as they are.
#pragma once

#include <cstdint>

namespace tapegrad::kernels {

// What addcmul adds to its output: value * a * b, or value * a / b.
enum class AddedTerm : std::uint8_t { Product, Quotient };
// Which extreme reduce_extreme takes along its dim.
enum class Extreme : std::uint8_t { Max, Min };
// What softmax writes: the probabilities, or their logarithms (computed stably, not log(softmax)).
enum class SoftmaxOutput : std::uint8_t { Probabilities, LogProbabilities };

// A 2-D sliding window over images [N, C, H, W] (convolution or pooling): window size, step,
// implicit border on each side, spacing of the window's taps, and the resulting output size.
struct Window2d {
  std::int64_t batch = 0, channels = 0, height = 0, width = 0;
  std::int64_t kernel_h = 1, kernel_w = 1;
  std::int64_t stride_h = 1, stride_w = 1;
  std::int64_t pad_h = 0, pad_w = 0;
  std::int64_t dilation_h = 1, dilation_w = 1;
  std::int64_t out_h = 0, out_w = 0;
};

// The scalars of one Adam / AdamW step (torch.optim.Adam's single-tensor arithmetic).
struct AdamStep {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool decoupled_weight_decay = false;  // AdamW: param *= 1 - lr * weight_decay first
  bool amsgrad = false;                 // divide by the running maximum of exp_avg_sq
  double bias_correction1 = 1, bias_correction2 = 1;  // 1 - beta^step
};

// One SGD step (torch.optim.SGD): coupled weight decay, then momentum with dampening (the
// buffer starts as the first gradient), optionally Nesterov.
struct SgdStep {
  double lr = 0, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false;
  bool first_step = false;  // the momentum buffer holds nothing yet
};

// One RMSprop step (torch.optim.RMSprop): square average, optionally centered by the gradient
// average, optional momentum.
struct RmspropStep {
  double lr = 0, alpha = 0.99, eps = 1e-8, weight_decay = 0, momentum = 0;
  bool centered = false;
};

// One Adagrad step (torch.optim.Adagrad) at the already decayed learning rate.
struct AdagradStep {
  double lr = 0, eps = 1e-10, weight_decay = 0;
};

}  // namespace tapegrad::kernels
