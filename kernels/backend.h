// The interface every compute backend implements. Entries are coarse — one call per op over
// whole (strided) tensors, never per element — so a virtual call costs nothing measurable.
// The autodiff layer only ever talks to a device through this interface: adding the CUDA
// backend means implementing it, not touching op definitions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include <tapegrad/kernels/caching_allocator.h>
#include <tapegrad/kernels/device.h>
#include <tapegrad/kernels/dtype.h>
#include <tapegrad/kernels/elementwise_ops.h>
#include <tapegrad/kernels/kernel_params.h>
#include <tapegrad/kernels/optim_updates.h>
#include <tapegrad/kernels/philox.h>
#include <tapegrad/kernels/shape.h>
#include <tapegrad/kernels/threads.h>

namespace tapegrad::kernels {

// A strided view of device memory: `data` points at element [0, ..., 0]; strides in elements.
struct TensorDesc {
  void* data = nullptr;
  Shape shape;
  Strides strides;
  DType dtype = DType::Float32;

  std::int64_t numel() const { return numel_of(shape); }
  template <class T> T* ptr() const { return static_cast<T*>(data); }
};

// `count` contiguous elements as a 1-D tensor.
inline TensorDesc flat_desc(const void* data, std::int64_t count, DType dtype) {
  return {const_cast<void*>(data), {count}, {1}, dtype};
}

// reduce_sum's output as a tensor of its own: `out` comes with the input's shape and stride 0
// over the summed dims; this is the same memory with those dims of extent 1. It differs from
// `out` in what it holds when a summed dim has extent 0: the input is empty, the sums are not.
inline TensorDesc summed_output(const TensorDesc& out) {
  TensorDesc target = out;
  for (int d = 0; d < target.shape.size(); ++d)
    if (target.strides[d] == 0) target.shape[d] = 1;
  return target;
}

// What a convolution applies to its outputs after the bias.
enum class ConvActivation : std::uint8_t { None, Relu };

// One operand of a (batched) matrix product: a row-major matrix, possibly read transposed.
struct GemmOperand {
  const void* data = nullptr;
  std::int64_t leading_dim = 0;   // distance between rows of the stored matrix
  std::int64_t batch_stride = 0;  // distance between consecutive matrices (0: shared)
  bool transposed = false;        // the op reads the stored matrix transposed
};

struct GemmOutput {
  void* data = nullptr;
  std::int64_t leading_dim = 0;
  std::int64_t batch_stride = 0;
};

// C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b] for b < batch; op(A): [m, k], op(B): [k, n].
struct GemmProblem {
  DType dtype = DType::Float32;
  std::int64_t batch = 1, m = 0, n = 0, k = 0;
  GemmOperand a, b;
  GemmOutput c;
  double alpha = 1, beta = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;
  virtual std::string name() const = 0;

  // Memory.
  virtual void* allocate(std::size_t nbytes) = 0;
  virtual void deallocate(void* data, std::size_t nbytes) = 0;
  // Host memory <-> this device; contiguous bytes.
  virtual void copy_from_host(void* device_dst, const void* host_src, std::size_t nbytes) = 0;
  virtual void copy_to_host(void* host_dst, const void* device_src, std::size_t nbytes) = 0;
  // Memory held by this backend's caching allocator; releasing its cached blocks; waiting for
  // queued asynchronous work.
  virtual MemoryStats memory_stats() const { return {}; }
  virtual void reset_peak_memory_stats() {}
  virtual void empty_cache() {}
  virtual void synchronize() {}

  // dst = src elementwise over the shape both share, converting dtype when they differ.
  virtual void copy(const TensorDesc& src, const TensorDesc& dst) = 0;
  virtual void fill(const TensorDesc& dst, double value) = 0;
  // Element i (in row-major order of dst) takes counter `offset + i` of Philox(seed).
  virtual void fill_random(const TensorDesc& dst, Distribution dist, double a, double b,
                           std::uint64_t seed, std::uint64_t offset) = 0;
  // dst[i] = start + i * step for a contiguous 1-D dst.
  virtual void fill_range(const TensorDesc& dst, double start, double step) = 0;

