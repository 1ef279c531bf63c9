// Losses: cross-entropy (log-softmax and NLL fused into one node), NLL, mean squared error and
// binary cross-entropy on logits. The fused nodes' backward formulas are written with
// differentiable ops, so every loss has second derivatives.
#include <optional>

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

// The scores' shape without the class dim (dim 1, or dim 0 of a [C] vector): the targets' shape.
Shape without_class_dim(const Tensor& scores) {
  Shape shape = scores.shape();
  shape.erase(scores.dim() == 1 ? 0 : 1);
  return shape;
}

// Class-index targets: int64, shaped like the scores without their class dim, each in [0, C)
// or equal to ignore_index when one is given. Returns whether any target is ignored.
bool check_class_targets(const char* op, const Tensor& scores, const Tensor& target,
                         std::optional<std::int64_t> ignore_index = std::nullopt) {
  check_floating(op, scores);
  check_defined(op, target);
  TAPEGRAD_CHECK(target.dtype() == kInt64, "{}: targets must be int64 class indices, got {} of shape {}", op,
                 target.dtype(), target.shape());
  TAPEGRAD_CHECK(target.device() == scores.device(), "{}: targets are on {} but the scores are on {}", op,
                 target.device(), scores.device());
  TAPEGRAD_CHECK(scores.dim() >= 1, "{}: expected scores [N, C] (or [C], [N, C, d...]), got a 0-dim tensor", op);
  TAPEGRAD_CHECK(target.shape() == without_class_dim(scores),
                 "{}: scores of shape {} need targets of shape {} (one class index per row), got {}", op,
                 scores.shape(), without_class_dim(scores), target.shape());
  const std::int64_t classes = scores.shape()[scores.dim() == 1 ? 0 : 1];
  bool any_ignored = false;
  for (std::int64_t t : target.cpu().to_vector<std::int64_t>()) {
    if (ignore_index && t == *ignore_index) {
      any_ignored = true;
      continue;
    }
    TAPEGRAD_CHECK(t >= 0 && t < classes, "{}: target {} is out of range for {} classes; targets must be in [0, {})",
                   op, t, classes, classes);
  }
  return any_ignored;
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
             const Tensor& x = ctx.unpack(sx);
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

namespace {

void check_cross_entropy_options(const Tensor& logits, const CrossEntropyOptions& options) {
  TAPEGRAD_CHECK(options.label_smoothing >= 0 && options.label_smoothing <= 1,
                 "cross_entropy: label_smoothing must lie in [0, 1], got {}", options.label_smoothing);
  if (!options.weight.defined()) return;
  check_compatible("cross_entropy", logits, options.weight);
  const std::int64_t classes = logits.shape()[logits.dim() == 1 ? 0 : 1];
  TAPEGRAD_CHECK(options.weight.dim() == 1 && options.weight.shape()[0] == classes,
                 "cross_entropy: weight must have shape [{}] (one value per class of logits shape {}), got {}", classes,
                 logits.shape(), options.weight.shape());
}

// log_probs [M, C] against class probabilities [M, C] (smoothed), weighted per class: [M].
Tensor soft_target_losses(const Tensor& log_probs, Tensor probabilities, const CrossEntropyOptions& options) {
  const double smoothing = options.label_smoothing;
  const auto classes = static_cast<double>(log_probs.shape()[1]);
  if (smoothing > 0) probabilities = add(mul(probabilities, 1 - smoothing), smoothing / classes);
  Tensor products = mul(log_probs, probabilities);
  if (options.weight.defined()) products = mul(products, options.weight);
  return neg(sum(products, {1}));
}

// Probability targets: each row's loss, the mean over rows (not over the weights), as torch.
Tensor cross_entropy_soft(const Tensor& logits, const Tensor& target, const CrossEntropyOptions& options) {
  check_compatible("cross_entropy", logits, target);
  const Tensor losses = soft_target_losses(log_softmax(as_rows(logits), 1), as_rows(target), options);
  if (options.reduction == Reduction::None) return reshape(losses, without_class_dim(logits));
  return reduce(losses, options.reduction);
}

// Class-index targets with weights, ignored targets or label smoothing, from differentiable ops,
// as torch's nll_loss and its label-smoothing term: the weighted NLL, mixed with the mean of
// -log_probs over the classes (weighted the same way).
Tensor cross_entropy_weighted(const Tensor& logits, const Tensor& target, const CrossEntropyOptions& options) {
  const Tensor log_probs = log_softmax(as_rows(logits), 1);
  const Tensor targets = reshape(target, {-1});
  const Tensor is_kept = ne(targets, static_cast<double>(options.ignore_index));
  const Tensor kept = to_dtype(is_kept, logits.dtype());  // 0 where ignored
  // Ignored targets may lie outside [0, C): read class 0 for them, with weight 0.
  const Tensor safe_targets = where(is_kept, targets, zeros({}, options_of(targets)));
  const Tensor picked = reshape(gather(log_probs, 1, reshape(safe_targets, {-1, 1})), {-1});
  const Tensor target_weight = options.weight.defined() ? mul(kept, index_select(options.weight, 0, safe_targets)) : kept;
  Tensor nll = neg(mul(picked, target_weight));
  const double smoothing = options.label_smoothing;
  Tensor smooth;
  if (smoothing > 0) {
    const Tensor weighted = options.weight.defined() ? mul(log_probs, options.weight) : log_probs;
    smooth = mul(neg(sum(weighted, {1})), kept);
  }
  const auto classes = static_cast<double>(log_probs.shape()[1]);
  const auto mix = [&](const Tensor& nll_part, const Tensor& smooth_part) {
    return smoothing > 0 ? add(mul(nll_part, 1 - smoothing), mul(smooth_part, smoothing / classes)) : nll_part;
  };
  switch (options.reduction) {
    case Reduction::None: return reshape(mix(nll, smooth), target.shape());
    case Reduction::Sum: return mix(sum(nll), smoothing > 0 ? sum(smooth) : Tensor());
    case Reduction::Mean: break;
  }
  // torch divides the smoothing term by the targets' total weight too (their count, unweighted).
  const Tensor total_weight = sum(target_weight);
  const Tensor smooth_mean = smoothing > 0 ? div(sum(smooth), total_weight) : Tensor();
  return mix(div(sum(nll), total_weight), smooth_mean);
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& target, const CrossEntropyOptions& options) {
  check_floating("cross_entropy", logits);
  check_defined("cross_entropy", target);
  TAPEGRAD_CHECK(logits.dim() >= 1, "cross_entropy: expected logits [N, C] (or [C], [N, C, d...]), got a 0-dim tensor");
  check_cross_entropy_options(logits, options);
  if (target.is_floating_point()) {
    TAPEGRAD_CHECK(target.shape() == logits.shape(),
                   "cross_entropy: {} targets are read as class probabilities, which need the logits' shape {}, got "
                   "{}; class-index targets are int64", target.dtype(), logits.shape(), target.shape());
    return cross_entropy_soft(logits, target, options);
  }
  const bool any_ignored = check_class_targets("cross_entropy", logits, target, options.ignore_index);
  if (any_ignored || options.weight.defined() || options.label_smoothing > 0)
    return cross_entropy_weighted(logits, target, options);
  const Tensor losses = cross_entropy_rows(as_rows(logits), reshape(target, {-1, 1}), options.reduction);
  return options.reduction == Reduction::None ? unrows(losses, target) : losses;
}

Tensor cross_entropy(const Tensor& logits, const Tensor& target, Reduction reduction) {
  return cross_entropy(logits, target, CrossEntropyOptions{.reduction = reduction});
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
             const Tensor &x = ctx.unpack(sx), &t = ctx.unpack(st);
             if (ctx.needs_input_grad(0)) ctx.set_input_grad(0, mul(ctx.grad(), sub(sigmoid(x), t)));
             if (ctx.needs_input_grad(1)) ctx.set_input_grad(1, neg(mul(ctx.grad(), x)));
           });
  return reduce(losses, reduction);
}

}  // namespace tapegrad
