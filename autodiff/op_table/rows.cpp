#include <tapegrad/autodiff/op_table/rows.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include <fmt/format.h>

#include <tapegrad/autodiff/grad_mode.h>

namespace tapegrad::op_rows {

Tensor SampleInputs::uniform(const Shape& shape, double low, double high) {
  return tapegrad::uniform(shape, low, high, generator_, kFloat64);
}

Tensor SampleInputs::in_domain(const Shape& shape, const OpDomain& domain) {
  std::vector<double> values(static_cast<std::size_t>(numel_of(shape)));
  const auto near_kink = [&](double value) {
    return std::any_of(domain.kinks.begin(), domain.kinks.end(),
                       [&](double kink) { return std::abs(value - kink) < domain.margin; });
  };
  for (double& value : values) {
    do value = domain.low + (domain.high - domain.low) * generator_.next_double();
    while (near_kink(value));
  }
  return from_vector(values, shape);
}

Tensor SampleInputs::stored_transposed(const Tensor& x) {
  NoGradGuard no_grad;
  if (x.dim() < 2) return x;
  return clone(x.transpose(-1, -2)).transpose(-1, -2);
}

Tensor SampleInputs::indices(const std::vector<std::int64_t>& values, const Shape& shape) {
  return from_vector(values, shape);
}

Tensor SampleInputs::mask(const std::vector<double>& values, const Shape& shape) {
  return from_vector(values, shape).to(kBool);
}

std::string describe(const Tensor& t) {
  return fmt::format("[{}]{}", fmt::join(t.shape(), ","), t.is_contiguous() ? "" : "^T");
}

RowBuilder::RowBuilder(std::string name, int arity, OpDTypes dtypes, std::vector<int> differentiable,
                       SampleInputs& inputs)
    : inputs_(inputs) {
  info_.name = std::move(name);
  info_.arity = arity;
  info_.dtypes = dtypes;
  info_.differentiable_inputs = std::move(differentiable);
}

RowBuilder& RowBuilder::domain(OpDomain domain) {
  info_.domain = std::move(domain);
  return *this;
}

RowBuilder& RowBuilder::first_order_only() {
  info_.second_order = false;
  return *this;
}

RowBuilder& RowBuilder::promotes_dtypes() {
  info_.promotes_dtypes = true;
  return *this;
}

RowBuilder& RowBuilder::contiguous_inputs_only() {
  info_.strided_inputs = false;
  return *this;
}

RowBuilder& RowBuilder::tolerances(GradcheckOptions options) {
  info_.tolerances = options;
  return *this;
}

Tensor RowBuilder::x(const Shape& shape) { return inputs_.in_domain(shape, info_.domain); }

Tensor RowBuilder::xt(const Shape& shape) { return SampleInputs::stored_transposed(x(shape)); }

RowBuilder& RowBuilder::sample(const std::string& detail, Inputs inputs, GradcheckFunction call,
                               GradcheckFunction reference) {
  std::string shapes;
  for (int position : info_.differentiable_inputs) {
    const auto i = static_cast<std::size_t>(position);
    if (i >= inputs.size() || !inputs[i].defined() || !inputs[i].is_floating_point()) continue;
    inputs[i].requires_grad_();
    shapes += (shapes.empty() ? "" : " x ") + describe(inputs[i]);
  }
  if (!detail.empty()) shapes += (shapes.empty() ? "" : ", ") + detail;
  info_.samples.push_back({std::move(shapes), std::move(inputs), std::move(call), std::move(reference)});
  return *this;
}

RowBuilder& RowBuilder::error(const std::string& detail, Inputs inputs, GradcheckFunction call,
                              std::vector<std::string> mentions) {
  mentions.insert(mentions.begin(), info_.name);
  info_.errors.push_back({detail, std::move(inputs), std::move(call), std::move(mentions)});
  return *this;
}

RowBuilder& RowBuilder::unary_samples(const std::function<Tensor(const Tensor&)>& op,
                                      const std::function<double(double)>& scalar) {
  const GradcheckFunction call = [op](const Inputs& v) { return op(v[0]); };
  const GradcheckFunction reference = [scalar](const Inputs& v) { return reference::unary(v[0], scalar); };
  for (const Tensor& input : {x({2, 3}), x({}), x({0, 3}), xt({3, 2}), x({1, 4})}) sample("", {input}, call, reference);
  return *this;
}

RowBuilder& RowBuilder::binary_samples(const std::function<Tensor(const Tensor&, const Tensor&)>& op,
                                       const std::function<double(double, double)>& scalar) {
  const GradcheckFunction call = [op](const Inputs& v) { return op(v[0], v[1]); };
  const GradcheckFunction reference = [scalar](const Inputs& v) { return reference::binary(v[0], v[1], scalar); };
  const std::pair<Shape, Shape> shapes[] = {{{2, 3}, {2, 3}}, {{3, 1}, {1, 4}}, {{2, 3}, {3}},
                                            {{2, 3}, {}},     {{}, {2, 3}},     {{0, 3}, {3}}};
  for (const auto& [a, b] : shapes) sample("", {x(a), x(b)}, call, reference);
  sample("", {xt({2, 3}), x({2, 3})}, call, reference);
  sample("", {x({2, 3}), xt({2, 3})}, call, reference);
  error("shapes [2,3] and [4]", {x({2, 3}), x({4})}, call, {"broadcast", "[2, 3]", "[4]"});
  return *this;
}

OpInfo RowBuilder::build() { return std::move(info_); }

}  // namespace tapegrad::op_rows
