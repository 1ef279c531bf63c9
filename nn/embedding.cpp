#include <tapegrad/nn/embedding.h>

#include <tapegrad/autodiff/grad_mode.h>
#include <tapegrad/autodiff/ops.h>

namespace tapegrad::nn {

Embedding::Embedding(const EmbeddingOptions& options, Generator& generator) : options_(options) {
  TAPEGRAD_CHECK(options.num_embeddings > 0 && options.embedding_dim > 0,
                 "Embedding: num_embeddings and embedding_dim must be positive, got {} and {}", options.num_embeddings,
                 options.embedding_dim);
  if (options.padding_idx) {
    const std::int64_t padding = *options.padding_idx;
    TAPEGRAD_CHECK(padding >= -options.num_embeddings && padding < options.num_embeddings,
                   "Embedding: padding_idx must lie in [{}, {}), got {}", -options.num_embeddings,
                   options.num_embeddings, padding);
    if (padding < 0) options_.padding_idx = padding + options.num_embeddings;
  }
  Tensor table = normal({options.num_embeddings, options.embedding_dim}, 0, 1, generator, options.dtype);
  if (options_.padding_idx) table.select(0, *options_.padding_idx).fill_(0.0);
  weight = register_parameter("weight", table);
}

Tensor Embedding::forward(const Tensor& indices) { return embedding(indices, weight, options_.padding_idx); }

std::string Embedding::extra_repr() const {
  std::string repr = fmt::format("{}, {}", options_.num_embeddings, options_.embedding_dim);
  if (options_.padding_idx) repr += fmt::format(", padding_idx={}", *options_.padding_idx);
  return repr;
}

}  // namespace tapegrad::nn
