// CUDA indexing: gather (index_select is a gather whose index is broadcast) and scatter_add
// (index_add likewise). A scatter never uses atomics: one thread owns a slice of the output (or,
// when slices are few, one output element) and adds its contributions in index order, so
// repeated indices sum the same way on every run, whichever kernel runs.
// An index out of range is recorded in the status slots and reported by the backend.
#include <tapegrad/kernels/cuda/device_loops.cuh>

namespace tapegrad::kernels::cuda {

// Records the first index out of range for the backend to report (later ones are dropped).
__device__ inline void report_bad_index(std::int64_t index, std::int64_t extent, IndexStatus status) {
  if (atomicCAS(reinterpret_cast<unsigned long long*>(status.slots), 0ull, 1ull) == 0ull) {
    status.slots[1] = index;
    status.slots[2] = extent;
  }
}

template <class T>
__global__ void gather_kernel(StridedLayout<3> layout, std::int64_t n, const std::int64_t* index, std::int64_t extent,
                              std::int64_t in_step, const T* in, T* out, IndexStatus status) {
  TAPEGRAD_GRID_STRIDE_LOOP(i, n) {
    std::int64_t bad = 0;
    if (!gather_element(layout, i, index, extent, in_step, in, out, bad)) report_bad_index(bad, extent, status);
  }
}

template <class T>
__global__ void scatter_add_kernel(StridedLayout<3> slices, std::int64_t count, std::int64_t length,
                                   std::int64_t index_step, std::int64_t src_step, const std::int64_t* index,
                                   const T* src, std::int64_t extent, std::int64_t out_step, T* out,
                                   IndexStatus status) {
  TAPEGRAD_GRID_STRIDE_LOOP(s, count) {
    std::int64_t bad = 0;
    if (!scatter_add_slice(slices, s, length, index_step, src_step, index, src, extent, out_step, out, bad))
      report_bad_index(bad, extent, status);
  }
}

template <class T>
__global__ void scatter_add_owned_kernel(StridedLayout<3> slices, std::int64_t count, std::int64_t length,
                                         std::int64_t index_step, std::int64_t src_step, const std::int64_t* index,
                                         const T* src, std::int64_t extent, std::int64_t out_step, T* out,
                                         IndexStatus status) {
  TAPEGRAD_GRID_STRIDE_LOOP(e, count * extent) {
    std::int64_t bad = 0;
    if (!scatter_add_owned(slices, e / extent, e % extent, length, index_step, src_step, index, src, extent, out_step,
                           out, bad))
      report_bad_index(bad, extent, status);
  }
}

template <class T>
void gather(const StridedLayout<3>& layout, std::int64_t n, const std::int64_t* index, std::int64_t extent,
            std::int64_t in_step, const T* in, T* out, IndexStatus status, Stream stream) {
  launch_elementwise("gather", n, stream, gather_kernel<T>, layout, n, index, extent, in_step, in, out, status);
}

template <class T>
void scatter_add(const StridedLayout<3>& slices, std::int64_t count, std::int64_t length, std::int64_t index_step,
                 std::int64_t src_step, const std::int64_t* index, const T* src, std::int64_t extent,
                 std::int64_t out_step, T* out, IndexStatus status, Stream stream) {
  if (scatter_by_owner(count, extent, length))
    launch_elementwise("scatter_add", count * extent, stream, scatter_add_owned_kernel<T>, slices, count, length,
                       index_step, src_step, index, src, extent, out_step, out, status);
  else
    launch_elementwise("scatter_add", count, stream, scatter_add_kernel<T>, slices, count, length, index_step,
                       src_step, index, src, extent, out_step, out, status);
}

#define TAPEGRAD_GATHER(T)                                                                                       \
  template void gather<T>(const StridedLayout<3>&, std::int64_t, const std::int64_t*, std::int64_t, std::int64_t, \
                          const T*, T*, IndexStatus, Stream);
TAPEGRAD_GATHER(float)
TAPEGRAD_GATHER(double)
TAPEGRAD_GATHER(std::int64_t)
TAPEGRAD_GATHER(std::uint8_t)
TAPEGRAD_GATHER(bool)
#undef TAPEGRAD_GATHER

#define TAPEGRAD_SCATTER_ADD(T)                                                                              \
  template void scatter_add<T>(const StridedLayout<3>&, std::int64_t, std::int64_t, std::int64_t, std::int64_t, \
                               const std::int64_t*, const T*, std::int64_t, std::int64_t, T*, IndexStatus, Stream);
TAPEGRAD_SCATTER_ADD(float)
TAPEGRAD_SCATTER_ADD(double)
TAPEGRAD_SCATTER_ADD(std::int64_t)
#undef TAPEGRAD_SCATTER_ADD

}  // namespace tapegrad::kernels::cuda
