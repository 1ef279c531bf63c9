// Specification of ModuleList, ModuleDict and named_modules: the dotted names of modules held in
// containers (in parameters, state dicts and files), shared layers and tensors listed once as
// parameters but saved under every name, indexing, lookup and removal with their errors,
// printing as PyTorch prints, and every generic module operation reaching the contained layers.
#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include "test_util.h"

namespace tapegrad {
namespace {

using namespace testing;  // the shared test vocabulary of test_util.h

namespace fs = std::filesystem;

// A model written as a PyTorch user writes one with containers:
//   self.layers = nn.ModuleList([nn.Linear(4, 8), nn.Linear(8, 8), nn.Linear(8, 6)])
//   self.heads = nn.ModuleDict({"act": nn.Tanh(), "cls": nn.Linear(6, 3)})
struct ContainerNet : nn::Module {
  std::shared_ptr<nn::ModuleList> layers = register_module(
      "layers", nn::ModuleList{std::make_shared<nn::Linear>(4, 8), std::make_shared<nn::Linear>(8, 8),
                               std::make_shared<nn::Linear>(8, 6)});
  std::shared_ptr<nn::ModuleDict> heads = register_module(
      "heads", nn::ModuleDict{{"act", std::make_shared<nn::Tanh>()}, {"cls", std::make_shared<nn::Linear>(6, 3)}});

  Tensor forward(const Tensor& x) override {
    Tensor y = x;
    for (const auto& layer : *layers) y = relu(layer->forward(y));
    return (*heads)["cls"]->forward((*heads)["act"]->forward(y));
  }
  std::string name() const override { return "ContainerNet"; }
};

template <class Named>
std::vector<std::string> names_of(const Named& named) {
  std::vector<std::string> names;
  for (const auto& entry : named) names.push_back(entry.first);
  return names;
}

const std::vector<std::string> kParameterNames = {"layers.0.weight", "layers.0.bias", "layers.1.weight",
                                                  "layers.1.bias",   "layers.2.weight", "layers.2.bias",
                                                  "heads.cls.weight", "heads.cls.bias"};

TEST(Containers, ParametersOfContainedLayersHaveDottedNames) {
  ContainerNet net;
  EXPECT_EQ(names_of(net.named_parameters()), kParameterNames);
  EXPECT_EQ(names_of(net.state_dict()), kParameterNames);
  EXPECT_EQ(names_of(net.layers->named_parameters()),
            (std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "2.weight", "2.bias"}));
  EXPECT_EQ(net.parameter_count(), (4 * 8 + 8) + (8 * 8 + 8) + (8 * 6 + 6) + (6 * 3 + 3));
  EXPECT_TRUE(net.named_parameters()[2].second.is_same(net.layers->at<nn::Linear>(1).weight));
  EXPECT_TRUE(net.named_parameters()[7].second.is_same(net.heads->at<nn::Linear>("cls").bias));
}

TEST(Containers, DigitNamesAreValidAndDotsAreNot) {
  struct Indexed : nn::Module {
    Indexed() {
      register_module("0", std::make_shared<nn::Linear>(2, 2));
      register_module("block", nn::Sequential(nn::Linear(2, 2)));
    }
  };
  EXPECT_EQ(names_of(Indexed().named_parameters()),
            (std::vector<std::string>{"0.weight", "0.bias", "block.0.weight", "block.0.bias"}));
  struct Dotted : nn::Module {
    Dotted() { register_module("layers.0", std::make_shared<nn::Linear>(2, 2)); }
  };
  expect_error([] { Dotted dotted; }, {"'layers.0'", "contain no '.'"});
}

TEST(Containers, NamedModulesWalkDepthFirstFromTheModuleItself) {
  ContainerNet net;
  const std::vector<std::string> expected = {"",          "layers",    "layers.0", "layers.1",
                                             "layers.2",  "heads",     "heads.act", "heads.cls"};
  const auto named = net.named_modules();
  EXPECT_EQ(names_of(named), expected);
  EXPECT_EQ(named[0].second, &net);
  EXPECT_EQ(named[1].second, net.layers.get());
  EXPECT_EQ(named[4].second, (*net.layers)[2].get());
  EXPECT_EQ(named[7].second, (*net.heads)["cls"].get());
  const ContainerNet& as_const = net;
  EXPECT_EQ(names_of(as_const.named_modules()), expected);
  ASSERT_EQ(net.modules().size(), expected.size());
  EXPECT_EQ(net.modules()[3], (*net.layers)[1].get());
  EXPECT_EQ(as_const.modules().back(), (*net.heads)["cls"].get());

  // train/eval reach the layers inside the containers.
  net.eval();
  for (const nn::Module* module : net.modules()) EXPECT_FALSE(module->is_training());
}

TEST(Containers, NamedModulesListsAModuleRegisteredTwiceOnce) {
  auto shared = std::make_shared<nn::ReLU>();
  nn::ModuleList list{shared, std::make_shared<nn::Tanh>(), shared};
  EXPECT_EQ(names_of(list.named_modules()), (std::vector<std::string>{"", "0", "1"}));
  EXPECT_EQ(list.size(), 3u);
}

TEST(Containers, ALayerUsedTwiceHasItsParametersListedOnceButSavedUnderEachName) {
  // PyTorch: parameters() and named_parameters() drop repeats of a tensor, state_dict() keeps
  // every name.
  auto shared = std::make_shared<nn::Linear>(3, 3);
  nn::Sequential model(shared, nn::ReLU(), shared, nn::Linear(3, 2));
  EXPECT_EQ(names_of(model.named_parameters()), (std::vector<std::string>{"0.weight", "0.bias", "3.weight", "3.bias"}));
  EXPECT_EQ(model.parameters().size(), 4u);
  EXPECT_EQ(model.parameter_count(), 3 * 3 + 3 + 3 * 2 + 2);
  EXPECT_EQ(names_of(model.state_dict()), (std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias",
                                                                      "3.weight", "3.bias"}));
  // An optimizer takes the parameters as they come: each shared one once.
  optim::SGD sgd(model.parameters(), {.lr = 0.1});
  model(ones({2, 3})).sum().backward();
  const std::vector<double> before = shared->weight.to_vector<double>(), grad = shared->weight.grad().to_vector<double>();
  sgd.step();
  std::vector<double> expected = before;
  for (std::size_t j = 0; j < expected.size(); ++j) expected[j] -= 0.1 * grad[j];
  expect_values(shared->weight, expected, 1e-6);  // one update, with the gradient of both uses

