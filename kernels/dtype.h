// Element types a tensor can hold, and the mapping between them and C++ types.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include <tapegrad/kernels/error.h>

namespace tapegrad {

// UInt8 is a storage type (image pixels at a quarter of float32's memory): it can be created,
// converted, compared, indexed and viewed, and every arithmetic kernel refuses it. Bool holds
// 0/1 bytes: the results of comparisons and logical ops, and the masks of where/masked_fill.
enum class DType : std::uint8_t { Float32, Float64, Int64, UInt8, Bool };

inline constexpr DType kFloat32 = DType::Float32;
inline constexpr DType kFloat64 = DType::Float64;
inline constexpr DType kInt64 = DType::Int64;
inline constexpr DType kUInt8 = DType::UInt8;
inline constexpr DType kBool = DType::Bool;

constexpr std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::Float32: return 4;
    case DType::UInt8:
    case DType::Bool: return 1;
    case DType::Float64:
    case DType::Int64: break;
  }
  return 8;
}
constexpr bool is_floating(DType dtype) { return dtype == DType::Float32 || dtype == DType::Float64; }

constexpr std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int64: return "int64";
    case DType::UInt8: return "uint8";
    case DType::Bool: return "bool";
  }
  return "unknown";
}

// Type promotion, as torch.promote_types: the result holds both operands' values. For these
// dtypes the categories bool < integral < floating and the widths order them in one chain.
constexpr int promotion_rank(DType dtype) {
  switch (dtype) {
    case DType::Bool: return 0;
    case DType::UInt8: return 1;
    case DType::Int64: return 2;
    case DType::Float32: return 3;
    case DType::Float64: break;
  }
  return 4;
}
constexpr DType promote_types(DType a, DType b) { return promotion_rank(a) >= promotion_rank(b) ? a : b; }

// The dtype true division and math functions compute in: integers as float32 (torch's default).
constexpr DType as_floating(DType dtype) { return is_floating(dtype) ? dtype : DType::Float32; }

// Whether an op computing in `from` may write its result into a tensor of `to` (torch.can_cast):
// never floating into integral, nor a number into bool.
constexpr bool can_cast(DType from, DType to) {
  if (is_floating(from) && !is_floating(to)) return false;
  return from == DType::Bool || to != DType::Bool;
}

template <class T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::Float32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::Float64; };
template <> struct DTypeOf<std::int64_t> { static constexpr DType value = DType::Int64; };
template <> struct DTypeOf<std::uint8_t> { static constexpr DType value = DType::UInt8; };
template <> struct DTypeOf<bool> { static constexpr DType value = DType::Bool; };
template <class T> inline constexpr DType dtype_of = DTypeOf<T>::value;

[[noreturn]] inline void refuse_storage_dtype(DType dtype) {
  fail("this operation does arithmetic on element values, and {} tensors support only conversion, comparison, "
       "indexing and views; convert with .to(kFloat32) or .to(kInt64)", dtype_name(dtype));
}

// Calls f(T{}) with T the C++ type of `dtype`: the one place a runtime dtype becomes a type for
// the kernels that compute. uint8 and bool are refused here, so no kernel silently treats bytes
// as numbers to compute with.
template <class F>
decltype(auto) dispatch_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::Float64: return f(double{});
    case DType::Int64: return f(std::int64_t{});
    case DType::UInt8:
    case DType::Bool: refuse_storage_dtype(dtype);
    case DType::Float32: break;
  }
  return f(float{});
}

// dispatch_dtype for the kernels that only move, convert or compare elements (copies, fills,
// gathers, comparisons, printing), which serve every dtype including uint8 and bool.
template <class F>
decltype(auto) dispatch_storage_dtype(DType dtype, F&& f) {
  if (dtype == DType::UInt8) return f(std::uint8_t{});
  if (dtype == DType::Bool) return f(bool{});
  return dispatch_dtype(dtype, std::forward<F>(f));
}

}  // namespace tapegrad

template <>
struct fmt::formatter<tapegrad::DType> : fmt::formatter<std::string_view> {
  auto format(tapegrad::DType dtype, format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(tapegrad::dtype_name(dtype), ctx);
  }
};
