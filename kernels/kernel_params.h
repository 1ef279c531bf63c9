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
// The order argsort puts each slice in.
enum class SortOrder : std::uint8_t { Ascending, Descending };

// A 2-D sliding window over images [N, C, H, W] (convolution or pooling): window size, step,
// implicit border on each side, spacing of the window's taps, and the resulting output size.
// A grouped convolution splits the C channels (and the output channels) into `groups` equal
// groups, each convolved with its own slice of the weight [C_out, C / groups, kH, kW].
struct Window2d {
  std::int64_t batch = 0, channels = 0, height = 0, width = 0;
  std::int64_t groups = 1;
  std::int64_t kernel_h = 1, kernel_w = 1;
  std::int64_t stride_h = 1, stride_w = 1;
  std::int64_t pad_h = 0, pad_w = 0;
  std::int64_t dilation_h = 1, dilation_w = 1;
  std::int64_t out_h = 0, out_w = 0;
};

}  // namespace tapegrad::kernels