  // Saved under every name, loaded back into the same shared tensors.
  const fs::path file = fs::temp_directory_path() / fmt::format("tapegrad_shared_{}.safetensors", ::getpid());
  nn::save(model, file);
  auto other_shared = std::make_shared<nn::Linear>(3, 3);
  nn::Sequential loaded(other_shared, nn::ReLU(), other_shared, nn::Linear(3, 2));
  nn::load(loaded, file);
  fs::remove(file);
  expect_values(other_shared->weight, shared->weight.to_vector<double>(), 0);
}

TEST(Containers, ATensorRegisteredUnderTwoNamesIsOneParameter) {
  // Tied weights: the decoder's weight is the encoder's tensor.
  struct Tied : nn::Module {
    Tensor shared = register_parameter("encoder_weight", zeros({2, 2}));
    Tensor tied = register_parameter("decoder_weight", shared);
    Tensor bias = register_parameter("bias", zeros({2}));
  } tied;
  EXPECT_EQ(names_of(tied.named_parameters()), (std::vector<std::string>{"encoder_weight", "bias"}));
  EXPECT_EQ(tied.parameter_count(), 6);
  EXPECT_EQ(names_of(tied.state_dict()), (std::vector<std::string>{"encoder_weight", "decoder_weight", "bias"}));
}

TEST(Sequential, SharesAppendAndExtendWithModuleList) {
  nn::Sequential model(nn::Linear(2, 3));
  model.append(std::make_shared<nn::ReLU>()).extend(nn::ModuleList{std::make_shared<nn::Linear>(3, 1)});
  ASSERT_EQ(model.size(), 3u);
  EXPECT_EQ(model.at<nn::Linear>(-1).options().out_features, 1);
  EXPECT_EQ(shape_of(model(ones({4, 2}))), "[4, 1]");
  expect_error([&] { (void)model.at<nn::Linear>(1); }, {"Sequential::at", "module 1 is a ReLU"});
}

