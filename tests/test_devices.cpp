// The op families, layers and optimizers run once per device, with the CPU backend as the
// reference, on shapes larger than the op table's samples (tests/test_op_table.cpp walks every
// op on every device): inputs are drawn on the CPU and moved, results come back with .cpu(), and
// values and gradients must agree. Each op case also checks the device's own gradients against central
// finite differences in float64, so the CPU instantiation tests something too. Further: bitwise
// determinism of the reductions and scatters, random draws equal across devices, and the errors
// for mixed devices and bad indices. The CUDA instantiation skips, saying why, without a GPU.
#include <array>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "test_util.h"

namespace tapegrad {

// Parameters print as "cpu" / "cuda:0" in gtest's messages instead of raw bytes; found by ADL,
// so it lives in Device's namespace.
void PrintTo(Device device, std::ostream* os) { *os << device.str(); }

namespace {

using namespace testing;  // the shared test vocabulary of test_util.h

// A device value passes when |device - cpu| <= atol + rtol * |cpu|.
struct Tolerance {
  double rtol;
  double atol;
};
// float32 kernels that differ from the CPU's only in libm's last bits or in summation order.
constexpr Tolerance kFloat32Tolerance{1e-5, 1e-5};
// Matrix products (matmul, linear, conv2d through im2col): cuBLAS splits and orders the inner
// sums differently from the CPU's BLAS, so float32 results drift further than elementwise ones.
constexpr Tolerance kProductTolerance{1e-4, 1e-4};
constexpr Tolerance kFloat64Tolerance{1e-12, 1e-12};
// Box-Muller's log, sqrt and cos come from each device's libm, and a float32 result of a double
// computation can round to the neighbouring float.
constexpr Tolerance kNormalDrawTolerance{1e-6, 1e-6};

// actual (from the device) agrees with expected (from the CPU): integer tensors exactly, floating
// ones within `tolerance`.
void expect_matches(const Tensor& actual, const Tensor& expected, Tolerance tolerance, const std::string& what) {
  ASSERT_EQ(actual.dtype(), expected.dtype()) << what;
  ASSERT_EQ(shape_of(actual), shape_of(expected)) << what;
  if (!actual.is_floating_point()) {
    EXPECT_EQ(actual.to_vector<std::int64_t>(), expected.to_vector<std::int64_t>()) << what;
    return;
  }
  const std::vector<double> a = actual.to_vector<double>(), e = expected.to_vector<double>();
  for (std::size_t i = 0; i < a.size(); ++i)
    EXPECT_LE(std::abs(a[i] - e[i]), tolerance.atol + tolerance.rtol * std::abs(e[i]))
        << what << ", element " << i << ": " << a[i] << " on the device, " << e[i] << " on the CPU";
}

// The same bytes: a tolerance would hide a summation order that changes from run to run.
void expect_bitwise_equal(const Tensor& a, const Tensor& b, const std::string& what) {
  const Tensor x = a.cpu().contiguous(), y = b.cpu().contiguous();
  ASSERT_EQ(x.dtype(), y.dtype()) << what;
  ASSERT_EQ(shape_of(x), shape_of(y)) << what;
  const std::size_t bytes = static_cast<std::size_t>(x.numel()) * dtype_size(x.dtype());
  EXPECT_EQ(std::memcmp(x.desc().data, y.desc().data, bytes), 0) << what;
}

Tensor indices(const std::vector<std::int64_t>& values, std::optional<Shape> shape = std::nullopt) {
  return from_vector(values, shape);
}

// Small integers as float64, no gradient: inputs full of ties, for comparisons and tie-breaking.
Tensor small_integers(const Shape& shape, std::int64_t low, std::int64_t high, std::uint64_t seed) {
  Generator generator(seed);
  return randint(low, high, shape, generator).to(kFloat64);
}

// "3x2": a window size, stride, padding or dilation along H and W.
std::string window_str(const std::array<std::int64_t, 2>& hw) { return fmt::format("{}x{}", hw[0], hw[1]); }

Conv2dParams conv_params(std::array<std::int64_t, 2> stride, std::array<std::int64_t, 2> padding,
                         std::array<std::int64_t, 2> dilation) {
  Conv2dParams p;
  p.stride = stride;
  p.padding = padding;
  p.dilation = dilation;
  return p;
}

class DeviceTest : public ::testing::TestWithParam<Device> {
 protected:
  void SetUp() override {
    if (device().is_cuda() && !cuda::is_available())
      GTEST_SKIP() << "no usable CUDA device (tapegrad::cuda::is_available() is false: built without CUDA, or no GPU "
                      "on this machine); CUDA tests skipped";
  }

  Device device() const { return GetParam(); }
  TensorOptions options(DType dtype = kFloat32) const { return TensorOptions(dtype).with_device(device()); }

  // A new tensor on this device with x's values, sharing no memory with x: on the CPU
  // instantiation x.to(device()) alone would return x itself.
  Tensor fresh_copy(const Tensor& x) const { return x.detach().clone().to(device()); }

  // fn on the device against fn on the CPU, in float32 and float64: the value, and the gradient
  // of a random-weighted sum of it for every input that requires grad. Floating inputs are
  // converted to each dtype on the CPU first, so both sides start from the same values.
  void expect_matches_cpu(const GradcheckFunction& fn, const std::vector<Tensor>& inputs,
                          Tolerance float32 = kFloat32Tolerance) const {
    for (const DType dtype : {kFloat32, kFloat64}) {
      SCOPED_TRACE(fmt::format("{}", dtype));
      const Tolerance tolerance = dtype == kFloat32 ? float32 : kFloat64Tolerance;
      std::vector<Tensor> host, moved, host_differentiable, moved_differentiable;
      for (const Tensor& x : inputs) {
        Tensor h = x.is_floating_point() ? x.detach().to(dtype) : x.detach();
        Tensor d = h.detach().to(device());
        if (x.requires_grad()) {
          host_differentiable.push_back(h.requires_grad_());
          moved_differentiable.push_back(d.requires_grad_());
        }
        host.push_back(h);
        moved.push_back(d);
      }
      const Tensor expected = fn(host), actual = fn(moved);
      ASSERT_EQ(actual.device(), device());
      expect_matches(actual, expected, tolerance, "value");
      if (!expected.requires_grad()) continue;
      Generator generator(99);
      const Tensor weights = uniform(expected.shape(), 0.5, 1.5, generator, dtype);
      const std::vector<Tensor> expected_grads = grad({expected}, host_differentiable, {weights});
      const std::vector<Tensor> actual_grads = grad({actual}, moved_differentiable, {weights.to(device())});
      for (std::size_t i = 0; i < actual_grads.size(); ++i) {
        ASSERT_EQ(actual_grads[i].device(), device());
        expect_matches(actual_grads[i], expected_grads[i], tolerance, fmt::format("gradient of input {}", i));
      }
    }
  }

