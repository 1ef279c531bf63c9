// CUDA reductions: sums over any set of dims, max/min with argmax along one dim, softmax and
// log-softmax, running sums and sorting permutations along one dim. Every output is computed by
// one thread or one block in a fixed order — never by atomics — so results are the same run
// after run. Kernels first, then their launchers.
#include <tapegrad/kernels/cuda/device_loops.cuh>

namespace tapegrad::kernels::cuda {

// ---- kernels ----

// One thread per output: short reductions (the classes of a batch of logits).
template <class T>
__global__ void reduce_sum_thread_kernel(StridedLayout<2> kept, std::int64_t outputs, StridedLayout<1> reduced,
                                         std::int64_t reduction, const T* in, T* out) {
  TAPEGRAD_GRID_STRIDE_LOOP(m, outputs) {
    std::int64_t off[2];
    kept.offsets(m, off);
    out[off[1]] = static_cast<T>(sum_over(in, off[0], reduced, 0, reduction, 1));
  }
}

// One block per output: each thread sums a fixed stride of the reduction, then a fixed tree
// combines the threads' partial sums.
template <class T>
__global__ void reduce_sum_block_kernel(StridedLayout<2> kept, std::int64_t outputs, StridedLayout<1> reduced,
                                        std::int64_t reduction, const T* in, T* out) {
  __shared__ Accumulator<T> partial[kThreadsPerBlock];
  for (std::int64_t m = blockIdx.x; m < outputs; m += gridDim.x) {
    std::int64_t off[2];
    kept.offsets(m, off);
    partial[threadIdx.x] = sum_over(in, off[0], reduced, threadIdx.x, reduction, blockDim.x);
    __syncthreads();
    for (unsigned half = blockDim.x / 2; half > 0; half /= 2) {
      if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
      __syncthreads();
    }
    if (threadIdx.x == 0) out[off[1]] = static_cast<T>(partial[0]);
    __syncthreads();  // partial[0] is read before the next output overwrites it
  }
}

template <class T>
__global__ void reduce_extreme_kernel(StridedLayout<3> slices, std::int64_t count, std::int64_t extent, std::int64_t step,
                                  Extreme extreme, const T* in, T* values, std::int64_t* indices) {
  TAPEGRAD_GRID_STRIDE_LOOP(s, count) {
    std::int64_t off[3];
    slices.offsets(s, off);
    extreme_of_slice(in + off[0], extent, step, extreme, values[off[1]], indices[off[2]]);
  }
}

template <class T>
__global__ void softmax_kernel(StridedLayout<2> slices, std::int64_t count, std::int64_t extent,
                               std::int64_t in_step, std::int64_t out_step, SoftmaxOutput output, const T* in, T* out) {
  TAPEGRAD_GRID_STRIDE_LOOP(s, count) {
    std::int64_t off[2];
    slices.offsets(s, off);
    softmax_slice(in + off[0], out + off[1], extent, in_step, out_step, output);
  }
}

template <class T>
__global__ void cumsum_kernel(StridedLayout<2> slices, std::int64_t count, std::int64_t extent, std::int64_t in_step,
                              std::int64_t out_step, const T* in, T* out) {
  TAPEGRAD_GRID_STRIDE_LOOP(s, count) {
    std::int64_t off[2];
    slices.offsets(s, off);
    cumsum_slice(in + off[0], out + off[1], extent, in_step, out_step);
  }
}

template <class T>
__global__ void argsort_kernel(StridedLayout<2> slices, std::int64_t count, std::int64_t extent, std::int64_t in_step,
                               std::int64_t out_step, SortOrder order, const T* in, std::int64_t* indices) {
  TAPEGRAD_GRID_STRIDE_LOOP(s, count) {
    std::int64_t off[2];
    slices.offsets(s, off);
    argsort_slice_by_insertion(in + off[0], extent, in_step, order, indices + off[1], out_step);
  }
}

// ---- launchers ----

template <class T>
void reduce_sum(const StridedLayout<2>& kept, std::int64_t outputs, const StridedLayout<1>& reduced,
                std::int64_t reduction, const T* in, T* out, Stream stream) {
  if (outputs <= 0) return;
  if (reduction < kThreadsPerBlock / 2) {
    launch_elementwise("reduce_sum", outputs, stream, reduce_sum_thread_kernel<T>, kept, outputs, reduced, reduction,
                       in, out);
    return;
  }
  const std::int64_t blocks = outputs < kMaxBlocks ? outputs : kMaxBlocks;
  reduce_sum_block_kernel<T><<<static_cast<unsigned>(blocks), kThreadsPerBlock, 0, stream>>>(kept, outputs, reduced,
                                                                                              reduction, in, out);
  check_launch("reduce_sum");
}

template <class T>
void reduce_extreme(const StridedLayout<3>& slices, std::int64_t count, std::int64_t extent, std::int64_t step,
                Extreme extreme, const T* in, T* values, std::int64_t* indices, Stream stream) {
  launch_elementwise("reduce_extreme", count, stream, reduce_extreme_kernel<T>, slices, count, extent, step, extreme, in,
                     values, indices);
}

template <class T>
void softmax(const StridedLayout<2>& slices, std::int64_t count, std::int64_t extent, std::int64_t in_step,
             std::int64_t out_step, SoftmaxOutput output, const T* in, T* out, Stream stream) {
  launch_elementwise("softmax", count, stream, softmax_kernel<T>, slices, count, extent, in_step, out_step, output,
                     in, out);
}

template <class T>
void cumsum(const StridedLayout<2>& slices, std::int64_t count, std::int64_t extent, std::int64_t in_step,
            std::int64_t out_step, const T* in, T* out, Stream stream) {
  launch_elementwise("cumsum", count, stream, cumsum_kernel<T>, slices, count, extent, in_step, out_step, in, out);
}

template <class T>
void argsort(const StridedLayout<2>& slices, std::int64_t count, std::int64_t extent, std::int64_t in_step,
             std::int64_t out_step, SortOrder order, const T* in, std::int64_t* indices, Stream stream) {
  launch_elementwise("argsort", count, stream, argsort_kernel<T>, slices, count, extent, in_step, out_step, order, in,
                     indices);
}

#define TAPEGRAD_REDUCTIONS(T)                                                                                     \
  template void reduce_sum<T>(const StridedLayout<2>&, std::int64_t, const StridedLayout<1>&, std::int64_t,       \
                              const T*, T*, Stream);                                                               \
  template void reduce_extreme<T>(const StridedLayout<3>&, std::int64_t, std::int64_t, std::int64_t, Extreme,         \
                              const T*, T*, std::int64_t*, Stream);                                                \
  template void cumsum<T>(const StridedLayout<2>&, std::int64_t, std::int64_t, std::int64_t, std::int64_t,         \
                          const T*, T*, Stream);                                                               \
  template void argsort<T>(const StridedLayout<2>&, std::int64_t, std::int64_t, std::int64_t, std::int64_t,        \
                           SortOrder, const T*, std::int64_t*, Stream);
TAPEGRAD_REDUCTIONS(float)
TAPEGRAD_REDUCTIONS(double)
TAPEGRAD_REDUCTIONS(std::int64_t)
#undef TAPEGRAD_REDUCTIONS

template void softmax<float>(const StridedLayout<2>&, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                             SoftmaxOutput, const float*, float*, Stream);
template void softmax<double>(const StridedLayout<2>&, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                              SoftmaxOutput, const double*, double*, Stream);

}  // namespace tapegrad::kernels::cuda
