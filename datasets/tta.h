// Test-time augmentation: classify T augmented copies of each image and take the majority vote.
#pragma once

#include <cstdint>
#include <functional>

#include <tapegrad/autodiff/generator.h>
#include <tapegrad/autodiff/tensor.h>
#include <tapegrad/datasets/transforms.h>

namespace tapegrad::datasets {

// Any model: a batch of images in, scores [N, classes] out (logits or probabilities).
using ModelFunction = std::function<Tensor(const Tensor&)>;

// Predicted classes (int64 [N]) of `batch` by majority vote over `copies` augmented versions,
// each drawn from `generator`; ties go to the smallest class index, as torch.mode. Runs
// without recording a graph.
Tensor tta_predict(const ModelFunction& model, const Tensor& batch, const transforms::Transform& transform,
                   std::int64_t copies, Generator& generator);

// The vote itself: for votes [T, N] of class indices, the most frequent class per column,
// the smallest index among ties.
Tensor majority_vote(const Tensor& votes);

}  // namespace tapegrad::datasets