  // gradcheck on the device: float64 copies of the inputs live there, and the finite differences
  // perturb their device memory.
  void expect_finite_differences(const GradcheckFunction& fn, const std::vector<Tensor>& inputs) const {
    std::vector<Tensor> moved;
    for (const Tensor& x : inputs) {
      Tensor d = fresh_copy(x.is_floating_point() ? x.detach().to(kFloat64) : x.detach());
      if (x.requires_grad()) d.requires_grad_();
      moved.push_back(d);
    }
    if (!fn(moved).requires_grad()) return;  // comparisons, indices: nothing to differentiate
    expect_gradcheck(fn, moved);
  }

  void check_op(const GradcheckFunction& fn, const std::vector<Tensor>& inputs,
                Tolerance float32 = kFloat32Tolerance) const {
    expect_matches_cpu(fn, inputs, float32);
    expect_finite_differences(fn, inputs);
  }

  // The output and the input gradients of a random-weighted sum of fn(inputs), computed afresh
  // on this device and brought back to the CPU.
  std::vector<Tensor> forward_backward(const GradcheckFunction& fn, const std::vector<Tensor>& inputs) const {
    std::vector<Tensor> moved, differentiable;
    for (const Tensor& x : inputs) {
      Tensor d = x.detach().to(device());
      if (x.requires_grad()) differentiable.push_back(d.requires_grad_());
      moved.push_back(d);
    }
    const Tensor out = fn(moved);
    Generator generator(11);
    const Tensor weights = uniform(out.shape(), 0.5, 1.5, generator, options(out.dtype()));
    std::vector<Tensor> results{out.cpu()};
    for (const Tensor& g : grad({out}, differentiable, {weights})) results.push_back(g.cpu());
    return results;
  }
};

using UnaryFunction = std::function<Tensor(const Tensor&)>;
using BinaryFunction = std::function<Tensor(const Tensor&, const Tensor&)>;

GradcheckFunction on_first(UnaryFunction op) {
  return [op = std::move(op)](const std::vector<Tensor>& in) { return op(in[0]); };
}
GradcheckFunction on_first_two(BinaryFunction op) {
  return [op = std::move(op)](const std::vector<Tensor>& in) { return op(in[0], in[1]); };
}

// ---- elementwise ----

TEST_P(DeviceTest, ComparisonsAndWhere) {
  // Values in {-1, 0, 1}: every comparison meets ties.
  const Tensor a = small_integers({3, 1, 4}, -1, 2, 30), b = small_integers({2, 4}, -1, 2, 31);
  const std::vector<std::pair<const char*, BinaryFunction>> comparisons = {
      {"eq", [](const Tensor& x, const Tensor& y) { return eq(x, y); }},
      {"ne", [](const Tensor& x, const Tensor& y) { return ne(x, y); }},
      {"lt", [](const Tensor& x, const Tensor& y) { return lt(x, y); }},
      {"le", [](const Tensor& x, const Tensor& y) { return le(x, y); }},
      {"gt", [](const Tensor& x, const Tensor& y) { return gt(x, y); }},
      {"ge", [](const Tensor& x, const Tensor& y) { return ge(x, y); }},
      {"gt scalar", [](const Tensor& x, const Tensor&) { return gt(x, 0.0); }},
      {"sign", [](const Tensor& x, const Tensor&) { return sign(x); }},
  };
  for (const auto& [name, op] : comparisons) {
    SCOPED_TRACE(name);
    check_op(on_first_two(op), {a, b});
  }
  SCOPED_TRACE("where");
  const auto where_positive = [](const std::vector<Tensor>& in) { return where(gt(in[0], 0.0), in[1], in[2]); };
  check_op(where_positive, {input({3, 1, 4}, 32).detach(), input({2, 4}, 33), input({3, 2, 1}, 34)});
}

// ---- reductions ----

TEST_P(DeviceTest, SumAndMeanOverDims) {
  const Tensor x = input({2, 3, 4}, 40);
  check_op(on_first([](const Tensor& t) { return sum(t); }), {x});
  check_op(on_first([](const Tensor& t) { return mean(t); }), {x});
  const std::vector<Dims> dim_lists = {{}, {0}, {1}, {2}, {0, 2}, {-1}, {0, 1, 2}};
  for (const Dims& dims : dim_lists)
    for (const bool keepdim : {false, true}) {
      SCOPED_TRACE(fmt::format("dims {} keepdim {}", dims, keepdim));
      check_op(on_first([dims, keepdim](const Tensor& t) { return sum(t, dims, keepdim); }), {x});
      check_op(on_first([dims, keepdim](const Tensor& t) { return mean(t, dims, keepdim); }), {x});
    }
  {
    SCOPED_TRACE("sum_to");
    check_op(on_first([](const Tensor& t) { return sum_to(t, {3, 1}); }), {x});
  }
  SCOPED_TRACE("over an empty dim");
  { const Tensor stale = full({1, 3}, 7.0, options()); }  // leaves non-zero memory in the cache
  const Tensor empty = zeros({0, 3}, options());
  EXPECT_EQ(sum(empty, {0}).cpu().to_vector<float>(), std::vector<float>(3, 0.0f));
  EXPECT_EQ(sum(empty).item(), 0.0);
}

TEST_P(DeviceTest, MaxMinAndArgmaxAlongADim) {
  const Tensor x = input({3, 4, 5}, 41);  // distinct values: the gradient has one home per slice
  for (const std::int64_t dim : {0, 1, 2, -1})
    for (const bool keepdim : {false, true}) {
      SCOPED_TRACE(fmt::format("dim {} keepdim {}", dim, keepdim));
      check_op(on_first([=](const Tensor& t) { return max(t, dim, keepdim).values; }), {x});
      check_op(on_first([=](const Tensor& t) { return min(t, dim, keepdim).values; }), {x});
      check_op(on_first([=](const Tensor& t) { return max(t, dim, keepdim).indices; }), {x});
      check_op(on_first([=](const Tensor& t) { return min(t, dim, keepdim).indices; }), {x});
      check_op(on_first([=](const Tensor& t) { return argmax(t, dim, keepdim); }), {x});
      check_op(on_first([=](const Tensor& t) { return argmin(t, dim, keepdim); }), {x});
    }
  SCOPED_TRACE("over all elements");
  check_op(on_first([](const Tensor& t) { return max(t); }), {x});
  check_op(on_first([](const Tensor& t) { return min(t); }), {x});
  check_op(on_first([](const Tensor& t) { return argmax(t); }), {x});
  check_op(on_first([](const Tensor& t) { return argmin(t); }), {x});
}

TEST_P(DeviceTest, MaxBreaksTiesTowardsTheFirstIndexLikeTheCpu) {
  // Not differentiable at ties, so no finite differences: the values, indices and the routing of
  // the gradient to the first maximum must match the CPU's.
  Tensor x = small_integers({4, 6}, 0, 3, 42);
  x.requires_grad_();
  for (const std::int64_t dim : {0, 1}) {
    SCOPED_TRACE(fmt::format("dim {}", dim));
    expect_matches_cpu(on_first([dim](const Tensor& t) { return max(t, dim).values; }), {x});
    expect_matches_cpu(on_first([dim](const Tensor& t) { return max(t, dim).indices; }), {x});
    expect_matches_cpu(on_first([dim](const Tensor& t) { return min(t, dim).indices; }), {x});
  }
  expect_matches_cpu(on_first([](const Tensor& t) { return max(t); }), {x});
  expect_matches_cpu(on_first([](const Tensor& t) { return argmax(t); }), {x});
}

TEST_P(DeviceTest, LogsumexpSoftmaxAndLogSoftmax) {
  const Tensor x = input({3, 4, 5}, 43, -3, 3);
  for (const Dims& dims : {Dims{1}, Dims{0, 2}, Dims{-1}})
    for (const bool keepdim : {false, true}) {
      SCOPED_TRACE(fmt::format("logsumexp dims {} keepdim {}", dims, keepdim));
      check_op(on_first([dims, keepdim](const Tensor& t) { return logsumexp(t, dims, keepdim); }), {x});
    }
  for (const std::int64_t dim : {0, 1, -1}) {
    SCOPED_TRACE(fmt::format("softmax dim {}", dim));
    check_op(on_first([dim](const Tensor& t) { return softmax(t, dim); }), {x});
    check_op(on_first([dim](const Tensor& t) { return log_softmax(t, dim); }), {x});
  }
  // Logits far beyond exp's float32 range: both devices must subtract the maximum first.
  SCOPED_TRACE("large logits");
  const Tensor large = input({4, 6}, 44, -200, 200);
  check_op(on_first([](const Tensor& t) { return log_softmax(t, 1); }), {large});
  check_op(on_first([](const Tensor& t) { return logsumexp(t, {1}); }), {large});
}

// ---- losses ----

TEST_P(DeviceTest, ClassificationLosses) {
  const Tensor logits = input({5, 4}, 50, -2, 2), target = indices({0, 3, 1, 1, 2});
  for (const Reduction reduction : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    SCOPED_TRACE(fmt::format("reduction {}", static_cast<int>(reduction)));
    check_op([reduction](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1], reduction); },
             {logits, target});
    check_op([reduction](const std::vector<Tensor>& in) { return nll_loss(log_softmax(in[0], 1), in[1], reduction); },
             {logits, target});
  }
  SCOPED_TRACE("images of class scores");  // [N, C, H, W] scores, [N, H, W] targets
  const Tensor image_target = indices({0, 2, 1, 1, 2, 0, 0, 1}, Shape{2, 2, 2});
  check_op([](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1]); },
           {input({2, 3, 2, 2}, 51, -2, 2), image_target});
}