// The values and gradients of `model` on x, run by Sequential and layer by layer.
struct FusedAndSeparate {
  Tensor fused, separate;
  std::vector<Tensor> fused_grads, separate_grads;
};
FusedAndSeparate run_fused_and_separate(nn::Sequential& model, const Tensor& x) {
  FusedAndSeparate r;
  r.fused = model(x);
  r.separate = x;
  for (const auto& layer : model) r.separate = layer->forward(r.separate);
  std::vector<Tensor> wrt = model.parameters();
  if (x.requires_grad()) wrt.push_back(x);
  const Tensor weights = arange(r.fused.numel(), kFloat64).reshape(r.fused.shape()).to(x.dtype()) - 3;
  r.fused_grads = grad({sum(r.fused * weights)}, wrt);
  r.separate_grads = grad({sum(r.separate * weights)}, wrt);
  return r;
}

// Sequential runs Conv2d + ReLU as one conv2d_relu: the same output and gradients as calling
// the layers one by one; a hook on either layer sees what it would see unfused.
TEST(Sequential, RunsAConvolutionAndItsReluAsOneOpWithTheSameResults) {
  manual_seed(0);
  nn::Sequential model(nn::Conv2d(2, 4, 3, 1, 1), nn::ReLU(), nn::MaxPool2d(2), nn::Conv2d(4, 3, 3), nn::ReLU());
  const Tensor x = randn({2, 2, 8, 8});
  const FusedAndSeparate run = run_fused_and_separate(model, x);
  EXPECT_EQ(std::string_view(run.fused.grad_fn()->name()), "conv2d_relu");
  EXPECT_EQ(std::string_view(run.separate.grad_fn()->name()), "relu");
  EXPECT_TRUE(identical(run.fused, run.separate));
  for (std::size_t i = 0; i < run.fused_grads.size(); ++i)
    EXPECT_TRUE(identical(run.fused_grads[i], run.separate_grads[i])) << i;

  int relu_calls = 0;
  model[1]->register_forward_hook([&](nn::Module&, const Tensor& input, const Tensor&) {
    ++relu_calls;
    EXPECT_LT(input.min().item(), 0.0) << "the hook sees the convolution's output before the ReLU";
  });
  const Tensor hooked = model(x);
  EXPECT_EQ(relu_calls, 1);
  EXPECT_TRUE(equal(hooked, run.fused));
}

// Sequential runs a ReLU followed by a MaxPool2d as the pooling, then the ReLU on the pooled
// output. The values (NaN included) and every gradient are those of the layers run in order, bit
// for bit: windows tiled and overlapping with padding, all-negative windows, ties, -0 and NaN.
TEST(Sequential, RunsAReluNextToMaxPoolingAsOneMaxPool2dRelu) {
  const nn::MaxPool2dOptions tiled{}, overlapping{{3, 3}, {2, 2}, {1, 1}};
  for (const nn::MaxPool2dOptions& pool : {tiled, overlapping}) {
    SCOPED_TRACE(pool.kernel_size[0]);
    manual_seed(2);
    nn::Sequential conv_model(nn::Conv2d(2, 3, 3, 1, 1), nn::ReLU(), nn::MaxPool2d(pool), nn::Conv2d(3, 2, 3), nn::ReLU());
    const FusedAndSeparate conv = run_fused_and_separate(conv_model, randn({2, 2, 10, 10}));
    EXPECT_EQ(std::string_view(conv.fused.grad_fn()->name()), "conv2d_relu");  // the last pair is still fused
    EXPECT_TRUE(identical(conv.fused, conv.separate));
    for (std::size_t i = 0; i < conv.fused_grads.size(); ++i)
      EXPECT_TRUE(identical(conv.fused_grads[i], conv.separate_grads[i])) << "parameter " << i;

    // Ties among positives, windows of negatives and -0, exact zeros, and a NaN.
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const Tensor x = tensor({1.0, 1.0, -2.0, -0.0, 0.0, -1.0, 3.0, 3.0, -5.0, -4.0, -0.0, -3.0, 2.0, nan, 0.5, 0.5,
                             0.0, 0.0, -1.0, 4.0, 7.0, -7.0, 2.0, 2.0, -1.0, -2.0, -3.0, -4.0, 1.0, 1.0, 1.0, 1.0},
                            Shape{1, 2, 4, 4}, kFloat64).requires_grad_();
    nn::Sequential relu_pool{nn::ReLU(), nn::MaxPool2d(pool)}, pool_relu{nn::MaxPool2d(pool), nn::ReLU()};
    for (nn::Sequential* model : {&relu_pool, &pool_relu}) {
      const FusedAndSeparate pair = run_fused_and_separate(*model, x);
      EXPECT_EQ(std::string_view(pair.fused.grad_fn()->name()), "max_pool2d_relu");
      EXPECT_EQ(std::string_view(pair.separate.grad_fn()->name()), model == &relu_pool ? "max_pool2d" : "relu");
      EXPECT_TRUE(identical(pair.fused, pair.separate));
      EXPECT_TRUE(identical(pair.fused_grads[0], pair.separate_grads[0]));
    }
  }
}

