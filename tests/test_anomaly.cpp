// Specification of anomaly mode, as PyTorch's torch.autograd.detect_anomaly: a backward that
// produces NaN or Inf throws, naming the backward function, which of its outputs, and the call
// stack of the forward op that recorded it; finite graphs get the same gradients as without the
// mode; without it, non-finite values propagate; the switch is global and the guard scoped.
#include <cmath>
#include <limits>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "test_util.h"

namespace tapegrad {
namespace {

using namespace testing;  // the shared test vocabulary of test_util.h

constexpr double kInf = std::numeric_limits<double>::infinity();

// Runs `body`, expects an AnomalyError and returns it.
template <class Body>
AnomalyError expect_anomaly(Body&& body) {
  try {
    body();
  } catch (const AnomalyError& error) {
    return error;
  }
  ADD_FAILURE() << "expected an AnomalyError";
  return AnomalyError("", "", 0);
}

TEST(AnomalyMode, NamesTheBackwardWhoseGradientIsInfAndTheForwardCallThatCreatedIt) {
  autograd::detect_anomaly anomaly;
  Tensor x = leaf({1, 2});
  Tensor y = sqrt(x * 0.0);  // d sqrt(u) / du = 1 / (2 sqrt(0)) = inf
  const AnomalyError error = expect_anomaly([&] { y.sum().backward(); });
  EXPECT_EQ(error.backward_name(), "SqrtBackward");
  EXPECT_EQ(error.output_index(), 0u);
  const std::string message = error.what();
  EXPECT_NE(message.find("Function 'SqrtBackward' returned inf values in its 0th output (the gradient of input 0 of "
                         "'sqrt')."),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("The forward call that created it:"), std::string::npos) << message;
  EXPECT_NE(message.find("tapegrad::sqrt"), std::string::npos) << message;
  EXPECT_NE(message.find("NamesTheBackwardWhoseGradientIsInfAndTheForwardCallThatCreatedIt"), std::string::npos)
      << message;
  // The stack begins at the op, not inside the capture.
  EXPECT_EQ(message.find("record_forward_call"), std::string::npos) << message;
  EXPECT_FALSE(x.grad().defined());  // the pass stopped before the leaf
}

TEST(AnomalyMode, NamesNanValuesAndTheOutputIndexOfTheInputWhoseGradientIsBad) {
  autograd::detect_anomaly anomaly;
  Tensor root = leaf({-1});
  expect_error([&] { sqrt(root).sum().backward(); }, {"Function 'SqrtBackward' returned nan values in its 0th output"});

  Tensor b = leaf({2});
  Tensor y = mul(f64({kInf}), b);  // d(a b)/db = a = inf; a needs no gradient
  const AnomalyError error = expect_anomaly([&] { y.sum().backward(); });
  EXPECT_EQ(error.backward_name(), "MulBackward");
  EXPECT_EQ(error.output_index(), 1u);
  EXPECT_NE(std::string(error.what()).find("returned inf values in its 1th output (the gradient of input 1 of 'mul')"),
            std::string::npos)
      << error.what();
}

TEST(AnomalyMode, SnakeCaseOpsGetPyTorchStyleBackwardNames) {
  autograd::detect_anomaly anomaly;
  Tensor logits = leaf({0, 0});
  // The target's gradient is not taken; the logits' is inf * (sigmoid - target) through the seed.
  Tensor loss = binary_cross_entropy_with_logits(logits, f64({1, 0}), Reduction::None);
  const AnomalyError error = expect_anomaly([&] { loss.backward(f64({kInf, 1})); });
  EXPECT_EQ(error.backward_name(), "BinaryCrossEntropyWithLogitsBackward");
}

TEST(AnomalyMode, FiniteGraphsGetTheSameGradientsAsWithoutTheMode) {
  const auto gradients = [] {
    Tensor w = leaf({0.5, -1, 2, 0.25}, Shape{2, 2});
    Tensor x = f64({1, 2, 3, 4, 5, 6}, Shape{3, 2});
    Tensor loss = (tanh(matmul(x, w)) * sigmoid(matmul(x, w))).pow(2.0).mean();
    loss.backward();
    return w.grad();
  };
  const Tensor without = gradients();
  Tensor with;
  {
    autograd::detect_anomaly anomaly;
    with = gradients();
  }
  ASSERT_EQ(with.shape(), without.shape());
  EXPECT_TRUE(all(eq(with, without)).item() != 0);  // bit for bit: the checks change nothing
}

TEST(AnomalyMode, CreateGraphBackwardsAreCheckedWithoutRecordingTheChecks) {
  autograd::detect_anomaly anomaly;
  Tensor x = leaf({1, 2});
  Tensor y = (x * x * x).sum();
  const Tensor dy = grad({y}, {x}, {}, std::nullopt, /*create_graph=*/true)[0];
  expect_values(dy, {3, 12});
  const Tensor d2y = grad({dy.sum()}, {x})[0];
  expect_values(d2y, {6, 12});
}

TEST(AnomalyMode, WithoutTheModeNonFiniteGradientsPropagate) {
  ASSERT_FALSE(autograd::is_anomaly_enabled());
  Tensor x = leaf({1, 2});
  sqrt(x * 0.0).sum().backward();  // as PyTorch: no check, inf * 0 = nan reaches the leaf
  EXPECT_TRUE(std::isnan(x.grad()[0].item()));
  EXPECT_TRUE(std::isnan(x.grad()[1].item()));
}

TEST(AnomalyMode, NodesRecordedWhileTheModeWasOffAreReportedWithoutAForwardCall) {
  Tensor x = leaf({1});
  Tensor y = sqrt(x * 0.0);
  autograd::detect_anomaly anomaly;
  expect_error([&] { y.sum().backward(); },
               {"Function 'SqrtBackward' returned inf values", "anomaly mode was off when it ran"});
}

TEST(AnomalyMode, CustomFunctionsGetTheirClassNameAndForwardCall) {
  struct NanGradient : autograd::Function<NanGradient> {
    static Tensor forward(autograd::AutogradContext*, const Tensor& x) { return x * 1.0; }
    static std::vector<Tensor> backward(autograd::AutogradContext*, std::vector<Tensor> grad_outputs) {
      return {grad_outputs[0] * std::nan("")};
    }
  };
  autograd::detect_anomaly anomaly;
  Tensor x = leaf({1});
  const AnomalyError error = expect_anomaly([&] { NanGradient::apply(x).sum().backward(); });
  EXPECT_NE(error.backward_name().find("NanGradientBackward"), std::string::npos) << error.what();
  EXPECT_NE(std::string(error.what()).find("CustomFunctionsGetTheirClassNameAndForwardCall"), std::string::npos)
      << error.what();
}

TEST(AnomalyMode, FirstNonFiniteOpNamesTheEarliestOpWhoseOutputWasNotFinite) {
  autograd::detect_anomaly anomaly;
  Tensor x = leaf({1, 0});
  // log(0) = -inf comes first; exp(-inf) = 0 is finite again; the NaN added last comes later.
  Tensor loss = (log(x) * 2.0).exp().sum() + std::nan("");
  const std::string origin = autograd::first_non_finite_op(loss);
  EXPECT_NE(origin.find("'log' is the earliest op on its graph whose output held inf values."), std::string::npos)
      << origin;
  EXPECT_NE(origin.find("FirstNonFiniteOpNamesTheEarliestOpWhoseOutputWasNotFinite"), std::string::npos) << origin;
  EXPECT_EQ(autograd::first_non_finite_op((x * 2.0).sum()), "");  // finite: nothing to explain
}

TEST(AnomalyMode, FirstNonFiniteOpIsEmptyForGraphsRecordedWithoutTheMode) {
  Tensor x = leaf({0});
  Tensor loss = log(x).sum();
  autograd::detect_anomaly anomaly;
  EXPECT_EQ(autograd::first_non_finite_op(loss), "");
}

TEST(AnomalyMode, GuardRestoresThePreviousStateAndNests) {
  ASSERT_FALSE(autograd::is_anomaly_enabled());
  {
    autograd::detect_anomaly on;
    EXPECT_TRUE(autograd::is_anomaly_enabled());
    {
      autograd::detect_anomaly off(false);
      EXPECT_FALSE(autograd::is_anomaly_enabled());
    }
    EXPECT_TRUE(autograd::is_anomaly_enabled());
  }
  EXPECT_FALSE(autograd::is_anomaly_enabled());
  autograd::set_detect_anomaly(true);
  EXPECT_TRUE(autograd::is_anomaly_enabled());
  autograd::set_detect_anomaly(false);
  EXPECT_FALSE(autograd::is_anomaly_enabled());
}

TEST(AnomalyMode, IsGlobalAcrossThreadsAsPyTorchsUnlikeGradMode) {
  autograd::detect_anomaly anomaly;
  bool seen_enabled = false, threw = false;
  std::thread worker([&] {
    seen_enabled = autograd::is_anomaly_enabled();
    Tensor x = leaf({1});
    try {
      sqrt(x * 0.0).sum().backward();
    } catch (const AnomalyError&) {
      threw = true;
    }
  });
  worker.join();
  EXPECT_TRUE(seen_enabled);
  EXPECT_TRUE(threw);
}

}  // namespace
}  // namespace tapegrad
