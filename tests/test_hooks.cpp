// Specification of gradient hooks, as PyTorch's: register_hook on leaves and non-leaves (order,
// replacement, removal), retain_grad on non-leaves, and register_post_accumulate_grad_hook, which
// fires during backward once per pass per leaf, right after that leaf's .grad was accumulated.
#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_util.h"

namespace tapegrad {
namespace {

using namespace testing;  // the shared test vocabulary of test_util.h

TEST(TensorHooks, LeafHookSeesTheGradientBeforeItIsAccumulated) {
  Tensor x = leaf({1, 2});
  Tensor seen;
  x.register_hook([&](const Tensor& grad) { seen = grad.clone(); });
  (x * f64({3, 4})).sum().backward();
  expect_values(seen, {3, 4});
  expect_values(x.grad(), {3, 4});
}

TEST(TensorHooks, NonLeafHookSeesTheGradientWithRespectToThatTensor) {
  Tensor x = leaf({1, 2});
  Tensor h = x * 2.0;
  Tensor seen;
  h.register_hook([&](const Tensor& grad) { seen = grad.clone(); });
  (h * h).sum().backward();  // d/dh = 2h = [4, 8]
  expect_values(seen, {4, 8});
  expect_values(x.grad(), {8, 16});
}

TEST(TensorHooks, HooksRunInRegistrationOrderEachSeeingThePreviousReplacement) {
  Tensor x = leaf({1, 2});
  Tensor h = x * 1.0;
  std::vector<std::string> order;
  h.register_hook([&](const Tensor& grad) {
    order.push_back("first");
    return grad * 10.0;
  });
  h.register_hook([&](const Tensor& grad) {
    order.push_back("second");
    expect_values(grad, {10, 10});
    return grad + 1.0;
  });
  x.register_hook([&](const Tensor& grad) { order.push_back("leaf"); });
  h.sum().backward();
  EXPECT_EQ(order, (std::vector<std::string>{"first", "second", "leaf"}));
  expect_values(x.grad(), {11, 11});  // the replacement is what flows on to the inputs
}

TEST(TensorHooks, LeafHookReplacementIsWhatAccumulates) {
  Tensor x = leaf({1, 2});
  x.register_hook([](const Tensor& grad) { return grad * 0.5; });
  (x * 4.0).sum().backward();
  expect_values(x.grad(), {2, 2});
}

TEST(TensorHooks, ReplacementAppliesToGradAsWell) {
  Tensor x = leaf({1, 2});
  Tensor h = x * 3.0;
  h.register_hook([](const Tensor& grad) { return -grad; });
  expect_values(grad({h.sum()}, {x})[0], {-3, -3});
  EXPECT_FALSE(x.grad().defined());
}

TEST(TensorHooks, RemovedHooksNoLongerRun) {
  Tensor x = leaf({1, 2});
  int calls = 0;
  HookHandle handle = x.register_hook([&](const Tensor&) { ++calls; });
  Tensor y = (x * 2.0).sum();
  y.backward({}, /*retain_graph=*/true);
  EXPECT_EQ(calls, 1);
  handle.remove();
  y.backward();
  EXPECT_EQ(calls, 1);
  handle.remove();  // removing twice is harmless
}

TEST(TensorHooks, HandleOutlivingTheGraphRemovesNothing) {
  HookHandle handle;
  {
    Tensor x = leaf({1});
    Tensor h = x * 2.0;
    handle = h.register_hook([](const Tensor&) {});
  }
  handle.remove();
}

TEST(TensorHooks, LeafHookRegisteredWhileAGraphExistsStillRuns) {
  Tensor x = leaf({1, 2});
  Tensor y = (x * 2.0).sum();  // the accumulator exists before the hook
  bool ran = false;
  x.register_hook([&](const Tensor&) { ran = true; });
  y.backward();
  EXPECT_TRUE(ran);
}

TEST(TensorHooks, HookThatChangesTheShapeIsRefused) {
  Tensor x = leaf({1, 2});
  x.register_hook([](const Tensor&) { return zeros({3}, kFloat64); });
  expect_error([&] { x.sum().backward(); }, {"hook", "[3]", "[2]"});
}

TEST(TensorHooks, HookOnATensorWithoutGradIsRefused) {
  Tensor plain = f64({1});
  expect_error([&] { plain.register_hook([](const Tensor&) {}); }, {"register_hook", "does not require grad"});
}

TEST(TensorHooks, HookReturningAGraphIsDifferentiableUnderCreateGraph) {
  Tensor x = leaf({1.5});
  Tensor h = x * x;
  h.register_hook([&](const Tensor& grad) { return grad * x; });  // grad 1 becomes x
  const Tensor dx = grad({h.sum()}, {x}, {}, std::nullopt, /*create_graph=*/true)[0];
  expect_values(dx, {2 * 1.5 * 1.5});            // the hook's x times d(x^2)/dx = 2x^2
  expect_values(grad({dx.sum()}, {x})[0], {4 * 1.5});  // d(2x^2)/dx
}

TEST(RetainGrad, NonLeafKeepsItsGradientAfterBackward) {
  Tensor x = leaf({1, 2});
  Tensor h = x * 3.0;
  EXPECT_FALSE(h.retains_grad());
  h.retain_grad();
  EXPECT_TRUE(h.retains_grad());
  (h * h).sum().backward();
  expect_values(h.grad(), {6, 12});
  expect_values(x.grad(), {18, 36});
}

TEST(RetainGrad, GradientsOfSeveralPassesAccumulate) {
  Tensor x = leaf({1, 2});
  Tensor h = x * 3.0;
  h.retain_grad();
  Tensor y = h.sum();
  y.backward({}, /*retain_graph=*/true);
  y.backward();
  expect_values(h.grad(), {2, 2});
}

TEST(RetainGrad, SeesTheGradientAfterTheHooks) {
  // PyTorch runs retain_grad after the tensor's other hooks, whatever the registration order.
  Tensor x = leaf({1, 2});
  Tensor h = x * 1.0;
  h.retain_grad();
  h.register_hook([](const Tensor& grad) { return grad * 5.0; });
  h.sum().backward();
  expect_values(h.grad(), {5, 5});
}

TEST(RetainGrad, LeafIsANoOpAndATensorWithoutGradIsRefused) {
  Tensor x = leaf({1});
  x.retain_grad();
  EXPECT_FALSE(x.retains_grad());
  expect_error([] { f64({1}).retain_grad(); }, {"retain_grad", "does not require grad"});
}

TEST(RetainGrad, RetainedGradientIsAPrivateCopy) {
  Tensor x = leaf({1, 2});
  Tensor h = x * 1.0;
  h.retain_grad();
  h.sum().backward();
  {
    NoGradGuard no_grad;
    Tensor(h.grad()).mul_(0.0);  // editing .grad, as an optimizer does, must not reach x's gradient
  }
  expect_values(x.grad(), {1, 1});
}

TEST(PostAccumulateGradHook, FiresOncePerBackwardPerLeafAfterAccumulation) {
  Tensor w = leaf({1, 2});
  Tensor b = leaf({0.5});
  std::vector<std::string> fired;
  w.register_post_accumulate_grad_hook([&](const Tensor& leaf) {
    fired.push_back("w");
    expect_values(leaf.grad(), {6, 6});  // both uses of w already summed into .grad
  });
  b.register_post_accumulate_grad_hook([&](const Tensor& leaf) {
    fired.push_back("b");
    expect_values(leaf.grad(), {4});
  });
  Tensor y = (w * 2.0 + w * 4.0 + b).sum() + (b * 2.0).sum();
  y.backward();
  std::sort(fired.begin(), fired.end());
  EXPECT_EQ(fired, (std::vector<std::string>{"b", "w"}));
}

TEST(PostAccumulateGradHook, FiresDuringBackwardBeforeEarlierLayersRun) {
  // Data-parallel training starts reducing a layer's gradients while backward goes on: the hook
  // of the last layer's weight must run before the first layer's gradient is computed.
  Tensor w1 = leaf({1}), w2 = leaf({2});
  std::vector<std::string> events;
  w2.register_post_accumulate_grad_hook([&](const Tensor&) { events.push_back("w2 accumulated"); });
  Tensor h = w1 * 3.0;
  h.register_hook([&](const Tensor&) { events.push_back("gradient of h"); });
  w1.register_hook([&](const Tensor&) { events.push_back("gradient of w1"); });
  (h * w2).sum().backward();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2], "gradient of w1");
  EXPECT_NE(std::find(events.begin(), events.end(), "w2 accumulated"), events.end());
}

