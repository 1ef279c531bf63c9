// Optimizers: each one's 100-step trajectory on a small non-quadratic problem (two parameter
// groups, float64) equals an independent scalar implementation of the published update rule;
// the experiments of EXPERIMENTS.md C1/C2; proximal L1; gradients, learning rates and groups;
// save/load that resumes bit for bit and refuses mismatched state; option validation; steps
// that allocate nothing after the first; and a user-written optimizer.
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <new>
#include <numbers>
#include <string>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>

#include <tapegrad/optim/optim.h>

#include "test_util.h"

// Counts heap allocations, to show that optimizer steps after the first allocate nothing (large
// tensor storage comes from operator new; so would any std::vector or std::string a step made).
namespace {
std::atomic<long> g_allocations{0};
}  // namespace
void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t size, std::align_val_t alignment) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  const auto align = static_cast<std::size_t>(alignment);
  if (void* p = std::aligned_alloc(align, (size + align - 1) / align * align)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace tapegrad {
namespace {

using namespace optim;
using tapegrad::testing::expect_error;

// ---- trajectories against scalar references ----

// f(x) = sum_i c_i x_i^2 / 2 + x_i^4 / 40 + sin(x_i), so df/dx_i = c_i x_i + x_i^3 / 10 + cos(x_i):
// not quadratic, so adaptive methods do not reduce to a fixed linear map.
const std::vector<double> kW0 = {0.8, -1.2, 2.0}, kB0 = {-0.5, 1.5};
const std::vector<double> kCw = {1.0, 3.0, 0.5}, kCb = {2.0, 0.7};

Tensor problem_loss(const Tensor& x, const std::vector<double>& c) {
  return sum(0.5 * from_vector(c) * x * x + pow(x, 4.0) / 40 + sin(x));
}
double problem_grad(double x, double c) { return c * x + x * x * x / 10 + std::cos(x); }

// A reference optimizer's memory for one coordinate.
struct Coordinate {
  double m = 0, v = 0, v_max = 0, buffer = 0, sum = 0, grad_avg = 0;
  bool has_buffer = false;
};

// Runs `Optim` with w in a group with `first` and b in a group with `second` for 100 steps,
// and `reference(x, g, coordinate, options, t)` on plain doubles beside it; every coordinate
// must agree after every step.
template <class Optim, class Options, class Reference>
void expect_matches_reference(const Options& first, const Options& second, Reference&& reference) {
  Tensor w = from_vector(kW0).requires_grad_(), b = from_vector(kB0).requires_grad_();
  Optim optimizer({{{w}, first}, {{b}, second}});
  std::vector<double> rw = kW0, rb = kB0;
  std::vector<Coordinate> sw(rw.size()), sb(rb.size());
  for (int t = 1; t <= 100; ++t) {
    optimizer.zero_grad();
    (problem_loss(w, kCw) + problem_loss(b, kCb)).backward();
    optimizer.step();
    for (std::size_t i = 0; i < rw.size(); ++i) reference(rw[i], problem_grad(rw[i], kCw[i]), sw[i], first, t);
    for (std::size_t i = 0; i < rb.size(); ++i) reference(rb[i], problem_grad(rb[i], kCb[i]), sb[i], second, t);
    const std::vector<double> aw = w.to_vector<double>(), ab = b.to_vector<double>();
    for (std::size_t i = 0; i < rw.size(); ++i) ASSERT_NEAR(aw[i], rw[i], 1e-12) << "w[" << i << "], step " << t;
    for (std::size_t i = 0; i < rb.size(); ++i) ASSERT_NEAR(ab[i], rb[i], 1e-12) << "b[" << i << "], step " << t;
  }
}

// Sutskever et al. momentum as PyTorch writes it: buf = g on the first step.
void sgd_reference(double& x, double g, Coordinate& s, const SGDOptions& o, int) {
  g += o.weight_decay * x;
  if (o.momentum != 0) {
    s.buffer = s.has_buffer ? o.momentum * s.buffer + (1 - o.dampening) * g : g;
    s.has_buffer = true;
    g = o.nesterov ? g + o.momentum * s.buffer : s.buffer;
  }
  x -= o.lr * g;
}

// Kingma & Ba, Algorithm 1, with PyTorch's placement of eps and AMSGrad's maximum (Reddi et al.).
template <class Options>
void adam_reference(double& x, double g, Coordinate& s, const Options& o, int t, bool decoupled) {
  if (decoupled) {
    x *= 1 - o.lr * o.weight_decay;
  } else {
    g += o.weight_decay * x;
  }
  const auto [beta1, beta2] = o.betas;
  s.m = beta1 * s.m + (1 - beta1) * g;
  s.v = beta2 * s.v + (1 - beta2) * g * g;
  s.v_max = std::max(s.v_max, s.v);
  const double v = o.amsgrad ? s.v_max : s.v;
  const double bias1 = 1 - std::pow(beta1, t), bias2 = 1 - std::pow(beta2, t);
  x -= o.lr / bias1 * s.m / (std::sqrt(v) / std::sqrt(bias2) + o.eps);
}

// Hinton's RMSprop; centered as in Graves (2013); momentum on the scaled gradient.
void rmsprop_reference(double& x, double g, Coordinate& s, const RMSpropOptions& o, int) {
  g += o.weight_decay * x;
  s.v = o.alpha * s.v + (1 - o.alpha) * g * g;
  s.grad_avg = o.alpha * s.grad_avg + (1 - o.alpha) * g;
  const double avg = std::sqrt(o.centered ? s.v - s.grad_avg * s.grad_avg : s.v) + o.eps;
  if (o.momentum > 0) {
    s.buffer = o.momentum * s.buffer + g / avg;
    x -= o.lr * s.buffer;
  } else {
    x -= o.lr * g / avg;
  }
}

// Duchi et al.'s diagonal Adagrad with PyTorch's learning-rate decay.
void adagrad_reference(double& x, double g, Coordinate& s, const AdagradOptions& o, int t) {
  g += o.weight_decay * x;
  if (t == 1) s.sum = o.initial_accumulator_value;
  s.sum += g * g;
  x -= o.lr / (1 + (t - 1) * o.lr_decay) * g / (std::sqrt(s.sum) + o.eps);
}

TEST(OptimizerTrajectory, SGDPlainAndWithMomentumDampeningAndWeightDecayMatchesTheRule) {
  expect_matches_reference<SGD>(SGDOptions{.lr = 0.05}, SGDOptions{.lr = 0.02, .momentum = 0.9}, sgd_reference);
  expect_matches_reference<SGD>(SGDOptions{.lr = 0.03, .momentum = 0.8, .dampening = 0.3, .weight_decay = 0.1},
                                SGDOptions{.lr = 0.01, .momentum = 0.5, .weight_decay = 0.2}, sgd_reference);
}

TEST(OptimizerTrajectory, SGDNesterovMatchesTheRule) {
  expect_matches_reference<SGD>(SGDOptions{.lr = 0.03, .momentum = 0.9, .nesterov = true},
                                SGDOptions{.lr = 0.01, .momentum = 0.7, .weight_decay = 0.05, .nesterov = true},
                                sgd_reference);
}

TEST(OptimizerTrajectory, AdamWithAndWithoutAmsgradAndWeightDecayMatchesTheRule) {
  const auto rule = [](double& x, double g, Coordinate& s, const AdamOptions& o, int t) {
    adam_reference(x, g, s, o, t, false);
  };
  expect_matches_reference<Adam>(AdamOptions{.lr = 0.05}, AdamOptions{.lr = 0.01, .betas = {0.8, 0.99}}, rule);
  expect_matches_reference<Adam>(AdamOptions{.lr = 0.05, .weight_decay = 0.1, .amsgrad = true},
                                 AdamOptions{.lr = 0.02, .eps = 1e-3, .amsgrad = true}, rule);
}

TEST(OptimizerTrajectory, AdamWDecouplesWeightDecayAndMatchesTheRule) {
  const auto rule = [](double& x, double g, Coordinate& s, const AdamWOptions& o, int t) {
    adam_reference(x, g, s, o, t, true);
  };
  expect_matches_reference<AdamW>(AdamWOptions{.lr = 0.05}, AdamWOptions{.lr = 0.02, .weight_decay = 0.3}, rule);
  expect_matches_reference<AdamW>(AdamWOptions{.lr = 0.05, .amsgrad = true},
                                  AdamWOptions{.lr = 0.01, .betas = {0.5, 0.9}, .weight_decay = 0, .amsgrad = true},
                                  rule);
}

TEST(OptimizerTrajectory, RMSpropPlainCenteredAndWithMomentumMatchesTheRule) {
  expect_matches_reference<RMSprop>(RMSpropOptions{.lr = 0.01}, RMSpropOptions{.lr = 0.005, .alpha = 0.9},
                                    rmsprop_reference);
  expect_matches_reference<RMSprop>(
      RMSpropOptions{.lr = 0.01, .weight_decay = 0.1, .momentum = 0.5, .centered = true},
      RMSpropOptions{.lr = 0.003, .alpha = 0.95, .eps = 1e-4, .momentum = 0.9}, rmsprop_reference);
}

TEST(OptimizerTrajectory, AdagradWithLrDecayInitialAccumulatorAndWeightDecayMatchesTheRule) {
  expect_matches_reference<Adagrad>(AdagradOptions{.lr = 0.1},
                                    AdagradOptions{.lr = 0.2, .lr_decay = 0.01, .weight_decay = 0.05,
                                                   .initial_accumulator_value = 0.1, .eps = 1e-6},
                                    adagrad_reference);
}

// ---- EXPERIMENTS.md C1 and C2 ----

// Objective values over 2000 steps of lr 1e-3 on f(x, y), starting from `start`.
template <class Optim, class Options, class F>
std::vector<double> objective_curve(F&& f, std::vector<double> start, const Options& options) {
  Tensor p = from_vector(start).requires_grad_();
  Optim optimizer({p}, options);
  std::vector<double> curve;
  for (int step = 0; step < 2000; ++step) {
    optimizer.zero_grad();
    Tensor value = f(p[0], p[1]);
    curve.push_back(value.item());
    value.backward();
    optimizer.step();
  }
  return curve;
}

double max_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

// f2 is f1 rotated by 45 degrees and started at the rotated (1, 1): methods whose step is a
// rotation-equivariant function of the gradient trace the same objective curve on both.
template <class Optim, class Options>
double rotation_gap(const Options& options) {
  const auto f1 = [](const Tensor& x, const Tensor& y) { return x * x + 0.1 * y * y; };
  const auto f2 = [](const Tensor& x, const Tensor& y) {
    return (x - y) * (x - y) / 2 + 0.1 * (x + y) * (x + y) / 2;
  };
  return max_difference(objective_curve<Optim>(f1, {1.0, 1.0}, options),
                        objective_curve<Optim>(f2, {std::numbers::sqrt2, 0.0}, options));
}

TEST(ExperimentC1, GradientDescentAndMomentumAreRotationInvariantWhileRMSpropAndAdamAreNot) {
  EXPECT_LT(rotation_gap<SGD>(SGDOptions{.lr = 1e-3}), 1e-12);
  EXPECT_LT(rotation_gap<SGD>(SGDOptions{.lr = 1e-3, .momentum = 0.9}), 1e-12);
  EXPECT_GT(rotation_gap<RMSprop>(RMSpropOptions{.lr = 1e-3}), 1e-2);
  EXPECT_GT(rotation_gap<Adam>(AdamOptions{.lr = 1e-3}), 1e-2);
}

Tensor beale(const Tensor& x, const Tensor& y) {
  const Tensor t1 = 1.5 - x + x * y, t2 = 2.25 - x + x * y * y, t3 = 2.625 - x + x * y * y * y;
  return t1 * t1 + t2 * t2 + t3 * t3;
}

TEST(ExperimentC2, AdamOnBealeEndsWherePyTorchsAdamEnds) {
  Tensor x = full({}, 0.7, kFloat64).requires_grad_(), y = full({}, 1.4, kFloat64).requires_grad_();
  Adam adam({x, y}, {.lr = 0.01});
  for (int step = 0; step < 1000; ++step) {
    adam.zero_grad();
    beale(x, y).backward();
    adam.step();
  }
  EXPECT_NEAR(x.item(), 2.7263, 1e-3);
  EXPECT_NEAR(y.item(), 0.4219, 1e-3);
  EXPECT_NEAR(beale(x, y).item(), 0.0166, 1e-3);
}

// ---- proximal L1 ----

double soft_threshold(double q, double threshold) {
  return (q > 0 ? 1.0 : -1.0) * std::max(std::abs(q) - threshold, 0.0);
}

TEST(ProximalL1, SGDStepZeroesExactlyTheCoordinatesSoftThresholdingPredicts) {
  const std::vector<double> start = {0.3, 0.04, -0.02, -0.5, 0.1, 0.07}, grad = {1.0, -0.1, 0.2, -2.0, 0.5, 0.25};
  Tensor p = from_vector(start).requires_grad_();
  SGD sgd({p}, {.lr = 0.1, .l1 = 0.5});  // threshold lr * l1 = 0.05
  p.set_grad(from_vector(grad));
  sgd.step();
  const std::vector<double> actual = p.to_vector<double>();
  for (std::size_t i = 0; i < start.size(); ++i)
    EXPECT_EQ(actual[i], soft_threshold(start[i] - 0.1 * grad[i], 0.05)) << "coordinate " << i;
  // 0.04 + 0.01, -0.02 - 0.02 and 0.1 - 0.05 land within the threshold: exactly zero.
  EXPECT_EQ(actual[1], 0.0);
  EXPECT_EQ(actual[2], 0.0);
  EXPECT_EQ(actual[4], 0.0);
  EXPECT_NE(actual[0], 0.0);
}

TEST(ProximalL1, AppliesAfterAnyOptimizersStep) {
  const std::vector<double> start = {0.3, 0.004, -0.5}, grad = {1.0, -0.1, -2.0};
  Tensor plain = from_vector(start).requires_grad_(), proximal = from_vector(start).requires_grad_();
  Adam adam({plain}, {.lr = 0.01}), adam_l1({proximal}, {.lr = 0.01, .l1 = 2.0});
  plain.set_grad(from_vector(grad));
  proximal.set_grad(from_vector(grad));
  adam.step();
  adam_l1.step();
  const std::vector<double> after_adam = plain.to_vector<double>(), actual = proximal.to_vector<double>();
  for (std::size_t i = 0; i < start.size(); ++i) EXPECT_EQ(actual[i], soft_threshold(after_adam[i], 0.02));
  EXPECT_EQ(actual[1], 0.0);
}

// ---- gradients, learning rates, groups ----

TEST(Optimizer, ZeroGradDropsGradientsByDefaultOrZeroesThemInPlace) {
  Tensor p = ones({3}, kFloat64).requires_grad_();
  SGD sgd({p}, {.lr = 0.1});
  p.sum().backward();
  const double* storage = p.grad().data_ptr<double>();
  sgd.zero_grad(false);
  ASSERT_TRUE(p.grad().defined());
  EXPECT_EQ(p.grad().to_vector<double>(), (std::vector<double>{0, 0, 0}));
  EXPECT_EQ(p.grad().data_ptr<double>(), storage);
  sgd.zero_grad();
  EXPECT_FALSE(p.grad().defined());
}

TEST(Optimizer, StateLeftBehindByAConvertedModelIsAnErrorNotGarbage) {
  nn::Linear model(3, 2);
  Adam adam(model.parameters(), {.lr = 0.1});
  model(ones({4, 3})).sum().backward();
  adam.step();  // creates float32 moments
  model.to(kFloat64);
  adam.zero_grad();
  model(ones({4, 3}, kFloat64)).sum().backward();
  testing::expect_error([&] { adam.step(); },
                        {"optimizer state is float32", "float64", "Create the optimizer after moving the model"});
}

TEST(Optimizer, GroupsKeepTheirOwnLearningRatesUntilSetLrSetsThemAll) {
  Tensor w = zeros({2}, kFloat64).requires_grad_(), b = zeros({1}, kFloat64).requires_grad_();
  SGD sgd({{{w}, std::nullopt}, {{b}, SGDOptions{.lr = 0.01}}}, {.lr = 0.1});
  const auto unit_step = [&] {
    w.set_grad(ones({2}, kFloat64));
    b.set_grad(ones({1}, kFloat64));
    sgd.step();
  };
  unit_step();
  EXPECT_EQ(w.to_vector<double>(), (std::vector<double>{-0.1, -0.1}));
  EXPECT_EQ(b.item(), -0.01);
  EXPECT_EQ(sgd.lr(), 0.1);
  sgd.set_lr(0.5);
  EXPECT_EQ(sgd.group_lr(1), 0.5);
  sgd.set_group_lr(0, 1.0);
  unit_step();
  EXPECT_EQ(w.to_vector<double>(), (std::vector<double>{-1.1, -1.1}));
  EXPECT_EQ(b.item(), -0.51);
}

TEST(Optimizer, StepWithAClosureReturnsItsLossAndSkipsParametersWithoutGradients) {
  Tensor used = full({}, 2.0, kFloat64).requires_grad_(), unused = full({}, 5.0, kFloat64).requires_grad_();
  SGD sgd({used, unused}, {.lr = 0.25});
  const Tensor loss = sgd.step([&] {
    sgd.zero_grad();
    Tensor value = used * used;
    value.backward();
    return value;
  });
  EXPECT_EQ(loss.item(), 4.0);
  EXPECT_EQ(used.item(), 1.0);  // 2 - 0.25 * 4
  EXPECT_EQ(unused.item(), 5.0);
  EXPECT_EQ(sgd.state(unused), nullptr);
  EXPECT_FALSE(sgd.step().defined());
}

TEST(Optimizer, AddedGroupsTakeTheDefaultsAndParametersAreCheckedWhenAdded) {
  Tensor w = zeros({2}, kFloat64).requires_grad_();
  Adam adam({w}, {.lr = 0.05});
  Tensor extra = zeros({1}, kFloat64).requires_grad_();
  adam.add_param_group({{extra}, std::nullopt});
  EXPECT_EQ(adam.options(1).lr, 0.05);
  expect_error([&] { adam.add_param_group({{w}, std::nullopt}); }, {"appears more than once"});
  expect_error([&] { adam.add_param_group({{}, std::nullopt}); }, {"empty parameter list"});
  expect_error([&] { adam.add_param_group({{w * 2}, std::nullopt}); }, {"non-leaf"});
  expect_error([&] { adam.add_param_group({{zeros({1}, kInt64)}, std::nullopt}); }, {"floating point"});
  expect_error([&] { Adam(std::vector<Tensor>{}); }, {"empty parameter list"});
  expect_error([&] { SGD({w, w}, {.lr = 0.1}); }, {"appears more than once"});
}

TEST(OptimizerOptions, InvalidValuesAreRejectedWithPyTorchsReasons) {
  const std::vector<Tensor> params = {zeros({1}, kFloat64).requires_grad_()};
  expect_error([&] { SGD(params, {}); }, {"SGD", "learning rate is required"});
  expect_error([&] { SGD(params, {.lr = -0.1}); }, {"SGD", "invalid learning rate: -0.1"});
  expect_error([&] { SGD(params, {.lr = 0.1, .momentum = -1}); }, {"invalid momentum value"});
  expect_error([&] { SGD(params, {.lr = 0.1, .weight_decay = -1}); }, {"invalid weight_decay value"});
  expect_error([&] { SGD(params, {.lr = 0.1, .nesterov = true}); }, {"Nesterov momentum requires a momentum"});
  expect_error([&] { SGD(params, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}); },
               {"zero dampening"});
  expect_error([&] { Adam(params, {.lr = -1}); }, {"Adam", "invalid learning rate"});
  expect_error([&] { Adam(params, {.betas = {1.0, 0.999}}); }, {"invalid beta parameter at index 0: 1"});
  expect_error([&] { Adam(params, {.betas = {0.9, -0.1}}); }, {"invalid beta parameter at index 1"});
  expect_error([&] { Adam(params, {.eps = -1e-8}); }, {"invalid epsilon value"});
  expect_error([&] { AdamW(params, {.weight_decay = -0.01}); }, {"AdamW", "invalid weight_decay value"});
  expect_error([&] { RMSprop(params, {.alpha = -0.5}); }, {"RMSprop", "invalid alpha value"});
  expect_error([&] { Adagrad(params, {.lr_decay = -1}); }, {"Adagrad", "invalid lr_decay value"});
  expect_error([&] { Adagrad(params, {.initial_accumulator_value = -1}); }, {"initial_accumulator_value"});
  expect_error([&] { Adam(params, {.l1 = -1}); }, {"invalid l1 value"});
}

// ---- state save/load ----

// Two groups, a few steps on the trajectory problem.
template <class Optim>
struct TwoGroupRun {
  Tensor w, b;
  Optim optimizer;

  TwoGroupRun(const std::vector<double>& w0, const std::vector<double>& b0, typename Optim::Group first,
      typename Optim::Group second)
      : w(from_vector(w0).requires_grad_()), b(from_vector(b0).requires_grad_()),
        optimizer({with(first, w), with(second, b)}) {}

  static typename Optim::Group with(typename Optim::Group group, const Tensor& param) {
    group.params = {param};
    return group;
  }
  void steps(int count) {
    for (int i = 0; i < count; ++i) {
      optimizer.zero_grad();
      (problem_loss(w, kCw) + problem_loss(b, kCb)).backward();
      optimizer.step();
    }
  }
};

std::filesystem::path temporary_file(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("tapegrad_test_optim_" + std::to_string(::getpid()) + name);
}

// Saves after 7 steps, loads into a fresh optimizer built with other options over copies of
// the parameters, and expects the next 20 steps of both to agree to the last bit.
template <class Optim>
void expect_resumes_bit_identically(typename Optim::Group first, typename Optim::Group second,
                                    typename Optim::Group other) {
  TwoGroupRun<Optim> original(kW0, kB0, first, second);
  original.steps(7);
  const std::filesystem::path path = temporary_file(original.optimizer.name() + ".safetensors");
  original.optimizer.save(path);
  TwoGroupRun<Optim> resumed(original.w.template to_vector<double>(), original.b.template to_vector<double>(), other, other);
  resumed.optimizer.load(path);
  std::filesystem::remove(path);
  EXPECT_EQ(resumed.optimizer.group_lr(0), original.optimizer.group_lr(0));
  EXPECT_EQ(resumed.optimizer.state(resumed.w)->step, 7);
  for (int step = 0; step < 20; ++step) {
    original.steps(1);
    resumed.steps(1);
    ASSERT_EQ(resumed.w.template to_vector<double>(), original.w.template to_vector<double>()) << "step " << step;
    ASSERT_EQ(resumed.b.template to_vector<double>(), original.b.template to_vector<double>()) << "step " << step;
  }
}

TEST(OptimizerState, SavedAndLoadedStateResumesBitIdenticallyForEveryOptimizer) {
  expect_resumes_bit_identically<SGD>({{}, SGDOptions{.lr = 0.03, .momentum = 0.9, .nesterov = true}},
                                      {{}, SGDOptions{.lr = 0.01, .momentum = 0.5}}, {{}, SGDOptions{.lr = 1}});
  expect_resumes_bit_identically<Adam>({{}, AdamOptions{.lr = 0.05, .amsgrad = true}},
                                       {{}, AdamOptions{.lr = 0.01, .weight_decay = 0.1}}, {{}, AdamOptions{}});
  expect_resumes_bit_identically<AdamW>({{}, AdamWOptions{.lr = 0.05}}, {{}, AdamWOptions{.amsgrad = true}},
                                        {{}, AdamWOptions{.lr = 0.5}});
  expect_resumes_bit_identically<RMSprop>({{}, RMSpropOptions{.momentum = 0.5, .centered = true}},
                                          {{}, RMSpropOptions{.lr = 0.001}}, {{}, RMSpropOptions{}});
  expect_resumes_bit_identically<Adagrad>({{}, AdagradOptions{.lr_decay = 0.1, .initial_accumulator_value = 0.5}},
                                          {{}, AdagradOptions{}}, {{}, AdagradOptions{.lr = 3}});
}

TEST(OptimizerState, StateDictIsASnapshotThatLaterStepsDoNotChange) {
  TwoGroupRun<Adam> run(kW0, kB0, {{}, AdamOptions{.lr = 0.1}}, {{}, AdamOptions{}});
  run.steps(2);
  const TensorFile saved = run.optimizer.state_dict();
  const std::vector<double> moment = saved.at("state.0.exp_avg").to_vector<double>();
  run.steps(2);
  EXPECT_EQ(saved.at("state.0.exp_avg").to_vector<double>(), moment);
  EXPECT_EQ(saved.metadata.at("optimizer.kind"), "Adam");
}

TEST(OptimizerState, MismatchedStateIsRefusedAndLeavesTheOptimizerUnchanged) {
  TwoGroupRun<Adam> source(kW0, kB0, {{}, AdamOptions{.lr = 0.1}}, {{}, AdamOptions{}});
  source.steps(3);
  const TensorFile saved = source.optimizer.state_dict();

  TwoGroupRun<Adam> target(kW0, kB0, {{}, AdamOptions{.lr = 0.2}}, {{}, AdamOptions{}});
  target.steps(1);
  const std::vector<double> moment = target.optimizer.state(target.w)->buffers.at(0).second.to_vector<double>();

  TwoGroupRun<SGD> sgd(kW0, kB0, {{}, SGDOptions{.lr = 0.1}}, {{}, SGDOptions{.lr = 0.1}});
  expect_error([&] { target.optimizer.load_state_dict(sgd.optimizer.state_dict()); },
               {"belongs to a SGD optimizer", "Adam"});
  TwoGroupRun<Adam> other_shapes({1.0, 2.0}, kB0, {{}, AdamOptions{}}, {{}, AdamOptions{}});
  expect_error([&] { other_shapes.optimizer.load_state_dict(saved); }, {"parameter 0 of group 0", "[3]"});
  Tensor lone = from_vector(kW0).requires_grad_();
  Adam one_group({lone});
  expect_error([&] { one_group.load_state_dict(saved); }, {"2 parameter groups", "has 1"});
  TensorFile missing_buffer = saved;
  std::erase_if(missing_buffer.tensors, [](const auto& entry) { return entry.first == "state.1.exp_avg_sq"; });
  expect_error([&] { target.optimizer.load_state_dict(missing_buffer); }, {"state.1.exp_avg_sq"});
  // A buffer with the parameter's element count but another shape would fail the next step.
  TensorFile reshaped_buffer = saved;
  for (auto& [key, tensor] : reshaped_buffer.tensors)
    if (key == "state.0.exp_avg") tensor = tensor.reshape({3, 1});
  expect_error([&] { target.optimizer.load_state_dict(reshaped_buffer); },
               {"'exp_avg' of parameter 0 has shape [3, 1]", "parameter has shape [3]"});
  TensorFile bad_options = saved;
  bad_options.metadata["optimizer.param_groups"] = R"([{"options": {"lr": -1}, "shapes": [[3]]},
                                                      {"options": {"lr": 1}, "shapes": [[2]]}])";
  expect_error([&] { target.optimizer.load_state_dict(bad_options); }, {"lack 'betas.0'"});
  expect_error([&] { target.optimizer.load_state_dict(TensorFile{}); }, {"not an optimizer state"});
  // Numbers are read strictly: no trailing characters after an index, no fractional step count.
  const std::string state_text = saved.metadata.at("optimizer.state");
  TensorFile bad_index = saved;
  bad_index.metadata["optimizer.state"].replace(state_text.find("\"0\":"), 4, "\"0x\":");
  expect_error([&] { target.optimizer.load_state_dict(bad_index); }, {"malformed", "'0x' is not a parameter index"});
  TensorFile fractional_step = saved;
  fractional_step.metadata["optimizer.state"].replace(state_text.find("\"step\":3"), 8, "\"step\":3.5");
  expect_error([&] { target.optimizer.load_state_dict(fractional_step); }, {"step count of parameter", "3.5"});

  EXPECT_EQ(target.optimizer.group_lr(0), 0.2);
  EXPECT_EQ(target.optimizer.state(target.w)->step, 1);
  EXPECT_EQ(target.optimizer.state(target.w)->buffers.at(0).second.to_vector<double>(), moment);
}

