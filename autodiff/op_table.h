// The op table: what tapegrad knows about each public differentiable op, in one place, in the
// spirit of PyTorch's OpInfo. A row names the op and its arity, the dtypes it accepts, which
// inputs get a gradient, where its inputs are sampled (away from kinks and poles), sample calls
// over broadcast, empty, 0-dim and non-contiguous shapes, each with a float64 reference computed
// by plain loops, the calls it must refuse, and whether it has second derivatives.
//
// tapegrad's own test suite walks the table on every device, the robustness fuzzer draws its
// calls from it, and examples/gradcheck prints it; a user checking a build can do the same.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tapegrad/autodiff/gradcheck.h>
#include <tapegrad/autodiff/tensor.h>

namespace tapegrad {

// The dtypes an op takes: floating only (int64 inputs are refused with an error), int64 too
// (an int64 result), or int64 with a float32 result (true division and math functions, as torch).
enum class OpDTypes { Floating, FloatingAndInt64, Int64ToFloat32 };

// Where a row's floating inputs are drawn: uniform in [low, high), at least `margin` away from
// every kink (abs and relu at 0, clamp's bounds), so finite differences stay on one side.
struct OpDomain {
  double low = -1;
  double high = 1;
  std::vector<double> kinks;
  double margin = 0.1;

  static OpDomain between(double low, double high) {
    OpDomain domain;
    domain.low = low;
    domain.high = high;
    return domain;
  }
  static OpDomain avoiding(std::vector<double> kinks) {
    OpDomain domain;
    domain.kinks = std::move(kinks);
    return domain;
  }
};

// One call of the op. Inputs are float64 CPU tensors (int64 for indices); those that require
// grad are the ones gradcheck differentiates. `call` applies the op to the inputs (moved to any
// device); `reference` computes the same values in double precision on the CPU, with plain
// loops that share no code with the op.
struct OpSample {
  std::string detail;  // the inputs' shapes and the other arguments, as gradcheck prints them
  std::vector<Tensor> inputs;
  GradcheckFunction call;
  GradcheckFunction reference;
};

// A call the op must refuse with a tapegrad::Error whose message holds every one of `mentions`.
struct OpErrorSample {
  std::string detail;
  std::vector<Tensor> inputs;
  GradcheckFunction call;
  std::vector<std::string> mentions;
};

struct OpInfo {
  std::string name;  // the function of autodiff/ops.h
  int arity = 1;     // tensor arguments
  OpDTypes dtypes = OpDTypes::Floating;
  std::vector<int> differentiable_inputs;  // positions among the tensor arguments
  OpDomain domain;
  bool second_order = true;    // gradgradcheck applies
  bool strided_inputs = true;  // takes non-contiguous inputs (view does not)
  // Floating inputs of mixed dtypes: promoted as torch (float32 with float64 computes in float64,
  // each gradient in its input's dtype), or refused with an error naming both.
  bool promotes_dtypes = false;
  GradcheckOptions tolerances;
  std::vector<OpSample> samples;
  std::vector<OpErrorSample> errors;
};

// Every row, built once (from a fixed seed, so every reader sees the same inputs), sorted by name.
const std::vector<OpInfo>& op_table();
// The row named `name`, or nullptr.
const OpInfo* find_op(std::string_view name);
// The public ops of autodiff/ops.h that are deliberately not differentiable (comparisons, sign,
// argmax/argmin); factories and random draws are not listed either.
const std::vector<std::string>& non_differentiable_ops();

}  // namespace tapegrad
