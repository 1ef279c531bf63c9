// tapegrad::distributed: collectives against hand-computed results, DistributedDataParallel
// against one process training on the whole batch, and DistributedSampler's shards. Every test
// holds for any number of ranks: ctest runs this file alone (a group of one) and under
// `mpirun -np 2` (see tests/CMakeLists.txt).
#include <algorithm>
#include <cmath>
#include <set>

#include <gtest/gtest.h>

#include <tapegrad/tapegrad.h>

namespace tapegrad {
namespace {

using distributed::world;

// Bit for bit (float32 values widen to double exactly).
bool same_values(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.to_vector<double>() == b.to_vector<double>();
}

double max_difference(const Tensor& a, const Tensor& b) {
  const std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]));
  return worst;
}

int rank() { return world().rank(); }
int ranks() { return world().size(); }
double triangle() { return ranks() * (ranks() + 1) / 2.0; }  // 1 + 2 + ... + ranks()

TEST(ProcessGroup, AllReduceSumsEveryDtype) {
  for (const DType dtype : {kFloat32, kFloat64, kInt64}) {
    Tensor t = tensor({1, 2, 3}, std::nullopt, dtype).mul_(rank() + 1);
    world().all_reduce(t);
    EXPECT_EQ(t.to_vector<double>(), (std::vector<double>{triangle(), 2 * triangle(), 3 * triangle()})) << fmt::format("{}", dtype);
  }
}

TEST(ProcessGroup, AllReduceAverage) {
  Tensor t = tensor({2, 4}, std::nullopt, kFloat64).mul_(rank() + 1);
  world().all_reduce(t, distributed::ReduceOp::Average);
  EXPECT_EQ(t.to_vector<double>(), (std::vector<double>{2 * triangle() / ranks(), 4 * triangle() / ranks()}));
}

TEST(ProcessGroup, AllReduceWritesThroughANonContiguousView) {
  // base [[1, 2, 3], [4, 5, 6]] * (rank + 1); the view is its transpose.
  Tensor base = arange(1, 7, 1, kFloat64).reshape({2, 3}).mul_(rank() + 1);
  Tensor view = base.transpose(0, 1);
  ASSERT_FALSE(view.is_contiguous());
  world().all_reduce(view);
  std::vector<double> expected{1, 2, 3, 4, 5, 6};
  for (double& v : expected) v *= triangle();
  EXPECT_EQ(base.to_vector<double>(), expected);
}

TEST(ProcessGroup, BroadcastCopiesTheRootsTensor) {
  const int root = ranks() - 1;
  Tensor t = full({2, 2}, rank() * 10.0, kInt64);
  world().broadcast(t, root);
  EXPECT_EQ(t.to_vector<std::int64_t>(), std::vector<std::int64_t>(4, root * 10));
}

TEST(ProcessGroup, AllGatherStacksRowsInRankOrder) {
  const Tensor mine = from_vector(std::vector<std::int64_t>{rank(), rank() * 10});
  const Tensor all = world().all_gather(mine);
  ASSERT_EQ(all.shape(), (Shape{ranks(), 2}));
  for (int r = 0; r < ranks(); ++r)
    EXPECT_EQ(all.select(0, r).to_vector<std::int64_t>(), (std::vector<std::int64_t>{r, r * 10}));
}

TEST(ProcessGroup, RanksPassingDifferentShapesAllFail) {
  if (ranks() == 1) GTEST_SKIP() << "needs two ranks (ctest runs this file under mpirun too)";
  Tensor t = zeros({rank() == 0 ? 3 : 4});
  try {
    world().all_reduce(t);
    FAIL() << "all_reduce of [3] against [4] passed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rank 0: float32 [3]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("rank 1: float32 [4]"), std::string::npos) << e.what();
  }
  // The group is still usable afterwards.
  Tensor one = ones({1});
  world().all_reduce(one);
  EXPECT_EQ(one.item<double>(), ranks());
}