// ---- steady-state allocation ----

// Steps after the first two allocate nothing: state buffers and scratch are reused in place.
// MLP-sized float32 parameters, so that any temporary tensor would come from operator new. The
// first layer's update is of the size whose split is measured (kernels/cpu/split_choice.h): its
// second step is the first to run split on two threads, which starts the thread pool.
template <class Optim, class Options>
void expect_steps_allocate_nothing(const Options& options) {
  Generator generator(7);
  std::vector<Tensor> params;
  for (const Shape& shape : {Shape{784, 128}, Shape{128}, Shape{128, 64}, Shape{64}, Shape{64, 10}, Shape{10}}) {
    params.push_back(uniform(shape, -0.1, 0.1, generator).requires_grad_());
    params.back().set_grad(uniform(shape, -1, 1, generator));
  }
  Optim optimizer(params, options);
  optimizer.step();
  optimizer.step();
  std::vector<const void*> buffers;
  for (const Tensor& param : params)
    for (const auto& [name, buffer] : optimizer.state(param)->buffers) buffers.push_back(buffer.desc().data);
  const long before = g_allocations.load();
  for (int step = 0; step < 5; ++step) optimizer.step();
  EXPECT_EQ(g_allocations.load() - before, 0) << optimizer.name();
  std::size_t index = 0;
  for (const Tensor& param : params)
    for (const auto& [name, buffer] : optimizer.state(param)->buffers)
      EXPECT_EQ(buffer.desc().data, buffers[index++]) << optimizer.name() << " " << name;
}

