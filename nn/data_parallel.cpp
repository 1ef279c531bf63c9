// DistributedDataParallel: buckets of gradients averaged with nonblocking allreduce, each started
// from the post-accumulate hook of its last parameter to finish, all waited for in the callback
// the engine runs when backward ends. Buckets follow the reverse of the registration order, the
// order backward produces gradients in (PyTorch's and Horovod's heuristic), and launch strictly in
// order so that every rank issues the same sequence of collectives.
#include <tapegrad/nn/data_parallel.h>

#include <fmt/format.h>

#include <tapegrad/autodiff/engine.h>
#include <tapegrad/autodiff/grad_mode.h>
#include <tapegrad/autodiff/ops.h>

namespace tapegrad::distributed {

DistributedDataParallel::DistributedDataParallel(std::shared_ptr<nn::Module> module, DataParallelOptions options,
                                                 ProcessGroup& group)
    : module_(std::move(module)), group_(&group) {
  TAPEGRAD_CHECK(module_ != nullptr, "DistributedDataParallel: the module is null");
  TAPEGRAD_CHECK(options.bucket_cap_mb > 0, "DistributedDataParallel: bucket_cap_mb must be positive, got {}",
                 options.bucket_cap_mb);
  register_module("module", module_);
  check_same_parameters_on_all_ranks();
  for (const Tensor& t : module_->parameters()) group_->broadcast(t, 0);
  for (const Tensor& t : module_->buffers()) group_->broadcast(t, 0);
  const std::vector<Tensor> all = module_->parameters();
  for (auto it = all.rbegin(); it != all.rend(); ++it)
    if (it->requires_grad()) params_.push_back(*it);
  build_buckets(options.bucket_cap_mb);
  ready_.assign(params_.size(), 0);
  for (std::size_t i = 0; i < params_.size(); ++i)
    hooks_.push_back(params_[i].register_post_accumulate_grad_hook([this, i](const Tensor&) { on_gradient_ready(i); }));
}

DistributedDataParallel::~DistributedDataParallel() {
  for (HookHandle& hook : hooks_) hook.remove();
}

Tensor DistributedDataParallel::forward(const Tensor& input) {
  // A backward that threw left a pass half done; its collectives are waited for here, as every
  // rank waits for them, so the next pass starts clean.
  if (pass_under_way_) finish_gradient_sync();
  return (*module_)(input);
}

void DistributedDataParallel::check_same_parameters_on_all_ranks() {
  const std::vector<Tensor> params = module_->parameters(), buffers = module_->buffers();
  const Tensor counts = from_vector(
      std::vector<std::int64_t>{static_cast<std::int64_t>(params.size()), static_cast<std::int64_t>(buffers.size())});
  const Tensor gathered = group_->all_gather(counts);
  const std::vector<std::int64_t> all = gathered.to_vector<std::int64_t>();
  for (int r = 1; r < group_->size(); ++r)
    TAPEGRAD_CHECK(all[2 * r] == all[0] && all[2 * r + 1] == all[1],
                   "DistributedDataParallel: rank {} holds {} parameters and {} buffers, rank 0 {} and {}; every rank "
                   "must build the same model",
                   r, all[2 * r], all[2 * r + 1], all[0], all[1]);
}

void DistributedDataParallel::build_buckets(double bucket_cap_mb) {
  const double cap_bytes = bucket_cap_mb * 1024 * 1024;
  std::vector<std::vector<std::size_t>> groups;
  double bytes = 0;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    const Tensor& first = groups.empty() ? p : params_[groups.back().front()];
    const bool new_bucket =
        groups.empty() || bytes >= cap_bytes || first.dtype() != p.dtype() || first.device() != p.device();
    if (new_bucket) {
      groups.emplace_back();
      bytes = 0;
    }
    groups.back().push_back(i);
    bytes += static_cast<double>(p.numel()) * static_cast<double>(dtype_size(p.dtype()));
  }
  grad_slots_.resize(params_.size());
  bucket_of_.resize(params_.size());
  for (std::vector<std::size_t>& members : groups) {
    std::int64_t total = 0;
    for (std::size_t i : members) total += params_[i].numel();
    Bucket bucket;
    const Tensor& first = params_[members.front()];
    bucket.flat = zeros({total}, TensorOptions(first.dtype()).with_device(first.device()));
    std::int64_t offset = 0;
    for (std::size_t i : members) {
      grad_slots_[i] = bucket.flat.narrow(0, offset, params_[i].numel()).view(params_[i].shape());
      bucket_of_[i] = buckets_.size();
      offset += params_[i].numel();
    }
    bucket.members = std::move(members);
    bucket.waiting = bucket.members.size();
    buckets_.push_back(std::move(bucket));
  }
}

void DistributedDataParallel::on_gradient_ready(std::size_t param) {
  if (!sync_enabled_) return;
  if (!pass_under_way_) {
    pass_under_way_ = true;
    queue_backward_callback([this] { finish_gradient_sync(); });
  }
  if (ready_[param] != 0) return;
  ready_[param] = 1;
  {
    NoGradGuard no_grad;
    grad_slots_[param].copy_(params_[param].grad());
  }
  Bucket& bucket = buckets_[bucket_of_[param]];
  if (--bucket.waiting == 0) launch_ready_buckets();
  // MPI advances nonblocking collectives only inside MPI calls: give the ones under way a turn.
  for (std::size_t b = 0; b < next_launch_; ++b) buckets_[b].work.test();
}

void DistributedDataParallel::launch_ready_buckets() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].waiting == 0) launch(buckets_[next_launch_++]);
}

void DistributedDataParallel::launch(Bucket& bucket) {
  bucket.work = group_->all_reduce_async(bucket.flat, ReduceOp::Average);
}

void DistributedDataParallel::finish_gradient_sync() {
  if (!pass_under_way_) return;
  NoGradGuard no_grad;
  // Parameters this pass did not reach contribute what they hold, so every rank reduces every bucket.
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (ready_[i] != 0) continue;
    const Tensor grad = params_[i].grad();
    if (grad.defined())
      grad_slots_[i].copy_(grad);
    else
      grad_slots_[i].zero_();
    ready_[i] = 1;
    --buckets_[bucket_of_[i]].waiting;
  }
  launch_ready_buckets();
  for (Bucket& bucket : buckets_) bucket.work.wait();
  for (std::size_t i = 0; i < params_.size(); ++i) {
    Tensor grad = params_[i].grad();
    if (grad.defined())
      grad.copy_(grad_slots_[i]);
    else
      params_[i].set_grad(grad_slots_[i].clone());
  }
  reset_pass();
}

void DistributedDataParallel::reset_pass() {
  std::fill(ready_.begin(), ready_.end(), 0);
  for (Bucket& bucket : buckets_) {
    bucket.waiting = bucket.members.size();
    bucket.work = Work();
  }
  next_launch_ = 0;
  pass_under_way_ = false;
}

std::vector<std::size_t> DistributedDataParallel::bucket_sizes() const {
  std::vector<std::size_t> sizes;
  for (const Bucket& bucket : buckets_) sizes.push_back(bucket.members.size());
  return sizes;
}

}  // namespace tapegrad::distributed
