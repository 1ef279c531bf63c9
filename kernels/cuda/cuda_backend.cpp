// The CUDA backend's host side: the device registry, memory and copies, and the translation of
// strided tensor descriptions into the layouts the kernels take.
#include <tapegrad/kernels/cuda/cuda_backend.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include <tapegrad/kernels/coalesce.h>
#include <tapegrad/kernels/convert.h>
#include <tapegrad/kernels/cuda/cuda_check.h>
#include <tapegrad/kernels/cuda/launch_plans.h>
#include <tapegrad/kernels/cuda/module.h>

namespace tapegrad::kernels {
namespace {

struct DeviceCount {
  int count = 0;
  std::string why_none;  // the runtime's explanation when there is no usable device
};

const DeviceCount& probe_devices() {
  static const DeviceCount probe = [] {
    DeviceCount result;
    const cudaError_t status = cudaGetDeviceCount(&result.count);
    if (status != cudaSuccess) {
      result.count = 0;
      result.why_none = fmt::format("{}: {}", cudaGetErrorName(status), cudaGetErrorString(status));
      cudaGetLastError();  // not sticky; clear it so later calls start clean
    } else if (result.count == 0) {
      result.why_none = "the CUDA runtime reports no devices";
    }
    return result;
  }();
  return probe;
}

int device_count() { return probe_devices().count; }

Backend& backend_of_device(int index) {
  // One backend per device, created on first use. They are never destroyed: tensors freed
  // during static destruction at exit still return their memory to them.
  static std::array<std::atomic<cuda::CudaBackend*>, 64> backends{};
  static std::mutex creation;
  if (index >= 0 && index < static_cast<int>(backends.size())) {
    if (cuda::CudaBackend* existing = backends[index].load(std::memory_order_acquire)) return *existing;
  }
  const DeviceCount& devices = probe_devices();
  if (devices.count == 0)
    throw DeviceError(fmt::format("device cuda:{} was requested, but no CUDA device is usable on this machine ({}); "
                                  "use Device::cpu(), or check tapegrad::cuda::is_available() first",
                                  index, devices.why_none));
  if (index < 0 || index >= devices.count || index >= static_cast<int>(backends.size()))
    throw DeviceError(fmt::format("device cuda:{} was requested, but this machine has {} CUDA device(s), "
                                  "cuda:0 to cuda:{}",
                                  index, devices.count, devices.count - 1));
  std::lock_guard lock(creation);
  if (backends[index].load(std::memory_order_acquire) == nullptr)
    backends[index].store(new cuda::CudaBackend(index), std::memory_order_release);
  return *backends[index].load(std::memory_order_acquire);
}

}  // namespace

namespace cuda {

void check_launch(const char* kernel) {
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess)
    throw DeviceError(fmt::format("CUDA kernel {} failed to launch: {} ({})", kernel, cudaGetErrorName(status),
                                  cudaGetErrorString(status)));
}

namespace {

thread_local int current_device = -1;

RawMemory device_memory(int index) {
  RawMemory raw;
  raw.device_name = fmt::format("cuda:{}", index);
  raw.allocate = [](std::size_t nbytes) -> void* {
    void* data = nullptr;
    const cudaError_t status = cudaMalloc(&data, nbytes);
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // out of memory is not sticky: clear it and let the allocator retry
      return nullptr;
    }
    TAPEGRAD_CUDA_CHECK(status);
    return data;
  };
  raw.release = [](void* data) { TAPEGRAD_CUDA_CHECK(cudaFree(data)); };
  raw.free_bytes = [] {
    std::size_t free = 0, total = 0;
    return cudaMemGetInfo(&free, &total) == cudaSuccess ? free : std::size_t{0};
  };
  return raw;
}

bool is_contiguous(const TensorDesc& t) { return all_contiguous<1>(t.shape, {&t.strides}); }

// The (n, c, h, w) strides of an image, as the convolution and pooling kernels take them.
struct ImageStrides {
  std::int64_t values[4];
  explicit ImageStrides(const TensorDesc& t) : values{t.strides[0], t.strides[1], t.strides[2], t.strides[3]} {}
};

void check_float(DType dtype, const char* op) {
  TAPEGRAD_CHECK(is_floating(dtype), "{}: expected float32 or float64 data, got {}", op, dtype);
}

}  // namespace

CudaBackend::CudaBackend(int index) : index_(index), allocator_(device_memory(index)) {
  activate();
  TAPEGRAD_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  TAPEGRAD_CUBLAS_CHECK(cublasCreate(&cublas_));
  TAPEGRAD_CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
  TAPEGRAD_CUDA_CHECK(cudaMalloc(&status_slots_, 3 * sizeof(std::int64_t)));
  TAPEGRAD_CUDA_CHECK(cudaMemsetAsync(status_slots_, 0, 3 * sizeof(std::int64_t), stream_));
  for (int i = 0; i < 2; ++i) {
    TAPEGRAD_CUDA_CHECK(cudaMallocHost(&staging_[i], kStagingBytes));
    TAPEGRAD_CUDA_CHECK(cudaEventCreateWithFlags(&staging_free_[i], cudaEventDisableTiming));
  }
}

