// Specification of the layer modules beyond Linear: Conv2d's initialization and options,
// BatchNorm's running statistics (hand-computed over several steps) and mode switch, Dropout
// and MaxPool2d as modules, loss modules, and gradient checks through whole layers.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "test_util.h"

namespace tapegrad {
namespace {

using namespace testing;  // the shared test vocabulary of test_util.h

// ---- Conv2d ----

TEST(Conv2dLayer, InitializesWithinOneOverSqrtFanIn) {
  manual_seed(0);
  nn::Conv2d conv(16, 32, 5);
  const double bound = 1 / std::sqrt(16.0 * 5 * 5);  // fan_in = in_channels * kh * kw
  EXPECT_EQ(shape_of(conv.weight), "[32, 16, 5, 5]");
  EXPECT_LE(conv.weight.abs().max().item(), bound);
  EXPECT_GT(conv.weight.abs().max().item(), 0.99 * bound);
  EXPECT_LE(conv.bias.abs().max().item(), bound);
}

TEST(Conv2dLayer, OutputShapeFollowsStridePaddingDilation) {
  nn::Conv2d conv(nn::Conv2dOptions{.in_channels = 3, .out_channels = 4, .kernel_size = {3, 2}, .stride = {2, 1},
                                    .padding = {1, 0}, .dilation = {1, 2}, .bias = false});
  EXPECT_FALSE(conv.bias.defined());
  EXPECT_EQ(conv.parameters().size(), 1u);
  // H: (9 + 2 - 3) / 2 + 1 = 5; W: (7 - 2 * (2 - 1) - 1) / 1 + 1 = 5.
  EXPECT_EQ(shape_of(conv(zeros({2, 3, 9, 7}))), "[2, 4, 5, 5]");
}

TEST(Conv2dLayer, GradientsMatchFiniteDifferencesForInputAndParameters) {
  nn::Conv2d conv(nn::Conv2dOptions{.in_channels = 2, .out_channels = 3, .kernel_size = {2, 2}, .stride = {1, 2},
                                    .padding = {1, 1}, .dtype = kFloat64});
  const Tensor x = input({2, 2, 4, 5}, 7);
  expect_gradcheck([&](const std::vector<Tensor>& in) { return conv(in[0]); }, {x, conv.weight, conv.bias});
}

TEST(Conv2dLayer, RejectsBadOptionsAndInputs) {
  expect_error([] { nn::Conv2d(0, 4, 3); }, {"channel counts must be positive"});
  expect_error([] { nn::Conv2d(1, 4, 0); }, {"kernel_size must be positive"});
  nn::Conv2d conv(3, 4, 3);
  expect_error([&] { conv(zeros({1, 2, 8, 8})); }, {"3"});
}

// ---- BatchNorm ----

// Per-channel mean and biased / unbiased variance of x [N, C] (or [N, C, L]) over all but dim 1.
struct ChannelStats {
  std::vector<double> mean, biased_var, unbiased_var;
};

ChannelStats channel_stats(const Tensor& x) {
  const Tensor moved = x.dim() == 2 ? x : x.transpose(1, 2).reshape({-1, x.size(1)});
  const std::vector<double> v = moved.contiguous().to_vector<double>();
  const std::int64_t channels = x.size(1), rows = moved.size(0);
  ChannelStats stats;
  for (std::int64_t c = 0; c < channels; ++c) {
    double sum = 0, squares = 0;
    for (std::int64_t r = 0; r < rows; ++r) sum += v[static_cast<std::size_t>(r * channels + c)];
    const double mean = sum / static_cast<double>(rows);
    for (std::int64_t r = 0; r < rows; ++r) squares += std::pow(v[static_cast<std::size_t>(r * channels + c)] - mean, 2);
    stats.mean.push_back(mean);
    stats.biased_var.push_back(squares / static_cast<double>(rows));
    stats.unbiased_var.push_back(squares / static_cast<double>(rows - 1));
  }
  return stats;
}

TEST(BatchNormLayer, RunningStatisticsAfterKStepsEqualHandComputedValues) {
  nn::BatchNorm1d bn(nn::BatchNormOptions{.num_features = 3, .momentum = 0.2, .dtype = kFloat64});
  std::vector<double> running_mean(3, 0.0), running_var(3, 1.0);
  for (int step = 0; step < 5; ++step) {
    const Tensor x = input({6, 3, 2}, static_cast<std::uint64_t>(100 + step), -2, 3);
    bn(x);
    const ChannelStats stats = channel_stats(x);
    for (int c = 0; c < 3; ++c) {
      running_mean[c] = 0.8 * running_mean[c] + 0.2 * stats.mean[c];
      running_var[c] = 0.8 * running_var[c] + 0.2 * stats.unbiased_var[c];
    }
  }
  expect_values(bn.running_mean, running_mean, 1e-12);
  expect_values(bn.running_var, running_var, 1e-12);
  EXPECT_EQ(bn.num_batches_tracked.item<std::int64_t>(), 5);
}

TEST(BatchNormLayer, TrainingNormalizesWithBatchStatistics) {
  nn::BatchNorm1d bn(nn::BatchNormOptions{.num_features = 2, .dtype = kFloat64});
  const Tensor x = f64({1, 10, 2, 20, 3, 30, 6, 60}, Shape{4, 2});
  const ChannelStats stats = channel_stats(x);
  std::vector<double> expected;
  const std::vector<double> v = x.to_vector<double>();
  for (int i = 0; i < 8; ++i)
    expected.push_back((v[i] - stats.mean[i % 2]) / std::sqrt(stats.biased_var[i % 2] + 1e-5));
  expect_values(bn(x), expected, 1e-12);
}

TEST(BatchNormLayer, EvaluationUsesRunningStatistics) {
  nn::BatchNorm2d bn(nn::BatchNormOptions{.num_features = 2, .dtype = kFloat64});
  {
    NoGradGuard no_grad;
    bn.running_mean.copy_(f64({1, -1}));
    bn.running_var.copy_(f64({4, 0.25}));
    bn.weight.copy_(f64({2, 3}));
    bn.bias.copy_(f64({0.5, 0}));
  }
  bn.eval();
  const Tensor x = f64({3, 5, 0, 1}, Shape{1, 2, 1, 2});
  const double s0 = std::sqrt(4 + 1e-5), s1 = std::sqrt(0.25 + 1e-5);
  expect_values(bn(x), {2 * (3 - 1) / s0 + 0.5, 2 * (5 - 1) / s0 + 0.5, 3 * (0 + 1) / s1, 3 * (1 + 1) / s1}, 1e-12);
  expect_values(bn.running_mean, {1, -1}, 0);  // evaluation leaves the statistics alone
  EXPECT_EQ(bn.num_batches_tracked.item<std::int64_t>(), 0);
}

TEST(BatchNormLayer, WithoutRunningStatisticsAlwaysUsesTheBatch) {
  nn::BatchNorm1d bn(nn::BatchNormOptions{.num_features = 2, .affine = false, .track_running_stats = false});
  EXPECT_TRUE(bn.parameters().empty());
  EXPECT_TRUE(bn.buffers().empty());
  bn.eval();
  const Tensor y = bn(tensor({1, 2, 3, 4}, Shape{2, 2}));
  expect_values(y, {-1, -1, 1, 1}, 1e-4);
}

TEST(BatchNormLayer, RegistersWhatPyTorchRegisters) {
  nn::BatchNorm2d bn(4);
  std::vector<std::string> names;
  for (const auto& entry : bn.state_dict()) names.push_back(entry.first);
  EXPECT_EQ(names, (std::vector<std::string>{"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}));
  EXPECT_EQ(bn.num_batches_tracked.dtype(), kInt64);
  EXPECT_EQ(bn.str(), "BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");
}

TEST(BatchNormLayer, GradientsMatchFiniteDifferencesInTraining) {
  nn::BatchNorm2d bn(nn::BatchNormOptions{.num_features = 3, .dtype = kFloat64});
  {
    NoGradGuard no_grad;  // away from the defaults so the affine part is exercised
    bn.weight.copy_(f64({0.5, 1.5, -1}));
    bn.bias.copy_(f64({0.1, -0.2, 0.3}));
  }
  const Tensor x = input({3, 3, 2, 2}, 11);
  expect_gradcheck([&](const std::vector<Tensor>& in) { return bn(in[0]); }, {x, bn.weight, bn.bias});
}

TEST(BatchNormLayer, RejectsWrongRanksAndChannelCounts) {
  nn::BatchNorm1d bn1(3);
  expect_error([&] { bn1(zeros({2, 4})); }, {"BatchNorm1d", "2 or 3 dims with 3 channels", "[2, 4]"});
  nn::BatchNorm2d bn2(3);
  expect_error([&] { bn2(zeros({2, 3, 4})); }, {"BatchNorm2d", "4 dims"});
  expect_error([] { nn::BatchNorm1d(0); }, {"num_features must be positive"});
}

// ---- Dropout and MaxPool2d ----

TEST(DropoutLayer, IsTheIdentityInEvaluationAndSeededInTraining) {
  Generator generator(5);
  nn::Dropout dropout(0.5, &generator);
  const Tensor x = ones({1000});
  const std::vector<double> first = dropout(x).to_vector<double>();
  std::size_t kept = 0;
  for (double value : first) {
    EXPECT_TRUE(value == 0 || value == 2);
    kept += value == 2;
  }
  EXPECT_NEAR(static_cast<double>(kept), 500, 60);
  generator.manual_seed(5);
  expect_values(dropout(x), first, 0);
  dropout.eval();
  expect_values(dropout(x), std::vector<double>(1000, 1), 0);
  expect_error([] { nn::Dropout(1.5); }, {"probability", "1.5"});
}

TEST(MaxPool2dLayer, TakesWindowMaximaWithDefaultStride) {
  nn::MaxPool2d pool(2);
  const Tensor x = arange(16).reshape({1, 1, 4, 4});
  expect_values(pool(x), {5, 7, 13, 15}, 0);
  nn::MaxPool2d overlapping(nn::MaxPool2dOptions{.kernel_size = {3, 3}, .stride = {1, 1}, .padding = {1, 1}});
  EXPECT_EQ(shape_of(overlapping(x)), "[1, 1, 4, 4]");
}

// ---- losses as modules ----

TEST(NormalizationLayers, StartAsTheIdentityAffineAndPrintAsPyTorch) {
  nn::LayerNorm layer(Shape{4});
  EXPECT_EQ(layer.weight.to_vector<float>(), std::vector<float>(4, 1.0f));
  EXPECT_EQ(layer.bias.to_vector<float>(), std::vector<float>(4, 0.0f));
  EXPECT_EQ(layer.str(), "LayerNorm((4,), eps=1e-05, elementwise_affine=True)");
  const Tensor normalized = layer(tensor({1, 2, 3, 4}, Shape{1, 4}, kFloat32));
  EXPECT_NEAR(normalized.mean().item(), 0.0, 1e-6);
  EXPECT_NEAR(normalized.pow(2).mean().item(), 1.0, 1e-4) << "unit biased variance, up to eps";
  nn::GroupNorm groups(nn::GroupNormOptions{.num_groups = 2, .num_channels = 4, .affine = false});
  EXPECT_EQ(groups.parameters().size(), 0u);
  EXPECT_EQ(groups.str(), "GroupNorm(2, 4, eps=1e-05, affine=False)");
  EXPECT_EQ(nn::LayerNorm(nn::LayerNormOptions{.normalized_shape = {2, 3}}).str(),
            "LayerNorm((2, 3), eps=1e-05, elementwise_affine=True)");
}

TEST(NormalizationLayers, RejectBadOptionsAndInputs) {
  expect_error([] { nn::GroupNorm(3, 4); }, {"GroupNorm", "num_channels (4)", "num_groups (3)"});
  expect_error([] { nn::LayerNorm(Shape{}); }, {"LayerNorm", "normalized_shape"});
  nn::GroupNorm groups(2, 4);
  expect_error([&] { groups(zeros({2, 3, 5})); }, {"GroupNorm", "[N, 4, ...]", "[2, 3, 5]"});
  nn::LayerNorm layer(Shape{4});
  expect_error([&] { layer(zeros({2, 3})); }, {"layer_norm", "[4]", "[2, 3]"});
}

TEST(EmbeddingLayer, DrawsStandardNormalRowsAndZeroesThePaddingRow) {
  Generator generator(3);
  nn::Embedding table(nn::EmbeddingOptions{.num_embeddings = 1000, .embedding_dim = 8, .padding_idx = -1}, generator);
  EXPECT_EQ(table.options().padding_idx, 999) << "a negative padding_idx counts from the end";
  EXPECT_EQ(table.weight.select(0, 999).to_vector<float>(), std::vector<float>(8, 0.0f));
  EXPECT_NEAR(table.weight.mean().item(), 0.0, 0.05);
  EXPECT_NEAR(tapegrad::std(table.weight).item(), 1.0, 0.05);
  EXPECT_EQ(table.str(), "Embedding(1000, 8, padding_idx=999)");
  const Tensor looked_up = table(from_vector(std::vector<std::int64_t>{3, 999, 3}, Shape{3}));
  EXPECT_EQ(looked_up.shape(), (Shape{3, 8}));
  EXPECT_EQ(looked_up.select(0, 0).to_vector<float>(), table.weight.select(0, 3).to_vector<float>());
  expect_error([] { nn::Embedding(nn::EmbeddingOptions{.num_embeddings = 4, .embedding_dim = 2, .padding_idx = 4}); },
               {"padding_idx", "[-4, 4)", "4"});
  expect_error([&] { table(zeros({2})); }, {"embedding", "int64"});
}

TEST(ActivationLayers, ComputeTheirFunctionsAndPrintTheirOptions) {
  const Tensor x = tensor({-2, -0.5, 0, 1.5}, std::nullopt, kFloat32);
  EXPECT_EQ(nn::Identity()(x).to_vector<float>(), x.to_vector<float>());
  expect_values(nn::LeakyReLU(0.2)(x), {-0.4, -0.1, 0, 1.5}, 1e-6);
  expect_values(nn::SiLU()(x), {-2 / (1 + std::exp(2.0)), -0.5 / (1 + std::exp(0.5)), 0, 1.5 / (1 + std::exp(-1.5))},
                1e-6);
  expect_values(nn::GELU()(x), {-2 * 0.5 * std::erfc(2 / std::sqrt(2.0)), -0.5 * 0.5 * std::erfc(0.5 / std::sqrt(2.0)), 0,
                                1.5 * 0.5 * std::erfc(-1.5 / std::sqrt(2.0))},
                1e-6);
  EXPECT_EQ(nn::GELU(GeluApproximation::Tanh).str(), "GELU(approximate='tanh')");
  EXPECT_EQ(nn::LeakyReLU().str(), "LeakyReLU(negative_slope=0.01)");
  EXPECT_EQ(nn::Softplus().str(), "Softplus(beta=1, threshold=20)");
  EXPECT_EQ(nn::Identity().str(), "Identity()");
}

// Sample mean and standard deviation of a tensor's values.
std::pair<double, double> mean_and_std(const Tensor& t) {
  const std::vector<double> v = t.to_vector<double>();
  double mean = 0, squares = 0;
  for (double e : v) mean += e;
  mean /= static_cast<double>(v.size());
  for (double e : v) squares += (e - mean) * (e - mean);
  return {mean, std::sqrt(squares / static_cast<double>(v.size() - 1))};
}

TEST(InitFunctions, DrawWithTorchsScales) {
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain(nn::init::Nonlinearity::Relu), std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain(nn::init::Nonlinearity::Tanh), 5.0 / 3.0);
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain(nn::init::Nonlinearity::LeakyRelu, 0.2), std::sqrt(2 / 1.04));
  Generator generator(21);
  const Tensor weight = empty({300, 200}, kFloat64);  // fan_in 200, fan_out 300

  nn::init::xavier_uniform_(weight, 1, generator);
  const double xavier_bound = std::sqrt(6.0 / 500);
  const std::vector<double> xavier = weight.to_vector<double>();
  EXPECT_LE(*std::max_element(xavier.begin(), xavier.end()), xavier_bound);
  EXPECT_GE(*std::min_element(xavier.begin(), xavier.end()), -xavier_bound);
  EXPECT_GT(*std::max_element(xavier.begin(), xavier.end()), 0.99 * xavier_bound) << "the whole range is used";

  nn::init::xavier_normal_(weight, 2, generator);
  EXPECT_NEAR(mean_and_std(weight).second, 2 * std::sqrt(2.0 / 500), 0.002);
  nn::init::kaiming_normal_(weight, 0, nn::init::FanMode::FanOut, nn::init::Nonlinearity::Relu, generator);
  EXPECT_NEAR(mean_and_std(weight).second, std::sqrt(2.0 / 300), 0.002);
  nn::init::kaiming_uniform_(weight, 0, nn::init::FanMode::FanIn, nn::init::Nonlinearity::Relu, generator);
  EXPECT_NEAR(mean_and_std(weight).second, std::sqrt(2.0 / 200), 0.002) << "uniform +-sqrt(6 / fan_in) has this std";
  nn::init::normal_(weight, 3, 0.5, generator);
  const auto [mean, std] = mean_and_std(weight);
  EXPECT_NEAR(mean, 3, 0.005);
  EXPECT_NEAR(std, 0.5, 0.005);

  // N(0, 1) cut to [-1, 1]: every value inside, with the truncated distribution's spread.
  nn::init::trunc_normal_(weight, 0, 1, -1, 1, generator);
  const std::vector<double> truncated = weight.to_vector<double>();
  EXPECT_LE(*std::max_element(truncated.begin(), truncated.end()), 1);
  EXPECT_GE(*std::min_element(truncated.begin(), truncated.end()), -1);
  EXPECT_NEAR(mean_and_std(weight).second, 0.53956, 0.005);
  // Far in a tail, where redrawing would almost never succeed.
  nn::init::trunc_normal_(weight, 0, 1, 6, 7, generator);
  const std::vector<double> tail = weight.to_vector<double>();
  EXPECT_GE(*std::min_element(tail.begin(), tail.end()), 6);
  EXPECT_LE(*std::max_element(tail.begin(), tail.end()), 7);

  nn::init::ones_(weight);
  EXPECT_EQ(sum(weight).item(), 60000);
  nn::init::constant_(weight, 0.25);
  EXPECT_EQ(sum(weight).item(), 15000);
  nn::init::zeros_(weight);
  EXPECT_EQ(sum(weight).item(), 0);
  expect_error([] { nn::init::xavier_uniform_(zeros({3})); }, {"fan_in_and_out", "at least 2 dims"});
  expect_error([] { nn::init::normal_(zeros({3}, kInt64)); }, {"normal_", "floating-point", "int64"});
}

TEST(InitFunctions, TheSameSeedGivesTheSameWeights) {
  const Tensor a = empty({4, 5}), b = empty({4, 5});
  Generator first(8), second(8);
  nn::init::trunc_normal_(a, 0, 0.02, -0.04, 0.04, first);
  nn::init::trunc_normal_(b, 0, 0.02, -0.04, 0.04, second);
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>());
}

// Two parameters whose gradients are [3, 4] and [12]: a 2-norm of 13, a 1-norm of 19, a largest magnitude of 12.
std::vector<Tensor> parameters_with_gradients() {
  const Tensor a = zeros({2}, kFloat64).requires_grad_(), b = zeros({1}, kFloat64).requires_grad_();
  const Tensor unused = zeros({3}, kFloat64).requires_grad_();  // no gradient: skipped
  (sum(a * tensor({3, 4}, std::nullopt, kFloat64)) + sum(b * 12.0)).backward();
  return {a, unused, b};
}

TEST(GradientClipping, ScalesAllGradientsByTheirJointNorm) {
  std::vector<Tensor> parameters = parameters_with_gradients();
  EXPECT_DOUBLE_EQ(nn::utils::clip_grad_norm_(parameters, 6.5), 13);
  const double scale = 6.5 / (13 + 1e-6);
  expect_values(parameters[0].grad(), {3 * scale, 4 * scale}, 1e-12);
  expect_values(parameters[2].grad(), {12 * scale}, 1e-12);

  parameters = parameters_with_gradients();
  EXPECT_DOUBLE_EQ(nn::utils::clip_grad_norm_(parameters, 100), 13);
  expect_values(parameters[2].grad(), {12}, 0);  // below max_norm: unchanged
  EXPECT_DOUBLE_EQ(nn::utils::clip_grad_norm_(parameters_with_gradients(), 1, 1), 19);
  EXPECT_DOUBLE_EQ(nn::utils::clip_grad_norm_(parameters_with_gradients(), 1, INFINITY), 12);

  parameters = parameters_with_gradients();
  Tensor gradient = parameters[0].grad();
  gradient.fill_(NAN);
  expect_error([&] { nn::utils::clip_grad_norm_(parameters, 1, 2, true); }, {"clip_grad_norm_", "nan", "error_if_nonfinite"});
}

TEST(GradientClipping, ClampsEachValue) {
  std::vector<Tensor> parameters = parameters_with_gradients();
  nn::utils::clip_grad_value_(parameters, 3.5);
  expect_values(parameters[0].grad(), {3, 3.5}, 0);
  expect_values(parameters[2].grad(), {3.5}, 0);
  expect_error([&] { nn::utils::clip_grad_value_(parameters, -1); }, {"clip_value", "non-negative"});
}

TEST(LossModules, CrossEntropyKeepsItsClassWeightsAsABuffer) {
  const Tensor weight = tensor({1, 2, 0.5}, std::nullopt, kFloat32);
  nn::CrossEntropyLoss loss(CrossEntropyOptions{.weight = weight, .label_smoothing = 0.1});
  ASSERT_EQ(loss.named_buffers().size(), 1u);
  EXPECT_EQ(loss.named_buffers().front().first, "weight");
  const Tensor logits = tensor({0.2, -1, 3, 1, 0, -2}, Shape{2, 3}, kFloat32);
  const Tensor target = from_vector(std::vector<std::int64_t>{2, 0}, Shape{2});
  const Tensor expected = cross_entropy(logits, target, {.weight = weight, .label_smoothing = 0.1});
  EXPECT_EQ(loss(logits, target).item(), expected.item());
  loss.to(kFloat64);
  EXPECT_EQ(loss(logits.to(kFloat64), target).dtype(), kFloat64) << "the weights converted with the module";
}

TEST(LossModules, EqualTheirFunctionsWithTheChosenReduction) {
  const Tensor logits = input({4, 3}, 21);
  const Tensor target = tensor({0, 2, 1, 2}, std::nullopt, kInt64);
  EXPECT_DOUBLE_EQ(nn::CrossEntropyLoss()(logits, target).item(), cross_entropy(logits, target).item());
  expect_values(nn::CrossEntropyLoss(Reduction::None)(logits, target),
                cross_entropy(logits, target, Reduction::None).to_vector<double>(), 0);
  EXPECT_DOUBLE_EQ(nn::NLLLoss(Reduction::Sum)(log_softmax(logits, 1), target).item(),
                   nll_loss(log_softmax(logits, 1), target, Reduction::Sum).item());
  const Tensor other = input({4, 3}, 22);
  EXPECT_DOUBLE_EQ(nn::MSELoss()(logits, other).item(), mean(pow(sub(logits, other), 2)).item());
  const Tensor probabilities = input({4, 3}, 23, 0, 1);
  EXPECT_DOUBLE_EQ(nn::BCEWithLogitsLoss()(logits, probabilities).item(),
                   binary_cross_entropy_with_logits(logits, probabilities).item());
  EXPECT_EQ(nn::MSELoss(Reduction::Sum).str(), "MSELoss(reduction=sum)");
  EXPECT_EQ(nn::CrossEntropyLoss().str(), "CrossEntropyLoss()");
}

}  // namespace
}  // namespace tapegrad
