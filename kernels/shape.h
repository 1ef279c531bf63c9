// Shapes and strides as small inline arrays: tensors are created on every op, so their
// metadata must not allocate. Also the broadcasting rule, defined here once for every op.
#pragma once

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/kernels/error.h>

namespace tapegrad {

inline constexpr int kMaxDims = 8;

// A list of at most kMaxDims int64 values: a shape, a stride vector or a list of dims.
class Dims {
 public:
  Dims() = default;
  // Tensors are created on every op, and their metadata with them. A copy moves the whole
  // array as a fixed-size block (a few vector moves, no branch): a loop over the dims in use
  // became a call to memcpy, 6% of the time of a chain of small recorded ops.
  Dims(const Dims& other) : size_(other.size_) { std::memcpy(values_.data(), other.values_.data(), sizeof(values_)); }
  Dims& operator=(const Dims& other) {
    size_ = other.size_;
    std::memcpy(values_.data(), other.values_.data(), sizeof(values_));
    return *this;
  }
  Dims(std::initializer_list<std::int64_t> values) { assign(values.begin(), values.end()); }
  explicit Dims(const std::vector<std::int64_t>& values) { assign(values.begin(), values.end()); }
  static Dims filled(int size, std::int64_t value) {
    Dims d;
    d.resize(size, value);
    return d;
  }

  int size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::int64_t& operator[](int i) {
    check_index(i);
    return values_[i];
  }
  std::int64_t operator[](int i) const {
    check_index(i);
    return values_[i];
  }
  std::int64_t back() const { return values_[size_ - 1]; }
  const std::int64_t* begin() const { return values_.data(); }
  const std::int64_t* end() const { return values_.data() + size_; }
  std::int64_t* begin() { return values_.data(); }
  std::int64_t* end() { return values_.data() + size_; }

  void push_back(std::int64_t value) {
    check_capacity(size_ + 1);
    values_[size_++] = value;
  }
  void insert(int position, std::int64_t value) {
    check_capacity(size_ + 1);
    std::copy_backward(begin() + position, end(), end() + 1);
    values_[position] = value;
    ++size_;
  }
  void erase(int position) {
    std::copy(begin() + position + 1, end(), begin() + position);
    --size_;
  }
  void resize(int size, std::int64_t value = 0) {
    check_capacity(size);
    for (int i = size_; i < size; ++i) values_[i] = value;
    size_ = size;
  }

  // A plain loop: std::equal on int64 becomes a call to memcmp, which cost 10% of the time of a
  // chain of small recorded ops (every op compares its operands' shapes).
  friend bool operator==(const Dims& a, const Dims& b) {
    if (a.size_ != b.size_) return false;
    for (int i = 0; i < a.size_; ++i)
      if (a.values_[i] != b.values_[i]) return false;
    return true;
  }

 private:
  template <class It>
  void assign(It first, It last) {
    check_capacity(static_cast<int>(last - first));
    size_ = 0;
    for (; first != last; ++first) values_[size_++] = static_cast<std::int64_t>(*first);
  }
  // An index past size() is a bug in tapegrad, not bad input: the sanitizer build aborts on it
  // (AddressSanitizer cannot see it, the slot being inside the object); release builds skip it.
  void check_index([[maybe_unused]] int i) const {
#ifdef TAPEGRAD_BOUNDS_CHECKS
    if (i < 0 || i >= size_) {
      std::fprintf(stderr, "tapegrad internal error: dim index %d outside a list of %d\n", i, size_);
      std::abort();
    }
#endif
  }
  static void check_capacity(int size) {
    TAPEGRAD_CHECK(size <= kMaxDims, "tapegrad tensors have at most {} dimensions; got {}",
                   kMaxDims, size);
  }

  int size_ = 0;
  std::array<std::int64_t, kMaxDims> values_;  // entries past size_ are copied, never read
};

using Shape = Dims;
using Strides = Dims;

inline std::int64_t numel_of(const Shape& shape) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

inline Strides contiguous_strides(const Shape& shape) {
  Strides strides = Dims::filled(shape.size(), 1);
  for (int i = shape.size() - 2; i >= 0; --i) strides[i] = strides[i + 1] * std::max<std::int64_t>(shape[i + 1], 1);
  return strides;
}

inline std::string shape_str(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

// Maps a possibly negative dim into [0, ndim); `op` names the caller in the error.
inline int wrap_dim(std::int64_t dim, int ndim, const char* op) {
  const int extent = std::max(ndim, 1);
  TAPEGRAD_CHECK(dim >= -extent && dim < extent,
                 "{}: dim {} is out of range for a tensor of {} dimensions (expected in [{}, {}])",
                 op, dim, ndim, -extent, extent - 1);
  return static_cast<int>(dim < 0 ? dim + extent : dim);
}

// NumPy broadcasting: align trailing dims; each pair must match or one of them be 1.
inline Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const int ndim = std::max(a.size(), b.size());
  Shape out = Dims::filled(ndim, 1);
  for (int i = 0; i < ndim; ++i) {
    const int ia = a.size() - ndim + i, ib = b.size() - ndim + i;
    const std::int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    TAPEGRAD_CHECK(da == db || da == 1 || db == 1,
                   "{}: shapes {} and {} cannot be broadcast together (dim {} is {} vs {})", op,
                   shape_str(a), shape_str(b), i - ndim, da, db);
    out[i] = da == 1 ? db : da;
  }
  return out;
}

}  // namespace tapegrad

template <>
struct fmt::formatter<tapegrad::Dims> : fmt::formatter<std::string> {
  auto format(const tapegrad::Dims& dims, format_context& ctx) const {
    return fmt::formatter<std::string>::format(tapegrad::shape_str(dims), ctx);
  }
};