TEST_P(DeviceTest, RegressionLosses) {
  check_op([](const std::vector<Tensor>& in) { return mse_loss(in[0], in[1]); },
           {input({3, 4}, 52), input({3, 4}, 53)});
  check_op([](const std::vector<Tensor>& in) { return binary_cross_entropy_with_logits(in[0], in[1]); },
           {input({3, 4}, 54, -4, 4), input({3, 4}, 55, 0, 1).detach()});
}

// ---- linear algebra ----

TEST_P(DeviceTest, MatrixProducts) {
  struct Case {
    const char* name;
    BinaryFunction op;
    Shape a, b;
  };
  const std::vector<Case> cases = {
      {"2-D", [](const Tensor& a, const Tensor& b) { return matmul(a, b); }, {3, 4}, {4, 5}},
      {"batched", [](const Tensor& a, const Tensor& b) { return matmul(a, b); }, {2, 3, 4}, {2, 4, 5}},
      {"batched with a shared matrix", [](const Tensor& a, const Tensor& b) { return matmul(a, b); }, {2, 3, 4},
       {4, 5}},
      {"transposed right operand", [](const Tensor& a, const Tensor& b) { return matmul(a, b.t()); }, {3, 4}, {5, 4}},
      {"transposed left operand", [](const Tensor& a, const Tensor& b) { return matmul(a.t(), b); }, {4, 3}, {4, 5}},
      {"batched transposed operand",
       [](const Tensor& a, const Tensor& b) { return matmul(a.transpose(1, 2), b); }, {2, 4, 3}, {2, 4, 5}},
      {"column-sliced operand", [](const Tensor& a, const Tensor& b) { return matmul(a.slice(1, 0, 8, 2), b); },
       {3, 8}, {4, 5}},
      {"matrix-vector", [](const Tensor& a, const Tensor& b) { return matmul(a, b); }, {3, 4}, {4}},
      {"dot", [](const Tensor& a, const Tensor& b) { return dot(a, b); }, {6}, {6}},
      {"outer", [](const Tensor& a, const Tensor& b) { return outer(a, b); }, {3}, {4}},
      {"linear without bias", [](const Tensor& x, const Tensor& w) { return linear(x, w); }, {3, 4}, {5, 4}},
  };
  std::uint64_t seed = 60;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    check_op(on_first_two(c.op), {input(c.a, seed), input(c.b, seed + 1)}, kProductTolerance);
    seed += 2;
  }
  SCOPED_TRACE("linear with bias on a batch of sequences");
  check_op([](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); },
           {input({2, 3, 4}, 80), input({5, 4}, 81), input({5}, 82)}, kProductTolerance);
}

// ---- layer functions ----

