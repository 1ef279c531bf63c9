// Specification of in-place updates on the tape, as PyTorch's: on a non-leaf (or with an operand
// requiring grad) they are recorded, so the gradient equals the out-of-place op's (first and
// second order); a node that saved the old value reports the write at backward with PyTorch's
// message; an update through a view rewrites the base's history (PyTorch's CopySlices); leaves
// requiring grad and views of them are refused; retain_grad follows the new value.
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_util.h"

namespace tapegrad {
namespace {

using namespace testing;  // the shared test vocabulary of test_util.h

// One update, written in place and out of place; `a` and `b` are float64 leaves of shape [2, 3]
// (b broadcast as [3] where the op takes a second tensor).
struct InPlaceCase {
  const char* name;
  std::function<void(Tensor& h, const Tensor& b)> in_place;
  std::function<Tensor(const Tensor& h, const Tensor& b)> out_of_place;
};

std::vector<InPlaceCase> cases() {
  return {
      {"add_", [](Tensor& h, const Tensor& b) { h.add_(b, 0.5); }, [](const Tensor& h, const Tensor& b) { return h + 0.5 * b; }},
      {"+=", [](Tensor& h, const Tensor& b) { h += b; }, [](const Tensor& h, const Tensor& b) { return h + b; }},
      {"add_ scalar", [](Tensor& h, const Tensor&) { h.add_(2.0); }, [](const Tensor& h, const Tensor&) { return h + 2.0; }},
      {"sub_", [](Tensor& h, const Tensor& b) { h.sub_(b, 2); }, [](const Tensor& h, const Tensor& b) { return h - 2.0 * b; }},
      {"-=", [](Tensor& h, const Tensor& b) { h -= b; }, [](const Tensor& h, const Tensor& b) { return h - b; }},
      {"mul_", [](Tensor& h, const Tensor& b) { h.mul_(b); }, [](const Tensor& h, const Tensor& b) { return h * b; }},
      {"*=", [](Tensor& h, const Tensor& b) { h *= b; }, [](const Tensor& h, const Tensor& b) { return h * b; }},
      {"*= scalar", [](Tensor& h, const Tensor&) { h *= 3.0; }, [](const Tensor& h, const Tensor&) { return h * 3.0; }},
      {"div_", [](Tensor& h, const Tensor& b) { h.div_(b + 3.0); }, [](const Tensor& h, const Tensor& b) { return h / (b + 3.0); }},
      {"/=", [](Tensor& h, const Tensor&) { h /= 4.0; }, [](const Tensor& h, const Tensor&) { return h / 4.0; }},
      {"relu_", [](Tensor& h, const Tensor&) { h.relu_(); }, [](const Tensor& h, const Tensor&) { return relu(h); }},
      {"clamp_", [](Tensor& h, const Tensor&) { h.clamp_(-0.5, 0.5); },
       [](const Tensor& h, const Tensor&) { return clamp(h, -0.5, 0.5); }},
      {"addcmul_", [](Tensor& h, const Tensor& b) { h.addcmul_(b, b, 0.5); },
       [](const Tensor& h, const Tensor& b) { return h + 0.5 * b * b; }},
      {"addcdiv_", [](Tensor& h, const Tensor& b) { h.addcdiv_(b, b * b + 1.0, 2); },
       [](const Tensor& h, const Tensor& b) { return h + 2.0 * b / (b * b + 1.0); }},
      {"masked_fill_", [](Tensor& h, const Tensor& b) { h.masked_fill_(gt(b.detach(), 0.0), 7); },
       [](const Tensor& h, const Tensor& b) { return masked_fill(h, gt(b.detach(), 0.0), 7); }},
      {"fill_", [](Tensor& h, const Tensor&) { h.fill_(1.5); }, [](const Tensor& h, const Tensor&) { return h * 0.0 + 1.5; }},
      {"zero_", [](Tensor& h, const Tensor&) { h.zero_(); }, [](const Tensor& h, const Tensor&) { return h * 0.0; }},
      {"copy_", [](Tensor& h, const Tensor& b) { h.copy_(b); }, [](const Tensor& h, const Tensor& b) { return h * 0.0 + b; }},
  };
}

// A small function around the update: h = a * 1.5 (a non-leaf), updated, then used with a again.
Tensor around_in_place(const InPlaceCase& c, const std::vector<Tensor>& in) {
  Tensor h = in[0] * 1.5;
  c.in_place(h, in[1]);
  return h * in[0] + h;
}
Tensor around_out_of_place(const InPlaceCase& c, const std::vector<Tensor>& in) {
  const Tensor h = c.out_of_place(in[0] * 1.5, in[1]);
  return h * in[0] + h;
}

TEST(InPlaceAutograd, ValuesAndGradientsEqualTheOutOfPlaceOps) {
  for (const InPlaceCase& c : cases()) {
    SCOPED_TRACE(c.name);
    const std::vector<Tensor> in = {input({2, 3}, 11), input({3}, 12)};
    const Tensor expected = around_out_of_place(c, in);
    const auto expected_grads = grad({expected.sum()}, in, {}, std::nullopt, false, /*allow_unused=*/true);
    const Tensor actual = around_in_place(c, in);
    expect_close(actual, expected, 1e-12, "value");
    const auto grads = grad({actual.sum()}, in, {}, std::nullopt, false, /*allow_unused=*/true);
    for (std::size_t i = 0; i < in.size(); ++i) {
      ASSERT_EQ(grads[i].defined(), expected_grads[i].defined()) << "input " << i;
      if (grads[i].defined()) expect_close(grads[i], expected_grads[i], 1e-12, "gradient");
    }
  }
}

TEST(InPlaceAutograd, GradcheckAndGradgradcheck) {
  for (const InPlaceCase& c : cases()) {
    SCOPED_TRACE(c.name);
    const auto fn = [&c](const std::vector<Tensor>& in) { return around_in_place(c, in); };
    expect_gradcheck(fn, {input({2, 3}, 21), input({3}, 22)});
    expect_gradgradcheck(fn, {input({2, 3}, 23), input({3}, 24)});
  }
}

TEST(InPlaceAutograd, UpdateOfANonLeafBumpsTheVersionAndBecomesItsHistory) {
  Tensor x = leaf({1, 2});
  Tensor h = x * 2.0;
  const std::uint32_t before = h.version();
  const Node* old_node = h.grad_fn().get();
  h.mul_(f64({3, 4}));
  EXPECT_EQ(h.version(), before + 1);
  EXPECT_NE(h.grad_fn().get(), old_node);
  EXPECT_STREQ(h.grad_fn()->name(), "mul");
  expect_values(h, {6, 16});
}

TEST(InPlaceAutograd, ResidualAdditionAsInANetwork) {
  // h = relu(x W); h += x (skip connection); the classic use of in-place addition.
  const auto block = [](const std::vector<Tensor>& in) {
    Tensor h = relu(matmul(in[0], in[1]));
    h += in[0];
    return h.sum(Dims{1});
  };
  expect_gradcheck(block, {input({4, 3}, 31), input({3, 3}, 32)});
  expect_gradgradcheck(block, {input({4, 3}, 33), input({3, 3}, 34)});
}

TEST(InPlaceAutograd, PlainTensorUpdatedWithAnOperandThatRequiresGradJoinsTheGraph) {
  Tensor w = leaf({1, 2, 3});
  Tensor target = zeros({3}, kFloat64);
  target.add_(w, 2);
  EXPECT_TRUE(target.requires_grad());
  EXPECT_FALSE(target.is_leaf());
  target.mul_(w);  // 2 w^2
  target.sum().backward();
  expect_values(w.grad(), {4, 8, 12});
  expect_values(target, {2, 8, 18});
}

TEST(InPlaceAutograd, CopyIntoAPlainTensorCarriesTheSourceGradient) {
  Tensor w = leaf({1, 2});
  Tensor target = zeros({3, 2}, kFloat64);
  target.copy_(w);  // broadcast over rows
  (target * f64({1, 2, 3, 4, 5, 6}, Shape{3, 2})).sum().backward();
  expect_values(w.grad(), {9, 12});
}

TEST(InPlaceAutograd, CopyFromFloat32GivesTheSourceAFloat32Gradient) {
  Tensor w = tensor({1.0, 2.0}, std::nullopt, kFloat32).requires_grad_();
  Tensor target = zeros({2}, kFloat64);
  target.copy_(w);
  (target * 3.0).sum().backward();
  EXPECT_EQ(w.grad().dtype(), kFloat32);
  expect_values(w.grad(), {3, 3});
}

TEST(InPlaceAutograd, ANodeThatSavedTheOldValueReportsTheWriteAtBackward) {
  Tensor x = leaf({1, 2});
  Tensor h = x * 2.0;
  Tensor y = h * h;  // mul saves h at version 0
  h.add_(1.0);
  expect_error([&] { y.sum().backward(); },
               {"mul", "one of the variables needed for gradient computation has been modified by an inplace operation",
                "[float64 [2]] is at version 1; expected version 0 instead"});
}

TEST(InPlaceAutograd, UpdatingAnOutputSavedByItsOwnOpIsReported) {
  // exp keeps its output for backward, as in PyTorch, where exp(x).mul_(2) fails the same way.
  Tensor x = leaf({1, 2});
  Tensor y = exp(x);
  y.mul_(2.0);
  expect_error([&] { y.sum().backward(); }, {"exp", "modified by an inplace operation"});
}

TEST(InPlaceAutograd, OperandsSavedByTheUpdateAreItsOwn) {
  // mul_ keeps the old value of h for the gradient of b: later writes to b are reported, the
  // write to h itself is not.
  Tensor a = leaf({1, 2}), b = leaf({3, 4});
  Tensor h = a * 1.0;
  h.mul_(b);
  h.sum().backward();
  expect_values(a.grad(), {3, 4});
  expect_values(b.grad(), {1, 2});
}

TEST(InPlaceAutograd, NotRecordedUnderNoGradGuard) {
  Tensor x = leaf({1, 2});
  Tensor h = x * 2.0;
  const std::shared_ptr<Node> node = h.grad_fn();
  {
    NoGradGuard no_grad;
    h.mul_(3.0);
  }
  EXPECT_EQ(h.grad_fn(), node);
}

TEST(InPlaceAutograd, UpdateThroughAViewRewritesTheBaseHistory) {
  // h = 2x; h[0] *= y; the gradient reaches x through the untouched row and y through row 0.
  Tensor x = leaf({1, 2, 3, 4}, Shape{2, 2});
  const Tensor y = leaf({5, 6});
  Tensor h = x * 2.0;
  h[0] *= y;
  expect_values(h, {10, 24, 6, 8});
  EXPECT_STREQ(h.grad_fn()->name(), "copy_slices");
  (h * f64({1, 2, 3, 4}, Shape{2, 2})).sum().backward();
  expect_values(x.grad(), {10, 24, 6, 8});  // 2 * y * weight in row 0, 2 * weight in row 1
  expect_values(y.grad(), {2, 8});          // 2x * weight in row 0
}

TEST(InPlaceAutograd, UpdatesThroughViewsMatchTheOutOfPlaceGradients) {
  const auto narrowed = [](const std::vector<Tensor>& in) {
    Tensor h = in[0] * 1.5;
    h.narrow(1, 1, 2).mul_(in[1].narrow(0, 0, 2));  // columns 1 and 2 of every row
    h.select(0, 0).add_(in[1].sum());
    return h * in[0];
  };
  const auto transposed = [](const std::vector<Tensor>& in) {
    Tensor h = in[0] * 1.5;
    h.t().relu_();                            // through the whole (transposed) view
    h.t()[1].copy_(in[1].narrow(0, 0, 2));    // row 1 of h^T is h's column 1
    return h * h.sum();
  };
  const auto assigned = [](const std::vector<Tensor>& in) {
    Tensor h = zeros({2, 3}, kFloat64);
    h[1] = in[1];  // a plain tensor joins the graph through the view
    h[0] = in[0][1] * 2.0;
    return h * h;
  };
  for (const auto& fn : {GradcheckFunction(narrowed), GradcheckFunction(transposed), GradcheckFunction(assigned)}) {
    expect_gradcheck(fn, {input({2, 3}, 41), input({3}, 42)});
    expect_gradgradcheck(fn, {input({2, 3}, 43), input({3}, 44)});
  }
}

TEST(InPlaceAutograd, TheViewsHistoryIsRegeneratedFromTheNewBase) {
  Tensor x = leaf({1, 2, 3, 4});
  Tensor h = x * 1.0;
  Tensor front = h.narrow(0, 0, 2);
  front.mul_(3.0);
  EXPECT_STREQ(front.grad_fn()->name(), "as_strided");
  (front * front).sum().backward();  // d/dx of (3x)^2 on the first two elements
  expect_values(x.grad(), {18, 36, 0, 0});
}

TEST(InPlaceAutograd, AViewTakenBeforeItsBaseWasUpdatedFollowsTheNewValue) {
  // As PyTorch regenerates a view's grad_fn: v sees h after h.mul_(y), values and gradient.
  Tensor x = leaf({1, 2, 3, 4});
  const Tensor y = leaf({5, 6, 7, 8});
  Tensor h = x * 1.0;
  const Tensor front = h.narrow(0, 0, 2);
  h.mul_(y);
  Tensor sibling = h.narrow(0, 2, 2);
  sibling.add_(1.0);
  (front.sum() + 2.0 * h.narrow(0, 2, 2).sum()).backward();
  expect_values(front, {5, 12});
  expect_values(x.grad(), {5, 6, 14, 16});
  expect_values(y.grad(), {1, 2, 6, 8});
  expect_gradgradcheck(
      [](const std::vector<Tensor>& in) {
        Tensor h = in[0] * 1.0;
        const Tensor front = h.narrow(0, 0, 2);
        h.mul_(in[1]);
        h.narrow(0, 1, 2).mul_(in[1].narrow(0, 0, 2));
        return front * front;
      },
      {input({4}, 51), input({4}, 52)});
}

TEST(InPlaceAutograd, ViewsOfLeavesAndOverlappingViewsAreRefused) {
  Tensor w = leaf({1, 2, 3, 4}, Shape{2, 2});
  expect_error([&] { w[0].add_(1.0); }, {"add_", "a view of a leaf Variable that requires grad"});
  Tensor h = leaf({1, 2}) * 1.0;
  expect_error([&] { h.expand({3, 2}).mul_(2.0); }, {"mul_", "more than one element", "clone()"});
  expect_values(w, {1, 2, 3, 4});
  // Nothing to record: views are updated as before.
  Tensor plain = zeros({2, 2}, kFloat64);
  plain[0].add_(f64({1, 2}));
  expect_values(plain, {1, 2, 0, 0});
  EXPECT_FALSE(plain.requires_grad());
}

TEST(InPlaceAutograd, RetainGradFollowsTheNewValue) {
  Tensor x = leaf({1, 2});
  Tensor h = x * 1.0;
  h.retain_grad();
  h.mul_(3.0);
  EXPECT_TRUE(h.retains_grad());
  (h * h).sum().backward();
  expect_values(h.grad(), {6, 12});  // d(h^2)/dh at the new h = 3x
  expect_values(x.grad(), {18, 36});
}

TEST(InPlaceAutograd, HookRegisteredBeforeTheUpdateSeesTheOldValuesGradient) {
  // As PyTorch documents: a hook registered before an in-place update stays with the old value.
  Tensor x = leaf({1, 2});
  Tensor h = x * 1.0;
  Tensor before, after;
  h.register_hook([&](const Tensor& grad) { before = grad.clone(); });
  h.mul_(3.0);
  h.register_hook([&](const Tensor& grad) { after = grad.clone(); });
  (h * 2.0).sum().backward();
  expect_values(after, {2, 2});
  expect_values(before, {6, 6});
}

TEST(InPlaceAutograd, LeafRefusalNamesTheRemedy) {
  Tensor w = leaf({1});
  expect_error([&] { w += 1.0; }, {"a leaf Variable that requires grad is being used in an in-place operation",
                                   "NoGradGuard"});
  expect_error([&] { w.relu_(); }, {"relu_", "leaf Variable"});
  expect_error([&] { w.masked_fill_(gt(w.detach(), 0.0), 0); }, {"masked_fill_", "leaf Variable"});
}

}  // namespace
}  // namespace tapegrad
