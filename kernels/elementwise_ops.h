// The elementwise operations, each defined once as a functor with a host/device apply: the CPU
// loops and the CUDA kernels instantiate the same definitions, so CPU tests exercise the
// arithmetic the GPU runs. The X-macro lists generate the enums the backend interface takes.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include <tapegrad/kernels/host_device.h>

namespace tapegrad::kernels {

// Unary ops; `s` holds their named scalars (UnaryScalars below), each op reading its own.
#define TAPEGRAD_UNARY_OPS(X)                                                          \
  X(Neg, -x)                                                                           \
  X(Exp, std::exp(x))                                                                  \
  X(Log, std::log(x))                                                                  \
  X(Sqrt, std::sqrt(x))                                                                \
  X(Rsqrt, T(T(1) / std::sqrt(x)))                                                     \
  X(Abs, x < T(0) ? -x : x)                                                            \
  X(Sin, std::sin(x))                                                                  \
  X(Cos, std::cos(x))                                                                  \
  X(Tanh, std::tanh(x))                                                                \
  X(Sigmoid, sigmoid(x))                                                               \
  X(Log1p, T(std::log1p(x)))                                                           \
  X(Erf, T(std::erf(x)))                                                               \
  X(Softplus, softplus(x, s.beta, s.threshold))                                        \
  X(Relu, x > T(0) || is_nan(x) ? x : T(0))                                            \
  X(Sign, T((x > T(0)) - (x < T(0))))                                                  \
  X(Floor, T(std::floor(x)))                                                           \
  X(Round, round_half_even(x))                                                         \
  X(AddScalar, x + T(s.scalar))                                                        \
  X(MulScalar, x * T(s.scalar))                                                        \
  X(RSubScalar, T(s.scalar) - x)                                                       \
  X(RDivScalar, T(s.scalar) / x)                                                       \
  X(PowScalar, pow_scalar(x, s.scalar))                                                \
  X(RPowScalar, T(std::pow(s.scalar, x)))                                              \
  X(Clamp, clamp(x, s.low, s.high))                                                    \
  X(EqScalar, T(compared(x) == compared_scalar<T>(s.scalar)))                          \
  X(NeScalar, T(compared(x) != compared_scalar<T>(s.scalar)))                          \
  X(LtScalar, T(compared(x) < compared_scalar<T>(s.scalar)))                           \
  X(LeScalar, T(compared(x) <= compared_scalar<T>(s.scalar)))                          \
  X(GtScalar, T(compared(x) > compared_scalar<T>(s.scalar)))                           \
  X(GeScalar, T(compared(x) >= compared_scalar<T>(s.scalar)))

// Binary ops on two broadcast operands; Add/Sub scale their second operand by alpha (axpy), Mul
// scales the product (so a square's gradient, 2 g a, is one kernel; alpha 1 changes nothing).
// ReluGrad passes the gradient a where the input b is positive, as PyTorch's threshold_backward.
#define TAPEGRAD_BINARY_OPS(X)            \
  X(Add, a + T(alpha) * b)                \
  X(Sub, a - T(alpha) * b)                \
  X(Mul, a * b * T(alpha))                \
  X(Div, a / b)                           \
  X(Pow, T(std::pow(a, b)))               \
  X(Minimum, min_propagating_nan(a, b))   \
  X(Maximum, max_propagating_nan(a, b))   \
  X(Eq, T(a == b))                        \
  X(Ne, T(a != b))                        \
  X(Lt, T(a < b))                         \
  X(Le, T(a <= b))                        \
  X(Gt, T(a > b))                         \
  X(Ge, T(a >= b))                        \
  X(ReluGrad, b > T(0) ? a : T(0))

#define TAPEGRAD_ENUM_ENTRY(name, expr) name,
enum class UnaryOp : std::uint8_t { TAPEGRAD_UNARY_OPS(TAPEGRAD_ENUM_ENTRY) };
enum class BinaryOp : std::uint8_t { TAPEGRAD_BINARY_OPS(TAPEGRAD_ENUM_ENTRY) };
#undef TAPEGRAD_ENUM_ENTRY

// The scalars of a unary op, by name: each op reads its own and ignores the rest.
struct UnaryScalars {
  double scalar = 0;                // x + s, x * s, s - x, s / x, x^s, s^x and the comparisons with s
  double low = 0, high = 0;         // clamp's bounds (infinite where absent)
  double beta = 1, threshold = 20;  // softplus

