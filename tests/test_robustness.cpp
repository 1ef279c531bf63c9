// Bad input never crashes: thousands of random calls of the public ops, on random shapes
// (including empty and 0-dim), dims (often out of range), dtypes and index values, must each
// either succeed or throw a tapegrad::Error. The differentiable ops' calls come from the op
// table: each sample's call, fed random tensors in place of its inputs. In the sanitizer build
// this also proves no call reads or writes out of bounds or hits undefined behaviour.
#include <functional>
#include <utility>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_util.h"

namespace tapegrad {
namespace {

class RandomArguments {
 public:
  explicit RandomArguments(std::uint64_t seed) : generator_(seed) {}

  std::int64_t integer(std::int64_t low, std::int64_t high) {  // in [low, high]
    return low + static_cast<std::int64_t>(generator_.next_u64() % static_cast<std::uint64_t>(high - low + 1));
  }
  Shape shape() {
    Shape s;
    const std::int64_t dims = integer(0, 3);
    for (std::int64_t d = 0; d < dims; ++d) s.push_back(integer(0, 3));
    return s;
  }
  DType dtype() { return std::vector<DType>{kFloat32, kFloat64, kInt64}[static_cast<std::size_t>(integer(0, 2))]; }
  std::int64_t dim() { return integer(-4, 4); }
  Tensor tensor() {
    const DType type = dtype();
    const Shape s = shape();
    Tensor t = type == kInt64 ? randint(-1, 4, s, generator_) : uniform(s, -2, 2, generator_, type);
    if (type != kInt64 && integer(0, 1) == 1) {
      t.requires_grad_();
      leaves_.push_back(t);
    }
    if (t.dim() >= 2 && integer(0, 1) == 1) t = t.transpose(0, 1);  // a strided view
    return t;
  }
  Tensor index() { return randint(-2, 5, {integer(0, 3)}, generator_); }

  void keep_leaf(const Tensor& leaf) { leaves_.push_back(leaf); }
  // The tensors requiring grad made since the last call.
  std::vector<Tensor> take_leaves() { return std::exchange(leaves_, {}); }