  // Elementwise; every operand has out's shape (broadcast operands carry stride 0). `out`
  // may alias an input exactly (in-place ops).
  virtual void unary(UnaryOp op, const TensorDesc& in, const TensorDesc& out, const UnaryScalars& scalars) = 0;
  // alpha scales b in Add and Sub (out = a + alpha b) and the product in Mul (out = a b alpha); the
  // other ops ignore it.
  virtual void binary(BinaryOp op, const TensorDesc& a, const TensorDesc& b, const TensorDesc& out,
                      double alpha) = 0;
  // The same ops on operands that are all `count` contiguous elements of one dtype, the common
  // case of operands of one shape. Describing them takes only their addresses: building the
  // strided descriptions costs more than a small tensor's arithmetic. A backend without a faster
  // way runs them as 1-D tensors.
  virtual void unary_contiguous(UnaryOp op, DType dtype, const void* in, void* out, std::int64_t count,
                                const UnaryScalars& scalars) {
    unary(op, flat_desc(in, count, dtype), flat_desc(out, count, dtype), scalars);
  }
  virtual void binary_contiguous(BinaryOp op, DType dtype, const void* a, const void* b, void* out,
                                 std::int64_t count, double alpha) {
    binary(op, flat_desc(a, count, dtype), flat_desc(b, count, dtype), flat_desc(out, count, dtype), alpha);
  }
  virtual void where(const TensorDesc& condition, const TensorDesc& a, const TensorDesc& b,
                     const TensorDesc& out) = 0;
  // out += value * a * b, or value * a / b (the fused update of optimizers).
  virtual void addcmul(const TensorDesc& a, const TensorDesc& b, double value, AddedTerm term,
                       const TensorDesc& out) = 0;

  // out = sum of `in` over the dims where out (given with in's shape) has stride 0.
  virtual void reduce_sum(const TensorDesc& in, const TensorDesc& out) = 0;
  // values/indices (in's shape with `dim` of size 1) = the max or min of in along dim; NaN wins;
  // ties go to the first index.
  virtual void reduce_extreme(const TensorDesc& in, int dim, Extreme extreme, const TensorDesc& values,
                              const TensorDesc& indices) = 0;
  // out = softmax or log-softmax of in along dim, computed stably (max subtracted first).
  virtual void softmax(const TensorDesc& in, int dim, SoftmaxOutput output, const TensorDesc& out) = 0;
  // out (in's shape) = the running sums of in along dim: each slice summed in index order, float32
  // sums carried in double (kernels/element_rules.h's cumsum_slice).
  virtual void cumsum(const TensorDesc& in, int dim, const TensorDesc& out) = 0;
  // indices (in's shape, int64) = the positions along dim that put each slice of in in `order`:
  // a stable order (ties keep their index order), NaN greater than every number
  // (kernels/element_rules.h's sorts_before).
  virtual void argsort(const TensorDesc& in, int dim, SortOrder order, const TensorDesc& indices) = 0;

  virtual void gemm(const GemmProblem& problem) = 0;