void CudaBackend::activate() const {
  if (current_device == index_) return;
  TAPEGRAD_CUDA_CHECK(cudaSetDevice(index_));
  current_device = index_;
}

// ---- memory and copies ----

void* CudaBackend::allocate(std::size_t nbytes) {
  activate();
  return allocator_.allocate(nbytes);
}

void CudaBackend::deallocate(void* data, std::size_t) { allocator_.deallocate(data); }

void CudaBackend::empty_cache() {
  activate();
  synchronize();  // cached blocks may still be read by queued kernels
  allocator_.empty_cache();
}

void CudaBackend::synchronize() {
  activate();
  TAPEGRAD_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaBackend::copy_from_host(void* device_dst, const void* host_src, std::size_t nbytes) {
  activate();
  std::lock_guard lock(staging_mutex_);
  for (std::size_t done = 0; done < nbytes;) {
    const std::size_t chunk = std::min(nbytes - done, kStagingBytes);
    const int buffer = next_staging_;
    next_staging_ = 1 - next_staging_;
    TAPEGRAD_CUDA_CHECK(cudaEventSynchronize(staging_free_[buffer]));  // its previous transfer is done
    std::memcpy(staging_[buffer], static_cast<const char*>(host_src) + done, chunk);
    TAPEGRAD_CUDA_CHECK(cudaMemcpyAsync(static_cast<char*>(device_dst) + done, staging_[buffer], chunk,
                                        cudaMemcpyHostToDevice, stream_));
    TAPEGRAD_CUDA_CHECK(cudaEventRecord(staging_free_[buffer], stream_));
    done += chunk;
  }
}

void CudaBackend::copy_to_host(void* host_dst, const void* device_src, std::size_t nbytes) {
  activate();
  TAPEGRAD_CUDA_CHECK(cudaMemcpyAsync(host_dst, device_src, nbytes, cudaMemcpyDeviceToHost, stream_));
  TAPEGRAD_CUDA_CHECK(cudaStreamSynchronize(stream_));  // the caller reads host_dst next
}

void CudaBackend::copy(const TensorDesc& src, const TensorDesc& dst) {
  activate();
  if (src.dtype == dst.dtype && is_contiguous(src) && is_contiguous(dst)) {
    TAPEGRAD_CUDA_CHECK(cudaMemcpyAsync(dst.data, src.data, dst.numel() * dtype_size(dst.dtype),
                                        cudaMemcpyDeviceToDevice, stream_));
    return;
  }
  const auto layout = coalesce<2>(dst.shape, {&src.strides, &dst.strides});
  dispatch_storage_dtype(src.dtype, [&](auto szero) {
    using S = decltype(szero);
    dispatch_storage_dtype(dst.dtype, [&](auto dzero) {
      using D = decltype(dzero);
      cuda::copy<S, D>(layout, dst.numel(), src.ptr<S>(), dst.ptr<D>(), stream_);
    });
  });
}

void CudaBackend::fill(const TensorDesc& dst, double value) {
  activate();
  if (value == 0.0 && !std::signbit(value) && is_contiguous(dst)) {  // all-zero bytes in every dtype
    TAPEGRAD_CUDA_CHECK(cudaMemsetAsync(dst.data, 0, dst.numel() * dtype_size(dst.dtype), stream_));
    return;
  }
  const auto layout = coalesce<1>(dst.shape, {&dst.strides});
  dispatch_storage_dtype(dst.dtype, [&](auto zero) {
    using T = decltype(zero);
    cuda::fill<T>(layout, dst.numel(), dst.ptr<T>(), convert_element<T>(value), stream_);
  });
}

void CudaBackend::fill_random(const TensorDesc& dst, Distribution dist, double a, double b, std::uint64_t seed,
                              std::uint64_t offset) {
  TAPEGRAD_CHECK(is_floating(dst.dtype), "random fill needs a floating dtype, got {}", dst.dtype);
  activate();
  // Coalescing keeps the row-major order of elements, so counters match the CPU's.
  const auto layout = coalesce<1>(dst.shape, {&dst.strides});
  if (dst.dtype == DType::Float32)
    cuda::fill_random<float>(layout, dst.numel(), dst.ptr<float>(), dist, a, b, seed, offset, stream_);
  else
    cuda::fill_random<double>(layout, dst.numel(), dst.ptr<double>(), dist, a, b, seed, offset, stream_);
}

void CudaBackend::fill_range(const TensorDesc& dst, double start, double step) {
  activate();
  dispatch_dtype(dst.dtype, [&](auto zero) {
    using T = decltype(zero);
    cuda::fill_range<T>(dst.ptr<T>(), dst.shape.empty() ? 0 : dst.strides[0], dst.numel(), start, step, stream_);
  });
}

// ---- elementwise ----

void CudaBackend::unary(UnaryOp op, const TensorDesc& in, const TensorDesc& out, const UnaryScalars& scalars) {
  activate();
  const auto layout = coalesce<2>(out.shape, {&in.strides, &out.strides});
  dispatch_dtype(out.dtype, [&](auto zero) {
    using T = decltype(zero);
    cuda::unary<T>(op, layout, out.numel(), in.ptr<T>(), out.ptr<T>(), scalars, stream_);
  });
}

void CudaBackend::binary(BinaryOp op, const TensorDesc& a, const TensorDesc& b, const TensorDesc& out, double alpha) {
  activate();
  const auto layout = coalesce<3>(out.shape, {&a.strides, &b.strides, &out.strides});
  dispatch_dtype(out.dtype, [&](auto zero) {
    using T = decltype(zero);
    cuda::binary<T>(op, layout, out.numel(), a.ptr<T>(), b.ptr<T>(), out.ptr<T>(), alpha, stream_);
  });
}

void CudaBackend::where(const TensorDesc& condition, const TensorDesc& a, const TensorDesc& b,
                        const TensorDesc& out) {
  activate();
  const auto layout = coalesce<4>(out.shape, {&condition.strides, &a.strides, &b.strides, &out.strides});
  dispatch_dtype(condition.dtype, [&](auto czero) {
    using C = decltype(czero);
    dispatch_dtype(out.dtype, [&](auto zero) {
      using T = decltype(zero);
      cuda::where<C, T>(layout, out.numel(), condition.ptr<C>(), a.ptr<T>(), b.ptr<T>(), out.ptr<T>(), stream_);
    });
  });
}

void CudaBackend::addcmul(const TensorDesc& a, const TensorDesc& b, double value, AddedTerm term,
                          const TensorDesc& out) {
  activate();
  const auto layout = coalesce<3>(out.shape, {&a.strides, &b.strides, &out.strides});
  dispatch_dtype(out.dtype, [&](auto zero) {
    using T = decltype(zero);
    cuda::addcmul<T>(layout, out.numel(), a.ptr<T>(), b.ptr<T>(), static_cast<T>(value), term, out.ptr<T>(),
                     stream_);
  });
}

// ---- reductions ----

void CudaBackend::reduce_sum(const TensorDesc& in, const TensorDesc& out) {
  activate();
  const ReducePlan plan = plan_reduce_sum(in, out);
  if (plan.reduction == 0) {  // sums over nothing are zero
    fill(summed_output(out), 0.0);
    return;
  }
  dispatch_dtype(in.dtype, [&](auto zero) {
    using T = decltype(zero);
    cuda::reduce_sum<T>(plan.kept, plan.outputs, plan.reduced, plan.reduction, in.ptr<T>(), out.ptr<T>(), stream_);
  });
}

void CudaBackend::reduce_extreme(const TensorDesc& in, int dim, Extreme extreme, const TensorDesc& values,
                                 const TensorDesc& indices) {
  const bool take_min = extreme == Extreme::Min;
  activate();
  const auto plan = plan_slices<3>(in.shape, dim, {&in.strides, &values.strides, &indices.strides});
  dispatch_dtype(in.dtype, [&](auto zero) {
    using T = decltype(zero);
    cuda::reduce_max<T>(plan.slices, plan.count, plan.extent, in.strides[dim], take_min, in.ptr<T>(),
                        values.ptr<T>(), indices.ptr<std::int64_t>(), stream_);
  });
}

void CudaBackend::softmax(const TensorDesc& in, int dim, SoftmaxOutput output, const TensorDesc& out) {
  const bool log = output == SoftmaxOutput::LogProbabilities;
  check_float(in.dtype, log ? "log_softmax" : "softmax");
  activate();
  const auto plan = plan_slices<2>(in.shape, dim, {&in.strides, &out.strides});
  if (in.dtype == DType::Float32)
    cuda::softmax<float>(plan.slices, plan.count, plan.extent, in.strides[dim], out.strides[dim], log,
                         in.ptr<float>(), out.ptr<float>(), stream_);
  else
    cuda::softmax<double>(plan.slices, plan.count, plan.extent, in.strides[dim], out.strides[dim], log,
                          in.ptr<double>(), out.ptr<double>(), stream_);
}

// ---- convolution and pooling ----

void CudaBackend::im2col(const TensorDesc& image, const Window2d& window, const TensorDesc& columns) {
  check_float(image.dtype, "im2col");
  activate();
  const ImageStrides strides(image);
  if (image.dtype == DType::Float32)
    cuda::im2col<float>(image.ptr<float>(), strides.values, window, columns.ptr<float>(), stream_);
  else
    cuda::im2col<double>(image.ptr<double>(), strides.values, window, columns.ptr<double>(), stream_);
}

void CudaBackend::col2im(const TensorDesc& columns, const Window2d& window, const TensorDesc& image) {
  check_float(columns.dtype, "col2im");
  activate();
  if (columns.dtype == DType::Float32)
    cuda::col2im<float>(columns.ptr<float>(), window, image.ptr<float>(), stream_);
  else
    cuda::col2im<double>(columns.ptr<double>(), window, image.ptr<double>(), stream_);
}

void CudaBackend::max_pool2d(const TensorDesc& input, const Window2d& window, const TensorDesc& values,
                             const TensorDesc& indices) {
  check_float(input.dtype, "max_pool2d");
  activate();
  const ImageStrides strides(input);
  if (input.dtype == DType::Float32)
    cuda::max_pool2d<float>(input.ptr<float>(), strides.values, window, values.ptr<float>(),
                            indices.ptr<std::int64_t>(), stream_);
  else
    cuda::max_pool2d<double>(input.ptr<double>(), strides.values, window, values.ptr<double>(),
                             indices.ptr<std::int64_t>(), stream_);
}

// ---- indexing ----

void CudaBackend::check_indices(const char* op, int dim) {
  std::int64_t status[3];
  TAPEGRAD_CUDA_CHECK(cudaMemcpyAsync(status, status_slots_, sizeof(status), cudaMemcpyDeviceToHost, stream_));
  TAPEGRAD_CUDA_CHECK(cudaStreamSynchronize(stream_));
  if (status[0] == 0) return;
  TAPEGRAD_CUDA_CHECK(cudaMemsetAsync(status_slots_, 0, sizeof(status), stream_));
  fail("{}: index {} is out of bounds for dim {} of size {}", op, status[1], dim, status[2]);
}

void CudaBackend::gather(const TensorDesc& in, int dim, const TensorDesc& index, const TensorDesc& out) {
  launch_gather("gather", plan_gather(in, dim, index, out), in, index, out, dim);
}

void CudaBackend::index_select(const TensorDesc& in, int dim, const TensorDesc& index, const TensorDesc& out) {
  launch_gather("index_select", plan_index_select(in, dim, index, out), in, index, out, dim);
}

void CudaBackend::scatter_add(const TensorDesc& src, int dim, const TensorDesc& index, const TensorDesc& out) {
  launch_scatter_add("scatter_add", plan_scatter_add(src, dim, index, out), src, index, out, dim);
}

void CudaBackend::index_add(const TensorDesc& src, int dim, const TensorDesc& index, const TensorDesc& out) {
  launch_scatter_add("index_add", plan_index_add(src, dim, index, out), src, index, out, dim);
}

void CudaBackend::launch_gather(const char* op, const GatherPlan& plan, const TensorDesc& in, const TensorDesc& index,
                                const TensorDesc& out, int dim) {
  activate();
  std::lock_guard lock(index_mutex_);
  dispatch_storage_dtype(in.dtype, [&](auto zero) {
    using T = decltype(zero);
    cuda::gather<T>(plan.layout, plan.n, index.ptr<std::int64_t>(), plan.extent, plan.in_step, in.ptr<T>(),
                    out.ptr<T>(), index_status(), stream_);
  });
  check_indices(op, dim);
}

void CudaBackend::launch_scatter_add(const char* op, const ScatterPlan& plan, const TensorDesc& src,
                                     const TensorDesc& index, const TensorDesc& out, int dim) {
  activate();
  std::lock_guard lock(index_mutex_);
  dispatch_dtype(src.dtype, [&](auto zero) {
    using T = decltype(zero);
    cuda::scatter_add<T>(plan.slices, plan.count, plan.length, plan.index_step, plan.src_step,
                         index.ptr<std::int64_t>(), src.ptr<T>(), plan.extent, plan.out_step, out.ptr<T>(),
                         index_status(), stream_);
  });
  check_indices(op, dim);
}

}  // namespace cuda
}  // namespace tapegrad::kernels

extern "C" const tapegrad::kernels::CudaModuleEntry* tapegrad_cuda_module_entry() {
  static const tapegrad::kernels::CudaModuleEntry entry{tapegrad::kernels::CudaModuleEntry::kVersion,
                                                       tapegrad::kernels::device_count,
                                                       tapegrad::kernels::backend_of_device};
  return &entry;
}