 private:
  Generator generator_;
  std::vector<Tensor> leaves_;
};

using Call = std::function<Tensor(RandomArguments&)>;

// An input for a table sample: half the time the sample's own tensor converted to a random
// dtype and maybe strided, half the time a random tensor.
Tensor fuzzed(const Tensor& original, RandomArguments& r) {
  if (!original.defined() || r.integer(0, 1) == 0) return r.tensor();
  Tensor t = original.detach().to(r.dtype());
  if (t.is_floating_point() && r.integer(0, 1) == 1) t.requires_grad_();
  if (t.dim() >= 2 && r.integer(0, 1) == 1) t = t.transpose(0, 1);
  return t;
}

// Every sample of the op table with fuzzed inputs; then calls with random dims and shapes, the
// ops outside the table (comparisons, factories) and the in-place updates.
std::vector<std::pair<std::string, Call>> calls() {
  using R = RandomArguments;
  std::vector<std::pair<std::string, Call>> table_calls;
  for (const OpInfo& op : op_table())
    for (const OpSample& sample : op.samples)
      table_calls.emplace_back(op.name + " " + sample.detail, [&sample](R& r) {
        std::vector<Tensor> inputs;
        for (const Tensor& input : sample.inputs) inputs.push_back(fuzzed(input, r));
        Tensor out = sample.call(inputs);
        for (const Tensor& input : inputs)
          if (input.defined() && input.requires_grad()) r.keep_leaf(input);
        return out;
      });
  // The table's samples fix their dims, shapes and exponents; these draw them, often out of range.
  std::vector<std::pair<std::string, Call>> others = {
      {"sum", [](R& r) { return sum(r.tensor(), {r.dim()}, r.integer(0, 1) == 1); }},
      {"mean", [](R& r) { return mean(r.tensor(), {r.dim(), r.dim()}); }},
      {"max", [](R& r) { return max(r.tensor(), r.dim(), r.integer(0, 1) == 1).values; }},
      {"logsumexp", [](R& r) { return logsumexp(r.tensor(), {r.dim()}); }},
      {"softmax", [](R& r) { return softmax(r.tensor(), r.dim()); }},
      {"log_softmax", [](R& r) { return log_softmax(r.tensor(), r.dim()); }},
      {"sum_to", [](R& r) { return sum_to(r.tensor(), r.shape()); }},
      {"cat", [](R& r) { return cat({r.tensor(), r.tensor()}, r.dim()); }},
      {"stack", [](R& r) { return stack({r.tensor(), r.tensor()}, r.dim()); }},
      {"reshape", [](R& r) { return reshape(r.tensor(), r.shape()); }},
      {"flatten", [](R& r) { return flatten(r.tensor(), r.dim(), r.dim()); }},
      {"squeeze", [](R& r) { return squeeze(r.tensor(), r.dim()); }},
      {"unsqueeze", [](R& r) { return unsqueeze(r.tensor(), r.dim()); }},
      {"transpose", [](R& r) { return transpose(r.tensor(), r.dim(), r.dim()); }},
      {"permute", [](R& r) { return permute(r.tensor(), {r.dim(), r.dim(), r.dim()}); }},
      {"narrow", [](R& r) { return narrow(r.tensor(), r.dim(), r.integer(-3, 3), r.integer(-1, 3)); }},
      {"slice", [](R& r) { return slice(r.tensor(), r.dim(), r.integer(-4, 4), r.integer(-4, 4), r.integer(-1, 2)); }},
      {"select", [](R& r) { return select(r.tensor(), r.dim(), r.integer(-4, 4)); }},
      {"expand", [](R& r) { return expand(r.tensor(), r.shape()); }},
      {"index_select", [](R& r) { return index_select(r.tensor(), r.dim(), r.index()); }},
      {"gather", [](R& r) {
         Tensor t = r.tensor();
         return gather(t, r.dim(), randint(-1, 4, t.shape()));
       }},
      {"index_add_into_zeros",
       [](R& r) { return index_add_into_zeros(r.tensor(), r.shape(), r.dim(), r.index()); }},
      {"scatter_add_into_zeros", [](R& r) {
         Tensor t = r.tensor();
         return scatter_add_into_zeros(t, r.shape(), r.dim(), randint(-1, 4, t.shape()));
       }},
      {"pow_scalar", [](R& r) { return pow(r.tensor(), static_cast<double>(r.integer(-2, 3)) / 2); }},
      {"argmax", [](R& r) { return argmax(r.tensor(), r.dim()); }},
      {"lt", [](R& r) { return lt(r.tensor(), r.tensor()); }},
      {"ge_scalar", [](R& r) { return ge(r.tensor(), 0.0); }},
      {"sign", [](R& r) { return sign(r.tensor()); }},
      {"argmin", [](R& r) { return argmin(r.tensor(), r.dim(), true); }},
      {"full", [](R& r) { return full(r.shape(), 1.5, r.dtype()); }},
      {"arange", [](R& r) {
         return arange(static_cast<double>(r.integer(-3, 3)), static_cast<double>(r.integer(-3, 3)),
                       static_cast<double>(r.integer(-2, 2)), r.dtype());
       }},
      {"linspace", [](R& r) { return linspace(-1, 1, r.integer(-1, 4), r.dtype()); }},
      {"eye", [](R& r) { return eye(r.integer(-1, 3), r.integer(-1, 3), r.dtype()); }},
      {"randint", [](R& r) { return randint(r.integer(-2, 2), r.integer(-2, 2), r.shape()); }},
      {"randperm", [](R& r) { return randperm(r.integer(-1, 4)); }},
      {"uniform", [](R& r) { return uniform(r.shape(), 1.0, static_cast<double>(r.integer(0, 2)), r.dtype()); }},
      {"item", [](R& r) { return scalar_tensor(r.tensor().item(), kFloat64); }},
      {"to_cuda", [](R& r) { return r.tensor().to(Device::cuda()); }},
      {"add_", [](R& r) {
         NoGradGuard no_grad;
         Tensor t = r.tensor();
         return t.add_(r.tensor(), 0.5);
       }},
      {"copy_", [](R& r) {
         NoGradGuard no_grad;
         Tensor t = r.tensor();
         return t.copy_(r.tensor());
       }},
      {"addcdiv_", [](R& r) {
         NoGradGuard no_grad;
         Tensor t = r.tensor();
         return t.addcdiv_(r.tensor(), r.tensor(), 0.1);
       }},

  };
  table_calls.insert(table_calls.end(), others.begin(), others.end());
  return table_calls;
}

TEST(Robustness, RandomCallsEitherSucceedOrThrowTapegradErrors) {
  RandomArguments random(2024);
  const auto table = calls();
  int succeeded = 0, refused = 0;
  for (int trial = 0; trial < 40000; ++trial) {
    const auto& [name, call] = table[static_cast<std::size_t>(trial) % table.size()];
    try {
      random.take_leaves();
      Tensor result = call(random);
      // Whatever was computed must also backpropagate (or refuse) cleanly, to second order.
      const std::vector<Tensor> leaves = random.take_leaves();
      if (result.defined() && result.requires_grad() && is_floating(result.dtype())) {
        const Tensor loss = sum(result);
        if (trial % 2 == 0) {
          loss.backward();
        } else {
          Tensor second = zeros({}, result.dtype());
          for (const Tensor& g : grad({loss}, leaves, {}, std::nullopt, true, true))
            if (g.defined() && g.requires_grad() && g.dtype() == result.dtype()) second = second + sum(g);
          if (second.requires_grad()) second.backward();
        }
      }
      ++succeeded;
    } catch (const Error& error) {
      EXPECT_FALSE(std::string(error.what()).empty()) << name;
      ++refused;
    } catch (const std::exception& other) {
      ADD_FAILURE() << name << " threw a non-tapegrad exception: " << other.what();
    }
  }
  // Both outcomes are common: the generator is neither too tame nor hopeless.
  EXPECT_GT(succeeded, 4000);
  EXPECT_GT(refused, 4000);
}

}  // namespace
}  // namespace tapegrad
