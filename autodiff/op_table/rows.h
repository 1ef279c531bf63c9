// How the op table's rows are written: a RowBuilder per op collects its facts and its sample
// calls, drawing reproducible float64 inputs in the row's domain. Each family of ops has one
// function returning its rows (autodiff/op_table/<family>.cpp); op_table.cpp joins them.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <tapegrad/autodiff/generator.h>
#include <tapegrad/autodiff/op_table.h>
#include <tapegrad/autodiff/op_table/reference.h>
#include <tapegrad/autodiff/ops.h>

namespace tapegrad::op_rows {

using Inputs = std::vector<Tensor>;

// Reproducible float64 CPU inputs.
class SampleInputs {
 public:
  explicit SampleInputs(std::uint64_t seed) : generator_(seed) {}
  Tensor uniform(const Shape& shape, double low, double high);
  // Uniform in the domain, redrawn until at least domain.margin from every kink.
  Tensor in_domain(const Shape& shape, const OpDomain& domain);
  // The same values as x, stored transposed: a non-contiguous view with x's shape.
  static Tensor stored_transposed(const Tensor& x);
  static Tensor indices(const std::vector<std::int64_t>& values, const Shape& shape);
  static Tensor mask(const std::vector<double>& values, const Shape& shape);

 private:
  Generator generator_;
};

class RowBuilder {
 public:
  RowBuilder(std::string name, int arity, OpDTypes dtypes, std::vector<int> differentiable, SampleInputs& inputs);

  RowBuilder& domain(OpDomain domain);
  RowBuilder& first_order_only();
  RowBuilder& contiguous_inputs_only();
  RowBuilder& promotes_dtypes();
  RowBuilder& tolerances(GradcheckOptions options);

  // A draw of `shape` in the row's domain; xt stores it transposed (its last two dims swapped in
  // memory), so kernels see real strides.
  Tensor x(const Shape& shape);
  Tensor xt(const Shape& shape);
  SampleInputs& inputs() { return inputs_; }

  // A sample call; the floating inputs at the row's differentiable positions require grad. The
  // printed detail starts with the shapes of those inputs ("[2,3]^T" is stored transposed).
  RowBuilder& sample(const std::string& detail, Inputs inputs, GradcheckFunction call, GradcheckFunction reference);
  // A call to refuse; `mentions` are parts of the message (the op's name is always expected).
  RowBuilder& error(const std::string& detail, Inputs inputs, GradcheckFunction call,
                    std::vector<std::string> mentions = {});

  // Samples of a unary elementwise op over a matrix, a 0-dim, an empty, a strided and a row input.
  RowBuilder& unary_samples(const std::function<Tensor(const Tensor&)>& op, const std::function<double(double)>& scalar);
  // Samples of a binary broadcasting op over equal, broadcast (both ways), 0-dim, empty and
  // strided operands, and a shape mismatch it must refuse.
  RowBuilder& binary_samples(const std::function<Tensor(const Tensor&, const Tensor&)>& op,
                             const std::function<double(double, double)>& scalar);

  OpInfo build();

 private:
  OpInfo info_;
  SampleInputs& inputs_;
};

// "[3,1]", with "^T" when t is not contiguous.
std::string describe(const Tensor& t);

// Each family's rows.
std::vector<OpInfo> elementwise_rows(SampleInputs& in);
std::vector<OpInfo> reduction_rows(SampleInputs& in);
std::vector<OpInfo> linalg_rows(SampleInputs& in);
std::vector<OpInfo> shape_rows(SampleInputs& in);
std::vector<OpInfo> indexing_rows(SampleInputs& in);
std::vector<OpInfo> layer_rows(SampleInputs& in);
std::vector<OpInfo> loss_rows(SampleInputs& in);
std::vector<OpInfo> pooling_rows(SampleInputs& in);

}  // namespace tapegrad::op_rows
