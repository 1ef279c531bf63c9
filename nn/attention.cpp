// MultiheadAttention's projections, masks and per-head attention, written with the public ops
// (linear, matmul, softmax, where, dropout) in torch 1.13's order of operations.
#include <tapegrad/nn/attention.h>

#include <cmath>
#include <limits>

#include <tapegrad/autodiff/ops.h>
#include <tapegrad/nn/init.h>

namespace tapegrad::nn {

namespace {

constexpr const char* kMha = "MultiheadAttention";

// A mask as the scores' addend: floating masks as they are, boolean ones -inf where set.
Tensor additive_mask(const Tensor& mask, const Tensor& scores, const char* what) {
  TAPEGRAD_CHECK(mask.device() == scores.device(), "{}: {} is on {} but the query is on {}", kMha, what, mask.device(),
                 scores.device());
  if (mask.is_floating_point()) {
    TAPEGRAD_CHECK(mask.dtype() == scores.dtype(), "{}: a floating {} must have the query's dtype {}, got {}", kMha,
                   what, scores.dtype(), mask.dtype());
    return mask;
  }
  const TensorOptions options = TensorOptions(scores.dtype()).with_device(scores.device());
  TAPEGRAD_CHECK(mask.dtype() == kBool,
                 "{}: {} must be bool (true: not allowed) or of the query's dtype (added to the scores), got {}; "
                 "a comparison gives a bool mask, or convert with .to(kBool)", kMha, what, mask.dtype());
  return where(mask, full({}, -std::numeric_limits<double>::infinity(), options), zeros({}, options));
}

// [T, N, E] -> [N, heads, T, E / heads]
Tensor split_heads(const Tensor& x, std::int64_t heads) {
  return permute(reshape(x, {x.size(0), x.size(1), heads, x.size(2) / heads}), {1, 2, 0, 3});
}

}  // namespace

MultiheadAttention::MultiheadAttention(const MultiheadAttentionOptions& options) : options_(options) {
  const std::int64_t e = options.embed_dim;
  TAPEGRAD_CHECK(e > 0 && options.num_heads > 0,
                 "{}: embed_dim and num_heads must be positive, got embed_dim={}, num_heads={}", kMha, e,
                 options.num_heads);
  TAPEGRAD_CHECK(e % options.num_heads == 0, "{}: embed_dim must be divisible by num_heads, got embed_dim={}, num_heads={}",
                 kMha, e, options.num_heads);
  TAPEGRAD_CHECK(options.dropout >= 0 && options.dropout <= 1, "{}: dropout must be between 0 and 1, got {}", kMha,
                 options.dropout);
  in_proj_weight = register_parameter("in_proj_weight", empty({3 * e, e}, options.dtype));
  init::xavier_uniform_(in_proj_weight);
  if (options.bias) in_proj_bias = register_parameter("in_proj_bias", zeros({3 * e}, options.dtype));
  out_proj = register_module("out_proj", std::make_shared<Linear>(LinearOptions{e, e, options.bias, options.dtype}));
  if (options.bias) init::zeros_(out_proj->bias);
}

MultiheadAttentionOutput MultiheadAttention::forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                                     const Tensor& key_padding_mask, bool need_weights,
                                                     const Tensor& attn_mask, bool average_attn_weights) {
  const std::int64_t e = options_.embed_dim, heads = options_.num_heads;
  TAPEGRAD_CHECK(query.defined() && key.defined() && value.defined(), "{}: got an undefined query, key or value", kMha);
  const bool batched = query.dim() == 3;
  TAPEGRAD_CHECK((query.dim() == 3 || query.dim() == 2) && key.dim() == query.dim() && value.dim() == query.dim(),
                 "{}: expected query, key and value all 3-D (batched) or all 2-D (unbatched), got shapes {}, {} and {}",
                 kMha, query.shape(), key.shape(), value.shape());
  TAPEGRAD_CHECK(query.size(-1) == e && key.size(-1) == e && value.size(-1) == e,
                 "{}: expected embedding dim {} in query, key and value, got shapes {}, {} and {}", kMha, e,
                 query.shape(), key.shape(), value.shape());
  TAPEGRAD_CHECK(key.shape() == value.shape(), "{}: key shape {} does not match value shape {}", kMha, key.shape(),
                 value.shape());
  // Sequence first inside: [T, N, E].
  const auto seq_first = [&](const Tensor& x) {
    return !batched ? unsqueeze(x, 1) : options_.batch_first ? transpose(x, 0, 1) : x;
  };
  const Tensor q_in = seq_first(query), k_in = seq_first(key), v_in = seq_first(value);
  const std::int64_t length = q_in.size(0), batch = q_in.size(1), source = k_in.size(0);
  TAPEGRAD_CHECK(k_in.size(1) == batch, "{}: query and key have different batch sizes (shapes {} and {})", kMha,
                 query.shape(), key.shape());

  const auto project = [&](const Tensor& x, std::int64_t part) {
    const Tensor bias = in_proj_bias.defined() ? narrow(in_proj_bias, 0, part * e, e) : Tensor();
    return split_heads(linear(x, narrow(in_proj_weight, 0, part * e, e), bias), heads);
  };
  const Tensor q = project(q_in, 0), k = project(k_in, 1), v = project(v_in, 2);  // [N, H, T, E / H]
  Tensor scores = matmul(mul(q, 1 / std::sqrt(static_cast<double>(e / heads))), transpose(k, -2, -1));  // [N, H, L, S]
  if (attn_mask.defined()) {
    const Shape shared{length, source}, per_head{batch * heads, length, source};
    TAPEGRAD_CHECK(attn_mask.shape() == shared || attn_mask.shape() == per_head,
                   "{}: attn_mask must be [L, S] = [{}, {}] or [N * num_heads, L, S] = {}, got {}", kMha, length,
                   source, per_head, attn_mask.shape());
    const Tensor mask = attn_mask.dim() == 3 ? reshape(attn_mask, {batch, heads, length, source}) : attn_mask;
    scores = add(scores, additive_mask(mask, scores, "attn_mask"));
  }
  if (key_padding_mask.defined()) {
    const Shape expected = batched ? Shape{batch, source} : Shape{source};
    TAPEGRAD_CHECK(key_padding_mask.shape() == expected, "{}: key_padding_mask must be {} ([N, S]), got {}", kMha,
                   expected, key_padding_mask.shape());
    scores = add(scores, additive_mask(reshape(key_padding_mask, {batch, 1, 1, source}), scores, "key_padding_mask"));
  }
  const Tensor weights = dropout(softmax(scores, -1), options_.dropout, is_training());
  // [N, H, L, E / H] -> [L, N, E]
  const Tensor heads_joined = reshape(permute(matmul(weights, v), {2, 0, 1, 3}), {length, batch, e});
  Tensor output = out_proj->forward(heads_joined);
  output = !batched ? squeeze(output, 1) : options_.batch_first ? transpose(output, 0, 1) : output;
  if (!need_weights) return {output, Tensor()};
  Tensor returned = average_attn_weights ? mean(weights, {1}) : weights;
  return {output, batched ? returned : squeeze(returned, 0)};
}

}  // namespace tapegrad::nn
