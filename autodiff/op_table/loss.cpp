// Rows of the losses, each with every reduction: cross_entropy (also with class weights, ignored
// targets, label smoothing and probability targets) and nll_loss over int64 class indices
// (scores [N, C], [N, C, d] and [C]), mse_loss, and binary_cross_entropy_with_logits, which
// differentiates its probability targets too (as PyTorch does).
#include <cmath>
#include <functional>

#include <tapegrad/autodiff/op_table/rows.h>

namespace tapegrad::op_rows {
namespace {

using reference::at;
using reference::Index;

constexpr auto kFloating = OpDTypes::Floating;
const std::pair<Reduction, const char*> kReductions[] = {
    {Reduction::Mean, "mean"}, {Reduction::Sum, "sum"}, {Reduction::None, "none"}};

// Per-element losses reduced as asked; the mean of no losses is NaN, as in PyTorch.
Tensor reduced(const Tensor& losses, Reduction reduction) {
  if (reduction == Reduction::None) return losses;
  return reference::reduce(losses, {}, false, [reduction](const std::vector<double>& v) {
    return reference::sum_of(v) / (reduction == Reduction::Mean ? static_cast<double>(v.size()) : 1.0);
  });
}

// One loss per class index: loss(the scores along the class dim, the index), for scores
// [N, C, d...] (classes along dim 1) with targets [N, d...], or scores [C] with a 0-dim target.
Tensor per_target(const Tensor& scores, const Tensor& target, double (*loss)(const std::vector<double>&, std::size_t)) {
  const int class_dim = scores.dim() == 1 ? 0 : 1;
  return reference::generate(target.shape(), [&](const Index& i) {
    Index index = i;
    index.insert(index.begin() + class_dim, 0);
    std::vector<double> line;
    for (std::int64_t c = 0; c < scores.shape()[class_dim]; ++c) {
      index[static_cast<std::size_t>(class_dim)] = c;
      line.push_back(at(scores, index));
    }
    return loss(line, static_cast<std::size_t>(at(target, i)));
  });
}

// -log softmax(scores)[t], through a log-sum-exp.
double cross_entropy_of(const std::vector<double>& scores, std::size_t t) {
  return reference::logsumexp_of(scores) - scores[t];
}
double nll_of(const std::vector<double>& log_probs, std::size_t t) { return -log_probs[t]; }

using LossOp = Tensor (*)(const Tensor&, const Tensor&, Reduction);

// `arity` counts optional inputs too (cross_entropy's class weights).
OpInfo class_loss_row(const std::string& name, int arity, LossOp op,
                      double (*loss)(const std::vector<double>&, std::size_t), SampleInputs& in,
                      const std::function<void(RowBuilder&)>& more_samples = {}) {
  RowBuilder row(name, arity, kFloating, {0}, in);
  const auto sample = [&](Tensor scores, std::vector<std::int64_t> classes, const Shape& shape, Reduction reduction,
                          const std::string& detail) {
    row.sample(detail, {std::move(scores), SampleInputs::indices(classes, shape)},
               [op, reduction](const Inputs& v) { return op(v[0], v[1], reduction); },
               [loss, reduction](const Inputs& v) { return reduced(per_target(v[0], v[1], loss), reduction); });
  };
  for (const auto& [reduction, reduction_name] : kReductions) {
    const std::string r = reduction_name;
    sample(row.x({4, 5}), {4, 0, 2, 2}, {4}, reduction, r);
    sample(row.x({2, 3, 2}), {0, 2, 1, 1}, {2, 2}, reduction, "[N,C,d], " + r);
    sample(row.x({0, 5}), {}, {0}, reduction, "no rows, " + r);
  }
  sample(row.xt({4, 5}), {1, 3, 0, 4}, {4}, Reduction::Mean, "mean");
  sample(row.xt({2, 3, 2}), {2, 0, 1, 2}, {2, 2}, Reduction::Sum, "[N,C,d], sum");
  sample(row.x({5}), {3}, {}, Reduction::None, "scores [C], 0-dim target, none");
  sample(row.x({5}), {0}, {}, Reduction::Mean, "scores [C], 0-dim target, mean");
  sample(from_vector(std::vector<double>{30, -30, 0, 60, 5, -60}, Shape{2, 3}), {1, 2}, {2}, Reduction::None,
         "scores of +-60, none");
  const GradcheckFunction call = [op](const Inputs& v) { return op(v[0], v[1], Reduction::Mean); };
  using SI = SampleInputs;
  row.error("class 5 of 5", {row.x({4, 5}), SI::indices({0, 5, 1, 2}, {4})}, call, {"target 5 is out of range", "5 classes"});
  row.error("class -1", {row.x({4, 5}), SI::indices({0, 1, -1, 2}, {4})}, call, {"target -1 is out of range"});
  row.error("targets [3] for scores [4,5]", {row.x({4, 5}), SI::indices({0, 1, 2}, {3})}, call,
            {"targets of shape [4]", "got [3]"});
  row.error("float64 targets", {row.x({4, 5}), row.x({4})}, call, {"int64", "float64"});
  row.error("0-dim scores", {row.x({}), SI::indices({0}, {})}, call, {"0-dim"});
  if (more_samples) more_samples(row);
  return row.build();
}

// cross_entropy's options on [M, C] logits, by torch's definition: per row, the weighted NLL of
// the target class (0 for an ignored target) mixed with the weighted mean of -log_probs over
// the classes; the mean divides both sums by the targets' total weight. Probability targets:
// -sum_c w_c log_probs_c ((1 - s) p_c + s / C), the mean over rows.
Tensor cross_entropy_with_options(const Tensor& logits, const Tensor& target, const Tensor& weight,
                                  std::int64_t ignore_index, double smoothing, Reduction reduction) {
  const std::int64_t rows = logits.shape()[0], classes = logits.shape()[1];
  const auto w = [&](std::int64_t c) { return weight.defined() ? at(weight, {c}) : 1.0; };
  std::vector<double> losses;
  double total_weight = 0;
  for (std::int64_t i = 0; i < rows; ++i) {
    std::vector<double> scores;
    for (std::int64_t c = 0; c < classes; ++c) scores.push_back(at(logits, {i, c}));
    const double log_normalizer = reference::logsumexp_of(scores);
    double smooth = 0, nll = 0;
    if (target.is_floating_point()) {
      for (std::int64_t c = 0; c < classes; ++c)
        nll -= w(c) * (scores[c] - log_normalizer) * ((1 - smoothing) * at(target, {i, c}) + smoothing / classes);
      losses.push_back(nll);
      total_weight += 1;
      continue;
    }
    const auto t = static_cast<std::int64_t>(at(target, {i}));
    if (t != ignore_index) {
      nll = -w(t) * (scores[t] - log_normalizer);
      for (std::int64_t c = 0; c < classes; ++c) smooth -= w(c) * (scores[c] - log_normalizer) / classes;
      total_weight += w(t);
    }
    losses.push_back((1 - smoothing) * nll + smoothing * smooth);
  }
  const Tensor per_row = from_vector(losses, Shape{rows});
  if (reduction == Reduction::None) return per_row;
  const double total = reference::sum_of(losses);
  return full({}, reduction == Reduction::Sum ? total : total / total_weight, kFloat64);
}

void cross_entropy_option_samples(RowBuilder& row) {
  using SI = SampleInputs;
  const auto with = [&](const std::string& detail, Inputs inputs, std::int64_t ignore_index, double smoothing,
                        Reduction reduction) {
    const bool weighted = inputs.size() > 2;
    row.sample(detail, std::move(inputs),
               [=](const Inputs& v) {
                 return cross_entropy(v[0], v[1],
                                      {.weight = weighted ? v[2] : Tensor(), .ignore_index = ignore_index,
                                       .label_smoothing = smoothing, .reduction = reduction});
               },
               [=](const Inputs& v) {
                 return cross_entropy_with_options(v[0], v[1], weighted ? v[2] : Tensor(), ignore_index, smoothing,
                                                   reduction);
               });
  };
  const Tensor positive_weight = row.inputs().uniform({5}, 0.5, 2);
  with("weight, mean", {row.x({4, 5}), SI::indices({4, 0, 2, 2}, {4}), positive_weight}, -100, 0, Reduction::Mean);
  with("target -100 ignored, sum", {row.x({4, 5}), SI::indices({4, -100, 2, 1}, {4})}, -100, 0, Reduction::Sum);
  with("ignore_index 2, weight, none", {row.xt({4, 5}), SI::indices({4, 2, 2, 1}, {4}), positive_weight}, 2, 0,
       Reduction::None);
  with("label_smoothing 0.1, mean", {row.x({4, 5}), SI::indices({4, 0, -100, 3}, {4})}, -100, 0.1, Reduction::Mean);
  with("label_smoothing 0.2, weight, mean", {row.x({3, 5}), SI::indices({1, 0, 4}, {3}), positive_weight}, -100, 0.2,
       Reduction::Mean);
  const Tensor probabilities = softmax(row.inputs().uniform({3, 5}, -1, 1), 1);
  with("probability targets, smoothing 0.3, mean", {row.x({3, 5}), probabilities}, -100, 0.3, Reduction::Mean);
  with("probability targets, weight, none", {row.x({3, 5}), probabilities, positive_weight}, -100, 0, Reduction::None);
  const GradcheckFunction smoothing_above_one = [](const Inputs& v) {
    return cross_entropy(v[0], v[1], {.label_smoothing = 1.5});
  };
  row.error("label_smoothing 1.5", {row.x({2, 3}), SI::indices({0, 1}, {2})}, smoothing_above_one,
            {"label_smoothing", "[0, 1]", "1.5"});
  const GradcheckFunction weight_of_2 = [](const Inputs& v) { return cross_entropy(v[0], v[1], {.weight = v[2]}); };
  row.error("weight [2] for 3 classes", {row.x({2, 3}), SI::indices({0, 1}, {2}), row.x({2})}, weight_of_2,
            {"weight", "[3]", "[2]"});
  row.error("0-dim logits with a weight", {row.x({}), SI::indices({0}, {}), row.x({3})}, weight_of_2, {"0-dim"});
  row.error("probabilities [2,4] for logits [2,3]", {row.x({2, 3}), row.x({2, 4})},
            [](const Inputs& v) { return cross_entropy(v[0], v[1], Reduction::Mean); }, {"probabilities", "[2, 3]"});
}

// Rows of two same-shaped floating operands, both differentiable.
OpInfo pair_loss_row(const std::string& name, LossOp op, double (*loss)(double, double), OpDomain target_domain,
                     SampleInputs& in) {
  RowBuilder row(name, 2, kFloating, {0, 1}, in);
  row.domain(OpDomain::between(-3, 3));
  const auto target = [&](const Shape& shape) { return in.in_domain(shape, target_domain); };
  const auto sample = [&](Tensor input, Tensor goal, Reduction reduction, const std::string& detail) {
    row.sample(detail, {std::move(input), std::move(goal)},
               [op, reduction](const Inputs& v) { return op(v[0], v[1], reduction); },
               [loss, reduction](const Inputs& v) { return reduced(reference::binary(v[0], v[1], loss), reduction); });
  };
  for (const auto& [reduction, reduction_name] : kReductions) {
    sample(row.x({3, 4}), target({3, 4}), reduction, reduction_name);
    sample(row.x({0, 3}), target({0, 3}), reduction, reduction_name);
    sample(row.x({}), target({}), reduction, reduction_name);
  }
  sample(row.xt({3, 4}), target({3, 4}), Reduction::Mean, "mean");
  sample(row.x({4, 3}), SampleInputs::stored_transposed(target({4, 3})), Reduction::Sum, "sum");
  sample(row.x({2, 3, 4}), target({2, 3, 4}), Reduction::Mean, "mean");
  sample(from_vector(std::vector<double>{-40, -8, 0, 3, 8, 40}, Shape{2, 3}), target({2, 3}), Reduction::None,
         "inputs up to +-40, none");
  const GradcheckFunction call = [op](const Inputs& v) { return op(v[0], v[1], Reduction::Mean); };
  row.error("[3] against [3,1]", {row.x({3}), target({3, 1})}, call, {"[3]", "[3, 1]", "same shape"});
  row.error("[3,4] against [4,3]", {row.x({3, 4}), target({4, 3})}, call, {"[3, 4]", "[4, 3]", "same shape"});
  return row.build();
}

double squared_error(double input, double target) { return (input - target) * (input - target); }

// -t log sigmoid(x) - (1 - t) log(1 - sigmoid(x)) = t log(1 + e^-x) + (1 - t) log(1 + e^x).
double logistic_loss(double x, double t) { return t * std::log1p(std::exp(-x)) + (1 - t) * std::log1p(std::exp(x)); }

}  // namespace

std::vector<OpInfo> loss_rows(SampleInputs& in) {
  return {class_loss_row("cross_entropy", 3, cross_entropy, cross_entropy_of, in, cross_entropy_option_samples),
          class_loss_row("nll_loss", 2, nll_loss, nll_of, in),
          pair_loss_row("mse_loss", mse_loss, squared_error, OpDomain::between(-3, 3), in),
          pair_loss_row("binary_cross_entropy_with_logits", binary_cross_entropy_with_logits, logistic_loss,
                        OpDomain::between(0, 1), in)};
}

}  // namespace tapegrad::op_rows
