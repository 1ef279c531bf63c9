// The op table walked on every device: each row's samples against their float64 references,
// float32 against float64, gradients and second derivatives against finite differences,
// non-contiguous inputs against contiguous ones, and the dtype and shape errors each op must
// raise. CUDA instances skip without a usable GPU. A public differentiable op of autodiff/ops.h
// without a row fails the table's own checks.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include <tapegrad/tapegrad.h>

namespace tapegrad {
namespace {

using Inputs = std::vector<Tensor>;

// Fresh copies of the inputs on `device` (with `dtype` for the floating ones), laid out as the
// originals (contiguous or stored transposed), as leaves that require grad where the originals
// do. gradcheck perturbs its inputs in place, so the table's own tensors are never handed out.
Inputs prepared(const Inputs& inputs, Device device, std::optional<DType> dtype = std::nullopt) {
  NoGradGuard no_grad;
  Inputs out;
  for (const Tensor& x : inputs) {
    if (!x.defined()) {
      out.push_back(x);
      continue;
    }
    Tensor copy = x.detach();
    if (dtype && copy.is_floating_point()) copy = copy.to(*dtype);
    copy = clone(copy.to(device));
    if (!x.is_contiguous() && x.dim() >= 2) copy = contiguous(copy.transpose(-1, -2)).transpose(-1, -2);
    if (x.requires_grad() && copy.is_floating_point()) copy.requires_grad_();
    out.push_back(copy);
  }
  return out;
}

// The inputs with every tensor of two or more dims stored transposed: same values, real strides.
Inputs strided(const Inputs& inputs) {
  Inputs out;
  for (const Tensor& x : inputs) {
    if (!x.defined() || x.dim() < 2) {
      out.push_back(x);
      continue;
    }
    NoGradGuard no_grad;
    Tensor view = clone(x.detach().transpose(-1, -2)).transpose(-1, -2);
    if (x.requires_grad()) view.requires_grad_();
    out.push_back(view);
  }
  return out;
}

// Equal shapes, and every element within atol + rtol * |expected| (NaNs and infinities must match).
::testing::AssertionResult close(const Tensor& actual, const Tensor& expected, double atol, double rtol) {
  if (actual.shape() != expected.shape())
    return ::testing::AssertionFailure() << "shape " << fmt::format("{}", actual.shape()) << ", expected "
                                         << fmt::format("{}", expected.shape());
  const std::vector<double> a = actual.cpu().to(kFloat64).to_vector<double>();
  const std::vector<double> e = expected.cpu().to(kFloat64).to_vector<double>();
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(e[i]) ? std::isnan(a[i]) : (std::isinf(e[i]) ? a[i] == e[i] : std::abs(a[i] - e[i]) <= atol + rtol * std::abs(e[i])))
      continue;
    return ::testing::AssertionFailure() << "element " << i << " is " << a[i] << ", expected " << e[i];
  }
  return ::testing::AssertionSuccess();
}

bool needs_grad(const OpSample& sample) {
  return std::any_of(sample.inputs.begin(), sample.inputs.end(),
                     [](const Tensor& x) { return x.defined() && x.requires_grad(); });
}

int floating_inputs(const OpSample& sample) {
  return static_cast<int>(std::count_if(sample.inputs.begin(), sample.inputs.end(),
                                        [](const Tensor& x) { return x.defined() && x.is_floating_point(); }));
}

class OpTableTest : public ::testing::TestWithParam<std::tuple<std::string, Device>> {
 protected:
  void SetUp() override {
    if (device().is_cuda() && !cuda::is_available())
      GTEST_SKIP() << "no usable CUDA device (" << cuda::unavailable_reason() << "); CUDA rows skipped";
  }
  const OpInfo& op() const { return *find_op(std::get<0>(GetParam())); }
  Device device() const { return std::get<1>(GetParam()); }
  std::string where(const OpSample& sample) const { return op().name + " " + sample.detail; }
};

TEST_P(OpTableTest, ValuesMatchTheDoubleReference) {
  for (const OpSample& sample : op().samples) {
    const Tensor expected = sample.reference(sample.inputs);
    const Tensor actual = sample.call(prepared(sample.inputs, device()));
    EXPECT_TRUE(close(actual, expected, 1e-10, 1e-10)) << where(sample);
  }
}

TEST_P(OpTableTest, Float32AgreesWithFloat64) {
  for (const OpSample& sample : op().samples) {
    if (floating_inputs(sample) == 0) continue;
    const Tensor wide = sample.call(prepared(sample.inputs, device()));
    const Tensor narrow = sample.call(prepared(sample.inputs, device(), kFloat32));
    EXPECT_TRUE(close(narrow, wide, 1e-4, 1e-4)) << where(sample);
  }
}