TEST_P(DeviceTest, Conv2d) {
  struct Case {
    Shape input, weight;
    Conv2dParams params;
    bool bias;
  };
  const std::vector<Case> cases = {
      {{2, 2, 5, 6}, {3, 2, 3, 3}, conv_params({1, 1}, {0, 0}, {1, 1}), true},
      {{2, 2, 5, 6}, {3, 2, 3, 3}, conv_params({2, 2}, {1, 1}, {1, 1}), true},
      {{1, 2, 7, 6}, {2, 2, 2, 3}, conv_params({1, 2}, {2, 1}, {2, 1}), false},
      {{2, 3, 4, 4}, {2, 3, 1, 1}, conv_params({1, 1}, {0, 0}, {1, 1}), true},
  };
  std::uint64_t seed = 90;
  for (const Case& c : cases) {
    SCOPED_TRACE(fmt::format("input {} weight {} stride {} padding {} dilation {}", c.input, c.weight,
                             window_str(c.params.stride), window_str(c.params.padding), window_str(c.params.dilation)));
    const Conv2dParams p = c.params;
    std::vector<Tensor> inputs = {input(c.input, seed), input(c.weight, seed + 1)};
    if (c.bias) inputs.push_back(input({c.weight[0]}, seed + 2));
    seed += 3;
    check_op([p](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in.size() > 2 ? in[2] : Tensor{}, p); },
             inputs, kProductTolerance);
  }
  SCOPED_TRACE("transposed image");
  const Conv2dParams p = conv_params({1, 1}, {1, 1}, {1, 1});
  check_op([p](const std::vector<Tensor>& in) { return conv2d(in[0].transpose(2, 3), in[1], {}, p); },
           {input({1, 2, 6, 5}, 99), input({2, 2, 3, 3}, 100)}, kProductTolerance);
}

TEST_P(DeviceTest, MaxPool2d) {
  struct Case {
    Shape input;
    Pool2dParams params;
  };
  const std::vector<Case> cases = {
      {{2, 3, 7, 6}, Pool2dParams{{3, 3}, {2, 2}, {1, 1}}},  // overlapping windows over the padding
      {{2, 3, 6, 6}, Pool2dParams{{2, 2}, {0, 0}, {0, 0}}},  // stride defaults to the kernel
      {{1, 2, 5, 8}, Pool2dParams{{3, 2}, {1, 2}, {1, 0}}},
      {{3, 5, 5}, Pool2dParams{{2, 2}, {1, 1}, {0, 0}}},      // unbatched
  };
  std::uint64_t seed = 110;
  for (const Case& c : cases) {
    SCOPED_TRACE(fmt::format("input {} kernel {} stride {} padding {}", c.input, window_str(c.params.kernel),
                             window_str(c.params.stride), window_str(c.params.padding)));
    const Pool2dParams p = c.params;
    const Tensor x = input(c.input, seed++);
    check_op(on_first([p](const Tensor& t) { return max_pool2d(t, p); }), {x});
    expect_matches_cpu(on_first([p](const Tensor& t) { return max_pool2d_with_indices(t, p).indices; }), {x});
  }
  SCOPED_TRACE("ties go to the first maximum");
  Tensor ties = small_integers({1, 2, 6, 6}, 0, 2, 118);
  ties.requires_grad_();
  const Pool2dParams overlapping{{3, 3}, {2, 2}, {1, 1}};
  expect_matches_cpu(on_first([overlapping](const Tensor& t) { return max_pool2d(t, overlapping); }), {ties});
  expect_matches_cpu(
      on_first([overlapping](const Tensor& t) { return max_pool2d_with_indices(t, overlapping).indices; }), {ties});
}

TEST_P(DeviceTest, BatchNormFunction) {
  for (const Shape& shape : {Shape{6, 3}, Shape{4, 3, 5}, Shape{3, 3, 2, 2}}) {
    SCOPED_TRACE(fmt::format("input {}", shape));
    const Tensor x = input(shape, 120, -1, 3), weight = input({3}, 121, 0.5, 1.5), bias = input({3}, 122);
    {
      SCOPED_TRACE("training, batch statistics");
      check_op([](const std::vector<Tensor>& in) { return batch_norm(in[0], {}, {}, in[1], in[2], true); },
               {x, weight, bias});
      check_op([](const std::vector<Tensor>& in) { return batch_norm(in[0], {}, {}, {}, {}, true); }, {x});
    }
    SCOPED_TRACE("evaluation, running statistics");
    const Tensor running_mean = input({3}, 123).detach(), running_var = input({3}, 124, 0.5, 2).detach();
    check_op([](const std::vector<Tensor>& in) { return batch_norm(in[0], in[1], in[2], in[3], in[4], false); },
             {x, running_mean, running_var, weight, bias});
  }
}

TEST_P(DeviceTest, BatchNormTrainingUpdatesRunningStatisticsAlike) {
  for (const DType dtype : {kFloat32, kFloat64}) {
    SCOPED_TRACE(fmt::format("{}", dtype));
    const Tolerance tolerance = dtype == kFloat32 ? kFloat32Tolerance : kFloat64Tolerance;
    const Tensor host_mean = zeros({3}, dtype), host_var = ones({3}, dtype);
    const Tensor device_mean = zeros({3}, options(dtype)), device_var = ones({3}, options(dtype));
    for (std::uint64_t step = 0; step < 3; ++step) {
      const Tensor x = input({4, 3, 2, 2}, 130 + step, -1, 3).detach().to(dtype);
      const Tensor expected = batch_norm(x, host_mean, host_var, {}, {}, true, 0.2);
      const Tensor actual = batch_norm(x.to(device()), device_mean, device_var, {}, {}, true, 0.2);
      expect_matches(actual, expected, tolerance, "output");
    }
    EXPECT_EQ(device_mean.device(), device());
    expect_matches(device_mean, host_mean, tolerance, "running mean");
    expect_matches(device_var, host_var, tolerance, "running variance");
  }
}

// ---- indexing ----

// Repeated indices throughout: the adjoints then sum several contributions into one element.
TEST_P(DeviceTest, IndexSelect) {
  check_op([](const std::vector<Tensor>& in) { return index_select(in[0], 0, in[1]); },
           {input({4, 3}, 140), indices({3, 0, 3, 1, 0})});
  check_op([](const std::vector<Tensor>& in) { return index_select(in[0], 1, in[1]); },
           {input({2, 5, 3}, 141), indices({4, 4, 0})});
  check_op([](const std::vector<Tensor>& in) { return index_select(in[0].t(), 0, in[1]); },
           {input({3, 4}, 142), indices({1, 3, 1})});
}

TEST_P(DeviceTest, Gather) {
  check_op([](const std::vector<Tensor>& in) { return gather(in[0], 1, in[1]); },
           {input({3, 4}, 143), indices({0, 3, 3, 1, 0, 2, 2, 2, 1, 0, 3, 0, 1, 1, 0}, Shape{3, 5})});
  check_op([](const std::vector<Tensor>& in) { return gather(in[0], 0, in[1]); },
           {input({3, 4}, 144), indices({2, 0, 1, 2, 2, 2, 0, 0}, Shape{2, 4})});
}

TEST_P(DeviceTest, IndexAddAndScatterAdd) {
  check_op([](const std::vector<Tensor>& in) { return index_add_into_zeros(in[0], {4, 3}, 0, in[1]); },
           {input({5, 3}, 145), indices({1, 3, 1, 0, 1})});
  check_op([](const std::vector<Tensor>& in) { return scatter_add_into_zeros(in[0], {3, 5}, 1, in[1]); },
           {input({3, 4}, 146), indices({4, 4, 0, 4, 1, 1, 1, 2, 0, 3, 0, 0}, Shape{3, 4})});
}