// A hook on either layer sees what it would see unfused, so hooked layers run in order.
TEST(Sequential, RunsAHookedReluAndMaxPoolingInTheirOwnOrder) {
  nn::Sequential model(nn::ReLU(), nn::MaxPool2d(2));
  int hook_calls = 0;
  model[0]->register_forward_hook([&](nn::Module&, const Tensor& input, const Tensor& output) {
    ++hook_calls;
    EXPECT_EQ(shape_of(input), "[1, 1, 4, 4]");
    EXPECT_EQ(shape_of(output), "[1, 1, 4, 4]");
  });
  const Tensor y = model(randn({1, 1, 4, 4}).requires_grad_());
  EXPECT_EQ(hook_calls, 1);
  EXPECT_EQ(std::string_view(y.grad_fn()->name()), "max_pool2d");
}

TEST(ModuleList, IndexesFromEitherEndAndIteratesInOrder) {
  ContainerNet net;
  const nn::ModuleList& layers = *net.layers;
  ASSERT_EQ(layers.size(), 3u);
  EXPECT_EQ(layers[-1].get(), layers[2].get());
  EXPECT_EQ(layers[-3].get(), layers[0].get());
  EXPECT_EQ(layers.at<nn::Linear>(-1).options().out_features, 6);
  std::vector<const nn::Module*> iterated;
  for (const std::shared_ptr<nn::Module>& module : layers) iterated.push_back(module.get());
  EXPECT_EQ(iterated, (std::vector<const nn::Module*>{layers[0].get(), layers[1].get(), layers[2].get()}));
}

TEST(ModuleList, RefusesAnIndexOutOfRangeOrAWrongType) {
  ContainerNet net;
  expect_error([&] { (void)(*net.layers)[3]; }, {"ModuleList", "index 3", "3 modules", "-3 to 2"});
  expect_error([&] { (void)(*net.layers)[-4]; }, {"index -4", "3 modules"});
  expect_error([&] { (void)nn::ModuleList{}[0]; }, {"index 0", "no modules"});
  expect_error([&] { (void)net.layers->at<nn::ReLU>(0); }, {"module 0 is a Linear"});
}

TEST(ModuleList, AppendsAndExtendsUnderTheNextIndices) {
  nn::ModuleList list;
  list.push_back(nn::Linear(2, 3));
  auto relu = std::make_shared<nn::ReLU>();
  list.push_back(relu);
  list.append(std::make_shared<nn::Tanh>());
  list.extend(std::vector<std::shared_ptr<nn::Linear>>{std::make_shared<nn::Linear>(3, 1)});
  ASSERT_EQ(list.size(), 4u);
  EXPECT_EQ(list[1].get(), relu.get());
  EXPECT_EQ(names_of(list.named_children()), (std::vector<std::string>{"0", "1", "2", "3"}));
  EXPECT_EQ(names_of(list.named_parameters()), (std::vector<std::string>{"0.weight", "0.bias", "3.weight", "3.bias"}));
  list.extend(list);  // as list += list: the same modules again, under new indices
  ASSERT_EQ(list.size(), 8u);
  EXPECT_EQ(list[5].get(), relu.get());
  EXPECT_EQ(names_of(list.named_children()).back(), "7");
}

