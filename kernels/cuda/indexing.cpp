// The CUDA backend's gathers and scatters, host side: the kernels are kernels/cuda/indexing.cu.
#include <tapegrad/kernels/cuda/cuda_backend.h>

#include <tapegrad/kernels/cuda/cuda_check.h>

namespace tapegrad::kernels::cuda {

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

}  // namespace tapegrad::kernels::cuda
