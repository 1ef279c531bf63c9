// Elementwise ops with broadcasting and torch's type promotion, their gradients (written with
// differentiable ops, so they can be differentiated again), comparisons and logical ops. The
// in-place updates are in inplace.cpp.
#include <array>
#include <cmath>
#include <limits>
#include <numbers>
#include <tuple>

#include <tapegrad/autodiff/ops/common.h>

namespace tapegrad {

using kernels::BinaryOp;
using kernels::UnaryOp;
using kernels::UnaryScalars;
using namespace detail;

namespace {

// ---- type promotion, as torch.result_type ----

// Within one category, an operand of a higher priority decides the dtype (torch's ResultTypeState).
enum class Priority { Scalar, ZeroDim, Dimensioned };
struct Operand {
  DType dtype;
  Priority priority;
};

int category(DType dtype) { return dtype == kBool ? 0 : is_floating(dtype) ? 2 : 1; }

Operand operand_of(const Tensor& t) { return {t.dtype(), t.dim() == 0 ? Priority::ZeroDim : Priority::Dimensioned}; }

// A double argument stands for a Python number: int when integral, else float, which is float32
// (torch's default dtype) when it decides the result.
Operand operand_of(double scalar) {
  const bool integral = std::isfinite(scalar) && std::trunc(scalar) == scalar;
  return {integral ? kInt64 : kFloat32, Priority::Scalar};
}

// torch's combine_categories: the higher-priority operand's dtype, unless the other is of a
// higher category, which then promotes it.
DType promote_operands(const Operand& a, const Operand& b) {
  if (a.priority == b.priority) return promote_types(a.dtype, b.dtype);
  const Operand& high = a.priority > b.priority ? a : b;
  const Operand& low = a.priority > b.priority ? b : a;
  return category(low.dtype) > category(high.dtype) ? promote_types(high.dtype, low.dtype) : high.dtype;
}

// Both operands in `dtype`: the arguments themselves where they have it already (so the common
// case costs no reference-count traffic), converted copies otherwise. The conversions are
// differentiable, so each input's gradient comes back in its own dtype. Bound as
// `const auto& [a, b] = promoted(...)`, which keeps the pair alive for the caller's scope.
class PromotedPair {
 public:
  PromotedPair(const Tensor& a, const Tensor& b, DType dtype)
      : a_(a.dtype() == dtype ? Tensor() : a.to(dtype)),
        b_(b.dtype() == dtype ? Tensor() : b.to(dtype)),
        a_ref_(a_.defined() ? a_ : a),
        b_ref_(b_.defined() ? b_ : b) {}
  PromotedPair(const PromotedPair&) = delete;
  PromotedPair& operator=(const PromotedPair&) = delete;

  template <std::size_t I>
  const Tensor& get() const {
    if constexpr (I == 0) return a_ref_;
    else return b_ref_;
  }

 private:
  Tensor a_, b_;  // the converted operands, when a conversion was needed
  const Tensor& a_ref_;
  const Tensor& b_ref_;
};

}  // namespace
}  // namespace tapegrad

template <>
struct std::tuple_size<tapegrad::PromotedPair> : std::integral_constant<std::size_t, 2> {};
template <std::size_t I>
struct std::tuple_element<I, tapegrad::PromotedPair> {
  using type = const tapegrad::Tensor&;
};

