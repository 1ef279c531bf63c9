// Multi-head attention as torch.nn.MultiheadAttention: the query, key and value projected by one
// packed in_proj_weight [3 * embed_dim, embed_dim], attention per head, and out_proj; parameter
// names and initialization are PyTorch's, so a PyTorch state dict loads as it is.
#pragma once

#include <cstdint>
#include <memory>

#include <tapegrad/nn/linear.h>
#include <tapegrad/nn/module.h>

namespace tapegrad::nn {

struct MultiheadAttentionOptions {
  std::int64_t embed_dim = 0;
  std::int64_t num_heads = 1;   // must divide embed_dim
  double dropout = 0;           // on the attention weights, in training mode
  bool bias = true;             // in_proj_bias and out_proj.bias
  bool batch_first = false;     // [N, L, E] instead of [L, N, E]
  DType dtype = kFloat32;
};

struct MultiheadAttentionOutput {
  Tensor output = {};   // [L, N, E] ([N, L, E] batch_first, [L, E] unbatched)
  Tensor weights = {};  // [N, L, S] averaged over heads, or [N, num_heads, L, S]; undefined unless need_weights
};

class MultiheadAttention : public Module {
 public:
  explicit MultiheadAttention(const MultiheadAttentionOptions& options);
  MultiheadAttention(std::int64_t embed_dim, std::int64_t num_heads)
      : MultiheadAttention(MultiheadAttentionOptions{embed_dim, num_heads}) {}

  using Module::forward;
  // query [L, N, E], key and value [S, N, E] (batch_first: [N, L, E], [N, S, E]; unbatched: [L, E],
  // [S, E]). Masks as PyTorch's: a boolean mask (any non-floating dtype) marks with true / non-zero
  // the positions NOT allowed to attend; a floating mask is added to the scores.
  // key_padding_mask [N, S] ([S] unbatched); attn_mask [L, S] or [N * num_heads, L, S].
  MultiheadAttentionOutput forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                   const Tensor& key_padding_mask = {}, bool need_weights = true,
                                   const Tensor& attn_mask = {}, bool average_attn_weights = true);
  std::string name() const override { return "MultiheadAttention"; }

  const MultiheadAttentionOptions& options() const { return options_; }
  Tensor in_proj_weight;  // [3 * E, E]: the query's rows, the key's, the value's; Xavier-uniform
  Tensor in_proj_bias;    // [3 * E], zeros; undefined without bias
  std::shared_ptr<Linear> out_proj;  // E -> E, Linear's initialization, bias zeros

 private:
  MultiheadAttentionOptions options_;
};

}  // namespace tapegrad::nn