TEST(OptimizerAllocation, StepsAfterTheFirstAllocateNothing) {
  expect_steps_allocate_nothing<SGD>(SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 1e-4, .nesterov = true});
  expect_steps_allocate_nothing<Adam>(AdamOptions{.weight_decay = 1e-4, .amsgrad = true, .l1 = 1e-3});
  expect_steps_allocate_nothing<AdamW>(AdamWOptions{});
  expect_steps_allocate_nothing<RMSprop>(RMSpropOptions{.momentum = 0.9, .centered = true});
  expect_steps_allocate_nothing<Adagrad>(AdagradOptions{.weight_decay = 1e-4});
}

// ---- a user-written optimizer ----

// signSGD (Bernstein et al. 2018): p -= lr * sign(grad), in a few lines.
struct SignSgdOptions {
  double lr = 0.01;
  template <class Visit>
  void fields(Visit&& visit) {
    visit("lr", lr);
  }
};

class SignSgd : public OptimizerWith<SignSgdOptions> {
 public:
  using OptimizerWith::OptimizerWith;
  std::string name() const override { return "SignSgd"; }

 protected:
  void update(Tensor& param, const Tensor& grad, ParamState& state, const SignSgdOptions& options) override {
    param.sub_(sign(grad), options.lr);
  }
};

TEST(CustomOptimizer, ASubclassOverridingUpdateStepsSavesAndLoads) {
  Tensor p = tensor({1.0, -2.0, 0.5}, std::nullopt, kFloat64).requires_grad_();
  SignSgd optimizer({p}, {.lr = 0.125});
  for (int step = 0; step < 2; ++step) {
    optimizer.zero_grad();
    (p * p).sum().backward();
    optimizer.step();
  }
  EXPECT_EQ(p.to_vector<double>(), (std::vector<double>{0.75, -1.75, 0.25}));
  Tensor q = zeros({3}, kFloat64).requires_grad_();
  SignSgd copy({q});
  copy.load_state_dict(optimizer.state_dict());
  EXPECT_EQ(copy.lr(), 0.125);
  EXPECT_EQ(copy.state(q)->step, 2);
}

}  // namespace
}  // namespace tapegrad