namespace tapegrad {
namespace {

PromotedPair promoted(const char* name, const Tensor& a, const Tensor& b, DType dtype) {
  check_same_device(name, a, b);
  return PromotedPair(a, b, dtype);
}
PromotedPair promoted(const char* name, const Tensor& a, const Tensor& b) {
  check_same_device(name, a, b);
  return PromotedPair(a, b, result_type(a, b));
}

Tensor unary_forward(UnaryOp op, const Tensor& a, const UnaryScalars& scalars = {}) {
  Tensor out = empty(a.shape(), options_of(a));
  if (a.is_contiguous())
    backend_of(a).unary_contiguous(op, a.dtype(), a.impl().data(), out.impl().data(), out.numel(), scalars);
  else
    backend_of(a).unary(op, a.desc(), out.desc(), scalars);
  return out;
}

// An op with a scalar operand, in result_type(a, scalar) (or its true-division type).
Tensor scalar_forward(UnaryOp op, const char* name, const Tensor& a, double scalar, bool true_division = false) {
  check_defined(name, a);
  const DType dtype = true_division ? as_floating(result_type(a, scalar)) : result_type(a, scalar);
  // The common case runs on `a` itself: no conversion, and no handle to copy and release.
  if (dtype == a.dtype()) return unary_forward(op, a, UnaryScalars::operand(scalar));
  return unary_forward(op, a.to(dtype), UnaryScalars::operand(scalar));
}

// Operands of one dtype; `out_dtype` is theirs, or bool for a comparison.
Tensor binary_forward(BinaryOp op, const char* name, const Tensor& a, const Tensor& b, double alpha = 1,
                      std::optional<DType> out_dtype = std::nullopt) {
  check_compatible(name, a, b);
  const DType dtype = out_dtype.value_or(a.dtype());
  const bool same_shape = a.shape() == b.shape();
  if (same_shape && dtype == a.dtype() && a.is_contiguous() && b.is_contiguous()) {
    Tensor out = empty(a.shape(), options_of(a));
    backend_of(a).binary_contiguous(op, dtype, a.impl().data(), b.impl().data(), out.impl().data(), out.numel(),
                                    alpha);
    return out;
  }
  const Shape shape = same_shape ? a.shape() : broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = empty(shape, options_of(a).with_dtype(dtype));
  backend_of(a).binary(op, broadcast_desc(a, shape), broadcast_desc(b, shape), out.desc(), alpha);
  return out;
}

// scale * grad, without a multiplication when the scale is 1.
Tensor scaled(const Tensor& grad, double scale) { return scale == 1 ? grad : mul(grad, scale); }

// scale * grad * factor, a product's gradient: one kernel, without mul's promotion and recording,
// unless the backward itself is recorded or the dtypes differ.
Tensor scaled_product(const Tensor& grad, const Tensor& factor, double scale = 1) {
  if (GradMode::is_enabled() || grad.dtype() != factor.dtype()) return scaled(mul(grad, factor), scale);
  return binary_forward(BinaryOp::Mul, "mul", grad, factor, scale);
}

// A float-only unary op.
Tensor floating_unary(UnaryOp op, const char* name, const Tensor& a, const UnaryScalars& scalars = {}) {
  check_floating(name, a);
  return unary_forward(op, a, scalars);
}

// A math function (exp, log, sin, ...): integral and bool inputs compute in float32, as torch's.
Tensor math_unary(UnaryOp op, const char* name, const Tensor& a) {
  check_defined(name, a);
  return unary_forward(op, a.to(as_floating(a.dtype())));
}

// Gradient of a binary op for one operand: reduce over the dims broadcasting expanded. Taken by
// value, so that a gradient computed for the call moves through when nothing was broadcast.
Tensor reduce_grad(Tensor grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  return sum_to(grad, shape);
}

Tensor comparison(BinaryOp op, const char* name, const Tensor& a, const Tensor& b) {
  const auto& [x, y] = promoted(name, a, b);
  return binary_forward(op, name, x, y, 1, kBool);
}

// Integral elements compare with an integral scalar as they are (the kernel widens bool and
// uint8); a fractional scalar promotes them to float32, as torch.
Tensor scalar_comparison(UnaryOp op, const char* name, const Tensor& a, double scalar) {
  check_defined(name, a);
  const DType dtype = result_type(a, scalar);
  const Tensor x = is_floating(dtype) ? a.to(dtype) : a;
  Tensor out = empty(x.shape(), options_of(x).with_dtype(kBool));
  backend_of(x).unary(op, x.desc(), out.desc(), UnaryScalars::operand(scalar));
  return out;
}

}  // namespace

DType result_type(const Tensor& a, const Tensor& b) {
  check_defined("result_type", a);
  check_defined("result_type", b);
  if (a.dtype() == b.dtype()) return a.dtype();  // whatever the operands' priorities: the common case
  return promote_operands(operand_of(a), operand_of(b));
}

DType result_type(const Tensor& a, double b) {
  check_defined("result_type", a);
  if (is_floating(a.dtype())) return a.dtype();  // a floating tensor keeps its dtype beside any number
  return promote_operands(operand_of(a), operand_of(b));
}

// ---- binary arithmetic ----

namespace {

// The node of a + scale * b (add; sub with scale -alpha): the gradient goes to a as it is and to b
// scaled, each summed over the dims broadcasting expanded. Operands of one shape (the common case)
// need no reduction, and their node keeps no shapes.
void record_sum(const char* name, Tensor& out, const Tensor& a, const Tensor& b, double scale) {
  if (a.shape() == b.shape()) {
    record(name, out, {a, b}, [scale](BackwardContext& ctx) {
      if (ctx.needs_input_grad(0)) ctx.set_input_grad(0, ctx.grad());
      if (ctx.needs_input_grad(1)) ctx.set_input_grad(1, scaled(ctx.grad(), scale));
    });
    return;
  }
  record(name, out, {a, b}, [sa = a.shape(), sb = b.shape(), scale](BackwardContext& ctx) {
    if (ctx.needs_input_grad(0)) ctx.set_input_grad(0, reduce_grad(ctx.grad(), sa));
    if (ctx.needs_input_grad(1)) ctx.set_input_grad(1, reduce_grad(scaled(ctx.grad(), scale), sb));
  });
}

}  // namespace

Tensor add(const Tensor& first, const Tensor& second, double alpha) {
  const auto& [a, b] = promoted("add", first, second);
  Tensor out = binary_forward(BinaryOp::Add, "add", a, b, alpha);
  if (should_record(a, b)) record_sum("add", out, a, b, alpha);
  return out;
}

Tensor sub(const Tensor& first, const Tensor& second, double alpha) {
  const auto& [a, b] = promoted("sub", first, second);
  Tensor out = binary_forward(BinaryOp::Sub, "sub", a, b, alpha);
  if (should_record(a, b)) record_sum("sub", out, a, b, -alpha);
  return out;
}

Tensor mul(const Tensor& first, const Tensor& second) {
  const auto& [a, b] = promoted("mul", first, second);
  Tensor out = binary_forward(BinaryOp::Mul, "mul", a, b);
  if (should_record(a, b))
    record("mul", out, {a, b},
           [sa = SavedTensor::input(a), sb = SavedTensor::input(b)](BackwardContext& ctx) {
             const Tensor &a = ctx.unpack(sa), &b = ctx.unpack(sb);
             if (a.is_same(b)) {  // a square: one product, 2 g a, instead of two summed
               if (ctx.needs_input_grad(0)) ctx.set_input_grad(0, scaled_product(ctx.grad(), a, 2.0));
               return;
             }
             if (ctx.needs_input_grad(0)) ctx.set_input_grad(0, reduce_grad(scaled_product(ctx.grad(), b), a.shape()));
             if (ctx.needs_input_grad(1)) ctx.set_input_grad(1, reduce_grad(scaled_product(ctx.grad(), a), b.shape()));
           });
  return out;
}

Tensor div(const Tensor& first, const Tensor& second) {
  check_same_device("div", first, second);
  const auto& [a, b] = promoted("div", first, second, as_floating(result_type(first, second)));
  Tensor out = binary_forward(BinaryOp::Div, "div", a, b);
  if (should_record(a, b))
    record("div", out, {a, b},
           [sa = SavedTensor::input(a), sb = SavedTensor::input(b)](BackwardContext& ctx) {
             const Tensor &a = ctx.unpack(sa), &b = ctx.unpack(sb);
             if (ctx.needs_input_grad(0)) ctx.set_input_grad(0, reduce_grad(div(ctx.grad(), b), a.shape()));
             if (ctx.needs_input_grad(1))  // d(a/b)/db = -a / b^2
               ctx.set_input_grad(1, reduce_grad(neg(div(mul(ctx.grad(), a), mul(b, b))), b.shape()));
           });
  return out;
}

// ---- scalar forms ----

Tensor add(const Tensor& a, double b) {
  Tensor out = scalar_forward(UnaryOp::AddScalar, "add", a, b);
  if (should_record(a)) record("add", out, {a}, [](BackwardContext& ctx) { ctx.set_input_grad(0, ctx.grad()); });
  return out;
}

Tensor sub(const Tensor& a, double b) { return add(a, -b); }

Tensor rsub(const Tensor& a, double b) {
  Tensor out = scalar_forward(UnaryOp::RSubScalar, "rsub", a, b);
  if (should_record(a)) record("rsub", out, {a}, [](BackwardContext& ctx) { ctx.set_input_grad(0, neg(ctx.grad())); });
  return out;
}

Tensor mul(const Tensor& a, double b) {
  Tensor out = scalar_forward(UnaryOp::MulScalar, "mul", a, b);
  if (should_record(a)) record("mul", out, {a}, [b](BackwardContext& ctx) { ctx.set_input_grad(0, mul(ctx.grad(), b)); });
  return out;
}

Tensor div(const Tensor& a, double b) {
  check_defined("div", a);
  return mul(a.to(as_floating(result_type(a, b))), 1.0 / b);
}

Tensor rdiv(const Tensor& a, double b) {
  Tensor out = scalar_forward(UnaryOp::RDivScalar, "rdiv", a, b, true);
  if (should_record(a))
    record("rdiv", out, {a}, [sa = SavedTensor::input(a), b](BackwardContext& ctx) {
      const Tensor& a = ctx.unpack(sa);  // d(b/a)/da = -b / a^2
      ctx.set_input_grad(0, div(mul(ctx.grad(), -b), mul(a, a)));
    });
  return out;
}

Tensor neg(const Tensor& a) {
  check_defined("neg", a);
  Tensor out = unary_forward(UnaryOp::Neg, a);
  if (should_record(a)) record("neg", out, {a}, [](BackwardContext& ctx) { ctx.set_input_grad(0, neg(ctx.grad())); });
  return out;
}

// ---- powers ----

Tensor pow(const Tensor& base, double exponent) {
  check_defined("pow", base);
  Tensor out = floating_unary(UnaryOp::PowScalar, "pow", base.to(result_type(base, exponent)),
                              UnaryScalars::operand(exponent));
  if (should_record(base))
    record("pow", out, {base}, [sa = SavedTensor::input(base), exponent](BackwardContext& ctx) {
      if (exponent == 0) {
        ctx.set_input_grad(0, zeros_like(ctx.grad()));
        return;
      }
      const Tensor& a = ctx.unpack(sa);  // p * a^(p-1)
      const Tensor derivative = exponent == 2 ? mul(a, 2.0) : mul(pow(a, exponent - 1), exponent);
      ctx.set_input_grad(0, mul(ctx.grad(), derivative));
    });
  return out;
}

Tensor pow(const Tensor& first, const Tensor& second) {
  const auto& [base, exponent] = promoted("pow", first, second);
  check_floating("pow", base);
  Tensor out = binary_forward(BinaryOp::Pow, "pow", base, exponent);
  if (should_record(base, exponent))
    record("pow", out, {base, exponent},
           [sa = SavedTensor::input(base), sb = SavedTensor::input(exponent),
            so = SavedTensor::output(out)](BackwardContext& ctx) {
             const Tensor &a = ctx.unpack(sa), &b = ctx.unpack(sb);
             if (ctx.needs_input_grad(0))  // b * a^(b-1)
               ctx.set_input_grad(0, reduce_grad(mul(ctx.grad(), mul(b, pow(a, sub(b, 1.0)))), a.shape()));
             if (ctx.needs_input_grad(1)) {
               // a^b * log(a), taken as 0 where a == 0 (the limit for b > 0, as PyTorch does)
               const Tensor a_is_zero = eq(a, 0.0);
               const Tensor safe_log = log(where(a_is_zero, ones_like(a), a));
               ctx.set_input_grad(1, reduce_grad(mul(ctx.grad(), mul(ctx.unpack(so), safe_log)), b.shape()));
             }
           });
  return out;
}

Tensor pow(double base, const Tensor& exponent) {
  check_defined("pow", exponent);
  Tensor out = floating_unary(UnaryOp::RPowScalar, "pow", exponent.to(result_type(exponent, base)),
                              UnaryScalars::operand(base));
  if (should_record(exponent))
    record("pow", out, {exponent}, [so = SavedTensor::output(out), base](BackwardContext& ctx) {
      if (base == 0) {  // base^b log(base) is taken as 0 (its limit for b > 0), as PyTorch does
        ctx.set_input_grad(0, zeros_like(ctx.grad()));
        return;
      }
      ctx.set_input_grad(0, mul(ctx.grad(), mul(ctx.unpack(so), std::log(base))));
    });
  return out;
}

// ---- transcendental and activation functions ----

Tensor exp(const Tensor& a) {
  Tensor out = math_unary(UnaryOp::Exp, "exp", a);
  if (should_record(a))
    record("exp", out, {a}, [so = SavedTensor::output(out)](BackwardContext& ctx) {
      ctx.set_input_grad(0, mul(ctx.grad(), ctx.unpack(so)));
    });
  return out;
}

Tensor log(const Tensor& a) {
  Tensor out = math_unary(UnaryOp::Log, "log", a);
  if (should_record(a))
    record("log", out, {a}, [sa = SavedTensor::input(a)](BackwardContext& ctx) {
      ctx.set_input_grad(0, div(ctx.grad(), ctx.unpack(sa)));
    });
  return out;
}

Tensor sqrt(const Tensor& a) {
  Tensor out = math_unary(UnaryOp::Sqrt, "sqrt", a);
  if (should_record(a))
    record("sqrt", out, {a}, [so = SavedTensor::output(out)](BackwardContext& ctx) {
      ctx.set_input_grad(0, div(ctx.grad(), mul(ctx.unpack(so), 2.0)));
    });
  return out;
}

Tensor rsqrt(const Tensor& a) {
  Tensor out = math_unary(UnaryOp::Rsqrt, "rsqrt", a);
  if (should_record(a))
    record("rsqrt", out, {a}, [so = SavedTensor::output(out)](BackwardContext& ctx) {
      const Tensor& r = ctx.unpack(so);  // d/dx x^(-1/2) = -1/2 x^(-3/2) = -1/2 r^3
      ctx.set_input_grad(0, mul(ctx.grad(), mul(mul(r, mul(r, r)), -0.5)));
    });
  return out;
}

namespace {

// floor and round: piecewise constant, so their gradient is zero wherever it exists (torch's too).
Tensor step_function(UnaryOp op, const char* name, const Tensor& a) {
  check_defined(name, a);
  Tensor out = unary_forward(op, a);
  if (should_record(a))
    record(name, out, {a}, [](BackwardContext& ctx) { ctx.set_input_grad(0, mul(ctx.grad(), 0.0)); });
  return out;
}

}  // namespace

Tensor floor(const Tensor& a) { return step_function(UnaryOp::Floor, "floor", a); }
Tensor round(const Tensor& a) { return step_function(UnaryOp::Round, "round", a); }

Tensor abs(const Tensor& a) {
  check_defined("abs", a);
  Tensor out = unary_forward(UnaryOp::Abs, a);
  if (should_record(a))
    record("abs", out, {a}, [sa = SavedTensor::input(a)](BackwardContext& ctx) {
      ctx.set_input_grad(0, mul(ctx.grad(), sign(ctx.unpack(sa))));
    });
  return out;
}

Tensor sin(const Tensor& a) {
  Tensor out = math_unary(UnaryOp::Sin, "sin", a);
  if (should_record(a))
    record("sin", out, {a}, [sa = SavedTensor::input(a)](BackwardContext& ctx) {
      ctx.set_input_grad(0, mul(ctx.grad(), cos(ctx.unpack(sa))));
    });
  return out;
}

Tensor cos(const Tensor& a) {
  Tensor out = math_unary(UnaryOp::Cos, "cos", a);
  if (should_record(a))
    record("cos", out, {a}, [sa = SavedTensor::input(a)](BackwardContext& ctx) {
      ctx.set_input_grad(0, neg(mul(ctx.grad(), sin(ctx.unpack(sa)))));
    });
  return out;
}

Tensor tanh(const Tensor& a) {
  Tensor out = math_unary(UnaryOp::Tanh, "tanh", a);
  if (should_record(a))
    record("tanh", out, {a}, [so = SavedTensor::output(out)](BackwardContext& ctx) {
      const Tensor& y = ctx.unpack(so);  // 1 - tanh^2
      ctx.set_input_grad(0, mul(ctx.grad(), rsub(mul(y, y), 1.0)));
    });
  return out;
}

Tensor sigmoid(const Tensor& a) {
  Tensor out = math_unary(UnaryOp::Sigmoid, "sigmoid", a);
  if (should_record(a))
    record("sigmoid", out, {a}, [so = SavedTensor::output(out)](BackwardContext& ctx) {
      const Tensor& y = ctx.unpack(so);  // s (1 - s)
      ctx.set_input_grad(0, mul(ctx.grad(), mul(y, rsub(y, 1.0))));
    });
  return out;
}

Tensor log1p(const Tensor& a) {
  Tensor out = math_unary(UnaryOp::Log1p, "log1p", a);
  if (should_record(a))
    record("log1p", out, {a}, [sa = SavedTensor::input(a)](BackwardContext& ctx) {
      ctx.set_input_grad(0, div(ctx.grad(), add(ctx.unpack(sa), 1.0)));
    });
  return out;
}

Tensor erf(const Tensor& a) {
  Tensor out = math_unary(UnaryOp::Erf, "erf", a);
  if (should_record(a))
    record("erf", out, {a}, [sa = SavedTensor::input(a)](BackwardContext& ctx) {
      const Tensor& x = ctx.unpack(sa);  // 2 / sqrt(pi) exp(-x^2)
      ctx.set_input_grad(0, mul(ctx.grad(), mul(exp(neg(mul(x, x))), 2 / std::sqrt(std::numbers::pi))));
    });
  return out;
}

Tensor softplus(const Tensor& a, double beta, double threshold) {
  TAPEGRAD_CHECK(beta != 0, "softplus: beta must be non-zero, got 0");
  Tensor out = floating_unary(UnaryOp::Softplus, "softplus", a, UnaryScalars::softplus(beta, threshold));
  if (should_record(a))
    // sigmoid(beta x), and 1 in the linear region.
    record("softplus", out, {a}, [sa = SavedTensor::input(a), beta, threshold](BackwardContext& ctx) {
      const Tensor scaled = mul(ctx.unpack(sa), beta);
      const Tensor slope = where(gt(scaled, threshold), ones_like(scaled), sigmoid(scaled));
      ctx.set_input_grad(0, mul(ctx.grad(), slope));
    });
  return out;
}

// The gradient where the input is positive, else 0 (0 at the kink, as PyTorch), in one pass. It
// is linear in the gradient, so its own backward is itself; the input gets no gradient.
Tensor detail::relu_backward(const Tensor& grad, const Tensor& input) {
  Tensor out = binary_forward(BinaryOp::ReluGrad, "relu_backward", grad, input);
  if (should_record(grad))
    record("relu_backward", out, {grad}, [si = SavedTensor::input(input)](BackwardContext& ctx) {
      ctx.set_input_grad(0, relu_backward(ctx.grad(), ctx.unpack(si)));
    });
  return out;
}

Tensor relu(const Tensor& a) {
  check_defined("relu", a);
  Tensor out = unary_forward(UnaryOp::Relu, a);
  if (should_record(a))
    record("relu", out, {a}, [sa = SavedTensor::input(a)](BackwardContext& ctx) {
      ctx.set_input_grad(0, relu_backward(ctx.grad(), ctx.unpack(sa)));
    });
  return out;
}

Tensor clamp(const Tensor& a, std::optional<double> low, std::optional<double> high) {
  check_defined("clamp", a);
  TAPEGRAD_CHECK(low || high, "clamp: at least one of low and high must be given");
  const double lo = low.value_or(-std::numeric_limits<double>::infinity());
  const double hi = high.value_or(std::numeric_limits<double>::infinity());
  Tensor out = unary_forward(UnaryOp::Clamp, a, UnaryScalars::bounds(lo, hi));
  if (should_record(a))
    record("clamp", out, {a}, [sa = SavedTensor::input(a), lo, hi](BackwardContext& ctx) {
      const Tensor& x = ctx.unpack(sa);  // passes where lo <= x <= hi
      ctx.set_input_grad(0, where(logical_and(ge(x, lo), le(x, hi)), ctx.grad(), zeros({}, options_of(ctx.grad()))));
    });
  return out;
}

// minimum/maximum: the gradient goes to the selected operand and is split evenly on ties.
namespace {
Tensor min_max(BinaryOp op, const char* name, const Tensor& first, const Tensor& second) {
  const auto& [a, b] = promoted(name, first, second);
  Tensor out = binary_forward(op, name, a, b);
  if (should_record(a, b))
    record(name, out, {a, b},
           [sa = SavedTensor::input(a), sb = SavedTensor::input(b),
            take_max = op == BinaryOp::Maximum](BackwardContext& ctx) {
             const Tensor &x = ctx.unpack(sa), &y = ctx.unpack(sb);
             const Tensor wins = (take_max ? gt(x, y) : lt(x, y)).to(x.dtype());
             const Tensor a_wins = add(wins, mul(eq(x, y).to(x.dtype()), 0.5));
             if (ctx.needs_input_grad(0)) ctx.set_input_grad(0, reduce_grad(mul(ctx.grad(), a_wins), x.shape()));
             if (ctx.needs_input_grad(1))
               ctx.set_input_grad(1, reduce_grad(mul(ctx.grad(), rsub(a_wins, 1.0)), y.shape()));
           });
  return out;
}
}  // namespace

Tensor minimum(const Tensor& a, const Tensor& b) { return min_max(BinaryOp::Minimum, "minimum", a, b); }
Tensor maximum(const Tensor& a, const Tensor& b) { return min_max(BinaryOp::Maximum, "maximum", a, b); }

namespace {
void check_mask(const char* name, const Tensor& mask, const Tensor& values) {
  check_defined(name, mask);
  TAPEGRAD_CHECK(mask.dtype() == kBool, "{}: expected a bool mask, got {} of shape {}; compare (e.g. x > 0) or convert "
                 "with .to(kBool)", name, mask.dtype(), mask.shape());
  TAPEGRAD_CHECK(mask.device() == values.device(), "{}: the mask is on {} but the values are on {}", name,
                 mask.device(), values.device());
}
}  // namespace

Tensor where(const Tensor& condition, const Tensor& first, const Tensor& second) {
  const auto& [a, b] = promoted("where", first, second);
  check_mask("where", condition, a);
  const Shape shape =
      broadcast_shapes(condition.shape(), broadcast_shapes(a.shape(), b.shape(), "where"), "where");
  Tensor out = empty(shape, options_of(a));
  backend_of(a).where(broadcast_desc(condition, shape), broadcast_desc(a, shape), broadcast_desc(b, shape),
                      out.desc());
  if (should_record(a, b))
    record("where", out, {a, b},
           [mask = condition.detach(), shape_a = a.shape(), shape_b = b.shape()](BackwardContext& ctx) {
             const Tensor zero = zeros({}, options_of(ctx.grad()));
             if (ctx.needs_input_grad(0)) ctx.set_input_grad(0, reduce_grad(where(mask, ctx.grad(), zero), shape_a));
             if (ctx.needs_input_grad(1)) ctx.set_input_grad(1, reduce_grad(where(mask, zero, ctx.grad()), shape_b));
           });
  return out;
}

// ---- comparisons and sign: no gradient ----

Tensor eq(const Tensor& a, const Tensor& b) { return comparison(BinaryOp::Eq, "eq", a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return comparison(BinaryOp::Ne, "ne", a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return comparison(BinaryOp::Lt, "lt", a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return comparison(BinaryOp::Le, "le", a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return comparison(BinaryOp::Gt, "gt", a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return comparison(BinaryOp::Ge, "ge", a, b); }
Tensor masked_fill(const Tensor& a, const Tensor& mask, double value) {
  check_defined("masked_fill", a);
  check_mask("masked_fill", mask, a);
  TAPEGRAD_CHECK(broadcast_shapes(mask.shape(), a.shape(), "masked_fill") == a.shape(),
                 "masked_fill: a mask of shape {} does not broadcast to the tensor's shape {}; give a mask whose dims "
                 "are 1 or the tensor's", mask.shape(), a.shape());
  return where(mask, full({}, value, options_of(a)), a);
}

namespace {

// Keeps the elements of the last two dims with column - row <= diagonal (tril) or >= (triu).
Tensor triangle(const char* name, const Tensor& a, std::int64_t diagonal, bool lower) {
  check_defined(name, a);
  TAPEGRAD_CHECK(a.dim() >= 2, "{}: expected a tensor of at least 2 dims, got shape {}", name, a.shape());
  const TensorOptions index_options = TensorOptions(kInt64).with_device(a.device());
  const Tensor rows = reshape(arange(static_cast<double>(a.size(-2)), index_options), {-1, 1});
  const Tensor offset = sub(arange(static_cast<double>(a.size(-1)), index_options), rows);  // column - row
  const Tensor keep = lower ? le(offset, static_cast<double>(diagonal)) : ge(offset, static_cast<double>(diagonal));
  return where(keep, a, zeros({}, options_of(a)));
}

}  // namespace

Tensor tril(const Tensor& a, std::int64_t diagonal) { return triangle("tril", a, diagonal, true); }
Tensor triu(const Tensor& a, std::int64_t diagonal) { return triangle("triu", a, diagonal, false); }

Tensor eq(const Tensor& a, double b) { return scalar_comparison(UnaryOp::EqScalar, "eq", a, b); }
Tensor ne(const Tensor& a, double b) { return scalar_comparison(UnaryOp::NeScalar, "ne", a, b); }
Tensor lt(const Tensor& a, double b) { return scalar_comparison(UnaryOp::LtScalar, "lt", a, b); }
Tensor le(const Tensor& a, double b) { return scalar_comparison(UnaryOp::LeScalar, "le", a, b); }
Tensor gt(const Tensor& a, double b) { return scalar_comparison(UnaryOp::GtScalar, "gt", a, b); }
Tensor ge(const Tensor& a, double b) { return scalar_comparison(UnaryOp::GeScalar, "ge", a, b); }
Tensor sign(const Tensor& a) { check_defined("sign", a); return unary_forward(UnaryOp::Sign, a); }

// ---- logical ops: compositions of comparisons and where over bool masks ----

namespace {
Tensor truth_of(const char* name, const Tensor& a) {
  check_defined(name, a);
  return a.dtype() == kBool ? a : ne(a, 0.0);
}
}  // namespace

Tensor logical_not(const Tensor& a) {
  check_defined("logical_not", a);
  return eq(a, 0.0);  // NaN is true, so its negation false, as torch
}

Tensor logical_and(const Tensor& a, const Tensor& b) {
  check_same_device("logical_and", a, b);
  return where(truth_of("logical_and", a), truth_of("logical_and", b), zeros({}, options_of(a).with_dtype(kBool)));
}

Tensor logical_or(const Tensor& a, const Tensor& b) {
  check_same_device("logical_or", a, b);
  return where(truth_of("logical_or", a), ones({}, options_of(a).with_dtype(kBool)), truth_of("logical_or", b));
}

Tensor logical_xor(const Tensor& a, const Tensor& b) {
  check_same_device("logical_xor", a, b);
  return ne(truth_of("logical_xor", a), truth_of("logical_xor", b));
}

// ---- operators ----

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double b) { return add(a, b); }
Tensor operator-(const Tensor& a, double b) { return sub(a, b); }
Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
Tensor operator/(const Tensor& a, double b) { return div(a, b); }
Tensor operator+(double a, const Tensor& b) { return add(b, a); }
Tensor operator-(double a, const Tensor& b) { return rsub(b, a); }
Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
Tensor operator/(double a, const Tensor& b) { return rdiv(b, a); }
Tensor operator-(const Tensor& a) { return neg(a); }
Tensor operator==(const Tensor& a, const Tensor& b) { return eq(a, b); }
Tensor operator!=(const Tensor& a, const Tensor& b) { return ne(a, b); }
Tensor operator<(const Tensor& a, const Tensor& b) { return lt(a, b); }
Tensor operator<=(const Tensor& a, const Tensor& b) { return le(a, b); }
Tensor operator>(const Tensor& a, const Tensor& b) { return gt(a, b); }
Tensor operator>=(const Tensor& a, const Tensor& b) { return ge(a, b); }
Tensor operator==(const Tensor& a, double b) { return eq(a, b); }
Tensor operator!=(const Tensor& a, double b) { return ne(a, b); }
Tensor operator<(const Tensor& a, double b) { return lt(a, b); }
Tensor operator<=(const Tensor& a, double b) { return le(a, b); }
Tensor operator>(const Tensor& a, double b) { return gt(a, b); }
Tensor operator>=(const Tensor& a, double b) { return ge(a, b); }
Tensor operator!(const Tensor& a) { return logical_not(a); }
Tensor operator~(const Tensor& a) {
  check_defined("operator~", a);
  TAPEGRAD_CHECK(a.dtype() == kBool, "operator~: bitwise not is implemented for bool tensors only, got {} of shape {}; "
                 "use logical_not for the truth of numbers", a.dtype(), a.shape());
  return logical_not(a);
}

// ---- Tensor methods ----

Tensor Tensor::exp() const { return tapegrad::exp(*this); }
Tensor Tensor::log() const { return tapegrad::log(*this); }
Tensor Tensor::sqrt() const { return tapegrad::sqrt(*this); }
Tensor Tensor::abs() const { return tapegrad::abs(*this); }
Tensor Tensor::pow(double exponent) const { return tapegrad::pow(*this, exponent); }
Tensor Tensor::pow(const Tensor& exponent) const { return tapegrad::pow(*this, exponent); }
Tensor Tensor::relu() const { return tapegrad::relu(*this); }
Tensor Tensor::sigmoid() const { return tapegrad::sigmoid(*this); }
Tensor Tensor::tanh() const { return tapegrad::tanh(*this); }

}  // namespace tapegrad
