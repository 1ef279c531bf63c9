// Data-parallel training, as PyTorch's DistributedDataParallel: every rank holds the whole model
// and trains it on its own part of each batch; gradients are averaged over the ranks in buckets
// while backward still runs, so every rank's optimizer takes the same step.
//
//   auto model = std::make_shared<MyNet>();
//   distributed::DistributedDataParallel ddp(model);   // rank 0's parameters and buffers go to all
//   optim::SGD optimizer(model->parameters(), {...});
//   for (...) { optimizer.zero_grad(); loss(ddp(x), y).backward(); optimizer.step(); }
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <tapegrad/nn/distributed.h>
#include <tapegrad/nn/module.h>

namespace tapegrad::distributed {

struct DataParallelOptions {
  // Gradients are reduced in buckets of about this many megabytes (2^20 bytes): one collective
  // per bucket, started as soon as backward has produced all of its gradients. Larger buckets
  // mean fewer, more efficient messages; smaller ones start communicating earlier.
  double bucket_cap_mb = 25;
};

class DistributedDataParallel : public nn::Module {
 public:
  // Broadcasts rank 0's parameters and buffers to every rank (after checking that all ranks hold
  // parameters of the same shapes), then registers the gradient hooks. The module's parameters
  // stay its own: hand them to the optimizer as usual. Buffers (BatchNorm's running statistics)
  // stay local to each rank afterwards.
  explicit DistributedDataParallel(std::shared_ptr<nn::Module> module, DataParallelOptions options = {},
                                   ProcessGroup& group = world());
  ~DistributedDataParallel() override;
  DistributedDataParallel(DistributedDataParallel&&) = delete;  // the hooks point at this object

  Tensor forward(const Tensor& input) override;
  std::string name() const override { return "DistributedDataParallel"; }
  nn::Module& module() { return *module_; }
  ProcessGroup& group() { return *group_; }

  // While the returned guard lives, backward accumulates gradients locally without communicating;
  // the first backward after it averages everything accumulated (gradient accumulation).
  class NoSync {
   public:
    explicit NoSync(DistributedDataParallel& owner) : owner_(&owner) { owner.sync_enabled_ = false; }
    ~NoSync() { owner_->sync_enabled_ = true; }
    NoSync(const NoSync&) = delete;
    NoSync& operator=(const NoSync&) = delete;

   private:
    DistributedDataParallel* owner_;
  };
  [[nodiscard]] NoSync no_sync() { return NoSync(*this); }

  // Waits for the bucket reductions and writes the averaged gradients into the parameters' .grad.
  // backward() calls it when it ends; a parameter that got no gradient in this pass contributes
  // its current .grad (zeros when it has none), so all ranks run the same collectives.
  void finish_gradient_sync();
  // Buckets as built: how many parameters each holds (the last layers' first).
  std::vector<std::size_t> bucket_sizes() const;

 private:
  struct Bucket {
    std::vector<std::size_t> members;  // indices into params_
    Tensor flat;                       // the members' gradients, side by side
    std::size_t waiting = 0;           // members whose gradient this pass has not produced yet
    Work work;
  };

  void check_same_parameters_on_all_ranks();
  void build_buckets(double bucket_cap_mb);
  void on_gradient_ready(std::size_t param);
  void launch_ready_buckets();
  void launch(Bucket& bucket);
  void reset_pass();

  std::shared_ptr<nn::Module> module_;
  ProcessGroup* group_;
  std::vector<Tensor> params_;        // those that require grad, in reverse registration order
  std::vector<Tensor> grad_slots_;    // params_[i]'s place in its bucket, shaped like it
  std::vector<std::size_t> bucket_of_;
  std::vector<char> ready_;
  std::vector<Bucket> buckets_;
  std::size_t next_launch_ = 0;       // buckets launch in order, so all ranks issue the same sequence
  bool pass_under_way_ = false;
  bool sync_enabled_ = true;
  std::vector<HookHandle> hooks_;
};

}  // namespace tapegrad::distributed