TEST(ProcessGroup, CudaTensorsGoThroughNccl) {
  if (!cuda::is_available()) GTEST_SKIP() << "needs a GPU: " << cuda::unavailable_reason();
  // NCCL wants one GPU per rank on a machine.
  if (cuda::device_count() < world().local_size()) GTEST_SKIP() << "needs a GPU for each rank on this machine";
  const Device gpu = Device::cuda(world().local_rank());
  Tensor t = tensor({1, 2, 3}, std::nullopt, TensorOptions(kFloat32).with_device(gpu)).mul_(rank() + 1);
  world().all_reduce(t);
  EXPECT_EQ(t.cpu().to_vector<double>(), (std::vector<double>{triangle(), 2 * triangle(), 3 * triangle()}));
  Tensor root = full({2}, rank(), TensorOptions(kInt64).with_device(gpu));
  world().broadcast(root, 0);
  EXPECT_EQ(root.cpu().to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, 0}));
  const Tensor all = world().all_gather(full({1}, rank(), TensorOptions(kFloat64).with_device(gpu)));
  EXPECT_EQ(all.device(), gpu);
  for (int r = 0; r < ranks(); ++r) EXPECT_EQ(all[r].item<double>(), r);
}

TEST(ProcessGroup, RefusesWhatItCannotReduce) {
  EXPECT_THROW(world().all_reduce(ones({2}, kInt64), distributed::ReduceOp::Average), Error);
  EXPECT_THROW(world().all_reduce(ones({2}, kUInt8)), Error);
  EXPECT_THROW(world().broadcast(ones({2}), ranks()), Error);
}

// ---- DistributedDataParallel against one process on the whole batch ----

std::shared_ptr<nn::Module> small_net(std::uint64_t seed) {
  manual_seed(seed);
  return std::make_shared<nn::Sequential>(nn::Linear(6, 16), nn::Tanh(), nn::Linear(16, 3));
}

struct Batch {
  Tensor x, y;
};

// Step s's global batch of 8, the same on every rank.
Batch global_batch(int step) {
  Generator generator(1000 + static_cast<std::uint64_t>(step));
  return {randn({8, 6}, generator), randn({8, 3}, generator)};
}

Batch local_part(const Batch& batch) {
  const std::int64_t local = batch.x.size(0) / ranks();
  return {batch.x.narrow(0, rank() * local, local), batch.y.narrow(0, rank() * local, local)};
}

template <typename MakeOptimizer>
std::vector<Tensor> train_alone(const MakeOptimizer& make_optimizer) {
  auto model = small_net(1);
  auto optimizer = make_optimizer(model->parameters());
  for (int step = 0; step < 50; ++step) {
    const Batch batch = global_batch(step);
    optimizer.zero_grad();
    mse_loss((*model)(batch.x), batch.y).backward();
    optimizer.step();
  }
  return model->parameters();
}

template <typename MakeOptimizer>
std::vector<Tensor> train_data_parallel(const MakeOptimizer& make_optimizer, double bucket_cap_mb) {
  // Each rank starts from other weights: the wrapper must broadcast rank 0's.
  auto model = small_net(rank() == 0 ? 1 : 77 + static_cast<std::uint64_t>(rank()));
  distributed::DistributedDataParallel ddp(model, {.bucket_cap_mb = bucket_cap_mb});
  auto optimizer = make_optimizer(model->parameters());
  for (int step = 0; step < 50; ++step) {
    const Batch batch = local_part(global_batch(step));
    optimizer.zero_grad();
    mse_loss(ddp(batch.x), batch.y).backward();
    optimizer.step();
  }
  return model->parameters();
}

void expect_close(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    EXPECT_LT(max_difference(a[i], b[i]), 1e-5) << "parameter " << i;
}

void expect_same_bits_on_every_rank(const std::vector<Tensor>& params) {
  for (std::size_t i = 0; i < params.size(); ++i) {
    const Tensor all = world().all_gather(params[i]);
    for (int r = 1; r < ranks(); ++r)
      EXPECT_TRUE(same_values(all.select(0, r), all.select(0, 0))) << "parameter " << i << " on rank " << r;
  }
}

const auto sgd_momentum = [](std::vector<Tensor> params) {
  return optim::SGD(std::move(params), {.lr = 0.05, .momentum = 0.9});
};
const auto adam = [](std::vector<Tensor> params) { return optim::Adam(std::move(params), {.lr = 0.01}); };

TEST(DistributedDataParallel, SgdWithMomentumMatchesOneProcessOnTheWholeBatch) {
  const std::vector<Tensor> alone = train_alone(sgd_momentum);
  const std::vector<Tensor> parallel = train_data_parallel(sgd_momentum, 25);
  expect_close(parallel, alone);
  expect_same_bits_on_every_rank(parallel);
}