// ---- views and copies ----

TEST_P(DeviceTest, NonContiguousViewsFedToOps) {
  struct Case {
    const char* name;
    GradcheckFunction fn;
    std::vector<Shape> shapes;
  };
  const std::vector<Case> cases = {
      {"exp of a transpose", [](const std::vector<Tensor>& in) { return exp(in[0].t()); }, {{3, 4}}},
      {"strided slice times an expand",
       [](const std::vector<Tensor>& in) { return mul(in[0].slice(1, 0, 6, 2), in[1].expand({3, 3})); },
       {{3, 6}, {1, 3}}},
      {"sum of a permutation", [](const std::vector<Tensor>& in) { return sum(in[0].permute({2, 0, 1}), {1}); },
       {{2, 3, 4}}},
      {"two strided operands", [](const std::vector<Tensor>& in) { return add(in[0].t(), in[1].slice(0, 0, 8, 2)); },
       {{3, 4}, {8, 3}}},
      {"select and narrow",
       [](const std::vector<Tensor>& in) { return mul(in[0].select(1, 2), in[1].narrow(0, 1, 2).squeeze(1)); },
       {{2, 3, 4}, {4, 1, 4}}},
      {"reshape of a transpose", [](const std::vector<Tensor>& in) { return tanh(in[0].t().reshape({2, -1})); },
       {{3, 4}}},
      {"flatten and unsqueeze", [](const std::vector<Tensor>& in) { return in[0].flatten().unsqueeze(0) * in[1]; },
       {{2, 3}, {2, 1}}},
      {"softmax over a strided dim", [](const std::vector<Tensor>& in) { return softmax(in[0].transpose(0, 2), 1); },
       {{2, 3, 4}}},
      {"cat of views", [](const std::vector<Tensor>& in) { return cat({in[0].t(), in[1].slice(1, 1, 4)}, 0); },
       {{3, 4}, {2, 4}}},
      {"stack of views", [](const std::vector<Tensor>& in) { return stack({in[0].t(), in[1].t()}, 1); },
       {{3, 4}, {3, 4}}},
      {"contiguous copy of a view", [](const std::vector<Tensor>& in) { return in[0].permute({1, 2, 0}).contiguous(); },
       {{2, 3, 4}}},
      {"clone of a view", [](const std::vector<Tensor>& in) { return in[0].slice(0, 1, 3).clone() * 2.0; }, {{3, 4}}},
  };
  std::uint64_t seed = 150;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<Tensor> inputs;
    for (const Shape& shape : c.shapes) inputs.push_back(input(shape, seed++));
    check_op(c.fn, inputs);
  }
}

// ---- in-place updates ----

TEST_P(DeviceTest, InPlaceUpdatesMatchTheCpu) {
  struct Case {
    const char* name;
    std::function<void(Tensor&, const Tensor&, const Tensor&)> update;  // target, a, b
  };
  const std::vector<Case> cases = {
      {"zero_", [](Tensor& t, const Tensor&, const Tensor&) { t.zero_(); }},
      {"fill_", [](Tensor& t, const Tensor&, const Tensor&) { t.fill_(-2.5); }},
      {"copy_", [](Tensor& t, const Tensor& a, const Tensor&) { t.copy_(a); }},
      {"add_ scaled", [](Tensor& t, const Tensor& a, const Tensor&) { t.add_(a, -0.75); }},
      {"add_ scalar", [](Tensor& t, const Tensor&, const Tensor&) { t.add_(1.25); }},
      {"sub_ scaled", [](Tensor& t, const Tensor& a, const Tensor&) { t.sub_(a, 2.0); }},
      {"mul_", [](Tensor& t, const Tensor& a, const Tensor&) { t.mul_(a); }},
      {"mul_ scalar", [](Tensor& t, const Tensor&, const Tensor&) { t.mul_(-3.0); }},
      {"div_", [](Tensor& t, const Tensor&, const Tensor& b) { t.div_(b); }},
      {"div_ scalar", [](Tensor& t, const Tensor&, const Tensor&) { t.div_(4.0); }},
      {"addcmul_", [](Tensor& t, const Tensor& a, const Tensor& b) { t.addcmul_(a, b, 0.5); }},
      {"addcdiv_", [](Tensor& t, const Tensor& a, const Tensor& b) { t.addcdiv_(a, b, -0.5); }},
      {"clamp_", [](Tensor& t, const Tensor&, const Tensor&) { t.clamp_(-0.3, 0.4); }},
  };
  // Targets contiguous and strided: the strided one is a transposed view, so the update must
  // write through it into its base. Operand a broadcasts along the first dim.
  for (const bool strided_target : {false, true}) {
    for (const Case& c : cases) {
      SCOPED_TRACE(fmt::format("{}{}", c.name, strided_target ? " into a transposed view" : ""));
      for (const DType dtype : {kFloat32, kFloat64}) {
        const Tensor base = input({4, 3}, 170, -1, 1).detach().to(dtype);
        const Tensor a = input({1, 3}, 171, -1, 1).detach().to(dtype);
        const Tensor b = input({4, 3}, 172, 0.5, 2).detach().to(dtype);
        Tensor expected = base.clone();
        const Tensor storage_owner = fresh_copy(strided_target ? base.t() : base);
        Tensor actual = strided_target ? storage_owner.t() : storage_owner;
        ASSERT_EQ(actual.is_contiguous(), !strided_target);
        c.update(expected, a, b);
        c.update(actual, a.to(device()), b.to(device()));
        ASSERT_EQ(actual.device(), device());
        const Tolerance tolerance = dtype == kFloat32 ? kFloat32Tolerance : kFloat64Tolerance;
        expect_matches(actual.cpu(), expected, tolerance, fmt::format("{} target", dtype));
        expect_matches(storage_owner.cpu(), strided_target ? expected.t() : expected, tolerance,
                       fmt::format("{} storage under the target", dtype));
      }
    }
  }
}

