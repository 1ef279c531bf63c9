// Datasets over tensors, subsets, mapped inputs and random subsampling.
#include <tapegrad/datasets/dataset.h>

#include <cmath>

#include <tapegrad/autodiff/grad_mode.h>
#include <tapegrad/autodiff/ops.h>

namespace tapegrad::datasets {
namespace {

void check_batch_indices(const char* what, const Tensor& indices) {
  TAPEGRAD_CHECK(indices.defined() && indices.dtype() == kInt64 && indices.dim() == 1,
                 "{}: batch indices must be a 1-D int64 tensor", what);
}

std::int64_t checked_index(const char* what, std::int64_t index, std::int64_t size) {
  TAPEGRAD_CHECK(index >= 0 && index < size, "{}: index {} is out of range for a dataset of {} examples", what, index,
                 size);
  return index;
}

}  // namespace

Example Dataset::get_batch(const Tensor& indices) const {
  check_batch_indices("Dataset::get_batch", indices);
  std::vector<Tensor> inputs, targets;
  for (std::int64_t index : indices.to_vector<std::int64_t>()) {
    Example example = get(index);
    inputs.push_back(example.input);
    targets.push_back(example.target);
  }
  return {stack(inputs), stack(targets)};
}

TensorDataset::TensorDataset(Tensor inputs, Tensor targets) : inputs_(std::move(inputs)), targets_(std::move(targets)) {
  TAPEGRAD_CHECK(inputs_.defined() && targets_.defined() && inputs_.dim() >= 1 && targets_.dim() >= 1,
                 "TensorDataset: inputs and targets must be tensors with a leading example dim");
  TAPEGRAD_CHECK(inputs_.size(0) == targets_.size(0),
                 "TensorDataset: {} inputs (shape {}) but {} targets (shape {}); they must pair up", inputs_.size(0),
                 inputs_.shape(), targets_.size(0), targets_.shape());
}

Example TensorDataset::get(std::int64_t index) const {
  checked_index("TensorDataset::get", index, size());
  return {inputs_.select(0, index), targets_.select(0, index)};
}

Example TensorDataset::get_batch(const Tensor& indices) const {
  check_batch_indices("TensorDataset::get_batch", indices);
  NoGradGuard no_grad;  // collation is data movement, never part of a model's graph
  return {inputs_.index_select(0, indices), targets_.index_select(0, indices)};
}

Subset::Subset(DatasetPtr base, Tensor indices) : base_(std::move(base)), indices_(std::move(indices)) {
  TAPEGRAD_CHECK(base_ != nullptr, "Subset: no base dataset");
  check_batch_indices("Subset", indices_);
  indices_ = indices_.contiguous();
  for (std::int64_t index : indices_.to_vector<std::int64_t>()) checked_index("Subset", index, base_->size());
}

Example Subset::get(std::int64_t index) const {
  checked_index("Subset::get", index, size());
  return base_->get(indices_.data_ptr<std::int64_t>()[index]);
}

Example Subset::get_batch(const Tensor& indices) const {
  check_batch_indices("Subset::get_batch", indices);
  return base_->get_batch(indices_.index_select(0, indices));
}

Example MappedDataset::get(std::int64_t index) const {
  Example example = base_->get(index);
  example.input = map_(example.input);
  return example;
}

Example MappedDataset::get_batch(const Tensor& indices) const {
  Example batch = base_->get_batch(indices);
  NoGradGuard no_grad;
  batch.input = map_(batch.input);
  return batch;
}

std::shared_ptr<MappedDataset> map_inputs(DatasetPtr base, MappedDataset::Map map) {
  TAPEGRAD_CHECK(base != nullptr && map, "map_inputs: needs a dataset and a function");
  return std::make_shared<MappedDataset>(std::move(base), std::move(map));
}

SampleMappedDataset::SampleMappedDataset(DatasetPtr base, Map map) : base_(std::move(base)), map_(std::move(map)) {
  TAPEGRAD_CHECK(base_ != nullptr && map_, "map_samples: needs a dataset and a function");
}

// The default get_batch stacks get(i), so batches see the map example by example.
Example SampleMappedDataset::get(std::int64_t index) const {
  Example example = base_->get(index);
  NoGradGuard no_grad;
  example.input = map_(example.input);
  return example;
}

std::shared_ptr<SampleMappedDataset> map_samples(DatasetPtr base, SampleMappedDataset::Map map) {
  return std::make_shared<SampleMappedDataset>(std::move(base), std::move(map));
}

std::int64_t subset_count(std::int64_t size, double fraction) {
  TAPEGRAD_CHECK(fraction >= 0 && fraction <= 1, "random_subset: fraction must lie in [0, 1], got {}", fraction);
  return std::llround(fraction * static_cast<double>(size));
}

std::shared_ptr<Subset> random_subset(DatasetPtr dataset, std::int64_t count, Generator& generator) {
  TAPEGRAD_CHECK(dataset != nullptr, "random_subset: no dataset");
  TAPEGRAD_CHECK(count >= 0 && count <= dataset->size(),
                 "random_subset: cannot draw {} distinct examples from a dataset of {}", count, dataset->size());
  const Tensor permutation = randperm(dataset->size(), generator);
  return std::make_shared<Subset>(std::move(dataset), permutation.narrow(0, 0, count).contiguous());
}

Example load_all(const Dataset& dataset) { return dataset.get_batch(arange(dataset.size(), kInt64)); }

}  // namespace tapegrad::datasets
