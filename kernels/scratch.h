// Device memory from a backend's allocator for the duration of one call, given back on every
// path out (exceptions included), described as a contiguous tensor.
#pragma once

#include <algorithm>

#include <tapegrad/kernels/backend.h>

namespace tapegrad::kernels {

class Scratch {
 public:
  Scratch(Backend& backend, const Shape& shape, DType dtype) : backend_(backend) {
    desc_.shape = shape;
    desc_.strides = contiguous_strides(shape);
    desc_.dtype = dtype;
    bytes_ = static_cast<std::size_t>(std::max<std::int64_t>(numel_of(shape), 1)) * dtype_size(dtype);
    desc_.data = backend_.allocate(bytes_);
  }
  ~Scratch() { backend_.deallocate(desc_.data, bytes_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  const TensorDesc& desc() const { return desc_; }
  void* data() const { return desc_.data; }

 private:
  Backend& backend_;
  TensorDesc desc_;
  std::size_t bytes_ = 0;
};

}  // namespace tapegrad::kernels