TEST_P(OpTableTest, GradientsMatchFiniteDifferences) {
  for (const OpSample& sample : op().samples) {
    if (!needs_grad(sample)) continue;
    const GradcheckReport report = gradcheck(sample.call, prepared(sample.inputs, device()), op().tolerances);
    EXPECT_TRUE(report.ok()) << where(sample) << "\n" << report.str();
  }
}

TEST_P(OpTableTest, SecondDerivativesMatchFiniteDifferences) {
  if (!op().second_order) GTEST_SKIP() << op().name << " has no second derivative";
  for (const OpSample& sample : op().samples) {
    if (!needs_grad(sample)) continue;
    const GradcheckReport report = gradgradcheck(sample.call, prepared(sample.inputs, device()), op().tolerances);
    EXPECT_TRUE(report.ok()) << where(sample) << "\n" << report.str();
  }
}

TEST_P(OpTableTest, NonContiguousInputsGiveTheSameValuesAndGradients) {
  if (!op().strided_inputs) GTEST_SKIP() << op().name << " takes contiguous inputs only";
  for (const OpSample& sample : op().samples) {
    const Inputs dense = prepared(sample.inputs, device());
    const Inputs views = strided(dense);
    const Tensor expected = sample.call(dense);
    const Tensor actual = sample.call(views);
    EXPECT_TRUE(close(actual, expected, 1e-12, 1e-12)) << where(sample);
    if (!needs_grad(sample) || !expected.requires_grad()) continue;
    const auto gradients = [](const Tensor& out, const Inputs& inputs) {
      Inputs leaves;
      for (const Tensor& x : inputs)
        if (x.defined() && x.requires_grad()) leaves.push_back(x);
      return grad({sum(out)}, leaves, {}, std::nullopt, false, true);
    };
    const Inputs dense_grads = gradients(expected, dense), view_grads = gradients(actual, views);
    for (std::size_t i = 0; i < dense_grads.size(); ++i)
      if (dense_grads[i].defined())
        EXPECT_TRUE(close(view_grads[i], dense_grads[i], 1e-12, 1e-12)) << where(sample) << ", gradient " << i;
  }
}

TEST_P(OpTableTest, RecordsNothingWithoutGradMode) {
  NoGradGuard no_grad;
  for (const OpSample& sample : op().samples) {
    const Inputs inputs = prepared(sample.inputs, device());
    const Tensor out = sample.call(inputs);
    // An op with nothing to do may hand back its input itself, as PyTorch's contiguous() does.
    if (std::any_of(inputs.begin(), inputs.end(), [&](const Tensor& x) { return x.defined() && x.is_same(out); }))
      continue;
    EXPECT_FALSE(out.requires_grad()) << where(sample);
    EXPECT_EQ(out.grad_fn(), nullptr) << where(sample);
  }
}

// Every message names the op and says what it got.
void expect_error(const std::function<void()>& call, const std::vector<std::string>& mentions, const std::string& where) {
  try {
    call();
    ADD_FAILURE() << where << ": no error";
  } catch (const Error& error) {
    const std::string message = error.what();
    for (const std::string& part : mentions)
      EXPECT_NE(message.find(part), std::string::npos) << where << ": '" << message << "' does not mention '" << part << "'";
  }
}

TEST_P(OpTableTest, WrongDtypesAndShapesAreRefused) {
  const OpSample& first = op().samples.front();
  const Inputs integers = prepared(first.inputs, device(), kInt64);
  if (op().dtypes == OpDTypes::Floating) {
    expect_error([&] { first.call(integers); }, {op().name, "int64"}, where(first) + " with int64 inputs");
  } else {
    const Tensor out = first.call(integers);
    EXPECT_EQ(out.dtype(), op().dtypes == OpDTypes::Int64ToFloat32 ? kFloat32 : kInt64) << where(first)
                                                                                        << " with int64 inputs";
  }
  for (const OpSample& sample : op().samples) {
    if (floating_inputs(sample) < 2) continue;
    Inputs mixed = prepared(sample.inputs, device());
    const auto last_floating = std::find_if(mixed.rbegin(), mixed.rend(),
                                            [](const Tensor& x) { return x.defined() && x.is_floating_point(); });
    *last_floating = last_floating->detach().to(kFloat32);
    if (!op().promotes_dtypes) {
      expect_error([&] { sample.call(mixed); }, {op().name, "float32", "float64"}, where(sample) + " with mixed dtypes");
      break;
    }
    // Promoted: float64 results equal to the float64 computation on the same (float32-rounded)
    // values, and the float32 input's gradient in float32.
    Inputs widened = mixed;
    *std::find_if(widened.rbegin(), widened.rend(), [](const Tensor& x) { return x.defined() && x.is_floating_point(); }) =
        last_floating->to(kFloat64);
    last_floating->requires_grad_();
    const Tensor out = sample.call(mixed);
    ASSERT_EQ(out.dtype(), kFloat64) << where(sample) << " with mixed dtypes";
    EXPECT_TRUE(close(out, sample.call(widened), 0, 0)) << where(sample) << " with mixed dtypes";
    if (out.requires_grad()) {
      sum(out).backward();
      ASSERT_TRUE(last_floating->grad().defined()) << where(sample) << " with mixed dtypes";
      EXPECT_EQ(last_floating->grad().dtype(), kFloat32) << where(sample) << " with mixed dtypes";
    }
    break;
  }
  Inputs missing = prepared(first.inputs, device());
  missing.front() = Tensor();
  expect_error([&] { first.call(missing); }, {op().name, "undefined"}, where(first) + " with an undefined first input");
  for (const OpErrorSample& bad : op().errors)
    expect_error([&] { bad.call(prepared(bad.inputs, device())); }, bad.mentions, op().name + " " + bad.detail);
}

