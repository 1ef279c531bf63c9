// One spelling for functions that both the host compiler and nvcc compile: op functors and index
// math are written once and run in the CPU loops and in the CUDA kernels alike.
#pragma once

#if defined(__CUDACC__)
#define TAPEGRAD_HOST_DEVICE __host__ __device__
#else
#define TAPEGRAD_HOST_DEVICE
#endif
