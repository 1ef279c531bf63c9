// Specification of custom functions (autodiff/function.h), as LibTorch's torch::autograd::Function:
// forward without recording, saved tensors with version checks, saved_data, non-differentiable
// outputs, needs_input_grad, several outputs, non-tensor arguments, undefined gradients, and
// backward written in differentiable ops so second derivatives work.
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "test_util.h"

namespace tapegrad {
namespace {

using namespace testing;  // the shared test vocabulary of test_util.h
using autograd::AutogradContext;
using autograd::Function;

// y = x^3 with the derivative written by hand.
struct Cube : Function<Cube> {
  static Tensor forward(AutogradContext* ctx, const Tensor& x) {
    EXPECT_FALSE(GradMode::is_enabled());  // forward never records
    ctx->save_for_backward({x});
    return x * x * x;
  }
  static std::vector<Tensor> backward(AutogradContext* ctx, std::vector<Tensor> grad_outputs) {
    const Tensor x = ctx->get_saved_variables()[0];
    return {grad_outputs[0] * 3.0 * x * x};
  }
};

TEST(CustomFunction, ForwardValuesAndBackwardGradients) {
  Tensor x = leaf({1, -2, 0.5});
  Tensor y = Cube::apply(x);
  expect_values(y, {1, -8, 0.125});
  EXPECT_TRUE(y.requires_grad());
  EXPECT_FALSE(y.is_leaf());
  y.sum().backward();
  expect_values(x.grad(), {3, 12, 0.75});
}

TEST(CustomFunction, GradcheckAndGradgradcheck) {
  const auto fn = [](const std::vector<Tensor>& in) { return Cube::apply(in[0]); };
  expect_gradcheck(fn, {input({2, 3}, 1)});
  expect_gradgradcheck(fn, {input({2, 3}, 2)});
}

TEST(CustomFunction, WithoutGradientsNothingIsRecorded) {
  Tensor y = Cube::apply(f64({2}));
  expect_values(y, {8});
  EXPECT_FALSE(y.requires_grad());
  Tensor x = leaf({2});
  NoGradGuard no_grad;
  EXPECT_FALSE(Cube::apply(x).requires_grad());
}

// out = a * scale + b with a non-tensor argument between the tensors, kept in saved_data.
struct ScaledAdd : Function<ScaledAdd> {
  static Tensor forward(AutogradContext* ctx, const Tensor& a, double scale, const Tensor& b) {
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["label"] = "scaled";
    return a * scale + b;
  }
  static std::vector<Tensor> backward(AutogradContext* ctx, std::vector<Tensor> grad_outputs) {
    EXPECT_EQ(ctx->saved_data["label"].to_string(), "scaled");
    const Tensor& g = grad_outputs[0];
    const Tensor grad_a = ctx->needs_input_grad(0) ? g * ctx->saved_data["scale"].to_double() : Tensor();
    const Tensor grad_b = ctx->needs_input_grad(1) ? g : Tensor();
    return {grad_a, Tensor(), grad_b};
  }
};

TEST(CustomFunction, NonTensorArgumentsPassThroughAndSavedDataKeepsThem) {
  Tensor a = leaf({1, 2}), b = leaf({3, 4});
  Tensor out = ScaledAdd::apply(a, 2.5, b);
  expect_values(out, {5.5, 9});
  out.sum().backward();
  expect_values(a.grad(), {2.5, 2.5});
  expect_values(b.grad(), {1, 1});
  expect_gradcheck([](const std::vector<Tensor>& in) { return ScaledAdd::apply(in[0], -1.5, in[1]); },
                   {input({3}, 3), input({3}, 4)});
}

TEST(CustomFunction, NeedsInputGradSaysWhichTensorArgumentsNeedGradients) {
  struct Probe : Function<Probe> {
    static Tensor forward(AutogradContext* ctx, const Tensor& a, const Tensor& b) {
      ctx->saved_data["a"] = ctx->needs_input_grad(0);
      ctx->saved_data["b"] = ctx->needs_input_grad(1);
      return a + b;
    }
    static std::vector<Tensor> backward(AutogradContext* ctx, std::vector<Tensor> grad_outputs) {
      EXPECT_TRUE(ctx->saved_data["a"].to_bool());
      EXPECT_FALSE(ctx->saved_data["b"].to_bool());
      EXPECT_FALSE(ctx->needs_input_grad(1));
      return {grad_outputs[0], grad_outputs[0]};  // a gradient nobody needs is dropped
    }
  };
  Tensor a = leaf({1});
  Probe::apply(a, f64({2})).sum().backward();
  expect_values(a.grad(), {1});
}

TEST(CustomFunction, ModifyingASavedTensorBeforeBackwardIsReported) {
  Tensor x = leaf({1, 2});
  Tensor y = Cube::apply(x);
  {
    NoGradGuard no_grad;
    x.mul_(2.0);  // an optimizer step between forward and backward
  }
  expect_error([&] { y.sum().backward(); },
               {"one of the variables needed for gradient computation has been modified by an inplace operation",
                "is at version 1; expected version 0 instead"});
}

TEST(CustomFunction, SecondBackwardWithoutRetainGraphIsRefused) {
  Tensor x = leaf({1});
  Tensor y = Cube::apply(x).sum();
  y.backward();
  expect_error([&] { y.backward(); }, {"backward through the graph a second time"});
}

// Two outputs: the sum and the product of two tensors; the second returned as a tuple element.
struct SumAndProduct : Function<SumAndProduct> {
  static std::tuple<Tensor, Tensor> forward(AutogradContext* ctx, const Tensor& a, const Tensor& b) {
    ctx->save_for_backward({a, b});
    return {a + b, a * b};
  }
  static std::vector<Tensor> backward(AutogradContext* ctx, std::vector<Tensor> grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const Tensor &a = saved[0], &b = saved[1];
    const Tensor &grad_sum = grad_outputs[0], &grad_product = grad_outputs[1];
    return {grad_sum + grad_product * b, grad_sum + grad_product * a};
  }
};

TEST(CustomFunction, SeveralOutputsGetTheirGradientsTogether) {
  Tensor a = leaf({1, 2}), b = leaf({3, 5});
  auto [s, p] = SumAndProduct::apply(a, b);
  expect_values(s, {4, 7});
  expect_values(p, {3, 10});
  (s * 2.0 + p).sum().backward();
  expect_values(a.grad(), {2 + 3, 2 + 5});
  expect_values(b.grad(), {2 + 1, 2 + 2});
  const auto both = [](const std::vector<Tensor>& in) {
    auto [sum_out, product_out] = SumAndProduct::apply(in[0], in[1]);
    return sum_out * product_out;
  };
  expect_gradcheck(both, {input({3}, 5), input({3}, 6)});
  expect_gradgradcheck(both, {input({3}, 7), input({3}, 8)});
}

TEST(CustomFunction, AnUnusedOutputGivesBackwardZerosOrUndefinedWithoutMaterialization) {
  Tensor a = leaf({1, 2}), b = leaf({3, 5});
  auto [s, p] = SumAndProduct::apply(a, b);
  p.sum().backward();  // the sum output gets no gradient: backward sees zeros
  expect_values(a.grad(), {3, 5});

  struct SeesUndefined : Function<SeesUndefined> {
    static std::vector<Tensor> forward(AutogradContext* ctx, const Tensor& x) {
      ctx->set_materialize_grads(false);
      return {x * 2.0, x * 3.0};
    }
    static std::vector<Tensor> backward(AutogradContext* ctx, std::vector<Tensor> grad_outputs) {
      EXPECT_FALSE(grad_outputs[0].defined());
      return {grad_outputs[1] * 3.0};
    }
  };
  Tensor x = leaf({1});
  std::vector<Tensor> outs = SeesUndefined::apply(x);
  outs[1].sum().backward();
  expect_values(x.grad(), {3});
}

TEST(CustomFunction, NonDifferentiableOutputsGetNoGradient) {
  struct MaxWithIndex : Function<MaxWithIndex> {
    static std::vector<Tensor> forward(AutogradContext* ctx, const Tensor& x) {
      Tensor index = argmax(x);
      Tensor mask = eq(x, max(x)).to(kFloat64);
      ctx->mark_non_differentiable({mask});
      ctx->save_for_backward({mask});
      return {max(x), index, mask};
    }
    static std::vector<Tensor> backward(AutogradContext* ctx, std::vector<Tensor> grad_outputs) {
      expect_values(grad_outputs[2], {0, 0, 0});  // the non-differentiable output's gradient is zeros
      return {grad_outputs[0] * ctx->get_saved_variables()[0]};
    }
  };
  Tensor x = leaf({1, 4, 2});
  std::vector<Tensor> outs = MaxWithIndex::apply(x);
  EXPECT_TRUE(outs[0].requires_grad());
  EXPECT_FALSE(outs[1].requires_grad());  // int64: never differentiable
  EXPECT_FALSE(outs[2].requires_grad());  // marked
  outs[0].backward();
  expect_values(x.grad(), {0, 1, 0});
}

TEST(CustomFunction, ReturningAnInputGivesANewTensorWithItsOwnHistory) {
  struct Identity : Function<Identity> {
    static Tensor forward(AutogradContext*, const Tensor& x) { return x; }
    static std::vector<Tensor> backward(AutogradContext*, std::vector<Tensor> grad_outputs) {
      return {grad_outputs[0] * 2.0};  // deliberately not the identity's gradient
    }
  };
  Tensor x = leaf({1, 2});
  Tensor y = Identity::apply(x);
  EXPECT_TRUE(x.is_leaf());
  EXPECT_FALSE(y.is_same(x));
  y.sum().backward();
  expect_values(x.grad(), {2, 2});
}

TEST(CustomFunction, WrongGradientCountOrShapeIsRefused) {
  struct TooFew : Function<TooFew> {
    static Tensor forward(AutogradContext*, const Tensor& a, const Tensor& b) { return a + b; }
    static std::vector<Tensor> backward(AutogradContext*, std::vector<Tensor> grad_outputs) { return {grad_outputs[0]}; }
  };
  struct WrongShape : Function<WrongShape> {
    static Tensor forward(AutogradContext*, const Tensor& a) { return a * 1.0; }
    static std::vector<Tensor> backward(AutogradContext*, std::vector<Tensor>) { return {zeros({5}, kFloat64)}; }
  };
  struct GradientForANumber : Function<GradientForANumber> {
    static Tensor forward(AutogradContext*, const Tensor& a, double) { return a * 1.0; }
    static std::vector<Tensor> backward(AutogradContext*, std::vector<Tensor> g) { return {g[0], g[0]}; }
  };
  Tensor a = leaf({1, 2});
  expect_error([&] { TooFew::apply(a, a).sum().backward(); }, {"returned 1 gradients", "expected one per forward argument"});
  expect_error([&] { WrongShape::apply(a).sum().backward(); }, {"[5]", "[2]"});
  expect_error([&] { GradientForANumber::apply(a, 1.0).sum().backward(); }, {"argument 1", "not a tensor"});
}

TEST(CustomFunction, SavedDataReadAsTheWrongKindIsAnError) {
  autograd::SavedValue value(std::int64_t{3});
  EXPECT_EQ(value.to_int(), 3);
  EXPECT_EQ(value.to_double(), 3.0);
  expect_error([&] { value.to_string(); }, {"saved_data", "an int", "a string"});
  EXPECT_TRUE(autograd::SavedValue().is_none());
  autograd::SavedValue list(std::vector<std::int64_t>{2, 3});
  EXPECT_EQ(list.to_int_list(), (std::vector<std::int64_t>{2, 3}));
}

TEST(CustomFunction, HooksAndRetainGradWorkOnItsOutputs) {
  Tensor a = leaf({1, 2}), b = leaf({3, 5});
  auto [s, p] = SumAndProduct::apply(a, b);
  p.retain_grad();
  s.register_hook([](const Tensor& grad) { return grad * 10.0; });
  (s + p).sum().backward();
  expect_values(p.grad(), {1, 1});
  expect_values(a.grad(), {10 + 3, 10 + 5});
}

}  // namespace
}  // namespace tapegrad
