// Embedding, PyTorch's nn.Embedding: a table of num_embeddings learnable vectors, looked up by
// int64 indices of any shape.
#pragma once

#include <cstdint>
#include <optional>

#include <tapegrad/autodiff/generator.h>
#include <tapegrad/nn/module.h>

namespace tapegrad::nn {

struct EmbeddingOptions {
  std::int64_t num_embeddings = 0;
  std::int64_t embedding_dim = 0;
  // This row starts at zero and is never trained (negative counts from the end).
  std::optional<std::int64_t> padding_idx = std::nullopt;
  DType dtype = kFloat32;
};

class Embedding : public Module {
 public:
  // The weight is drawn from N(0, 1), as PyTorch's, from `generator` (default: the global one).
  explicit Embedding(const EmbeddingOptions& options, Generator& generator = default_generator());
  Embedding(std::int64_t num_embeddings, std::int64_t embedding_dim)
      : Embedding(EmbeddingOptions{num_embeddings, embedding_dim}) {}
  // indices (int64, any shape) -> [*indices.shape, embedding_dim]
  Tensor forward(const Tensor& indices) override;
  std::string name() const override { return "Embedding"; }
  std::string extra_repr() const override;

  const EmbeddingOptions& options() const { return options_; }
  Tensor weight;  // [num_embeddings, embedding_dim]

 private:
  EmbeddingOptions options_;
};

}  // namespace tapegrad::nn
