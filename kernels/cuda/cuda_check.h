// Every CUDA runtime and cuBLAS call goes through these checks: a failure becomes a
// tapegrad::DeviceError naming the call, the error and where it happened, never a silently
// ignored status code.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <tapegrad/kernels/error.h>

namespace tapegrad::kernels::cuda {

[[noreturn]] inline void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line) {
  throw DeviceError(fmt::format("CUDA error {} ({}) in {} at {}:{}", cudaGetErrorName(status),
                                cudaGetErrorString(status), call, file, line));
}

[[noreturn]] inline void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line) {
  throw DeviceError(fmt::format("cuBLAS error {} ({}) in {} at {}:{}", cublasGetStatusName(status),
                                cublasGetStatusString(status), call, file, line));
}

}  // namespace tapegrad::kernels::cuda

#define TAPEGRAD_CUDA_CHECK(call)                                                                \
  do {                                                                                           \
    const cudaError_t tapegrad_status = (call);                                                  \
    if (tapegrad_status != cudaSuccess)                                                          \
      ::tapegrad::kernels::cuda::throw_cuda_error(tapegrad_status, #call, __FILE__, __LINE__);   \
  } while (false)

#define TAPEGRAD_CUBLAS_CHECK(call)                                                              \
  do {                                                                                           \
    const cublasStatus_t tapegrad_status = (call);                                               \
    if (tapegrad_status != CUBLAS_STATUS_SUCCESS)                                                \
      ::tapegrad::kernels::cuda::throw_cublas_error(tapegrad_status, #call, __FILE__, __LINE__); \
  } while (false)
