// The CPU backend: OpenBLAS for matrix products, vectorizable strided loops for the rest,
// tapegrad's own thread pool for large work.
#pragma once

#include <tapegrad/kernels/backend.h>

namespace tapegrad::kernels::cpu {

class CpuBackend final : public Backend {
 public:
  CpuBackend();

  Device device() const override { return Device::cpu(); }
  std::string name() const override { return "cpu"; }

  void* allocate(std::size_t nbytes) override;
  void deallocate(void* data, std::size_t nbytes) override;
  MemoryStats memory_stats() const override { return allocator_.stats(); }
  void reset_peak_memory_stats() override { allocator_.reset_peak(); }
  void empty_cache() override { allocator_.empty_cache(); }
  void copy_from_host(void* device_dst, const void* host_src, std::size_t nbytes) override;
  void copy_to_host(void* host_dst, const void* device_src, std::size_t nbytes) override;

  void copy(const TensorDesc& src, const TensorDesc& dst) override;
  void fill(const TensorDesc& dst, double value) override;
  void fill_random(const TensorDesc& dst, Distribution dist, double a, double b, std::uint64_t seed,
                   std::uint64_t offset) override;
  void fill_range(const TensorDesc& dst, double start, double step) override;

  void unary(UnaryOp op, const TensorDesc& in, const TensorDesc& out, const UnaryScalars& scalars) override;
  void binary(BinaryOp op, const TensorDesc& a, const TensorDesc& b, const TensorDesc& out, double alpha) override;
  void unary_contiguous(UnaryOp op, DType dtype, const void* in, void* out, std::int64_t count,
                        const UnaryScalars& scalars) override;
  void binary_contiguous(BinaryOp op, DType dtype, const void* a, const void* b, void* out, std::int64_t count,
                         double alpha) override;
  void where(const TensorDesc& condition, const TensorDesc& a, const TensorDesc& b, const TensorDesc& out) override;
  void addcmul(const TensorDesc& a, const TensorDesc& b, double value, AddedTerm term, const TensorDesc& out) override;

  void reduce_sum(const TensorDesc& in, const TensorDesc& out) override;
  void reduce_extreme(const TensorDesc& in, int dim, Extreme extreme, const TensorDesc& values,
                      const TensorDesc& indices) override;
  void softmax(const TensorDesc& in, int dim, SoftmaxOutput output, const TensorDesc& out) override;
  void cumsum(const TensorDesc& in, int dim, const TensorDesc& out) override;
  void argsort(const TensorDesc& in, int dim, SortOrder order, const TensorDesc& indices) override;

  void gemm(const GemmProblem& problem) override;

  void conv2d(const TensorDesc& input, const TensorDesc& weight, const TensorDesc& bias, const Window2d& window,
              const TensorDesc& out, ConvActivation activation) override;
  void conv2d_input_grad(const TensorDesc& grad_output, const TensorDesc& weight, const Window2d& window,
                         const TensorDesc& grad_input) override;
  void conv2d_weight_grad(const TensorDesc& input, const TensorDesc& grad_output, const Window2d& window,
                          const TensorDesc& grad_weight, const TensorDesc& grad_bias) override;
  void im2col(const TensorDesc& image, const Window2d& window, const TensorDesc& columns) override;
  void col2im(const TensorDesc& columns, const Window2d& window, const TensorDesc& image) override;
  void max_pool2d(const TensorDesc& input, const Window2d& window, const TensorDesc& values,
                  const TensorDesc& indices) override;
  void max_pool2d_backward(const TensorDesc& grad_values, const TensorDesc& indices, const Window2d& window,
                           const TensorDesc& grad_input) override;
  void max_pool2d_relu(const TensorDesc& input, const Window2d& window, const TensorDesc& values,
                       const TensorDesc& indices) override;
  void max_pool2d_relu_backward(const TensorDesc& grad_values, const TensorDesc& values, const TensorDesc& indices,
                                const Window2d& window, const TensorDesc& grad_input) override;

  void optimizer_step(const OptimizerStep& step, const TensorDesc& param, const TensorDesc& grad,
                      std::span<const TensorDesc> state) override;

  void index_select(const TensorDesc& in, int dim, const TensorDesc& index, const TensorDesc& out) override;
  void index_add(const TensorDesc& src, int dim, const TensorDesc& index, const TensorDesc& out) override;
  void gather(const TensorDesc& in, int dim, const TensorDesc& index, const TensorDesc& out) override;
  void scatter_add(const TensorDesc& src, int dim, const TensorDesc& index, const TensorDesc& out) override;

 private:
  CachingAllocator allocator_;
};

}  // namespace tapegrad::kernels::cpu
