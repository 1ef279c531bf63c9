// DistributedSampler, as torch.utils.data.distributed.DistributedSampler: each rank of a
// data-parallel job gets a disjoint shard of every epoch, all shards of one length, so every
// rank runs the same number of steps (and of collectives). The epoch's order depends only on
// (seed, epoch); give the same seed on every rank.
//
//   auto sampler = std::make_shared<distributed::DistributedSampler>(train->size());
//   DataLoader loader(train, DataLoaderOptions().with_batch_size(64).with_sampler(sampler));
#pragma once

#include <cstdint>
#include <vector>

#include <tapegrad/datasets/dataloader.h>

namespace tapegrad::distributed {

struct DistributedSamplerOptions {
  bool shuffle = true;     // a fresh permutation each epoch, else the dataset's order
  std::uint64_t seed = 0;
  // Without: the epoch is padded with its own first indices up to a multiple of the rank count.
  // With: the indices past the last multiple are dropped.
  bool drop_last = false;
};

class DistributedSampler : public datasets::Sampler {
 public:
  DistributedSampler(std::int64_t dataset_size, int num_replicas, int rank, DistributedSamplerOptions options = {});
  // The shard of this process in distributed::world().
  explicit DistributedSampler(std::int64_t dataset_size, DistributedSamplerOptions options = {});

  std::int64_t size() const override { return per_rank_; }
  // Rank r's indices: positions r, r + R, r + 2R, ... of the epoch's (padded) order.
  std::vector<std::int64_t> indices(std::int64_t epoch) const override;

 private:
  std::int64_t dataset_size_;
  int num_replicas_, rank_;
  DistributedSamplerOptions options_;
  std::int64_t per_rank_;
};

}  // namespace tapegrad::distributed