TEST_P(DeviceTest, FloatToUint8AndBack) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // uint8 saturates outside [0, 255], truncates inside and takes NaN to 0, on every device.
  const Tensor values = f64({-3.0, -0.5, 0.0, 0.7, 1.5, 127.99, 254.9, 255.0, 300.0, 1e10, nan});
  const std::vector<std::uint8_t> as_bytes = {0, 0, 0, 0, 1, 127, 254, 255, 255, 255, 0};
  for (const DType dtype : {kFloat32, kFloat64}) {
    SCOPED_TRACE(fmt::format("{} -> uint8 -> float32", dtype));
    const Tensor bytes = values.to(dtype).to(device()).to(kUInt8);
    EXPECT_EQ(bytes.device(), device());
    EXPECT_EQ(bytes.dtype(), kUInt8);
    EXPECT_EQ(bytes.to_vector<std::uint8_t>(), as_bytes);
    expect_matches(bytes.to(kFloat32), values.to(dtype).to(kUInt8).to(kFloat32), kFloat32Tolerance, "back to float");
    EXPECT_EQ(bytes.to(kFloat32).cpu().to_vector<float>(), std::vector<float>(as_bytes.begin(), as_bytes.end()));
  }
}

TEST_P(DeviceTest, IntegerConversions) {
  const Tensor finite = f64({-3.7, -0.5, 0.0, 2.9, 1e10});
  EXPECT_EQ(finite.to(device()).to(kInt64).to_vector<std::int64_t>(),
            (std::vector<std::int64_t>{-3, 0, 0, 2, 10000000000}));
  const Tensor big = indices({-7, 0, 1 << 20, 9007199254740993});  // 2^53 + 1: rounds in float64
  expect_matches(big.to(device()).to(kFloat64), big.to(kFloat64), kFloat64Tolerance, "int64 -> float64");
  expect_matches(big.to(device()).to(kFloat32), big.to(kFloat32), kFloat64Tolerance, "int64 -> float32");
}

TEST_P(DeviceTest, Uint8StorageOps) {
  const Tensor image = small_integers({2, 3, 4}, 0, 256, 160).to(kUInt8);
  const Tensor moved = image.to(device());
  expect_matches(moved.transpose(0, 2).contiguous(), image.transpose(0, 2).contiguous(), kFloat64Tolerance,
                 "uint8 transpose copy");
  expect_matches(moved.index_select(1, indices({2, 0}).to(device())), image.index_select(1, indices({2, 0})),
                 kFloat64Tolerance, "uint8 index_select");
  expect_matches(moved.to(kInt64), image.to(kInt64), kFloat64Tolerance, "uint8 -> int64");
}

TEST_P(DeviceTest, ConversionsAndMovesAreDifferentiable) {
  // A dtype conversion on the device passes the gradient back in the source dtype.
  const Tensor x = fresh_copy(input({2, 3}, 170).to(kFloat32)).requires_grad_();
  (x.to(kFloat64) * 3.0).sum().backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_EQ(x.grad().device(), device());
  EXPECT_EQ(x.grad().dtype(), kFloat32);
  EXPECT_EQ(x.grad().to_vector<float>(), std::vector<float>(6, 3.0f));
  // A move is recorded too: a CPU leaf used on the device gets its gradient on the CPU.
  const Tensor leaf_on_cpu = input({2, 3}, 171);
  const Tensor y = leaf_on_cpu.to(device());
  (y * y).sum().backward();
  ASSERT_TRUE(leaf_on_cpu.grad().defined());
  EXPECT_EQ(leaf_on_cpu.grad().device(), Device::cpu());
  expect_matches(leaf_on_cpu.grad(), 2.0 * leaf_on_cpu.detach(), kFloat64Tolerance, "gradient through .to(device)");
}

// ---- random draws ----

TEST_P(DeviceTest, SameSeedDrawsTheSameNumbersOnEveryDevice) {
  for (const DType dtype : {kFloat32, kFloat64}) {
    SCOPED_TRACE(fmt::format("{}", dtype));
    Generator on_cpu(1234), on_device(1234);
    for (int draw = 0; draw < 2; ++draw) {  // the second draw starts at the advanced offset
      const Tensor expected = uniform({7, 13}, -2, 3, on_cpu, dtype);
      const Tensor actual = uniform({7, 13}, -2, 3, on_device, options(dtype));
      EXPECT_EQ(actual.device(), device());
      expect_bitwise_equal(actual, expected, "uniform");
    }
    expect_matches(normal({7, 13}, 0.5, 2, on_device, options(dtype)), normal({7, 13}, 0.5, 2, on_cpu, dtype),
                   kNormalDrawTolerance, "normal");
    expect_bitwise_equal(randint(-5, 17, {40}, on_device, options(kInt64)), randint(-5, 17, {40}, on_cpu), "randint");
    expect_bitwise_equal(randperm(20, on_device, options(kInt64)), randperm(20, on_cpu), "randperm");
    expect_bitwise_equal(dropout(ones({6, 7}, options(dtype)), 0.3, true, on_device),
                         dropout(ones({6, 7}, dtype), 0.3, true, on_cpu), "dropout mask");
    EXPECT_EQ(on_device.offset(), on_cpu.offset());
  }
}

// ---- reading values back ----

TEST_P(DeviceTest, ValuesAreReadBackFromTheDevice) {
  const Tensor t = tensor({1.5, -2, 3.25, 4}, Shape{2, 2}, options());
  EXPECT_EQ(t.device(), device());
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1.5f, -2.0f, 3.25f, 4.0f}));
  EXPECT_EQ(t.to_vector<double>(), (std::vector<double>{1.5, -2.0, 3.25, 4.0}));
  EXPECT_EQ(t.t().to_vector<float>(), (std::vector<float>{1.5f, 3.25f, -2.0f, 4.0f}));  // a strided view
  EXPECT_EQ(t[1][0].item(), 3.25);  // a view at an offset
  EXPECT_EQ(sum(t).item(), 6.75);
  EXPECT_EQ(argmax(t).item<std::int64_t>(), 3);
  EXPECT_EQ(from_vector(std::vector<std::int64_t>{5, -9}, std::nullopt, options(kInt64))[1].item<std::int64_t>(), -9);
  EXPECT_EQ(full({3}, 200, options(kUInt8)).to_vector<std::uint8_t>(), (std::vector<std::uint8_t>(3, 200)));
  EXPECT_EQ(zeros_like(t).device(), device());
  EXPECT_EQ(ones_like(t).to_vector<float>(), std::vector<float>(4, 1.0f));
  expect_bitwise_equal(arange(-1, 2, 0.25, options(kFloat64)), arange(-1, 2, 0.25, kFloat64), "arange");
  expect_bitwise_equal(linspace(0, 1, 7, options()), linspace(0, 1, 7), "linspace");
  expect_bitwise_equal(eye(3, 4, options()), eye(3, 4), "eye");
  const std::string printed = t.str();
  if (device().is_cpu())
    EXPECT_EQ(printed.find("device="), std::string::npos) << printed;
  else
    EXPECT_NE(printed.find(device().str()), std::string::npos) << printed;
}

// ---- layers and optimizers ----

