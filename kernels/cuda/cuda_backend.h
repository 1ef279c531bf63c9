// The CUDA backend: device memory through the caching allocator, host copies through pinned
// staging buffers, cuBLAS for matrix products and tapegrad's kernels (launchers.h) for the rest.
// Every operation of a device is queued on that device's one stream, in order, so memory the
// allocator hands out again is never still in use by an earlier kernel.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <mutex>

#include <tapegrad/kernels/backend.h>
#include <tapegrad/kernels/caching_allocator.h>
#include <tapegrad/kernels/cuda/launch_plans.h>
#include <tapegrad/kernels/cuda/launchers.h>

namespace tapegrad::kernels::cuda {

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int index);

  Device device() const override { return Device::cuda(index_); }
  std::string name() const override { return device().str(); }

  void* allocate(std::size_t nbytes) override;
  void deallocate(void* data, std::size_t nbytes) override;
  void copy_from_host(void* device_dst, const void* host_src, std::size_t nbytes) override;
  void copy_to_host(void* host_dst, const void* device_src, std::size_t nbytes) override;
  MemoryStats memory_stats() const override { return allocator_.stats(); }
  void reset_peak_memory_stats() override { allocator_.reset_peak(); }
  void empty_cache() override;
  void synchronize() override;

  void copy(const TensorDesc& src, const TensorDesc& dst) override;
  void fill(const TensorDesc& dst, double value) override;
  void fill_random(const TensorDesc& dst, Distribution dist, double a, double b, std::uint64_t seed,
                   std::uint64_t offset) override;
  void fill_range(const TensorDesc& dst, double start, double step) override;

  void unary(UnaryOp op, const TensorDesc& in, const TensorDesc& out, const UnaryScalars& scalars) override;
  void binary(BinaryOp op, const TensorDesc& a, const TensorDesc& b, const TensorDesc& out, double alpha) override;
  void where(const TensorDesc& condition, const TensorDesc& a, const TensorDesc& b, const TensorDesc& out) override;
  void addcmul(const TensorDesc& a, const TensorDesc& b, double value, AddedTerm term, const TensorDesc& out) override;

  void reduce_sum(const TensorDesc& in, const TensorDesc& out) override;
  void reduce_extreme(const TensorDesc& in, int dim, Extreme extreme, const TensorDesc& values,
                      const TensorDesc& indices) override;
  void softmax(const TensorDesc& in, int dim, SoftmaxOutput output, const TensorDesc& out) override;
  void cumsum(const TensorDesc& in, int dim, const TensorDesc& out) override;
  void argsort(const TensorDesc& in, int dim, SortOrder order, const TensorDesc& indices) override;

  void gemm(const GemmProblem& problem) override;

  void im2col(const TensorDesc& image, const Window2d& window, const TensorDesc& columns) override;
  void col2im(const TensorDesc& columns, const Window2d& window, const TensorDesc& image) override;
  void max_pool2d(const TensorDesc& input, const Window2d& window, const TensorDesc& values,
                  const TensorDesc& indices) override;
  void max_pool2d_backward(const TensorDesc& grad_values, const TensorDesc& indices, const Window2d& window,
                           const TensorDesc& grad_input) override;

  void optimizer_step(const OptimizerStep& step, const TensorDesc& param, const TensorDesc& grad,
                      std::span<const TensorDesc> state) override;

  void index_select(const TensorDesc& in, int dim, const TensorDesc& index, const TensorDesc& out) override;
  void index_add(const TensorDesc& src, int dim, const TensorDesc& index, const TensorDesc& out) override;
  void gather(const TensorDesc& in, int dim, const TensorDesc& index, const TensorDesc& out) override;
  void scatter_add(const TensorDesc& src, int dim, const TensorDesc& index, const TensorDesc& out) override;

 private:
  // Makes this backend's device current on the calling thread.
  void activate() const;
  IndexStatus index_status() const { return {status_slots_}; }
  // Throws if an index kernel recorded an index out of range, and clears the record.
  void check_indices(const char* op, int dim);
  void launch_gather(const char* op, const GatherPlan& plan, const TensorDesc& in, const TensorDesc& index,
                     const TensorDesc& out, int dim);
  void launch_scatter_add(const char* op, const ScatterPlan& plan, const TensorDesc& src,
                          const TensorDesc& index, const TensorDesc& out, int dim);

  int index_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  CachingAllocator allocator_;
  std::int64_t* status_slots_ = nullptr;  // device int64[3], see IndexStatus
  // Held from an index kernel's launch until its status is read and cleared, so that threads
  // sharing the device (a DataLoader's prefetch thread, say) never read each other's errors.
  std::mutex index_mutex_;

  // Host -> device copies go through two pinned buffers in turn: the copy into one overlaps
  // the transfer out of the other, and the call returns before the last transfer finishes.
  static constexpr std::size_t kStagingBytes = std::size_t{4} << 20;
  std::mutex staging_mutex_;
  void* staging_[2] = {nullptr, nullptr};
  cudaEvent_t staging_free_[2] = {nullptr, nullptr};
  int next_staging_ = 0;
};

}  // namespace tapegrad::kernels::cuda
