// Elementwise ops with broadcasting, their gradients (written with differentiable ops, so they
// can be differentiated again), and comparisons. The in-place updates are in inplace.cpp.
#include <cmath>
#include <limits>
#include <numbers>

#include <tapegrad/autodiff/ops/common.h>

namespace tapegrad {

using kernels::BinaryOp;
using kernels::UnaryOp;
using kernels::UnaryScalars;
using namespace detail;

namespace {

Tensor unary_forward(UnaryOp op, const Tensor& a, const UnaryScalars& scalars = {}) {
  Tensor out = empty(a.shape(), options_of(a));
  backend_of(a).unary(op, a.desc(), out.desc(), scalars);
  return out;
}

Tensor binary_forward(BinaryOp op, const char* name, const Tensor& a, const Tensor& b, double alpha = 1) {
  check_compatible(name, a, b);
  const Shape shape = a.shape() == b.shape() ? a.shape() : broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = empty(shape, options_of(a));
  backend_of(a).binary(op, broadcast_desc(a, shape), broadcast_desc(b, shape), out.desc(), alpha);
  return out;
}

// A float-only unary op.
Tensor floating_unary(UnaryOp op, const char* name, const Tensor& a, const UnaryScalars& scalars = {}) {
  check_floating(name, a);
  return unary_forward(op, a, scalars);
}

// Gradient of a binary op for one operand: reduce over the dims broadcasting expanded.
Tensor reduce_grad(const Tensor& grad, const Shape& shape) { return sum_to(grad, shape); }

Tensor comparison(BinaryOp op, const char* name, const Tensor& a, const Tensor& b) {
  return binary_forward(op, name, a, b);
}

}  // namespace

// ---- binary arithmetic ----

Tensor add(const Tensor& a, const Tensor& b, double alpha) {
  Tensor out = binary_forward(BinaryOp::Add, "add", a, b, alpha);
  if (should_record(a, b))
    record("add", out, {a, b}, [sa = a.shape(), sb = b.shape(), alpha](BackwardContext& ctx) {
      if (ctx.needs_input_grad(0)) ctx.set_input_grad(0, reduce_grad(ctx.grad(), sa));
      if (ctx.needs_input_grad(1))
        ctx.set_input_grad(1, reduce_grad(alpha == 1 ? ctx.grad() : mul(ctx.grad(), alpha), sb));
    });
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b, double alpha) {
  Tensor out = binary_forward(BinaryOp::Sub, "sub", a, b, alpha);
  if (should_record(a, b))
    record("sub", out, {a, b}, [sa = a.shape(), sb = b.shape(), alpha](BackwardContext& ctx) {
      if (ctx.needs_input_grad(0)) ctx.set_input_grad(0, reduce_grad(ctx.grad(), sa));
      if (ctx.needs_input_grad(1)) ctx.set_input_grad(1, reduce_grad(mul(ctx.grad(), -alpha), sb));
    });
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::Mul, "mul", a, b);
  if (should_record(a, b))
    record("mul", out, {a, b},
           [sa = SavedTensor::input(a), sb = SavedTensor::input(b)](BackwardContext& ctx) {
             const Tensor a = ctx.unpack(sa), b = ctx.unpack(sb);
             if (a.is_same(b)) {  // a square: one product, 2 g a, instead of two summed
               if (ctx.needs_input_grad(0)) ctx.set_input_grad(0, mul(mul(ctx.grad(), a), 2.0));
               return;
             }
             if (ctx.needs_input_grad(0)) ctx.set_input_grad(0, reduce_grad(mul(ctx.grad(), b), a.shape()));
             if (ctx.needs_input_grad(1)) ctx.set_input_grad(1, reduce_grad(mul(ctx.grad(), a), b.shape()));
           });
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  check_floating("div", a);
  Tensor out = binary_forward(BinaryOp::Div, "div", a, b);
  if (should_record(a, b))
    record("div", out, {a, b},
           [sa = SavedTensor::input(a), sb = SavedTensor::input(b)](BackwardContext& ctx) {
             const Tensor a = ctx.unpack(sa), b = ctx.unpack(sb);
             if (ctx.needs_input_grad(0)) ctx.set_input_grad(0, reduce_grad(div(ctx.grad(), b), a.shape()));
             if (ctx.needs_input_grad(1))  // d(a/b)/db = -a / b^2
               ctx.set_input_grad(1, reduce_grad(neg(div(mul(ctx.grad(), a), mul(b, b))), b.shape()));
           });
  return out;
}

// ---- scalar forms ----

Tensor add(const Tensor& a, double b) {
  check_defined("add", a);
  Tensor out = unary_forward(UnaryOp::AddScalar, a, UnaryScalars::operand(b));
  if (should_record(a)) record("add", out, {a}, [](BackwardContext& ctx) { ctx.set_input_grad(0, ctx.grad()); });
  return out;
}

Tensor sub(const Tensor& a, double b) { return add(a, -b); }

