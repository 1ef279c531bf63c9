// Element types a tensor can hold, and the mapping between them and C++ types.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <fmt/format.h>

namespace tapegrad {

enum class DType : std::uint8_t { Float32, Float64, Int64 };

inline constexpr DType kFloat32 = DType::Float32;
inline constexpr DType kFloat64 = DType::Float64;
inline constexpr DType kInt64 = DType::Int64;

constexpr std::size_t dtype_size(DType dtype) { return dtype == DType::Float32 ? 4 : 8; }
constexpr bool is_floating(DType dtype) { return dtype != DType::Int64; }

constexpr std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int64: return "int64";
  }
  return "unknown";
}

template <class T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::Float32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::Float64; };
template <> struct DTypeOf<std::int64_t> { static constexpr DType value = DType::Int64; };
template <class T> inline constexpr DType dtype_of = DTypeOf<T>::value;

// Calls f(T{}) with T the C++ type of `dtype`: the one place a runtime dtype becomes a type.
template <class F>
decltype(auto) dispatch_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::Float64: return f(double{});
    case DType::Int64: return f(std::int64_t{});
    case DType::Float32: break;
  }
  return f(float{});
}

}  // namespace tapegrad

template <>
struct fmt::formatter<tapegrad::DType> : fmt::formatter<std::string_view> {
  auto format(tapegrad::DType dtype, format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(tapegrad::dtype_name(dtype), ctx);
  }
};