  // Convolution as a matrix product. im2col unfolds `image` (strided [N, C, H, W]) into the
  // contiguous `columns` [C * kernel_h * kernel_w, N * out_h * out_w]: row (c, i, j), column
  // (n, oh, ow) holds image[n, c, oh * stride - pad + i * dilation, ...], 0 in the padding.
  virtual void im2col(const TensorDesc& image, const Window2d& window, const TensorDesc& columns) = 0;
  // The adjoint: overwrites the contiguous `image` with the sum of every column entry that
  // im2col would have read from each pixel.
  virtual void col2im(const TensorDesc& columns, const Window2d& window, const TensorDesc& image) = 0;
  // The convolution and its two gradients; weights [C_out, C / groups, kH, kW] (window.groups),
  // results and grad_output contiguous, `input` strided [N, C, H, W]. The base class computes
  // them with im2col, gemm and col2im over chunks of the batch (kernels/conv_by_columns.cpp): the
  // reference that a backend's own kernels are tested against.
  // out [N, C_out, out_h, out_w] = input * weight, plus bias [C_out] when `bias.data` is set,
  // then `activation` (UnaryOp::Relu's rule), applied while each part of the output is in cache.
  virtual void conv2d(const TensorDesc& input, const TensorDesc& weight, const TensorDesc& bias,
                      const Window2d& window, const TensorDesc& out, ConvActivation activation);
  // grad_input [N, C, H, W] from grad_output [N, C_out, out_h, out_w].
  virtual void conv2d_input_grad(const TensorDesc& grad_output, const TensorDesc& weight, const Window2d& window,
                                 const TensorDesc& grad_input);
  // grad_weight [C_out, C / groups, kH, kW] from the input and grad_output; when `grad_bias.data`
  // is set, also grad_bias [C_out], grad_output summed over images and positions while the weight
  // gradient reads it (a separate sum is one more pass over grad_output, megabytes per layer).
  virtual void conv2d_weight_grad(const TensorDesc& input, const TensorDesc& grad_output, const Window2d& window,
                                  const TensorDesc& grad_weight, const TensorDesc& grad_bias);
  // Max over each (dilated) window of `input` (strided [N, C, H, W], implicit -inf padding,
  // windows may hang over the bottom and right edges) into the contiguous `values` and int64
  // `indices` [N, C, out_h, out_w]; an index is h * W + w in its input plane. Ties go to the
  // first maximum in row-major window order; the first NaN wins. A window with no tap inside the
  // image gives -inf at its first tap moved into the image.
  virtual void max_pool2d(const TensorDesc& input, const Window2d& window, const TensorDesc& values,
                          const TensorDesc& indices) = 0;
  // Max pooling's gradient in one pass: `grad_input` (contiguous [N, C, H, W]) becomes zeros with
  // each gradient of the contiguous `grad_values` [N, C, out_h, out_w] added at its plane's
  // position in `indices` (max_pool2d's), in row-major output order, so overlapping windows sum
  // their gradients in a fixed order.
  virtual void max_pool2d_backward(const TensorDesc& grad_values, const TensorDesc& indices, const Window2d& window,
                                   const TensorDesc& grad_input) = 0;
  // max_pool2d, then ReLU (UnaryOp::Relu's rule) on `values`: what a ReLU before the pooling
  // gives, since ReLU is monotone. This default runs the two kernels; a backend that can apply
  // the ReLU while each plane of `values` is in cache overrides it.
  virtual void max_pool2d_relu(const TensorDesc& input, const Window2d& window, const TensorDesc& values,
                               const TensorDesc& indices);
  // max_pool2d_relu's gradient: each gradient of `grad_values` where its output in `values` is
  // positive (BinaryOp::ReluGrad's rule), else 0, then routed as by max_pool2d_backward.
  virtual void max_pool2d_relu_backward(const TensorDesc& grad_values, const TensorDesc& values,
                                        const TensorDesc& indices, const Window2d& window,
                                        const TensorDesc& grad_input);

  // One fused optimizer update of a parameter and its state, in place (kernels/optim_updates.h):
  // the step's type names the rule, and `state` holds the rule's buffers in its order (an empty
  // desc for one the step does not use). Every buffer is contiguous with the parameter's shape
  // and dtype.
  virtual void optimizer_step(const OptimizerStep& step, const TensorDesc& param, const TensorDesc& grad,
                              std::span<const TensorDesc> state) = 0;

  // out has in's shape but index.size(0) along dim: out[.., i, ..] = in[.., index[i], ..].
  virtual void index_select(const TensorDesc& in, int dim, const TensorDesc& index, const TensorDesc& out) = 0;
  // out[.., index[i], ..] += src[.., i, ..]
  virtual void index_add(const TensorDesc& src, int dim, const TensorDesc& index, const TensorDesc& out) = 0;
  // out[p] = in[p with coordinate dim replaced by index[p]]; index and out share a shape.
  virtual void gather(const TensorDesc& in, int dim, const TensorDesc& index, const TensorDesc& out) = 0;
  // out[p with coordinate dim replaced by index[p]] += src[p]
  virtual void scatter_add(const TensorDesc& src, int dim, const TensorDesc& index, const TensorDesc& out) = 0;
};

// The backend serving `device`. CPU always exists; CUDA throws a DeviceError when this build has
// no CUDA support or the device is absent.
Backend& backend_for(Device device);
// Whether CUDA devices can be used: false in builds without CUDA and on machines without a GPU.
bool cuda_is_available();
// The usable CUDA devices (0 in builds without CUDA), and the backend of one of them.
int cuda_device_count();
Backend& cuda_backend(int index);

// While alive, CPU kernels called from this thread run on it alone. For background threads
// (the data loader's prefetch) whose small batches would otherwise start a second thread team
// competing with the main thread's for the same cores.
class SerialKernelsGuard {
 public:
  SerialKernelsGuard();
  ~SerialKernelsGuard();
  SerialKernelsGuard(const SerialKernelsGuard&) = delete;
  SerialKernelsGuard& operator=(const SerialKernelsGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace tapegrad::kernels