  static UnaryScalars operand(double scalar) {
    UnaryScalars s;
    s.scalar = scalar;
    return s;
  }
  static UnaryScalars bounds(double low, double high) {
    UnaryScalars s;
    s.low = low;
    s.high = high;
    return s;
  }
  static UnaryScalars softplus(double beta, double threshold) {
    UnaryScalars s;
    s.beta = beta;
    s.threshold = threshold;
    return s;
  }
};

namespace detail {

// Comparisons of bool and uint8 elements run in int64, so a scalar beyond their range (x == 300)
// compares as a number instead of wrapping into the element type. Integral elements are only
// compared with integral scalars: a fractional one promotes the tensor to float32 first.
template <class T>
using ComparedAs = std::conditional_t<std::is_integral_v<T> && sizeof(T) < 8, std::int64_t, T>;
template <class T>
TAPEGRAD_HOST_DEVICE inline ComparedAs<T> compared(T x) {
  return static_cast<ComparedAs<T>>(x);
}
template <class T>
TAPEGRAD_HOST_DEVICE inline ComparedAs<T> compared_scalar(double scalar) {
  return static_cast<ComparedAs<T>>(scalar);
}

template <class T>
TAPEGRAD_HOST_DEVICE inline T sigmoid(T x) {
  // Split by sign so exp never overflows: both branches stay in (0, 1].
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

// log(1 + exp(beta x)) / beta, and x itself where beta x > threshold, as torch's softplus: the
// two agree there to rounding, and exp(beta x) could overflow.
template <class T>
TAPEGRAD_HOST_DEVICE inline T softplus(T x, double beta, double threshold) {
  const T scaled = x * T(beta);
  return static_cast<double>(scaled) > threshold ? x : T(std::log1p(std::exp(scaled)) / T(beta));
}

template <class T>
TAPEGRAD_HOST_DEVICE inline T pow_scalar(T x, double p) {
  if (p == 2.0) return x * x;  // the common square: exact, and fast in the float loop
  if (p == 1.0) return x;
  return T(std::pow(x, T(p)));
}

// Halves go to the even neighbour, as torch.round (nearbyint in the default rounding mode).
template <class T>
TAPEGRAD_HOST_DEVICE inline T round_half_even(T x) {
  if constexpr (std::is_integral_v<T>) return x;
  else return std::nearbyint(x);
}

template <class T>
TAPEGRAD_HOST_DEVICE inline bool is_nan(T x) {
  return x != x;
}

// A NaN in either operand wins, as in torch.minimum / torch.maximum.
template <class T>
TAPEGRAD_HOST_DEVICE inline T min_propagating_nan(T a, T b) {
  return is_nan(a) ? a : (b < a || is_nan(b) ? b : a);
}

template <class T>
TAPEGRAD_HOST_DEVICE inline T max_propagating_nan(T a, T b) {
  return is_nan(a) ? a : (b > a || is_nan(b) ? b : a);
}

// min(max(x, low), high): when low > high everything becomes high, as torch.clamp documents.
template <class T>
TAPEGRAD_HOST_DEVICE inline T clamp(T x, double low, double high) {
  // Compared in double, so an infinite bound (an absent one) never converts to an integer type.
  const T raised = static_cast<double>(x) < low ? T(low) : x;
  return static_cast<double>(raised) > high ? T(high) : raised;
}

}  // namespace detail

// One functor type per op: `Unary<UnaryOp::Exp>{}(x)`, `Unary<UnaryOp::AddScalar>{UnaryScalars::operand(2)}(x)`,
// `Binary<BinaryOp::Add>{alpha}(a, b)`.
template <UnaryOp Op> struct Unary;
template <BinaryOp Op> struct Binary;

#define TAPEGRAD_UNARY_FUNCTOR(name, expr)                          \
  template <> struct Unary<UnaryOp::name> {                         \
    UnaryScalars s;                                                 \
    template <class T>                                              \
    TAPEGRAD_HOST_DEVICE T operator()(T x) const {                  \
      using namespace detail;                                       \
      (void)s;                                                      \
      return expr;                                                  \
    }                                                               \
  };
TAPEGRAD_UNARY_OPS(TAPEGRAD_UNARY_FUNCTOR)
#undef TAPEGRAD_UNARY_FUNCTOR

#define TAPEGRAD_BINARY_FUNCTOR(name, expr)                         \
  template <> struct Binary<BinaryOp::name> {                       \
    double alpha = 1;                                               \
    template <class T>                                              \
    TAPEGRAD_HOST_DEVICE T operator()(T a, T b) const {             \
      using namespace detail;                                       \
      (void)alpha;                                                  \
      return expr;                                                  \
    }                                                               \
  };
TAPEGRAD_BINARY_OPS(TAPEGRAD_BINARY_FUNCTOR)
#undef TAPEGRAD_BINARY_FUNCTOR

// Calls f(Unary<op>{scalars}) for a runtime op: one switch per kernel launch, not per element.
template <class F>
void dispatch_unary(UnaryOp op, const UnaryScalars& scalars, F&& f) {
  switch (op) {
#define TAPEGRAD_UNARY_CASE(name, expr) \
  case UnaryOp::name: f(Unary<UnaryOp::name>{scalars}); return;
    TAPEGRAD_UNARY_OPS(TAPEGRAD_UNARY_CASE)
#undef TAPEGRAD_UNARY_CASE
  }
}

template <class F>
void dispatch_binary(BinaryOp op, double alpha, F&& f) {
  switch (op) {
#define TAPEGRAD_BINARY_CASE(name, expr) \
  case BinaryOp::name: f(Binary<BinaryOp::name>{alpha}); return;
    TAPEGRAD_BINARY_OPS(TAPEGRAD_BINARY_CASE)
#undef TAPEGRAD_BINARY_CASE
  }
}

// The comparisons among the ops: the ones whose result a backend may write as bool, for inputs
// of every dtype. Calls f with the functor and returns true, or returns false for another op.
template <class F>
bool dispatch_comparison(BinaryOp op, F&& f) {
  switch (op) {
#define TAPEGRAD_COMPARISON_CASE(name) \
  case BinaryOp::name: f(Binary<BinaryOp::name>{}); return true;
    TAPEGRAD_COMPARISON_CASE(Eq) TAPEGRAD_COMPARISON_CASE(Ne) TAPEGRAD_COMPARISON_CASE(Lt)
    TAPEGRAD_COMPARISON_CASE(Le) TAPEGRAD_COMPARISON_CASE(Gt) TAPEGRAD_COMPARISON_CASE(Ge)
#undef TAPEGRAD_COMPARISON_CASE
    default: return false;
  }
}

template <class F>
bool dispatch_scalar_comparison(UnaryOp op, const UnaryScalars& scalars, F&& f) {
  switch (op) {
#define TAPEGRAD_COMPARISON_CASE(name) \
  case UnaryOp::name: f(Unary<UnaryOp::name>{scalars}); return true;
    TAPEGRAD_COMPARISON_CASE(EqScalar) TAPEGRAD_COMPARISON_CASE(NeScalar) TAPEGRAD_COMPARISON_CASE(LtScalar)
    TAPEGRAD_COMPARISON_CASE(LeScalar) TAPEGRAD_COMPARISON_CASE(GtScalar) TAPEGRAD_COMPARISON_CASE(GeScalar)
#undef TAPEGRAD_COMPARISON_CASE
    default: return false;
  }
}

}  // namespace tapegrad::kernels
