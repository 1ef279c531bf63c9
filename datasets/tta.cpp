// Test-time augmentation and the tie-breaking vote.
#include <tapegrad/datasets/tta.h>

#include <algorithm>
#include <vector>

#include <tapegrad/autodiff/grad_mode.h>
#include <tapegrad/autodiff/ops.h>

namespace tapegrad::datasets {

Tensor majority_vote(const Tensor& votes) {
  TAPEGRAD_CHECK(votes.defined() && votes.dim() == 2 && votes.dtype() == kInt64,
                 "majority_vote: expected int64 votes [T, N], got {}",
                 votes.defined() ? fmt::format("{} of shape {}", votes.dtype(), votes.shape()) : "an undefined tensor");
  const std::int64_t rounds = votes.size(0), count = votes.size(1);
  const std::vector<std::int64_t> values = votes.to_vector<std::int64_t>();
  std::vector<std::int64_t> winners(static_cast<std::size_t>(count));
  std::vector<std::int64_t> tally;
  for (std::int64_t n = 0; n < count; ++n) {
    tally.clear();
    for (std::int64_t t = 0; t < rounds; ++t) {
      const std::int64_t cls = values[static_cast<std::size_t>(t * count + n)];
      TAPEGRAD_CHECK(cls >= 0, "majority_vote: class indices must be non-negative, got {}", cls);
      if (static_cast<std::size_t>(cls) >= tally.size()) tally.resize(static_cast<std::size_t>(cls) + 1, 0);
      ++tally[static_cast<std::size_t>(cls)];
    }
    // max_element returns the first maximum: the smallest class among ties.
    winners[static_cast<std::size_t>(n)] = std::max_element(tally.begin(), tally.end()) - tally.begin();
  }
  return from_vector(winners);
}

Tensor tta_predict(const ModelFunction& model, const Tensor& batch, const transforms::Transform& transform,
                   std::int64_t copies, Generator& generator) {
  TAPEGRAD_CHECK(copies >= 1, "tta_predict: needs at least one augmented copy, got {}", copies);
  NoGradGuard no_grad;
  std::vector<Tensor> votes;
  for (std::int64_t t = 0; t < copies; ++t) {
    const Tensor scores = model(transform(batch, generator));
    TAPEGRAD_CHECK(scores.dim() == 2, "tta_predict: the model must return scores [N, classes], got shape {}",
                   scores.shape());
    votes.push_back(argmax(scores, 1));
  }
  return majority_vote(stack(votes));
}

}  // namespace tapegrad::datasets