TEST(ModuleList, HasNoForwardOfItsOwn) {
  ContainerNet net;
  expect_error([&] { (*net.layers)(ones({1, 4})); }, {"ModuleList has no forward", "Iterate over it"});
  expect_error([&] { (*net.heads)(ones({1, 6})); }, {"ModuleDict has no forward", "Look one up by key"});
}

TEST(ModuleDict, KeepsInsertionOrderAndLooksUpByKey) {
  ContainerNet net;
  nn::ModuleDict& heads = *net.heads;
  EXPECT_EQ(heads.size(), 2u);
  EXPECT_EQ(heads.keys(), (std::vector<std::string>{"act", "cls"}));
  EXPECT_TRUE(heads.contains("cls"));
  EXPECT_FALSE(heads.contains("reg"));
  EXPECT_EQ(heads["act"]->name(), "Tanh");
  std::vector<std::string> keys;
  for (const auto& [key, module] : heads) {
    keys.push_back(key);
    EXPECT_EQ(module.get(), heads[key].get());
  }
  EXPECT_EQ(keys, heads.keys());

  auto reg = heads.insert("reg", nn::Linear(6, 1));
  EXPECT_EQ(heads.keys(), (std::vector<std::string>{"act", "cls", "reg"}));
  EXPECT_EQ(&heads.at<nn::Linear>("reg"), reg.get());
  EXPECT_EQ(names_of(net.named_parameters()).back(), "heads.reg.bias");
}

TEST(ModuleDict, ReplacingAKeyKeepsItsPlace) {
  ContainerNet net;
  auto wider = net.heads->insert("cls", std::make_shared<nn::Linear>(6, 5));
  EXPECT_EQ(net.heads->keys(), (std::vector<std::string>{"act", "cls"}));
  EXPECT_EQ((*net.heads)["cls"].get(), wider.get());
  EXPECT_EQ(names_of(net.named_parameters()), kParameterNames);
  EXPECT_TRUE(net.named_parameters()[6].second.is_same(wider->weight));
  EXPECT_EQ(shape_of(net(ones({2, 4}))), "[2, 5]");
}

TEST(ModuleDict, RefusesAMissingKeyAndInvalidKeys) {
  ContainerNet net;
  expect_error([&] { (void)(*net.heads)["reg"]; }, {"no module under the key 'reg'", "the keys are: act, cls"});
  expect_error([&] { (void)nn::ModuleDict{}["reg"]; }, {"'reg'", "empty"});
  expect_error([&] { (void)net.heads->at<nn::Linear>("act"); }, {"'act' is a Tanh"});
  expect_error([&] { net.heads->insert("a.b", nn::ReLU()); }, {"'a.b'", "contain no '.'"});
  expect_error([&] { net.heads->insert("", nn::ReLU()); }, {"non-empty"});
  EXPECT_EQ(net.heads->size(), 2u);
}

TEST(ModuleDict, PopRemovesAKeyAndReturnsItsModule) {
  ContainerNet net;
  const std::shared_ptr<nn::Module> act = (*net.heads)["act"];
  EXPECT_EQ(net.heads->pop("act").get(), act.get());
  EXPECT_EQ(net.heads->keys(), std::vector<std::string>{"cls"});
  expect_error([&] { (void)net.heads->pop("act"); }, {"no module under the key 'act'", "the keys are: cls"});
  net.heads->insert("act", nn::ReLU());  // the name is free again, and goes last
  EXPECT_EQ(net.heads->keys(), (std::vector<std::string>{"cls", "act"}));
  net.heads->erase("cls");
  EXPECT_EQ(names_of(net.named_parameters()).back(), "layers.2.bias");
  net.heads->clear();
  EXPECT_EQ(net.heads->size(), 0u);
  expect_error([&] { net.heads->erase("cls"); }, {"'cls'", "empty"});
}

