// Rows of the elementwise ops: arithmetic with its scalar forms, pow in its three forms, the
// unary functions (rsqrt, floor and round among them), the activations gelu, silu and leaky_relu,
// clamp, minimum/maximum, where, masked_fill, tril and triu.
#include <algorithm>
#include <cmath>
#include <numbers>

#include <tapegrad/autodiff/op_table/rows.h>

namespace tapegrad::op_rows {
namespace {

constexpr auto kFloating = OpDTypes::Floating;
constexpr auto kWithInt64 = OpDTypes::FloatingAndInt64;
constexpr auto kInt64ToFloat32 = OpDTypes::Int64ToFloat32;
const OpDomain kPositive = OpDomain::between(0.5, 2.0);

// A scalar form `op(x, s)`: the row's usual unary samples with s fixed.
void scalar_form(RowBuilder& row, const std::string& detail, const std::function<Tensor(const Tensor&)>& op,
                 const std::function<double(double)>& scalar) {
  const GradcheckFunction call = [op](const Inputs& v) { return op(v[0]); };
  const GradcheckFunction reference = [scalar](const Inputs& v) { return reference::unary(v[0], scalar); };
  row.sample(detail, {row.x({2, 3})}, call, reference);
  row.sample(detail, {row.xt({3, 2})}, call, reference);
  row.sample(detail, {row.x({})}, call, reference);
}

OpInfo add_row(SampleInputs& in) {
  RowBuilder row("add", 2, kWithInt64, {0, 1}, in);
  row.promotes_dtypes();
  row.binary_samples([](const Tensor& a, const Tensor& b) { return add(a, b); }, std::plus<double>());
  row.sample("alpha 0.5", {row.x({2, 3}), row.x({3})}, [](const Inputs& v) { return add(v[0], v[1], 0.5); },
             [](const Inputs& v) { return reference::binary(v[0], v[1], [](double a, double b) { return a + 0.5 * b; }); });
  scalar_form(row, "scalar 2.5", [](const Tensor& a) { return add(a, 2.5); }, [](double a) { return a + 2.5; });
  return row.build();
}

OpInfo sub_row(SampleInputs& in) {
  RowBuilder row("sub", 2, kWithInt64, {0, 1}, in);
  row.promotes_dtypes();
  row.binary_samples([](const Tensor& a, const Tensor& b) { return sub(a, b); }, std::minus<double>());
  row.sample("alpha 2", {row.x({3, 1}), row.x({1, 4})}, [](const Inputs& v) { return sub(v[0], v[1], 2.0); },
             [](const Inputs& v) { return reference::binary(v[0], v[1], [](double a, double b) { return a - 2 * b; }); });
  scalar_form(row, "scalar 1.5", [](const Tensor& a) { return sub(a, 1.5); }, [](double a) { return a - 1.5; });
  return row.build();
}

OpInfo mul_row(SampleInputs& in) {
  RowBuilder row("mul", 2, kWithInt64, {0, 1}, in);
  row.promotes_dtypes();
  row.binary_samples([](const Tensor& a, const Tensor& b) { return mul(a, b); }, std::multiplies<double>());
  row.sample("x * x", {row.x({2, 3})}, [](const Inputs& v) { return mul(v[0], v[0]); },
             [](const Inputs& v) { return reference::unary(v[0], [](double a) { return a * a; }); });
  scalar_form(row, "scalar -1.5", [](const Tensor& a) { return mul(a, -1.5); }, [](double a) { return -1.5 * a; });
  return row.build();
}

OpInfo div_row(SampleInputs& in) {
  RowBuilder row("div", 2, kInt64ToFloat32, {0, 1}, in);
  row.domain(kPositive).promotes_dtypes();
  row.binary_samples([](const Tensor& a, const Tensor& b) { return div(a, b); }, std::divides<double>());
  scalar_form(row, "scalar 4", [](const Tensor& a) { return div(a, 4.0); }, [](double a) { return a / 4; });
  return row.build();
}

OpInfo rsub_row(SampleInputs& in) {
  RowBuilder row("rsub", 1, kWithInt64, {0}, in);
  scalar_form(row, "2 - x", [](const Tensor& a) { return rsub(a, 2.0); }, [](double a) { return 2 - a; });
  return row.build();
}

OpInfo rdiv_row(SampleInputs& in) {
  RowBuilder row("rdiv", 1, kInt64ToFloat32, {0}, in);
  row.domain(kPositive);
  scalar_form(row, "3 / x", [](const Tensor& a) { return rdiv(a, 3.0); }, [](double a) { return 3 / a; });
  return row.build();
}

OpInfo pow_row(SampleInputs& in) {
  RowBuilder row("pow", 2, kFloating, {0, 1}, in);
  row.domain(kPositive).promotes_dtypes();
  row.binary_samples([](const Tensor& a, const Tensor& b) { return pow(a, b); },
                     [](double a, double b) { return std::pow(a, b); });
  for (double exponent : {3.0, 2.0, 0.0, 0.5, -1.5})
    scalar_form(row, fmt::format("exponent {}", exponent), [exponent](const Tensor& a) { return pow(a, exponent); },
                [exponent](double a) { return std::pow(a, exponent); });
  // Integer exponents also take negative bases.
  row.sample("exponent 3", {in.uniform({2, 3}, -1, 1)}, [](const Inputs& v) { return pow(v[0], 3.0); },
             [](const Inputs& v) { return reference::unary(v[0], [](double a) { return a * a * a; }); });
  for (double base : {2.5, 0.5})
    scalar_form(row, fmt::format("scalar base {}", base), [base](const Tensor& a) { return pow(base, a); },
                [base](double a) { return std::pow(base, a); });
  return row.build();
}

OpInfo unary_row(const std::string& name, OpDTypes dtypes, OpDomain domain, Tensor (*op)(const Tensor&),
                 double (*scalar)(double), SampleInputs& in) {
  RowBuilder row(name, 1, dtypes, {0}, in);
  row.domain(std::move(domain));
  row.unary_samples(op, scalar);
  return row.build();
}

OpInfo clamp_row(SampleInputs& in) {
  RowBuilder row("clamp", 1, kWithInt64, {0}, in);
  row.domain(OpDomain::avoiding({-0.5, -0.3, 0.2, 0.5}));
  const auto bounded = [&](std::optional<double> low, std::optional<double> high, const std::string& detail) {
    const double lo = low.value_or(-INFINITY), hi = high.value_or(INFINITY);
    scalar_form(row, detail, [low, high](const Tensor& a) { return clamp(a, low, high); },
                [lo, hi](double a) { return std::min(std::max(a, lo), hi); });
  };
  bounded(-0.5, 0.5, "[-0.5, 0.5]");
  bounded(-0.3, std::nullopt, "low -0.3");
  bounded(std::nullopt, 0.2, "high 0.2");
  row.error("no bounds", {row.x({2})}, [](const Inputs& v) { return clamp(v[0], std::nullopt, std::nullopt); },
            {"low and high"});
  return row.build();
}

OpInfo extremum_row(const std::string& name, Tensor (*op)(const Tensor&, const Tensor&), double (*scalar)(double, double),
                    SampleInputs& in) {
  RowBuilder row(name, 2, kWithInt64, {0, 1}, in);
  row.promotes_dtypes().binary_samples(op, scalar);
  return row.build();
}

OpInfo softplus_row(SampleInputs& in) {
  RowBuilder row("softplus", 1, kFloating, {0}, in);
  row.domain(OpDomain::between(-3, 3));
  const auto softplus_of = [](double beta, double threshold) {
    return [beta, threshold](double x) { return beta * x > threshold ? x : std::log(1 + std::exp(beta * x)) / beta; };
  };
  row.unary_samples([](const Tensor& a) { return softplus(a); }, softplus_of(1, 20));
  // Both sides of the switch to the linear region at x = 0.5 (the value jumps there).
  OpDomain around_switch = OpDomain::avoiding({0.5});
  row.sample("beta 2, threshold 1", {in.in_domain({3, 4}, around_switch)},
             [](const Inputs& v) { return softplus(v[0], 2, 1); },
             [softplus_of](const Inputs& v) { return reference::unary(v[0], softplus_of(2, 1)); });
  row.error("beta 0", {row.x({2})}, [](const Inputs& v) { return softplus(v[0], 0); }, {"beta"});
  return row.build();
}

OpInfo where_row(SampleInputs& in) {
  RowBuilder row("where", 3, kWithInt64, {1, 2}, in);
  row.promotes_dtypes();
  const GradcheckFunction call = [](const Inputs& v) { return where(v[0], v[1], v[2]); };
  const GradcheckFunction reference = [](const Inputs& v) {
    return reference::elementwise(v, [](std::span<const double> e) { return e[0] != 0 ? e[1] : e[2]; });
  };
  using SI = SampleInputs;
  row.sample("mask [2,3]", {SI::mask({1, 0, 0, 1, 1, 0}, {2, 3}), row.x({2, 3}), row.x({2, 3})}, call, reference);
  row.sample("mask [3,1]", {SI::mask({0, 1, 1}, {3, 1}), row.x({1, 4}), row.x({})}, call, reference);
  row.sample("mask [3]", {SI::mask({1, 0, 1}, {3}), row.xt({2, 3}), row.x({2, 1})}, call, reference);
  row.sample("mask [0,3]", {SI::mask({}, {0, 3}), row.x({3}), row.x({0, 3})}, call, reference);
  row.error("mask [2] against [3]", {SI::mask({1, 0}, {2}), row.x({3}), row.x({3})}, call, {"broadcast"});
  row.error("float64 mask", {row.x({3}), row.x({3}), row.x({3})}, call, {"bool", "float64", "kBool"});
  return row.build();
}

OpInfo masked_fill_row(SampleInputs& in) {
  RowBuilder row("masked_fill", 2, kWithInt64, {0}, in);
  const auto mask = SampleInputs::mask;
  const auto filled = [](double value) {
    return [value](const Inputs& v) { return reference::binary(v[0], v[1], [value](double a, double m) { return m != 0 ? value : a; }); };
  };
  row.sample("mask [2,3], 7", {row.x({2, 3}), mask({1, 0, 0, 1, 1, 0}, {2, 3})},
             [](const Inputs& v) { return masked_fill(v[0], v[1], 7); }, filled(7));
  row.sample("mask [3,1], -1", {row.xt({3, 4}), mask({0, 1, 1}, {3, 1})},
             [](const Inputs& v) { return masked_fill(v[0], v[1], -1); }, filled(-1));
  row.sample("mask [], 2", {row.x({2, 2}), mask({1}, {})}, [](const Inputs& v) { return masked_fill(v[0], v[1], 2); },
             filled(2));
  row.error("mask [2,3] for [3]", {row.x({3}), mask({1, 0, 0, 1, 1, 0}, {2, 3})},
            [](const Inputs& v) { return masked_fill(v[0], v[1], 0); }, {"does not broadcast", "[3]"});
  row.error("int64 mask", {row.x({3}), mask({1, 0, 1}, {3}).to(kInt64)},
            [](const Inputs& v) { return masked_fill(v[0], v[1], 0); }, {"bool", "int64", "kBool"});
  return row.build();
}

// tril or triu: x where column - row passes the diagonal test, zero elsewhere.
OpInfo triangle_row(const std::string& name, SampleInputs& in) {
  const bool lower = name == "tril";
  RowBuilder row(name, 1, kWithInt64, {0}, in);
  const auto triangle = [lower](std::int64_t diagonal) {
    return [lower, diagonal](const Inputs& v) {
      return reference::generate(v[0].shape(), [&](const reference::Index& index) {
        const std::int64_t offset = index[index.size() - 1] - index[index.size() - 2];
        return (lower ? offset <= diagonal : offset >= diagonal) ? reference::at(v[0], index) : 0.0;
      });
    };
  };
  const auto band = [&](Tensor x, std::int64_t diagonal) {
    row.sample(fmt::format("diagonal {}", diagonal), {std::move(x)},
               [lower, diagonal](const Inputs& v) { return lower ? tril(v[0], diagonal) : triu(v[0], diagonal); },
               triangle(diagonal));
  };
  band(row.x({3, 4}), 0);
  band(row.xt({4, 3}), 1);
  band(row.x({2, 3, 3}), -1);
  band(row.x({0, 2}), 0);
  row.error("a vector", {row.x({3})}, [lower](const Inputs& v) { return lower ? tril(v[0]) : triu(v[0]); },
            {"at least 2 dims", "[3]"});
  return row.build();
}

OpInfo gelu_row(SampleInputs& in) {
  RowBuilder row("gelu", 1, kFloating, {0}, in);
  row.domain(OpDomain::between(-3, 3));
  row.unary_samples([](const Tensor& a) { return gelu(a); },
                    [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); });
  scalar_form(row, "tanh approximation", [](const Tensor& a) { return gelu(a, GeluApproximation::Tanh); },
              [](double x) { return 0.5 * x * (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * (x + 0.044715 * x * x * x))); });
  return row.build();
}

