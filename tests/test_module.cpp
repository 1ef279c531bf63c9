// Specification of nn::Module and the generic machinery every layer inherits: registration and
// dotted names, train/eval, zero_grad, dtype moves, printing, parameter counts, forward hooks,
// apply and requires_grad_, Sequential, and Linear with PyTorch's initialization.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_util.h"

namespace tapegrad {
namespace {

using namespace testing;  // the shared test vocabulary of test_util.h

// A user-defined model, written as a PyTorch user would: submodules registered by name.
struct TwoLayerNet : nn::Module {
  std::shared_ptr<nn::Linear> hidden = register_module("hidden", std::make_shared<nn::Linear>(4, 3));
  std::shared_ptr<nn::Linear> output = register_module("output", std::make_shared<nn::Linear>(3, 2, false));
  Tensor scale = register_buffer("scale", ones({2}));

  Tensor forward(const Tensor& x) override { return mul(output->forward(relu(hidden->forward(x))), scale); }
  std::string name() const override { return "TwoLayerNet"; }
};

std::vector<std::string> names_of(const NamedTensors& named) {
  std::vector<std::string> names;
  for (const auto& entry : named) names.push_back(entry.first);
  return names;
}

TEST(Module, NamedParametersAreDottedInRegistrationOrder) {
  TwoLayerNet net;
  EXPECT_EQ(names_of(net.named_parameters()),
            (std::vector<std::string>{"hidden.weight", "hidden.bias", "output.weight"}));
  EXPECT_EQ(names_of(net.named_parameters(/*recurse=*/false)), std::vector<std::string>{});
  EXPECT_EQ(names_of(net.named_buffers()), std::vector<std::string>{"scale"});
  EXPECT_EQ(names_of(net.state_dict()),
            (std::vector<std::string>{"hidden.weight", "hidden.bias", "output.weight", "scale"}));
  EXPECT_EQ(net.children().size(), 2u);
  for (const Tensor& p : net.parameters()) EXPECT_TRUE(p.requires_grad());
  EXPECT_FALSE(net.scale.requires_grad());
}

TEST(Module, ParametersAreTheLayersOwnTensors) {
  TwoLayerNet net;
  EXPECT_TRUE(net.parameters()[0].is_same(net.hidden->weight));
  EXPECT_TRUE(net.parameters()[1].is_same(net.hidden->bias));
}

TEST(Module, ParameterCountSumsEveryParameter) {
  TwoLayerNet net;
  EXPECT_EQ(net.parameter_count(), 4 * 3 + 3 + 3 * 2);
  nn::Sequential mlp(nn::Linear(784, 128), nn::ReLU(), nn::Linear(128, 64), nn::ReLU(), nn::Linear(64, 10));
  EXPECT_EQ(mlp.parameter_count(), 109386);  // PyTorch's count for the MNIST MLP
}

TEST(Module, RegisteringANameTwiceIsAnError) {
  struct Twice : nn::Module {
    Twice() {
      register_parameter("w", zeros({1}));
      register_buffer("w", zeros({1}));
    }
  };
  expect_error([] { Twice twice; }, {"already registered"});
  struct Dotted : nn::Module {
    Dotted() { register_parameter("a.b", zeros({1})); }
  };
  expect_error([] { Dotted dotted; }, {"contain no '.'"});
}

TEST(Module, TrainAndEvalReachEverySubmodule) {
  TwoLayerNet net;
  EXPECT_TRUE(net.is_training());
  net.eval();
  EXPECT_FALSE(net.is_training());
  EXPECT_FALSE(net.hidden->is_training());
  net.train();
  EXPECT_TRUE(net.output->is_training());
}

TEST(Module, ZeroGradSetsToNoneOrZeroes) {
  TwoLayerNet net;
  net(ones({5, 4})).sum().backward();
  ASSERT_TRUE(net.hidden->weight.grad().defined());
  net.zero_grad(/*set_to_none=*/false);
  expect_values(net.hidden->weight.grad(), std::vector<double>(12, 0.0));
  net.zero_grad();
  EXPECT_FALSE(net.hidden->weight.grad().defined());
}

TEST(Module, ToDtypeConvertsInPlaceKeepingHandles) {
  TwoLayerNet net;
  const Tensor weight = net.hidden->weight;  // e.g. held by an optimizer
  const std::vector<double> before = weight.to_vector<double>();
  net.to(kFloat64);
  EXPECT_EQ(weight.dtype(), kFloat64);
  EXPECT_EQ(net.scale.dtype(), kFloat64);
  EXPECT_TRUE(weight.requires_grad());
  expect_values(weight, before, 0);
  EXPECT_EQ(net(ones({1, 4}, kFloat64)).dtype(), kFloat64);
}

TEST(Module, PrintsLikePyTorch) {
  nn::Sequential model(nn::Conv2d(1, 16, 5, 1, 2), nn::ReLU(), nn::MaxPool2d(2), nn::Flatten(),
                       nn::Linear(7 * 7 * 16, 10), nn::LogSoftmax(1));
  EXPECT_EQ(fmt::format("{}", model),
            "Sequential(\n"
            "  (0): Conv2d(1, 16, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))\n"
            "  (1): ReLU()\n"
            "  (2): MaxPool2d(kernel_size=2, stride=2, padding=0)\n"
            "  (3): Flatten(start_dim=1, end_dim=-1)\n"
            "  (4): Linear(in_features=784, out_features=10, bias=True)\n"
            "  (5): LogSoftmax(dim=1)\n"
            ")");
  TwoLayerNet net;
  EXPECT_EQ(net.str(),
            "TwoLayerNet(\n"
            "  (hidden): Linear(in_features=4, out_features=3, bias=True)\n"
            "  (output): Linear(in_features=3, out_features=2, bias=False)\n"
            ")");
}

TEST(Sequential, AppliesModulesInOrderAndIndexes) {
  nn::Sequential model;
  model.push_back(nn::Linear(3, 2));
  auto shared_relu = std::make_shared<nn::ReLU>();
  model.push_back(shared_relu);
  ASSERT_EQ(model.size(), 2u);
  EXPECT_EQ(model[1].get(), shared_relu.get());
  EXPECT_EQ(model[-1].get(), shared_relu.get());
  nn::Linear& linear = model.at<nn::Linear>(0);
  const Tensor x = f64({1, -2, 3}, Shape{1, 3}).to(kFloat32);
  const Tensor expected = relu(add(matmul(x, linear.weight.t()), linear.bias));
  expect_values(model(x), expected.to_vector<double>(), 0);
  EXPECT_EQ(names_of(model.named_parameters()), (std::vector<std::string>{"0.weight", "0.bias"}));
  expect_error([&] { (void)model[2]; }, {"out of range"});
  expect_error([&] { (void)model.at<nn::Linear>(1); }, {"ReLU"});
}

// ---- Linear ----

nn::LinearOptions LinearOptionsFor64() { return {.in_features = 3, .out_features = 2, .bias = true, .dtype = kFloat64}; }

TEST(Linear, ComputesXWTransposePlusBias) {
  nn::Linear linear(LinearOptionsFor64());
  NoGradGuard no_grad;
  linear.weight.copy_(f64({1, 2, 3, 4, 5, 6}, Shape{2, 3}));
  linear.bias.copy_(f64({0.5, -0.5}));
  expect_values(linear(f64({1, 0, -1, 2, 1, 0}, Shape{2, 3})), {1 - 3 + 0.5, 4 - 6 - 0.5, 2 + 2 + 0.5, 8 + 5 - 0.5});
  // Leading batch dims are kept: [2, 2, 2, 3] -> [2, 2, 2, 2].
  EXPECT_EQ(shape_of(linear(zeros({2, 2, 2, 3}, kFloat64))), "[2, 2, 2, 2]");
}

TEST(Linear, InitializesUniformlyWithinOneOverSqrtFanIn) {
  manual_seed(0);
  nn::Linear linear(400, 300);
  const double bound = 1 / std::sqrt(400.0);
  const Tensor w = linear.weight;
  EXPECT_LE(w.max().item(), bound);
  EXPECT_GE(w.min().item(), -bound);
  // Uniform on [-b, b]: mean 0, variance b^2 / 3.
  EXPECT_NEAR(w.mean().item(), 0, 0.01 * bound);
  EXPECT_NEAR(w.pow(2).mean().item(), bound * bound / 3, 0.02 * bound * bound / 3);
  EXPECT_LE(linear.bias.abs().max().item(), bound);
  EXPECT_GT(linear.bias.abs().max().item(), 0.9 * bound);
}

TEST(Linear, SameSeedGivesSameInitialization) {
  manual_seed(42);
  nn::Linear a(10, 5);
  manual_seed(42);
  nn::Linear b(10, 5);
  expect_values(a.weight, b.weight.to_vector<double>(), 0);
  expect_values(a.bias, b.bias.to_vector<double>(), 0);
}

TEST(Linear, GradientsMatchFiniteDifferences) {
  nn::Linear linear(LinearOptionsFor64());
  const Tensor x = input({4, 3}, 1);
  expect_gradcheck([&](const std::vector<Tensor>& in) { return linear(in[0]); }, {x});
  // gradcheck perturbs its inputs in place, so the layer's own parameters can be the inputs.
  expect_gradcheck([&](const std::vector<Tensor>&) { return linear(x.detach()); }, {linear.weight, linear.bias});
}

TEST(Linear, RejectsAWrongFeatureCount) {
  nn::Linear linear(3, 2);
  expect_error([&] { linear(zeros({4, 5})); }, {"expected an input of shape [..., 3], got [4, 5]"});
}

// ---- Hooks and introspection ----

TEST(ModuleHooks, PreHookReplacesTheInputAndHookReplacesTheOutput) {
  nn::Linear linear(LinearOptionsFor64());
  const Tensor x = f64({1, 2, 3}, Shape{1, 3});
  std::vector<std::string> calls;
  auto doubled_input = linear.register_forward_pre_hook([&](nn::Module& module, const Tensor& input) {
    calls.push_back("pre " + module.name());
    return mul(input, 2.0);
  });
  auto observe = linear.register_forward_hook([&](nn::Module&, const Tensor& input, const Tensor& output) {
    calls.push_back("post");
    // The hook sees the input forward saw: the replaced one.
    expect_values(input, {2, 4, 6}, 0);
    EXPECT_EQ(shape_of(output), "[1, 2]");
  });
  auto negated_output = linear.register_forward_hook(
      [](nn::Module&, const Tensor&, const Tensor& output) -> std::optional<Tensor> { return neg(output); });
  const Tensor expected = neg(linear.forward(mul(x, 2.0)));
  expect_values(linear(x), expected.to_vector<double>(), 0);
  EXPECT_EQ(calls, (std::vector<std::string>{"pre Linear", "post"}));
  // forward() itself runs no hooks, as in PyTorch.
  calls.clear();
  (void)linear.forward(x);
  EXPECT_TRUE(calls.empty());
}

TEST(ModuleHooks, RemovedHooksNoLongerRunAndRemovingTwiceIsHarmless) {
  nn::Linear linear(LinearOptionsFor64());
  int pre_calls = 0, post_calls = 0;
  nn::RemovableHandle pre = linear.register_forward_pre_hook([&](nn::Module&, const Tensor&) { ++pre_calls; });
  nn::RemovableHandle post =
      linear.register_forward_hook([&](nn::Module&, const Tensor&, const Tensor&) { ++post_calls; });
  const Tensor x = zeros({1, 3}, kFloat64);
  (void)linear(x);
  pre.remove();
  (void)linear(x);
  post.remove();
  post.remove();
  (void)linear(x);
  EXPECT_EQ(pre_calls, 1);
  EXPECT_EQ(post_calls, 2);
  nn::RemovableHandle().remove();  // a default handle removes nothing
}

TEST(ModuleHooks, AHookMayRemoveItselfWhileRunning) {
  nn::Linear linear(LinearOptionsFor64());
  int calls = 0;
  nn::RemovableHandle handle;
  handle = linear.register_forward_hook([&](nn::Module&, const Tensor&, const Tensor&) {
    ++calls;
    handle.remove();
  });
  (void)linear(zeros({1, 3}, kFloat64));
  (void)linear(zeros({1, 3}, kFloat64));
  EXPECT_EQ(calls, 1);
}

TEST(ModuleHooks, SequentialRunsTheHooksOfItsLayers) {
  nn::Sequential model(nn::Linear(3, 4), nn::ReLU(), nn::Linear(4, 2));
  std::vector<std::string> shapes;
  for (const auto& layer : model.children())
    layer->register_forward_hook([&](nn::Module& module, const Tensor&, const Tensor& output) {
      shapes.push_back(module.name() + " " + shape_of(output));
    });
  (void)model(zeros({5, 3}));
  EXPECT_EQ(shapes, (std::vector<std::string>{"Linear [5, 4]", "ReLU [5, 4]", "Linear [5, 2]"}));
}

TEST(ModuleHooks, AHandleOutlivingItsModuleRemovesNothing) {
  nn::RemovableHandle handle;
  {
    nn::Linear linear(3, 2);
    handle = linear.register_forward_hook([](nn::Module&, const Tensor&, const Tensor&) {});
  }
  handle.remove();
}

TEST(Module, ApplyVisitsChildrenBeforeTheirParentLikePyTorch) {
  nn::Sequential model(nn::Linear(3, 4), nn::Sequential(nn::ReLU(), nn::Linear(4, 2)));
  std::vector<std::string> visited;
  nn::Module& returned = model.apply([&](nn::Module& module) { visited.push_back(module.name()); });
  EXPECT_EQ(&returned, &model);
  EXPECT_EQ(visited, (std::vector<std::string>{"Linear", "ReLU", "Linear", "Sequential", "Sequential"}));
  // The usual use: initialize every layer of one kind.
  model.apply([](nn::Module& module) {
    if (auto* linear = dynamic_cast<nn::Linear*>(&module)) {
      NoGradGuard no_grad;
      linear->bias.zero_();
    }
  });
  for (const auto& [name, parameter] : model.named_parameters())
    if (name.ends_with("bias")) EXPECT_EQ(parameter.abs().max().item(), 0) << name;
}

TEST(Module, RequiresGradFreezesAndCountsTrainableParameters) {
  TwoLayerNet net;
  EXPECT_EQ(net.trainable_parameter_count(), net.parameter_count());
  EXPECT_EQ(&net.hidden->requires_grad_(false), net.hidden.get());
  for (const Tensor& p : net.hidden->parameters()) EXPECT_FALSE(p.requires_grad());
  EXPECT_TRUE(net.output->weight.requires_grad());
  EXPECT_EQ(net.parameter_count(), 4 * 3 + 3 + 3 * 2);
  EXPECT_EQ(net.trainable_parameter_count(), 3 * 2);
  // Frozen layers get no gradient.
  sum(net(ones({2, 4}))).backward();
  EXPECT_FALSE(net.hidden->weight.grad().defined());
  EXPECT_TRUE(net.output->weight.grad().defined());
  net.requires_grad_();
  EXPECT_EQ(net.trainable_parameter_count(), net.parameter_count());
}

}  // namespace
}  // namespace tapegrad