std::vector<std::string> row_names() {
  std::vector<std::string> names;
  for (const OpInfo& row : op_table()) names.push_back(row.name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Ops, OpTableTest,
                         ::testing::Combine(::testing::ValuesIn(row_names()),
                                            ::testing::Values(Device::cpu(), Device::cuda(0))),
                         [](const auto& info) {
                           return std::get<0>(info.param) + (std::get<1>(info.param).is_cpu() ? "_cpu" : "_cuda");
                         });

// The functions of autodiff/ops.h outside its creation and random sections.
std::set<std::string> public_ops() {
  std::ifstream header(TAPEGRAD_OPS_HEADER);
  EXPECT_TRUE(header) << "cannot read " << TAPEGRAD_OPS_HEADER;
  const std::regex section(R"(^// ---- (\w+))"), function(R"(^(?:Tensor|ValuesIndices|std::vector<Tensor>) (\w+)\()");
  std::set<std::string> names;
  std::string line, current;
  std::smatch match;
  while (std::getline(header, line)) {
    if (std::regex_search(line, match, section)) current = match[1];
    else if (current != "creation" && current != "random" && std::regex_search(line, match, function) &&
             match[1].str().rfind("operator", 0) != 0)
      names.insert(match[1]);
  }
  return names;
}

TEST(OpTable, EveryPublicDifferentiableOpHasARow) {
  const std::set<std::string> declared = public_ops();
  ASSERT_GT(declared.size(), 50u) << "the parser of " << TAPEGRAD_OPS_HEADER << " found too few ops";
  const std::vector<std::string>& exempt = non_differentiable_ops();
  for (const std::string& name : declared)
    if (std::find(exempt.begin(), exempt.end(), name) == exempt.end())
      EXPECT_NE(find_op(name), nullptr) << name << " is a public op of autodiff/ops.h without a row in the op table "
                                        << "(autodiff/op_table/); add one, or list it in non_differentiable_ops()";
  for (const OpInfo& row : op_table())
    EXPECT_TRUE(declared.count(row.name)) << "row " << row.name << " names no op of autodiff/ops.h";
  for (const std::string& name : exempt) EXPECT_TRUE(declared.count(name)) << name;
}

TEST(OpTable, RowsAreWellFormed) {
  std::set<std::string> seen;
  for (const OpInfo& row : op_table()) {
    EXPECT_TRUE(seen.insert(row.name).second) << row.name << " has two rows";
    EXPECT_FALSE(row.samples.empty()) << row.name;
    std::set<int> differentiated;
    for (const OpSample& sample : row.samples) {
      EXPECT_TRUE(sample.call && sample.reference) << row.name << " " << sample.detail;
      for (std::size_t i = 0; i < sample.inputs.size(); ++i)
        if (sample.inputs[i].defined() && sample.inputs[i].requires_grad()) differentiated.insert(static_cast<int>(i));
      EXPECT_LE(static_cast<int>(sample.inputs.size()), row.arity) << row.name << " " << sample.detail;
    }
    for (int position : row.differentiable_inputs)
      EXPECT_TRUE(differentiated.count(position)) << row.name << ": input " << position
                                                  << " is differentiable but no sample checks its gradient";
  }
}

// The table as a whole covers the shapes that break kernels: broadcast, empty, 0-dim, strided.
TEST(OpTable, SamplesCoverEmptyZeroDimAndStridedInputs) {
  int empty = 0, zero_dim = 0, strided_inputs = 0;
  for (const OpInfo& row : op_table())
    for (const OpSample& sample : row.samples)
      for (const Tensor& x : sample.inputs) {
        if (!x.defined()) continue;
        empty += x.numel() == 0;
        zero_dim += x.dim() == 0;
        strided_inputs += !x.is_contiguous();
      }
  EXPECT_GE(empty, 10);
  EXPECT_GE(zero_dim, 20);
  EXPECT_GE(strided_inputs, 40);
}

}  // namespace
}  // namespace tapegrad
