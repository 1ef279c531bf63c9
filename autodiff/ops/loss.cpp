// Losses: cross-entropy (log-softmax and NLL fused into one node), NLL, mean squared error and
// binary cross-entropy on logits. The fused nodes' backward formulas are written with
// differentiable ops, so every loss has second derivatives.
#include <tapegrad/autodiff/ops/common.h>

namespace tapegrad {

using namespace detail;

namespace {

Tensor reduce(const Tensor& losses, Reduction reduction) {
  switch (reduction) {
    case Reduction::Mean: return mean(losses);
    case Reduction::Sum: return sum(losses);
    case Reduction::None: break;
  }
  return losses;
}

// Class-index targets: int64, shaped like the scores without their class dim, each in [0, C).
void check_class_targets(const char* op, const Tensor& scores, const Tensor& target) {
  check_floating(op, scores);
  check_defined(op, target);
  TAPEGRAD_CHECK(target.dtype() == kInt64, "{}: targets must be int64 class indices, got {} of shape {}", op,
                 target.dtype(), target.shape());
  TAPEGRAD_CHECK(target.device() == scores.device(), "{}: targets are on {} but the scores are on {}", op,
                 target.device(), scores.device());
  TAPEGRAD_CHECK(scores.dim() >= 1, "{}: expected scores [N, C] (or [C], [N, C, d...]), got a 0-dim tensor", op);
  Shape expected = scores.shape();
  expected.erase(scores.dim() == 1 ? 0 : 1);
  TAPEGRAD_CHECK(target.shape() == expected,
                 "{}: scores of shape {} need targets of shape {} (one class index per row), got {}", op,
                 scores.shape(), expected, target.shape());
  const std::int64_t classes = scores.shape()[scores.dim() == 1 ? 0 : 1];
  for (std::int64_t t : target.cpu().to_vector<std::int64_t>())
    TAPEGRAD_CHECK(t >= 0 && t < classes, "{}: target {} is out of range for {} classes; targets must be in [0, {})",
                   op, t, classes, classes);
}

// Scores with the class dim last, flattened to rows: [N, C, d...] -> [N * d..., C]; [C] -> [1, C].
Tensor as_rows(const Tensor& scores) {
  if (scores.dim() == 1) return unsqueeze(scores, 0);
  if (scores.dim() == 2) return scores;
  Dims order{0};
  for (int d = 2; d < scores.dim(); ++d) order.push_back(d);
  order.push_back(1);
  return reshape(permute(scores, order), {-1, scores.shape()[1]});
}

// Per-row losses of the rows form, back in the target's shape.
Tensor unrows(const Tensor& losses, const Tensor& target) { return reshape(losses, target.shape()); }

// The cross-entropy of [M, C] logits and [M, 1] targets, as one node.
Tensor cross_entropy_rows(const Tensor& logits, const Tensor& target, Reduction reduction) {
  Tensor out;
  {
    NoGradGuard no_grad;
    const Tensor picked = gather(log_softmax(logits, 1), 1, target);  // [M, 1]
    out = reduction == Reduction::None ? neg(reshape(picked, {-1})) : neg(reduce(picked, reduction));
  }
  if (should_record(logits))
    record("cross_entropy", out, {logits},
           [sx = SavedTensor::input(logits), target, reduction](BackwardContext& ctx) {
             const Tensor x = ctx.unpack(sx);
             const std::int64_t rows = x.shape()[0];
             // d loss_i / d x_i = softmax(x_i) - onehot(t_i), times each row's share of g.
             Tensor g = reshape(ctx.grad(), {-1, 1});
             if (reduction != Reduction::None) g = expand(g, {rows, 1});
             if (reduction == Reduction::Mean) g = mul(g, 1.0 / static_cast<double>(rows));
             const Tensor onehot_g = scatter_add_into_zeros(g, x.shape(), 1, target);
             ctx.set_input_grad(0, sub(mul(softmax(x, 1), g), onehot_g));
           });
  return out;
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& target, Reduction reduction) {
  check_class_targets("cross_entropy", logits, target);
  const Tensor losses = cross_entropy_rows(as_rows(logits), reshape(target, {-1, 1}), reduction);
  return reduction == Reduction::None ? unrows(losses, target) : losses;
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, Reduction reduction) {
  check_class_targets("nll_loss", log_probs, target);
  const Tensor picked = gather(as_rows(log_probs), 1, reshape(target, {-1, 1}));
  return reduce(unrows(neg(picked), target), reduction);
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  check_floating("mse_loss", input);
  check_compatible("mse_loss", input, target);
  // PyTorch broadcasts mismatched shapes with only a warning, which hides [N] vs [N, 1]
  // mistakes (an [N, N] loss); tapegrad refuses them.
  TAPEGRAD_CHECK(input.shape() == target.shape(),
                 "mse_loss: input of shape {} and target of shape {} must have the same shape; reshape one of them",
                 input.shape(), target.shape());
  const Tensor difference = sub(input, target);
  return reduce(mul(difference, difference), reduction);
}

Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target, Reduction reduction) {
  check_floating("binary_cross_entropy_with_logits", logits);
  check_compatible("binary_cross_entropy_with_logits", logits, target);
  TAPEGRAD_CHECK(logits.shape() == target.shape(),
                 "binary_cross_entropy_with_logits: logits of shape {} and target of shape {} must have the same shape",
                 logits.shape(), target.shape());
  Tensor losses;
  {
    // max(x, 0) - x t + log(1 + exp(-|x|)): no exp of a large positive number, for any x.
    NoGradGuard no_grad;
    losses = add(sub(relu(logits), mul(logits, target)), log(add(exp(neg(abs(logits))), 1.0)));
  }
  // One node with the smooth gradient sigmoid(x) - t: composing relu and abs would give the
  // wrong one-sided slope at x = 0 exactly.
  if (should_record(logits, target))
    record("binary_cross_entropy_with_logits", losses, {logits, target},
           [sx = SavedTensor::input(logits), st = SavedTensor::input(target)](BackwardContext& ctx) {
             const Tensor x = ctx.unpack(sx), t = ctx.unpack(st);
             if (ctx.needs_input_grad(0)) ctx.set_input_grad(0, mul(ctx.grad(), sub(sigmoid(x), t)));
             if (ctx.needs_input_grad(1)) ctx.set_input_grad(1, neg(mul(ctx.grad(), x)));
           });
  return reduce(losses, reduction);
}

}  // namespace tapegrad