nn::Sequential small_cnn() {
  return nn::Sequential(nn::Conv2d(2, 4, 3, 1, 1), nn::BatchNorm2d(4), nn::ReLU(), nn::MaxPool2d(3, 2, 1),
                        nn::Flatten(), nn::Linear(4 * 3 * 3, 5));
}

TEST_P(DeviceTest, ModelMovedToTheDeviceMatchesTheCpu) {
  manual_seed(180);
  nn::Sequential on_cpu = small_cnn(), on_device = small_cnn();
  on_device.load_state_dict(on_cpu.state_dict());
  on_device.to(device());
  for (const auto& [name, tensor] : on_device.state_dict()) EXPECT_EQ(tensor.device(), device()) << name;

  Generator generator(181);
  const Tensor x = uniform({3, 2, 6, 6}, -1, 1, generator), target = indices({0, 4, 2});
  for (int step = 0; step < 2; ++step) {  // the second step sees updated running statistics
    SCOPED_TRACE(fmt::format("step {}", step));
    const Tensor expected = on_cpu(x), actual = on_device(x.to(device()));
    expect_matches(actual, expected, kProductTolerance, "output");
    cross_entropy(expected, target).backward();
    cross_entropy(actual, target.to(device())).backward();
  }
  const auto cpu_parameters = on_cpu.named_parameters();
  const auto device_parameters = on_device.named_parameters();
  ASSERT_EQ(device_parameters.size(), cpu_parameters.size());
  for (std::size_t i = 0; i < cpu_parameters.size(); ++i) {
    const Tensor gradient = device_parameters[i].second.grad();
    ASSERT_TRUE(gradient.defined()) << device_parameters[i].first;
    EXPECT_EQ(gradient.device(), device());
    expect_matches(gradient, cpu_parameters[i].second.grad(), kProductTolerance, device_parameters[i].first);
  }
  const auto cpu_buffers = on_cpu.named_buffers();
  const auto device_buffers = on_device.named_buffers();
  ASSERT_EQ(device_buffers.size(), cpu_buffers.size());
  for (std::size_t i = 0; i < cpu_buffers.size(); ++i)
    expect_matches(device_buffers[i].second, cpu_buffers[i].second, kFloat32Tolerance, device_buffers[i].first);

  on_cpu.eval();
  on_device.eval();
  expect_matches(on_device(x.to(device())), on_cpu(x), kProductTolerance, "output in evaluation");
}

using OptimizerFactory = std::function<std::unique_ptr<optim::Optimizer>(const std::vector<Tensor>&)>;

// Makes an O with `options` over the parameters it is given: one for the CPU, one for the device.
template <class O, class Options>
OptimizerFactory optimizer(Options options) {
  return [options](const std::vector<Tensor>& params) { return std::make_unique<O>(params, options); };
}

TEST_P(DeviceTest, OptimizersTakeTheSameStepsAsOnTheCpu) {
  const std::vector<std::pair<const char*, OptimizerFactory>> optimizers = {
      {"SGD with momentum", optimizer<optim::SGD>(optim::SGDOptions{.lr = 0.1, .momentum = 0.9, .dampening = 0.1})},
      {"SGD with Nesterov momentum and weight decay",
       optimizer<optim::SGD>(optim::SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true})},
      {"SGD with L1", optimizer<optim::SGD>(optim::SGDOptions{.lr = 0.1, .l1 = 0.05})},
      {"Adam", optimizer<optim::Adam>(optim::AdamOptions{.lr = 0.01})},
      {"Adam with AMSGrad and weight decay",
       optimizer<optim::Adam>(optim::AdamOptions{.lr = 0.01, .weight_decay = 0.1, .amsgrad = true})},
      {"AdamW", optimizer<optim::AdamW>(optim::AdamWOptions{.lr = 0.01})},
      {"RMSprop", optimizer<optim::RMSprop>(optim::RMSpropOptions{.lr = 0.01})},
      {"RMSprop centered with momentum",
       optimizer<optim::RMSprop>(optim::RMSpropOptions{.lr = 0.01, .momentum = 0.9, .centered = true})},
      {"Adagrad with decays",
       optimizer<optim::Adagrad>(optim::AdagradOptions{.lr = 0.1, .lr_decay = 0.01, .weight_decay = 0.01})},
  };
  const std::vector<Tensor> initial = {input({3, 4}, 190).detach().to(kFloat32), input({5}, 191).detach().to(kFloat32)};
  for (const auto& [name, make] : optimizers) {
    SCOPED_TRACE(name);
    std::vector<Tensor> host, moved;
    for (const Tensor& p : initial) {
      host.push_back(p.clone().requires_grad_());
      moved.push_back(fresh_copy(p).requires_grad_());
    }
    const auto host_optimizer = make(host), device_optimizer = make(moved);
    for (std::uint64_t step = 0; step < 3; ++step) {
      for (std::size_t i = 0; i < host.size(); ++i) {
        const Tensor gradient = input(host[i].shape(), 200 + 10 * step + i, -2, 2).detach().to(kFloat32);
        host[i].set_grad(gradient);
        moved[i].set_grad(gradient.to(device()));
      }
      host_optimizer->step();
      device_optimizer->step();
    }
    for (std::size_t i = 0; i < host.size(); ++i) {
      EXPECT_EQ(moved[i].device(), device());
      expect_matches(moved[i], host[i], kFloat32Tolerance, fmt::format("parameter {}", i));
    }
  }
}

TEST_P(DeviceTest, OptimizerBuiltBeforeModuleToUpdatesTheMovedParameters) {
  manual_seed(210);
  nn::Linear on_cpu(4, 3), on_device(4, 3);
  on_device.load_state_dict(on_cpu.state_dict());
  optim::SGD host_sgd(on_cpu.parameters(), {.lr = 0.1, .momentum = 0.9});
  optim::SGD device_sgd(on_device.parameters(), {.lr = 0.1, .momentum = 0.9});
  on_device.to(device());
  const Tensor x = input({5, 4}, 211).detach().to(kFloat32);
  for (int step = 0; step < 3; ++step) {
    host_sgd.zero_grad();
    device_sgd.zero_grad();
    on_cpu(x).pow(2.0).sum().backward();
    on_device(x.to(device())).pow(2.0).sum().backward();
    host_sgd.step();
    device_sgd.step();
  }
  EXPECT_EQ(on_device.weight.device(), device());
  expect_matches(on_device.weight, on_cpu.weight, kProductTolerance, "weight");
  expect_matches(on_device.bias, on_cpu.bias, kProductTolerance, "bias");
}

// ---- determinism ----