TEST(PostAccumulateGradHook, FiresAgainOnEachBackwardAndAccumulatesAcrossPasses) {
  Tensor w = leaf({1});
  std::vector<double> grads;
  w.register_post_accumulate_grad_hook([&](const Tensor& leaf) { grads.push_back(leaf.grad().item()); });
  (w * 2.0).sum().backward();
  (w * 2.0).sum().backward();
  EXPECT_EQ(grads, (std::vector<double>{2, 4}));
}

TEST(PostAccumulateGradHook, NotFiredByGradWhichAccumulatesNothing) {
  Tensor w = leaf({1});
  int calls = 0;
  w.register_post_accumulate_grad_hook([&](const Tensor&) { ++calls; });
  grad({(w * 2.0).sum()}, {w});
  EXPECT_EQ(calls, 0);
}

TEST(PostAccumulateGradHook, RemovableAndRefusedOnNonLeaves) {
  Tensor w = leaf({1});
  int calls = 0;
  HookHandle handle = w.register_post_accumulate_grad_hook([&](const Tensor&) { ++calls; });
  handle.remove();
  (w * 2.0).sum().backward();
  EXPECT_EQ(calls, 0);
  Tensor h = w * 2.0;
  expect_error([&] { h.register_post_accumulate_grad_hook([](const Tensor&) {}); },
               {"register_post_accumulate_grad_hook", "not a leaf"});
  expect_error([] { f64({1}).register_post_accumulate_grad_hook([](const Tensor&) {}); },
               {"register_post_accumulate_grad_hook", "not requiring grad"});
}

