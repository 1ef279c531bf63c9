// The Dataset interface, as torch.utils.data's map-style datasets: a size and an example per
// index, plus whole batches at once so tensor-backed datasets collate with one index_select
// instead of one copy per example. Datasets are shared (std::shared_ptr<const Dataset>) and must
// be safe to read from two threads, since the DataLoader prefetches on a background thread.
#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>

#include <tapegrad/autodiff/generator.h>
#include <tapegrad/autodiff/tensor.h>

namespace tapegrad::datasets {

struct Example {
  Tensor input;
  Tensor target;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual std::int64_t size() const = 0;
  virtual Example get(std::int64_t index) const = 0;
  // The examples at `indices` (int64 [B]) stacked along a new leading dim. The default stacks
  // get(i); datasets over tensors override it with index_select.
  virtual Example get_batch(const Tensor& indices) const;
};

using DatasetPtr = std::shared_ptr<const Dataset>;

// Inputs [N, ...] and targets [N, ...] (any dtypes, uint8 included): example i is their row i.
class TensorDataset : public Dataset {
 public:
  TensorDataset(Tensor inputs, Tensor targets);
  explicit TensorDataset(const Example& examples) : TensorDataset(examples.input, examples.target) {}
  std::int64_t size() const override { return inputs_.size(0); }
  Example get(std::int64_t index) const override;
  Example get_batch(const Tensor& indices) const override;
  const Tensor& inputs() const { return inputs_; }
  const Tensor& targets() const { return targets_; }

 private:
  Tensor inputs_, targets_;
};

// The examples of `base` at `indices` (int64 [K], repeats allowed), in that order.
class Subset : public Dataset {
 public:
  Subset(DatasetPtr base, Tensor indices);
  std::int64_t size() const override { return indices_.numel(); }
  Example get(std::int64_t index) const override;
  Example get_batch(const Tensor& indices) const override;
  const Tensor& indices() const { return indices_; }

 private:
  DatasetPtr base_;
  Tensor indices_;
};

// `base` with `map` applied to each input. The same function sees single inputs (get) and
// stacked batches (get_batch), so it must work on both: elementwise ops and broadcasting over
// leading dims do, which is what pixel conversion and normalization need. Converting per batch
// keeps a uint8 dataset uint8 in memory (MNIST's 47 MB would be 188 MB as float32).
class MappedDataset : public Dataset {
 public:
  using Map = std::function<Tensor(const Tensor&)>;
  MappedDataset(DatasetPtr base, Map map) : base_(std::move(base)), map_(std::move(map)) {}
  std::int64_t size() const override { return base_->size(); }
  Example get(std::int64_t index) const override;
  Example get_batch(const Tensor& indices) const override;

 private:
  DatasetPtr base_;
  Map map_;
};

std::shared_ptr<MappedDataset> map_inputs(DatasetPtr base, MappedDataset::Map map);

// `base` with `map` applied to each example's input on its own, as a torchvision dataset's
// transform: get_batch maps the examples one by one, then stacks them. For functions that need
// a single example (one image [C, H, W], a variable-length sequence); map_inputs is the faster
// choice for functions that work on batches. Random augmentation belongs in the DataLoader's
// transform (DataLoaderOptions::transform), which gives each example a seeded generator.
class SampleMappedDataset : public Dataset {
 public:
  using Map = std::function<Tensor(const Tensor&)>;
  SampleMappedDataset(DatasetPtr base, Map map);
  std::int64_t size() const override { return base_->size(); }
  Example get(std::int64_t index) const override;

 private:
  DatasetPtr base_;
  Map map_;
};

std::shared_ptr<SampleMappedDataset> map_samples(DatasetPtr base, SampleMappedDataset::Map map);

// `count` distinct examples of `dataset` drawn without replacement, in random order (the first
// `count` entries of a random permutation, as torch.randperm(n)[:count]).
std::shared_ptr<Subset> random_subset(DatasetPtr dataset, std::int64_t count, Generator& generator);
// round(fraction * size): the size of a random subset by fraction, with fraction in [0, 1].
std::int64_t subset_count(std::int64_t size, double fraction);
// round(fraction * size) examples, drawn as above. (A template, so that random_subset(d, 7200, g)
// picks the count overload and random_subset(d, 0.12, g) this one.)
template <std::floating_point Fraction>
std::shared_ptr<Subset> random_subset(DatasetPtr dataset, Fraction fraction, Generator& generator) {
  const std::int64_t count = subset_count(dataset->size(), static_cast<double>(fraction));
  return random_subset(std::move(dataset), count, generator);
}

// Every example of `dataset` collated into one batch (e.g. a subsample's images as one tensor).
Example load_all(const Dataset& dataset);

}  // namespace tapegrad::datasets