TEST_P(DeviceTest, GradientsAreBitwiseReproducible) {
  struct Case {
    const char* name;
    GradcheckFunction fn;
    std::vector<Tensor> inputs;
  };
  Generator generator(220);
  const auto leaf = [&](const Shape& shape) { return uniform(shape, -1, 1, generator).requires_grad_(); };
  std::vector<std::int64_t> repeated(600);
  for (std::size_t i = 0; i < repeated.size(); ++i) repeated[i] = static_cast<std::int64_t>(i * 7 % 13);
  const Pool2dParams overlapping{{3, 3}, {2, 2}, {1, 1}};
  const std::vector<Case> cases = {
      {"conv2d",
       [](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], conv_params({1, 1}, {1, 1}, {1, 1})); },
       {leaf({4, 8, 12, 12}), leaf({8, 8, 3, 3}), leaf({8})}},
      {"max_pool2d, overlapping windows",
       [overlapping](const std::vector<Tensor>& in) { return max_pool2d(in[0], overlapping); },
       {leaf({4, 8, 15, 15})}},
      {"sum over dims", [](const std::vector<Tensor>& in) { return sum(in[0], {0, 2}); }, {leaf({64, 33, 17})}},
      {"mean over all", [](const std::vector<Tensor>& in) { return mean(in[0]); }, {leaf({64, 33, 17})}},
      {"index_add, repeated indices",
       [](const std::vector<Tensor>& in) { return index_add_into_zeros(in[0], {13, 8}, 0, in[1]); },
       {leaf({600, 8}), indices(repeated)}},
      {"index_select backward, repeated indices",
       [](const std::vector<Tensor>& in) { return index_select(in[0], 0, in[1]); }, {leaf({13, 8}), indices(repeated)}},
      {"scatter_add, repeated indices",
       [](const std::vector<Tensor>& in) { return scatter_add_into_zeros(in[0], {13, 8}, 0, in[1]); },
       {leaf({600, 8}), indices(repeated).reshape({600, 1}).expand({600, 8}).contiguous()}},
      {"gather backward, repeated indices",
       [](const std::vector<Tensor>& in) { return gather(in[0], 0, in[1]); },
       {leaf({13, 8}), indices(repeated).reshape({600, 1}).expand({600, 8}).contiguous()}},
      {"cross_entropy", [](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1]); },
       {leaf({512, 10}), randint(0, 10, {512}, generator)}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::vector<Tensor> first = forward_backward(c.fn, c.inputs), second = forward_backward(c.fn, c.inputs);
    ASSERT_EQ(first.size(), second.size());
    expect_bitwise_equal(second[0], first[0], "output");
    for (std::size_t i = 1; i < first.size(); ++i)
      expect_bitwise_equal(second[i], first[i], fmt::format("gradient {}", i));
  }
}

// ---- errors ----

TEST_P(DeviceTest, MixingDevicesIsAnErrorNamingBoth) {
  if (device().is_cpu()) GTEST_SKIP() << "mixing devices needs a second device; the CPU instantiation has only one";
  const std::string name = device().str();
  const Tensor host = ones({2, 3}), moved = ones({2, 3}, options());
  expect_error([&] { add(host, moved); }, {"cpu", name});
  expect_error([&] { mul(moved, host); }, {"cpu", name});
  expect_error([&] { matmul(host, moved.t()); }, {"cpu", name});
  expect_error([&] { linear(moved, host); }, {"cpu", name});
  expect_error([&] { where(gt(host, 0.0), moved, moved); }, {"cpu", name});
  expect_error([&] { conv2d(ones({1, 1, 3, 3}), ones({1, 1, 2, 2}, options())); }, {"cpu", name});
  expect_error([&] { cross_entropy(moved, indices({0, 1})); }, {"cpu", name});
  expect_error([&] { index_select(moved, 0, indices({0})); }, {"cpu", name});
  expect_error([&] { gather(host, 1, indices({0, 1}, Shape{2, 1}).to(device())); }, {"cpu", name});
}

TEST_P(DeviceTest, MemoryStatisticsFollowTensorLifetimes) {
  if (device().is_cpu()) GTEST_SKIP() << "the CPU backend hands memory straight back and keeps no statistics";
  const Tensor warm_up = ones({4}, options());  // the backend's own start-up allocations happen before measuring
  cuda::synchronize(device().index);
  const std::size_t before = cuda::memory_stats(device().index).allocated;
  constexpr std::size_t kBytes = std::size_t{1} << 20;
  {
    const Tensor t = zeros({static_cast<std::int64_t>(kBytes / 4)}, options());
    const kernels::MemoryStats during = cuda::memory_stats(device().index);
    EXPECT_GE(during.allocated, before + kBytes);
    EXPECT_GE(during.peak_allocated, during.allocated);
    EXPECT_GE(during.reserved, during.allocated);
  }
  EXPECT_EQ(cuda::memory_stats(device().index).allocated, before);
  EXPECT_EQ(warm_up.to_vector<float>(), std::vector<float>(4, 1.0f));
}

TEST_P(DeviceTest, OutOfRangeIndicesThrowAndLeaveTheDeviceUsable) {
  const Tensor x = arange(12, options()).reshape({4, 3});
  const auto on_device = [&](const std::vector<std::int64_t>& values, std::optional<Shape> shape = std::nullopt) {
    return indices(values, shape).to(device());
  };
  expect_error([&] { index_select(x, 0, on_device({0, 4})); }, {"index_select", "out of bounds"});
  expect_error([&] { index_select(x, 1, on_device({-1})); }, {"index_select", "out of bounds"});
  expect_error([&] { gather(x, 1, on_device({0, 3}, Shape{1, 2})); }, {"gather", "out of bounds"});
  expect_error([&] { index_add_into_zeros(ones({2, 3}, options()), {4, 3}, 0, on_device({1, 9})); }, {"out of bounds"});
  expect_error([&] { scatter_add_into_zeros(ones({1, 2}, options()), {4, 3}, 1, on_device({0, 3}, Shape{1, 2})); },
               {"out of bounds"});
  expect_error([&] { cross_entropy(ones({2, 3}, options()), on_device({0, 3})); }, {"cross_entropy", "out of range"});
  // The failed kernels left nothing behind: a valid lookup afterwards gives the right values.
  EXPECT_EQ(index_select(x, 0, on_device({3, 1})).to_vector<float>(), (std::vector<float>{9, 10, 11, 3, 4, 5}));
  EXPECT_EQ(gather(x, 1, on_device({2, 0}, Shape{1, 2})).to_vector<float>(), (std::vector<float>{2, 0}));
}

INSTANTIATE_TEST_SUITE_P(Devices, DeviceTest, ::testing::Values(Device::cpu(), Device::cuda(0)),
                         [](const ::testing::TestParamInfo<Device>& info) {
                           return std::string(info.param.is_cpu() ? "cpu" : "cuda");
                         });

}  // namespace
}  // namespace tapegrad