OpInfo silu_row(SampleInputs& in) {
  RowBuilder row("silu", 1, kFloating, {0}, in);
  row.domain(OpDomain::between(-3, 3));
  row.unary_samples(silu, [](double x) { return x / (1 + std::exp(-x)); });
  return row.build();
}

OpInfo leaky_relu_row(SampleInputs& in) {
  RowBuilder row("leaky_relu", 1, kFloating, {0}, in);
  row.domain(OpDomain::avoiding({0}));
  row.unary_samples([](const Tensor& a) { return leaky_relu(a); }, [](double x) { return x > 0 ? x : 0.01 * x; });
  scalar_form(row, "slope 0.2", [](const Tensor& a) { return leaky_relu(a, 0.2); },
              [](double x) { return x > 0 ? x : 0.2 * x; });
  return row.build();
}

double sigmoid_of(double x) { return 1 / (1 + std::exp(-x)); }
double log1p_of(double x) { return std::log1p(x); }
double erf_of(double x) { return std::erf(x); }
double relu_of(double x) { return x > 0 ? x : 0; }
double neg_of(double x) { return -x; }
double minimum_of(double a, double b) { return std::min(a, b); }
double maximum_of(double a, double b) { return std::max(a, b); }
double exp_of(double x) { return std::exp(x); }
double log_of(double x) { return std::log(x); }
double sqrt_of(double x) { return std::sqrt(x); }
double rsqrt_of(double x) { return 1 / std::sqrt(x); }
double floor_of(double x) { return std::floor(x); }
double round_of(double x) { return std::nearbyint(x); }
double abs_of(double x) { return std::abs(x); }
double sin_of(double x) { return std::sin(x); }
double cos_of(double x) { return std::cos(x); }
double tanh_of(double x) { return std::tanh(x); }

}  // namespace

