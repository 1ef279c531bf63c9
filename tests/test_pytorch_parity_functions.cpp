// Tensor functions against PyTorch 1.13 (tests/golden/pytorch_functions.py writes
// functions.safetensors): erf, log1p, rsqrt, floor, round, var and std with their correction,
// masked_fill, tril/triu, cumsum, chunk/split, sort and topk (values and indices) and broadcast
// matmul give PyTorch's outputs and the gradient of sum(output * upstream), in float64.
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_util.h"

namespace tapegrad {
namespace {

using namespace testing;  // the shared test vocabulary of test_util.h

const TensorFile& functions_golden() {
  static const TensorFile file = load_tensors(std::string(TAPEGRAD_GOLDEN_DIR) + "/functions.safetensors");
  return file;
}

const Tensor& stored(const std::string& name, const std::string& key) { return functions_golden().at(name + "." + key); }

// Runs `function` on the stored input, compares each output (integers exactly, floats to 1e-10),
// then backpropagates sum(output_i * upstream_i) over the floating outputs and compares the input's
// gradient.
void expect_function_matches(const std::string& name, const std::function<std::vector<Tensor>(const Tensor&)>& function) {
  SCOPED_TRACE(name);
  const Tensor input = stored(name, "input").clone().requires_grad_();
  const std::vector<Tensor> outputs = function(input);
  Tensor total = zeros({}, kFloat64);
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const std::string key = "output" + std::to_string(i);
    const Tensor& expected = stored(name, key);
    ASSERT_EQ(outputs[i].shape(), expected.shape()) << key;
    if (!expected.is_floating_point()) {
      EXPECT_EQ(outputs[i].to_vector<std::int64_t>(), expected.to_vector<std::int64_t>()) << key;
      continue;
    }
    expect_values(outputs[i], expected.to_vector<double>(), 1e-10);
    total = total + sum(outputs[i] * stored(name, "upstream" + std::to_string(i)));
  }
  total.backward();
  expect_values(input.grad(), stored(name, "grad_input").to_vector<double>(), 1e-10);
}

std::vector<Tensor> one(Tensor t) { return {std::move(t)}; }
std::vector<Tensor> both(const ValuesIndices& result) { return {result.values, result.indices}; }

TEST(PyTorchParityFunctions, ElementwiseFunctionsMatch) {
  expect_function_matches("erf", [](const Tensor& x) { return one(erf(x)); });
  expect_function_matches("log1p", [](const Tensor& x) { return one(log1p(x)); });
  expect_function_matches("rsqrt", [](const Tensor& x) { return one(rsqrt(x)); });
  expect_function_matches("floor", [](const Tensor& x) { return one(floor(x)); });
  expect_function_matches("round", [](const Tensor& x) { return one(round(x)); });
  const Tensor mask = stored("masked_fill", "mask").to(kBool);
  expect_function_matches("masked_fill", [&](const Tensor& x) { return one(masked_fill(x, mask, -2.5)); });
}

TEST(PyTorchParityFunctions, VarianceAndStandardDeviationMatch) {
  expect_function_matches("var_dim1", [](const Tensor& x) { return one(var(x, {1})); });
  expect_function_matches("var_all_correction0", [](const Tensor& x) { return one(var(x, {}, 0)); });
  expect_function_matches("std_dim0_keepdim", [](const Tensor& x) { return one(std(x, {0}, 1, true)); });
}

TEST(PyTorchParityFunctions, TrianglesCumulativeSumsAndPiecesMatch) {
  expect_function_matches("tril_minus1", [](const Tensor& x) { return one(tril(x, -1)); });
  expect_function_matches("triu_1", [](const Tensor& x) { return one(triu(x, 1)); });
  expect_function_matches("cumsum_dim1", [](const Tensor& x) { return one(cumsum(x, 1)); });
  expect_function_matches("cumsum_dim0", [](const Tensor& x) { return one(cumsum(x, 0)); });
  expect_function_matches("chunk_3_dim1", [](const Tensor& x) { return chunk(x, 3, 1); });
  expect_function_matches("split_2_dim0", [](const Tensor& x) { return split(x, 2, 0); });
}

TEST(PyTorchParityFunctions, SortTopkAndBroadcastMatmulMatch) {
  expect_function_matches("sort_dim1", [](const Tensor& x) { return both(sort(x, 1)); });
  expect_function_matches("sort_dim0_descending", [](const Tensor& x) { return both(sort(x, 0, true)); });
  expect_function_matches("topk_2_dim1", [](const Tensor& x) { return both(topk(x, 2, 1)); });
  expect_function_matches("topk_2_dim0_smallest", [](const Tensor& x) { return both(topk(x, 2, 0, false)); });
  const Tensor right = stored("matmul_broadcast", "right");
  expect_function_matches("matmul_broadcast", [&](const Tensor& x) { return one(matmul(x, right)); });
}

}  // namespace
}  // namespace tapegrad
