// DistributedSampler: PyTorch's sharding (pad by repeating the epoch's first indices, or drop the
// tail; rank r takes every R-th index from r), with the DataLoader's per-epoch Philox streams, so
// that one rank of one replica serves exactly the DataLoader's own shuffled order.
#include <tapegrad/datasets/distributed_sampler.h>

#include <numeric>

#include <tapegrad/autodiff/generator.h>
#include <tapegrad/autodiff/ops.h>
#include <tapegrad/nn/distributed.h>

namespace tapegrad::distributed {

DistributedSampler::DistributedSampler(std::int64_t dataset_size, int num_replicas, int rank,
                                       DistributedSamplerOptions options)
    : dataset_size_(dataset_size), num_replicas_(num_replicas), rank_(rank), options_(options) {
  TAPEGRAD_CHECK(dataset_size >= 0, "DistributedSampler: dataset_size must be non-negative, got {}", dataset_size);
  TAPEGRAD_CHECK(num_replicas >= 1, "DistributedSampler: num_replicas must be at least 1, got {}", num_replicas);
  TAPEGRAD_CHECK(rank >= 0 && rank < num_replicas, "DistributedSampler: rank {} is not in [0, {})", rank, num_replicas);
  per_rank_ = options.drop_last ? dataset_size / num_replicas : (dataset_size + num_replicas - 1) / num_replicas;
  TAPEGRAD_CHECK(per_rank_ > 0 || dataset_size == 0,
                 "DistributedSampler: with drop_last, {} examples leave nothing for each of {} ranks", dataset_size,
                 num_replicas);
}

DistributedSampler::DistributedSampler(std::int64_t dataset_size, DistributedSamplerOptions options)
    : DistributedSampler(dataset_size, world().size(), world().rank(), options) {}

std::vector<std::int64_t> DistributedSampler::indices(std::int64_t epoch) const {
  TAPEGRAD_CHECK(epoch >= 0, "DistributedSampler: epoch must be non-negative, got {}", epoch);
  std::vector<std::int64_t> order;
  if (options_.shuffle && dataset_size_ > 0) {
    Generator generator(options_.seed);
    generator.set_offset(static_cast<std::uint64_t>(epoch) << 40);
    order = randperm(dataset_size_, generator).to_vector<std::int64_t>();
  } else {
    order.resize(static_cast<std::size_t>(dataset_size_));
    std::iota(order.begin(), order.end(), std::int64_t{0});
  }
  const std::size_t total = static_cast<std::size_t>(per_rank_) * static_cast<std::size_t>(num_replicas_);
  // Padding repeats the order from its start, as often as needed (more ranks than examples).
  for (std::size_t i = 0; order.size() < total; ++i) order.push_back(order[i]);
  std::vector<std::int64_t> shard;
  shard.reserve(static_cast<std::size_t>(per_rank_));
  for (std::size_t i = static_cast<std::size_t>(rank_); i < total; i += static_cast<std::size_t>(num_replicas_))
    shard.push_back(order[i]);
  return shard;
}

}  // namespace tapegrad::distributed