std::vector<OpInfo> elementwise_rows(SampleInputs& in) {
  const OpDomain symmetric = OpDomain::between(-2, 2);
  const OpDomain away_from_zero = OpDomain::avoiding({0});
  std::vector<OpInfo> rows;
  for (auto row : {add_row, sub_row, mul_row, div_row, rsub_row, rdiv_row, pow_row, clamp_row, softplus_row, where_row,
                   masked_fill_row, gelu_row, silu_row, leaky_relu_row})
    rows.push_back(row(in));
  rows.push_back(triangle_row("tril", in));
  rows.push_back(triangle_row("triu", in));
  rows.push_back(unary_row("neg", kWithInt64, {}, neg, neg_of, in));
  rows.push_back(unary_row("exp", kInt64ToFloat32, {}, exp, exp_of, in));
  rows.push_back(unary_row("log", kInt64ToFloat32, kPositive, log, log_of, in));
  rows.push_back(unary_row("sqrt", kInt64ToFloat32, kPositive, sqrt, sqrt_of, in));
  rows.push_back(unary_row("rsqrt", kInt64ToFloat32, kPositive, rsqrt, rsqrt_of, in));
  rows.push_back(unary_row("floor", kWithInt64, {.low = -2.5, .high = 2.5, .kinks = {-2, -1, 0, 1, 2}}, floor,
                           floor_of, in));
  rows.push_back(unary_row("round", kWithInt64, {.low = -2.4, .high = 2.4, .kinks = {-1.5, -0.5, 0.5, 1.5}}, round,
                           round_of, in));
  rows.push_back(unary_row("abs", kWithInt64, away_from_zero, abs, abs_of, in));
  rows.push_back(unary_row("sin", kInt64ToFloat32, symmetric, sin, sin_of, in));
  rows.push_back(unary_row("cos", kInt64ToFloat32, symmetric, cos, cos_of, in));
  rows.push_back(unary_row("tanh", kInt64ToFloat32, symmetric, tanh, tanh_of, in));
  rows.push_back(unary_row("sigmoid", kInt64ToFloat32, symmetric, sigmoid, sigmoid_of, in));
  rows.push_back(unary_row("log1p", kInt64ToFloat32, OpDomain::between(-0.5, 2), log1p, log1p_of, in));
  rows.push_back(unary_row("erf", kInt64ToFloat32, symmetric, erf, erf_of, in));
  rows.push_back(unary_row("relu", kWithInt64, away_from_zero, relu, relu_of, in));
  rows.push_back(extremum_row("minimum", minimum, minimum_of, in));
  rows.push_back(extremum_row("maximum", maximum, maximum_of, in));
  return rows;
}

}  // namespace tapegrad::op_rows