Tensor rsub(const Tensor& a, double b) {
  check_defined("rsub", a);
  Tensor out = unary_forward(UnaryOp::RSubScalar, a, UnaryScalars::operand(b));
  if (should_record(a)) record("rsub", out, {a}, [](BackwardContext& ctx) { ctx.set_input_grad(0, neg(ctx.grad())); });
  return out;
}

Tensor mul(const Tensor& a, double b) {
  check_defined("mul", a);
  Tensor out = unary_forward(UnaryOp::MulScalar, a, UnaryScalars::operand(b));
  if (should_record(a)) record("mul", out, {a}, [b](BackwardContext& ctx) { ctx.set_input_grad(0, mul(ctx.grad(), b)); });
  return out;
}

Tensor div(const Tensor& a, double b) {
  check_floating("div", a);
  return mul(a, 1.0 / b);
}

Tensor rdiv(const Tensor& a, double b) {
  Tensor out = floating_unary(UnaryOp::RDivScalar, "rdiv", a, UnaryScalars::operand(b));
  if (should_record(a))
    record("rdiv", out, {a}, [sa = SavedTensor::input(a), b](BackwardContext& ctx) {
      const Tensor a = ctx.unpack(sa);  // d(b/a)/da = -b / a^2
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
  Tensor out = floating_unary(UnaryOp::PowScalar, "pow", base, UnaryScalars::operand(exponent));
  if (should_record(base))
    record("pow", out, {base}, [sa = SavedTensor::input(base), exponent](BackwardContext& ctx) {
      if (exponent == 0) {
        ctx.set_input_grad(0, zeros_like(ctx.grad()));
        return;
      }
      const Tensor a = ctx.unpack(sa);  // p * a^(p-1)
      const Tensor derivative = exponent == 2 ? mul(a, 2.0) : mul(pow(a, exponent - 1), exponent);
      ctx.set_input_grad(0, mul(ctx.grad(), derivative));
    });
  return out;
}

Tensor pow(const Tensor& base, const Tensor& exponent) {
  check_floating("pow", base);
  Tensor out = binary_forward(BinaryOp::Pow, "pow", base, exponent);
  if (should_record(base, exponent))
    record("pow", out, {base, exponent},
           [sa = SavedTensor::input(base), sb = SavedTensor::input(exponent),
            so = SavedTensor::output(out)](BackwardContext& ctx) {
             const Tensor a = ctx.unpack(sa), b = ctx.unpack(sb);
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
  Tensor out = floating_unary(UnaryOp::RPowScalar, "pow", exponent, UnaryScalars::operand(base));
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
  Tensor out = floating_unary(UnaryOp::Exp, "exp", a);
  if (should_record(a))
    record("exp", out, {a}, [so = SavedTensor::output(out)](BackwardContext& ctx) {
      ctx.set_input_grad(0, mul(ctx.grad(), ctx.unpack(so)));
    });
  return out;
}

Tensor log(const Tensor& a) {
  Tensor out = floating_unary(UnaryOp::Log, "log", a);
  if (should_record(a))
    record("log", out, {a}, [sa = SavedTensor::input(a)](BackwardContext& ctx) {
      ctx.set_input_grad(0, div(ctx.grad(), ctx.unpack(sa)));
    });
  return out;
}

Tensor sqrt(const Tensor& a) {
  Tensor out = floating_unary(UnaryOp::Sqrt, "sqrt", a);
  if (should_record(a))
    record("sqrt", out, {a}, [so = SavedTensor::output(out)](BackwardContext& ctx) {
      ctx.set_input_grad(0, div(ctx.grad(), mul(ctx.unpack(so), 2.0)));
    });
  return out;
}

Tensor rsqrt(const Tensor& a) {
  Tensor out = floating_unary(UnaryOp::Rsqrt, "rsqrt", a);
  if (should_record(a))
    record("rsqrt", out, {a}, [so = SavedTensor::output(out)](BackwardContext& ctx) {
      const Tensor r = ctx.unpack(so);  // d/dx x^(-1/2) = -1/2 x^(-3/2) = -1/2 r^3
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
  Tensor out = floating_unary(UnaryOp::Sin, "sin", a);
  if (should_record(a))
    record("sin", out, {a}, [sa = SavedTensor::input(a)](BackwardContext& ctx) {
      ctx.set_input_grad(0, mul(ctx.grad(), cos(ctx.unpack(sa))));
    });
  return out;
}

Tensor cos(const Tensor& a) {
  Tensor out = floating_unary(UnaryOp::Cos, "cos", a);
  if (should_record(a))
    record("cos", out, {a}, [sa = SavedTensor::input(a)](BackwardContext& ctx) {
      ctx.set_input_grad(0, neg(mul(ctx.grad(), sin(ctx.unpack(sa)))));
    });
  return out;
}

Tensor tanh(const Tensor& a) {
  Tensor out = floating_unary(UnaryOp::Tanh, "tanh", a);
  if (should_record(a))
    record("tanh", out, {a}, [so = SavedTensor::output(out)](BackwardContext& ctx) {
      const Tensor y = ctx.unpack(so);  // 1 - tanh^2
      ctx.set_input_grad(0, mul(ctx.grad(), rsub(mul(y, y), 1.0)));
    });
  return out;
}

Tensor sigmoid(const Tensor& a) {
  Tensor out = floating_unary(UnaryOp::Sigmoid, "sigmoid", a);
  if (should_record(a))
    record("sigmoid", out, {a}, [so = SavedTensor::output(out)](BackwardContext& ctx) {
      const Tensor y = ctx.unpack(so);  // s (1 - s)
      ctx.set_input_grad(0, mul(ctx.grad(), mul(y, rsub(y, 1.0))));
    });
  return out;
}

Tensor log1p(const Tensor& a) {
  Tensor out = floating_unary(UnaryOp::Log1p, "log1p", a);
  if (should_record(a))
    record("log1p", out, {a}, [sa = SavedTensor::input(a)](BackwardContext& ctx) {
      ctx.set_input_grad(0, div(ctx.grad(), add(ctx.unpack(sa), 1.0)));
    });
  return out;
}

Tensor erf(const Tensor& a) {
  Tensor out = floating_unary(UnaryOp::Erf, "erf", a);
  if (should_record(a))
    record("erf", out, {a}, [sa = SavedTensor::input(a)](BackwardContext& ctx) {
      const Tensor x = ctx.unpack(sa);  // 2 / sqrt(pi) exp(-x^2)
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

namespace {
// The gradient where the input is positive, else 0 (0 at the kink, as PyTorch), in one pass. It
// is linear in the gradient, so its own backward is itself; the input gets no gradient.
Tensor relu_backward(const Tensor& grad, const Tensor& input) {
  Tensor out = binary_forward(BinaryOp::ReluGrad, "relu_backward", grad, input);
  if (should_record(grad))
    record("relu_backward", out, {grad}, [si = SavedTensor::input(input)](BackwardContext& ctx) {
      ctx.set_input_grad(0, relu_backward(ctx.grad(), ctx.unpack(si)));
    });
  return out;
}
}  // namespace

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
      const Tensor x = ctx.unpack(sa);  // passes where lo <= x <= hi
      ctx.set_input_grad(0, mul(ctx.grad(), mul(ge(x, lo), le(x, hi))));
    });
  return out;
}

// minimum/maximum: the gradient goes to the selected operand and is split evenly on ties.
namespace {
Tensor min_max(BinaryOp op, const char* name, const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(op, name, a, b);
  if (should_record(a, b))
    record(name, out, {a, b},
           [sa = SavedTensor::input(a), sb = SavedTensor::input(b),
            take_max = op == BinaryOp::Maximum](BackwardContext& ctx) {
             const Tensor x = ctx.unpack(sa), y = ctx.unpack(sb);
             const Tensor a_wins = add(take_max ? gt(x, y) : lt(x, y), mul(eq(x, y), 0.5));
             if (ctx.needs_input_grad(0)) ctx.set_input_grad(0, reduce_grad(mul(ctx.grad(), a_wins), x.shape()));
             if (ctx.needs_input_grad(1))
               ctx.set_input_grad(1, reduce_grad(mul(ctx.grad(), rsub(a_wins, 1.0)), y.shape()));
           });
  return out;
}
}  // namespace

Tensor minimum(const Tensor& a, const Tensor& b) { return min_max(BinaryOp::Minimum, "minimum", a, b); }
Tensor maximum(const Tensor& a, const Tensor& b) { return min_max(BinaryOp::Maximum, "maximum", a, b); }

Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b) {
  check_defined("where", condition);
  check_compatible("where", a, b);
  TAPEGRAD_CHECK(condition.device() == a.device(), "where: condition is on {} but the values are on {}",
                 condition.device(), a.device());
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
  check_defined("masked_fill", mask);
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

Tensor eq(const Tensor& a, double b) { check_defined("eq", a); return unary_forward(UnaryOp::EqScalar, a, UnaryScalars::operand(b)); }
Tensor ne(const Tensor& a, double b) { check_defined("ne", a); return unary_forward(UnaryOp::NeScalar, a, UnaryScalars::operand(b)); }
Tensor lt(const Tensor& a, double b) { check_defined("lt", a); return unary_forward(UnaryOp::LtScalar, a, UnaryScalars::operand(b)); }
Tensor le(const Tensor& a, double b) { check_defined("le", a); return unary_forward(UnaryOp::LeScalar, a, UnaryScalars::operand(b)); }
Tensor gt(const Tensor& a, double b) { check_defined("gt", a); return unary_forward(UnaryOp::GtScalar, a, UnaryScalars::operand(b)); }
Tensor ge(const Tensor& a, double b) { check_defined("ge", a); return unary_forward(UnaryOp::GeScalar, a, UnaryScalars::operand(b)); }
Tensor sign(const Tensor& a) { check_defined("sign", a); return unary_forward(UnaryOp::Sign, a); }

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