TEST(Containers, PrintLikePyTorch) {
  ContainerNet net;
  EXPECT_EQ(fmt::format("{}", net),
            "ContainerNet(\n"
            "  (layers): ModuleList(\n"
            "    (0): Linear(in_features=4, out_features=8, bias=True)\n"
            "    (1): Linear(in_features=8, out_features=8, bias=True)\n"
            "    (2): Linear(in_features=8, out_features=6, bias=True)\n"
            "  )\n"
            "  (heads): ModuleDict(\n"
            "    (act): Tanh()\n"
            "    (cls): Linear(in_features=6, out_features=3, bias=True)\n"
            "  )\n"
            ")");
  // PyTorch folds a run of modules that print alike into one entry.
  nn::ModuleList repeated{std::make_shared<nn::Linear>(8, 8), std::make_shared<nn::Linear>(8, 8),
                          std::make_shared<nn::Linear>(8, 8), std::make_shared<nn::ReLU>(),
                          std::make_shared<nn::Sequential>(nn::ReLU())};
  EXPECT_EQ(repeated.str(),
            "ModuleList(\n"
            "  (0-2): 3 x Linear(in_features=8, out_features=8, bias=True)\n"
            "  (3): ReLU()\n"
            "  (4): Sequential(\n"
            "    (0): ReLU()\n"
            "  )\n"
            ")");
  EXPECT_EQ(nn::ModuleList{}.str(), "ModuleList()");
}

TEST(Containers, ToDtypeReachesContainedLayers) {
  ContainerNet net;
  const Tensor held = net.layers->at<nn::Linear>(2).weight;  // e.g. held by an optimizer
  net.to(kFloat64);
  for (const auto& [name, tensor] : net.state_dict()) EXPECT_EQ(tensor.dtype(), kFloat64) << name;
  EXPECT_EQ(held.dtype(), kFloat64);
  EXPECT_EQ(net(ones({2, 4}, kFloat64)).dtype(), kFloat64);
}

TEST(Containers, SaveThenLoadRestoresContainedLayers) {
  const fs::path file = fs::temp_directory_path() / fmt::format("tapegrad_containers_{}.safetensors", ::getpid());
  manual_seed(1);
  ContainerNet saved;
  nn::save(saved, file);
  EXPECT_EQ(names_of(load_tensors(file).tensors), kParameterNames);
  manual_seed(2);
  ContainerNet loaded;
  ASSERT_NE(loaded.layers->at<nn::Linear>(0).weight.to_vector<double>(),
            saved.layers->at<nn::Linear>(0).weight.to_vector<double>());
  nn::load(loaded, file);
  fs::remove(file);
  const NamedTensors expected = saved.state_dict(), actual = loaded.state_dict();
  ASSERT_EQ(actual.size(), expected.size());
  for (std::size_t i = 0; i < actual.size(); ++i)
    expect_values(actual[i].second, expected[i].second.to_vector<double>(), 0);
}

TEST(Containers, AnOptimizerOverTheModelsParametersUpdatesContainedLayers) {
  manual_seed(0);
  ContainerNet net;
  optim::SGD sgd(net.parameters(), {.lr = 0.1});
  net(randn({5, 4})).pow(2).sum().backward();
  std::vector<std::vector<double>> before, gradients;
  for (const Tensor& p : net.parameters()) {
    before.push_back(p.to_vector<double>());
    gradients.push_back(p.grad().to_vector<double>());
  }
  sgd.step();
  const NamedTensors after = net.named_parameters();
  ASSERT_EQ(after.size(), kParameterNames.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    std::vector<double> expected = before[i];
    for (std::size_t j = 0; j < expected.size(); ++j) expected[j] -= 0.1 * gradients[i][j];
    SCOPED_TRACE(after[i].first);
    expect_values(after[i].second, expected, 1e-6);
    EXPECT_NE(after[i].second.to_vector<double>(), before[i]);
  }
}

}  // namespace
}  // namespace tapegrad