TEST(PostAccumulateGradHook, OptimizerStepInsideTheHookUpdatesTheLeaf) {
  // The use PyTorch documents: an optimizer step per parameter as soon as its gradient is ready.
  Tensor w = leaf({1, 2});
  w.register_post_accumulate_grad_hook([](const Tensor& leaf) {
    NoGradGuard no_grad;
    Tensor(leaf).sub_(leaf.grad(), 0.5);
    leaf.set_grad(Tensor());
  });
  (w * w).sum().backward();
  expect_values(w, {0, 0});
  EXPECT_FALSE(w.grad().defined());
}

TEST(BackwardCallbacks, RunOnceAfterEveryGradientOfThePassInQueueOrder) {
  // Data-parallel training waits for its gradient reductions here: both leaves' .grad must be
  // final when the callback runs, however the hooks fire.
  Tensor a = tensor({1, 2}, std::nullopt, kFloat64).requires_grad_();
  Tensor b = tensor({3}, std::nullopt, kFloat64).requires_grad_();
  std::vector<std::string> events;
  a.register_post_accumulate_grad_hook([&](const Tensor&) {
    events.push_back("a");
    queue_backward_callback([&] {
      events.push_back(fmt::format("first: a.grad {} b.grad {}", a.grad().sum().item<double>(), b.grad().item<double>()));
      queue_backward_callback([&] { events.push_back("queued by a callback"); });
    });
    queue_backward_callback([&] { events.push_back("second"); });
  });
  b.register_post_accumulate_grad_hook([&](const Tensor&) { events.push_back("b"); });
  (a.sum() * b.sum()).backward();
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[2], "first: a.grad 6 b.grad 3");
  EXPECT_EQ(events[3], "second");
  EXPECT_EQ(events[4], "queued by a callback");
}

TEST(BackwardCallbacks, RefusedOutsideABackwardPass) {
  EXPECT_THROW(queue_backward_callback([] {}), Error);
}

}  // namespace
}  // namespace tapegrad