TEST(DistributedDataParallel, AdamMatchesOneProcessOnTheWholeBatch) {
  const std::vector<Tensor> alone = train_alone(adam);
  const std::vector<Tensor> parallel = train_data_parallel(adam, 25);
  expect_close(parallel, alone);
  expect_same_bits_on_every_rank(parallel);
}

TEST(DistributedDataParallel, SmallBucketsGiveTheSameResult) {
  // One byte: every parameter in a bucket of its own, several reductions in flight at once.
  const std::vector<Tensor> one_bucket = train_data_parallel(adam, 25);
  const std::vector<Tensor> many = train_data_parallel(adam, 1.0 / (1 << 20));
  for (std::size_t i = 0; i < many.size(); ++i) EXPECT_TRUE(same_values(many[i], one_bucket[i])) << i;
}

TEST(DistributedDataParallel, SameSeedSameBits) {
  const std::vector<Tensor> first = train_data_parallel(sgd_momentum, 25);
  const std::vector<Tensor> second = train_data_parallel(sgd_momentum, 25);
  for (std::size_t i = 0; i < first.size(); ++i) EXPECT_TRUE(same_values(first[i], second[i])) << i;
}

TEST(DistributedDataParallel, BucketsFollowReverseRegistrationOrder) {
  // A bucket closes once it holds the cap: 200 bytes take the last layer's bias (12 bytes) and
  // weight (192), then the first layer's bias (64) and weight (384).
  distributed::DistributedDataParallel ddp(small_net(1), {.bucket_cap_mb = 200.0 / (1 << 20)});
  EXPECT_EQ(ddp.bucket_sizes(), (std::vector<std::size_t>{2, 2}));
  distributed::DistributedDataParallel apart(small_net(1), {.bucket_cap_mb = 1.0 / (1 << 20)});
  EXPECT_EQ(apart.bucket_sizes(), (std::vector<std::size_t>{1, 1, 1, 1}));
  distributed::DistributedDataParallel together(small_net(1));
  EXPECT_EQ(together.bucket_sizes(), (std::vector<std::size_t>{4}));
}

TEST(DistributedDataParallel, NoSyncAccumulatesAndTheNextBackwardAverages) {
  auto reference = small_net(1);
  const Batch first = global_batch(0), second = global_batch(1);
  (mse_loss((*reference)(first.x), first.y) + mse_loss((*reference)(second.x), second.y)).backward();

  auto model = small_net(1);
  distributed::DistributedDataParallel ddp(model);
  {
    auto guard = ddp.no_sync();
    const Batch mine = local_part(first);
    mse_loss(ddp(mine.x), mine.y).backward();
  }
  const Batch mine = local_part(second);
  mse_loss(ddp(mine.x), mine.y).backward();
  const std::vector<Tensor> expected = reference->parameters(), got = model->parameters();
  for (std::size_t i = 0; i < got.size(); ++i)
    EXPECT_LT(max_difference(got[i].grad(), expected[i].grad()), 1e-6) << "gradient " << i;
}

TEST(DistributedDataParallel, RefusesRanksWithDifferentModels) {
  if (ranks() == 1) GTEST_SKIP() << "needs two ranks";
  manual_seed(1);
  auto model = rank() == 0 ? std::make_shared<nn::Sequential>(nn::Linear(2, 2))
                           : std::make_shared<nn::Sequential>(nn::Linear(2, 2), nn::Linear(2, 2));
  EXPECT_THROW(distributed::DistributedDataParallel ddp(model), Error);
}

// ---- SyncBatchNorm against BatchNorm on the whole batch ----

