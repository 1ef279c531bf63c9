// Scaled dot-product attention composed from differentiable ops (matmul, where, softmax,
// dropout), so it has every derivative they have and runs on any device. The formula and the
// masks' meaning are torch 2.x's F.scaled_dot_product_attention.
#include <cmath>
#include <limits>

#include <tapegrad/autodiff/ops/common.h>

namespace tapegrad {

using namespace detail;

namespace {

constexpr const char* kSdpa = "scaled_dot_product_attention";

void check_attention_operands(const Tensor& query, const Tensor& key, const Tensor& value) {
  check_floating(kSdpa, query);
  check_compatible(kSdpa, query, key);
  check_compatible(kSdpa, query, value);
  TAPEGRAD_CHECK(query.dim() >= 2 && key.dim() >= 2 && value.dim() >= 2,
                 "{}: expected query [..., L, E], key [..., S, E] and value [..., S, Ev], got shapes {}, {} and {}", kSdpa,
                 query.shape(), key.shape(), value.shape());
  TAPEGRAD_CHECK(query.size(-1) == key.size(-1),
                 "{}: query and key must share their last dim E, got shapes {} and {}", kSdpa, query.shape(),
                 key.shape());
  TAPEGRAD_CHECK(key.size(-2) == value.size(-2),
                 "{}: key and value must share the sequence length S (dim -2), got shapes {} and {}", kSdpa,
                 key.shape(), value.shape());
}

// Whether `shape` broadcasts to `target` without changing it: trailing dims equal or 1.
bool broadcasts_to(const Shape& shape, const Shape& target) {
  if (shape.size() > target.size()) return false;
  for (int i = 1; i <= shape.size(); ++i)
    if (shape[shape.size() - i] != 1 && shape[shape.size() - i] != target[target.size() - i]) return false;
  return true;
}

// A bool mask (true takes part) keeps scores where it is set and puts -inf elsewhere; a floating
// mask is added.
Tensor apply_mask(const Tensor& scores, const Tensor& mask) {
  check_defined(kSdpa, mask);
  TAPEGRAD_CHECK(mask.device() == scores.device(), "{}: attn_mask is on {} but the query is on {}", kSdpa,
                 mask.device(), scores.device());
  TAPEGRAD_CHECK(broadcasts_to(mask.shape(), scores.shape()),
                 "{}: attn_mask of shape {} does not broadcast to the attention weights' shape {} ([..., L, S])", kSdpa,
                 mask.shape(), scores.shape());
  if (mask.is_floating_point()) {
    TAPEGRAD_CHECK(mask.dtype() == scores.dtype(), "{}: a floating attn_mask must have the query's dtype {}, got {}",
                   kSdpa, scores.dtype(), mask.dtype());
    return add(scores, mask);
  }
  TAPEGRAD_CHECK(mask.dtype() == kBool,
                 "{}: attn_mask must be bool (true takes part) or of the query's dtype (added to the scores), got {}; "
                 "a comparison gives a bool mask, or convert with .to(kBool)", kSdpa, mask.dtype());
  return where(mask, scores, full({}, -std::numeric_limits<double>::infinity(), options_of(scores)));
}

}  // namespace

Tensor scaled_dot_product_attention(const Tensor& query, const Tensor& key, const Tensor& value,
                                    const Tensor& attn_mask, double dropout_p, bool is_causal,
                                    std::optional<double> scale) {
  check_attention_operands(query, key, value);
  TAPEGRAD_CHECK(!(is_causal && attn_mask.defined()),
                 "{}: give either attn_mask or is_causal=true, not both; fold the causal mask into attn_mask", kSdpa);
  TAPEGRAD_CHECK(dropout_p >= 0 && dropout_p <= 1, "{}: dropout_p must be between 0 and 1, got {}", kSdpa, dropout_p);
  const double scale_factor = scale.value_or(1 / std::sqrt(static_cast<double>(query.size(-1))));
  // scores [..., L, S] = Q K^T * scale
  Tensor scores = mul(matmul(query, transpose(key, -2, -1)), scale_factor);
  if (is_causal) {
    const Tensor allowed =
        tril(ones({query.size(-2), key.size(-2)}, TensorOptions(kInt64).with_device(query.device()))).to(kBool);
    scores = apply_mask(scores, allowed);
  } else if (attn_mask.defined()) {
    scores = apply_mask(scores, attn_mask);
  }
  const Tensor weights = dropout(softmax(scores, -1), dropout_p, true);
  return matmul(weights, value);
}

}  // namespace tapegrad