TEST(SyncBatchNorm, EachRanksShareNormalizesWithTheGlobalBatchStatistics) {
  // The global batch [8, 3, 2] and a loss weighting each output differently, on every rank.
  Generator generator(7);
  const Tensor x = randn({8, 3, 2}, generator, kFloat64).mul_(3).add_(1);
  const Tensor loss_weights = randn({8, 3, 2}, generator, kFloat64);
  const nn::BatchNormOptions options{.num_features = 3, .dtype = kFloat64};

  nn::BatchNorm1d reference(options);
  const Tensor whole = x.clone().requires_grad_();
  const Tensor whole_output = reference(whole);
  (whole_output * loss_weights).sum().backward();

  distributed::SyncBatchNorm synced(options);
  const std::int64_t local = 8 / ranks();
  const Tensor mine = x.narrow(0, rank() * local, local).clone().requires_grad_();
  const Tensor output = synced(mine);
  (output * loss_weights.narrow(0, rank() * local, local)).sum().backward();

  EXPECT_LT(max_difference(output, whole_output.narrow(0, rank() * local, local)), 1e-12);
  EXPECT_LT(max_difference(mine.grad(), whole.grad().narrow(0, rank() * local, local)), 1e-12);
  EXPECT_LT(max_difference(synced.running_mean, reference.running_mean), 1e-12);
  EXPECT_LT(max_difference(synced.running_var, reference.running_var), 1e-12);
  // Each rank holds its rows' share of the parameter gradients; together they are the whole.
  Tensor weight_grad = synced.weight.grad().clone(), bias_grad = synced.bias.grad().clone();
  world().all_reduce(weight_grad);
  world().all_reduce(bias_grad);
  EXPECT_LT(max_difference(weight_grad, reference.weight.grad()), 1e-12);
  EXPECT_LT(max_difference(bias_grad, reference.bias.grad()), 1e-12);
}

// ---- DistributedSampler ----

TEST(DistributedSampler, ShardsAreDisjointAndCoverTheEpoch) {
  std::multiset<std::int64_t> seen;
  for (int r = 0; r < 3; ++r) {
    const distributed::DistributedSampler sampler(12, 3, r, {.seed = 5});
    EXPECT_EQ(sampler.size(), 4);
    for (const std::int64_t i : sampler.indices(2)) seen.insert(i);
  }
  std::multiset<std::int64_t> all;
  for (std::int64_t i = 0; i < 12; ++i) all.insert(i);
  EXPECT_EQ(seen, all);
}

TEST(DistributedSampler, PadsWithTheEpochsFirstIndicesOrDropsTheTail) {
  // 5 examples on 2 ranks, in order: 0 1 2 3 4 | 0 (padded), rank r takes positions r, r + 2, ...
  EXPECT_EQ(distributed::DistributedSampler(5, 2, 0, {.shuffle = false}).indices(0),
            (std::vector<std::int64_t>{0, 2, 4}));
  EXPECT_EQ(distributed::DistributedSampler(5, 2, 1, {.shuffle = false}).indices(0),
            (std::vector<std::int64_t>{1, 3, 0}));
  EXPECT_EQ(distributed::DistributedSampler(5, 2, 1, {.shuffle = false, .drop_last = true}).indices(0),
            (std::vector<std::int64_t>{1, 3}));
  // More ranks than examples: the order repeats as often as needed.
  EXPECT_EQ(distributed::DistributedSampler(2, 5, 4, {.shuffle = false}).indices(0), (std::vector<std::int64_t>{0}));
}

TEST(DistributedSampler, OrderDependsOnSeedAndEpochOnly) {
  const distributed::DistributedSampler a(100, 2, 1, {.seed = 3}), b(100, 2, 1, {.seed = 3});
  EXPECT_EQ(a.indices(4), b.indices(4));
  EXPECT_NE(a.indices(4), a.indices(5));
}

TEST(DistributedSampler, OneReplicaServesTheDataLoadersShuffledOrder) {
  auto data = std::make_shared<datasets::TensorDataset>(arange(10).reshape({10, 1}), arange(10));
  datasets::DataLoader shuffled(data, datasets::DataLoaderOptions().with_shuffle().with_seed(9));
  auto sampler = std::make_shared<distributed::DistributedSampler>(10, 1, 0, distributed::DistributedSamplerOptions{.seed = 9});
  datasets::DataLoader sampled(data, datasets::DataLoaderOptions().with_sampler(sampler));
  EXPECT_EQ(sampled.epoch_order(3), shuffled.epoch_order(3));
  EXPECT_THROW(datasets::DataLoader(data, datasets::DataLoaderOptions().with_sampler(sampler).with_shuffle()), Error);
}

TEST(DistributedSampler, RefusesBadArguments) {
  EXPECT_THROW(distributed::DistributedSampler(10, 0, 0), Error);
  EXPECT_THROW(distributed::DistributedSampler(10, 2, 2), Error);
  EXPECT_THROW(distributed::DistributedSampler(1, 2, 0, {.drop_last = true}), Error);
}

}  // namespace
}  // namespace tapegrad
