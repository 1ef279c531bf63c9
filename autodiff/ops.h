// Every tensor operation tapegrad offers, declared in one place and defined by family in
// autodiff/ops/. Differentiable ops record themselves on the tape when grad mode is on and an
// input requires grad; their backward formulas use these same ops, so create_graph=true gives
// higher derivatives. All inputs of an op must share a device and (except where an index tensor
// is expected) a dtype; mismatches throw a tapegrad::Error naming the op and both operands.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <vector>

#include <tapegrad/autodiff/generator.h>
#include <tapegrad/autodiff/tensor.h>

namespace tapegrad {

// ---- creation (autodiff/ops/creation.cpp) ----
Tensor zeros(const Shape& shape, TensorOptions options = {});
Tensor ones(const Shape& shape, TensorOptions options = {});
Tensor full(const Shape& shape, double value, TensorOptions options = {});
Tensor zeros_like(const Tensor& like);
Tensor ones_like(const Tensor& like);
Tensor full_like(const Tensor& like, double value);
Tensor empty_like(const Tensor& like);
Tensor scalar_tensor(double value, TensorOptions options = {});
// Values [start, end) in steps of `step`; dtype defaults to float32 like every factory.
Tensor arange(double end, TensorOptions options = {});
Tensor arange(double start, double end, double step = 1, TensorOptions options = {});
Tensor linspace(double start, double end, std::int64_t steps, TensorOptions options = {});
Tensor eye(std::int64_t n, std::int64_t m = -1, TensorOptions options = {});
// From listed values, converted to options.dtype; shape defaults to 1-D of values.size().
Tensor tensor(std::initializer_list<double> values, std::optional<Shape> shape = std::nullopt,
              TensorOptions options = {});
// From a vector; the dtype is T's (float, double or int64_t).
template <class T>
Tensor from_vector(const std::vector<T>& values, std::optional<Shape> shape = std::nullopt,
                   TensorOptions options = TensorOptions(dtype_of<T>));

// ---- random (autodiff/ops/random.cpp): one overload takes a Generator, one uses the default ----
Tensor rand(const Shape& shape, Generator& generator, TensorOptions options = {});
Tensor rand(const Shape& shape, TensorOptions options = {});
Tensor randn(const Shape& shape, Generator& generator, TensorOptions options = {});
Tensor randn(const Shape& shape, TensorOptions options = {});
Tensor uniform(const Shape& shape, double low, double high, Generator& generator, TensorOptions options = {});
Tensor uniform(const Shape& shape, double low, double high, TensorOptions options = {});
Tensor normal(const Shape& shape, double mean, double std, Generator& generator, TensorOptions options = {});
Tensor normal(const Shape& shape, double mean, double std, TensorOptions options = {});
// Integers uniform in [low, high); int64 by default.
Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, Generator& generator,
               TensorOptions options = TensorOptions(kInt64));
Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, TensorOptions options = TensorOptions(kInt64));
// A random permutation of 0..n-1 (int64).
Tensor randperm(std::int64_t n, Generator& generator, TensorOptions options = TensorOptions(kInt64));
Tensor randperm(std::int64_t n, TensorOptions options = TensorOptions(kInt64));

// ---- elementwise, with NumPy broadcasting (autodiff/ops/elementwise.cpp) ----
// Operands of different dtypes are promoted as in torch: the binary ops compute in
// result_type(a, b), and each input's gradient comes back in that input's own dtype. A double
// argument acts as a Python number: integral values as int64, others as float32 (torch's default
// dtype), and neither widens a tensor of its own category (float32 x + 0.5 stays float32).
// Division of integers is true division (float32), and the math functions (exp, log, sqrt, rsqrt,
// sin, cos, tanh, sigmoid, log1p, erf) of integral or bool tensors compute in float32. In-place updates refuse a result type that
// cannot be cast to the updated tensor's dtype (float into int64, anything into bool).

// torch.result_type: the higher category of bool < integral < floating wins; within the winning
// category, tensors with dims outrank 0-dim tensors, which outrank scalars.
DType result_type(const Tensor& a, const Tensor& b);
DType result_type(const Tensor& a, double b);
Tensor add(const Tensor& a, const Tensor& b, double alpha = 1);  // a + alpha * b
Tensor sub(const Tensor& a, const Tensor& b, double alpha = 1);  // a - alpha * b
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, double b);
Tensor sub(const Tensor& a, double b);
Tensor rsub(const Tensor& a, double b);  // b - a
Tensor mul(const Tensor& a, double b);
Tensor div(const Tensor& a, double b);
Tensor rdiv(const Tensor& a, double b);  // b / a
Tensor neg(const Tensor& a);
Tensor pow(const Tensor& base, double exponent);
Tensor pow(const Tensor& base, const Tensor& exponent);
Tensor pow(double base, const Tensor& exponent);
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor sqrt(const Tensor& a);
Tensor rsqrt(const Tensor& a);  // 1 / sqrt(a)
// Piecewise constant: their gradient is zero, as torch's. round takes halves to the even neighbour.
Tensor floor(const Tensor& a);
Tensor round(const Tensor& a);
Tensor abs(const Tensor& a);
Tensor sin(const Tensor& a);
Tensor cos(const Tensor& a);
Tensor tanh(const Tensor& a);
Tensor sigmoid(const Tensor& a);
Tensor log1p(const Tensor& a);  // log(1 + a), accurate for small a
Tensor erf(const Tensor& a);
// log(1 + exp(beta * a)) / beta, and a itself where beta * a > threshold, as torch's softplus.
Tensor softplus(const Tensor& a, double beta = 1, double threshold = 20);
Tensor relu(const Tensor& a);
// x * Phi(x) with Phi the standard normal CDF (None), or torch's tanh approximation of it (Tanh).
enum class GeluApproximation { None, Tanh };
Tensor gelu(const Tensor& a, GeluApproximation approximate = GeluApproximation::None);
Tensor silu(const Tensor& a);  // a * sigmoid(a)
// a where a > 0, negative_slope * a elsewhere.
Tensor leaky_relu(const Tensor& a, double negative_slope = 0.01);
// Bounds are optional, as in torch.clamp; the gradient passes where low <= a <= high.
Tensor clamp(const Tensor& a, std::optional<double> low, std::optional<double> high);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
// where(condition, a, b): a where the bool condition is true, else b, in result_type(a, b);
// differentiable in a and b. A condition of another dtype is refused, as torch: compare or .to(kBool).
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b);

// `value` where the bool mask is true, a elsewhere; mask broadcasts to a's shape. Differentiable in a.
Tensor masked_fill(const Tensor& a, const Tensor& mask, double value);
// The lower (tril) or upper (triu) triangle of the last two dims, from `diagonal` (0: the main
// one, positive: above it, negative: below it); zeros elsewhere.
Tensor tril(const Tensor& a, std::int64_t diagonal = 0);
Tensor triu(const Tensor& a, std::int64_t diagonal = 0);

// Not differentiable: results are bool, compared in result_type(a, b).
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, double b);
Tensor ne(const Tensor& a, double b);
Tensor lt(const Tensor& a, double b);
Tensor le(const Tensor& a, double b);
Tensor gt(const Tensor& a, double b);
Tensor ge(const Tensor& a, double b);
Tensor sign(const Tensor& a);
// Bool results; any non-zero element counts as true, as torch.logical_*.
Tensor logical_not(const Tensor& a);
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
Tensor logical_xor(const Tensor& a, const Tensor& b);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor operator==(const Tensor& a, const Tensor& b);
Tensor operator!=(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, const Tensor& b);
Tensor operator<=(const Tensor& a, const Tensor& b);
Tensor operator>(const Tensor& a, const Tensor& b);
Tensor operator>=(const Tensor& a, const Tensor& b);
Tensor operator==(const Tensor& a, double b);
Tensor operator!=(const Tensor& a, double b);
Tensor operator<(const Tensor& a, double b);
Tensor operator<=(const Tensor& a, double b);
Tensor operator>(const Tensor& a, double b);
Tensor operator>=(const Tensor& a, double b);
Tensor operator!(const Tensor& a);  // logical_not
Tensor operator~(const Tensor& a);  // logical_not of a bool tensor; other dtypes are refused

// ---- reductions (autodiff/ops/reduce.cpp); an empty dims list means all dims ----
// Sums of bool and uint8 tensors are int64, as torch's.
Tensor sum(const Tensor& a);
Tensor sum(const Tensor& a, const Dims& dims, bool keepdim = false);
Tensor mean(const Tensor& a);
Tensor mean(const Tensor& a, const Dims& dims, bool keepdim = false);
// Not differentiable: whether any / every element is non-zero, as a 0-dim bool tensor.
Tensor any(const Tensor& a);
Tensor all(const Tensor& a);
// The variance sum((a - mean)^2) / (N - correction) over dims (all if empty), and its square root;
// correction 1 is Bessel's (torch's default), 0 the population's.
Tensor var(const Tensor& a, const Dims& dims = {}, double correction = 1, bool keepdim = false);
Tensor std(const Tensor& a, const Dims& dims = {}, double correction = 1, bool keepdim = false);
// Over all elements: a 0-dim tensor; the gradient goes to the first maximal element.
Tensor max(const Tensor& a);
Tensor min(const Tensor& a);
// Along one dim: values (differentiable) and int64 indices (ties: the first).
ValuesIndices max(const Tensor& a, std::int64_t dim, bool keepdim = false);
ValuesIndices min(const Tensor& a, std::int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& a);
Tensor argmax(const Tensor& a, std::int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& a);
Tensor argmin(const Tensor& a, std::int64_t dim, bool keepdim = false);
Tensor logsumexp(const Tensor& a, const Dims& dims, bool keepdim = false);
// Each slice along dim in ascending (or descending) order, and the int64 positions the values
// came from, as torch.sort; ties keep their index order (whatever `stable` says) and NaN sorts
// as the greatest value. The values' gradient goes back to the positions they came from.
ValuesIndices sort(const Tensor& a, std::int64_t dim = -1, bool descending = false, bool stable = false);
// The k largest (or smallest) of each slice along dim, in sorted order, with their positions, as
// torch.topk (NaN counts as the greatest value); 0 <= k <= the dim's size.
ValuesIndices topk(const Tensor& a, std::int64_t k, std::int64_t dim = -1, bool largest = true, bool sorted = true);
Tensor softmax(const Tensor& a, std::int64_t dim);
Tensor log_softmax(const Tensor& a, std::int64_t dim);
// Running sums along dim, as torch.cumsum: out[.., i, ..] = a[.., 0, ..] + ... + a[.., i, ..], added
// in index order (float32 carried in double); int64 stays int64.
Tensor cumsum(const Tensor& a, std::int64_t dim);
// Sums `a` down to `shape` (the inverse of broadcasting `shape` up to a's shape).
Tensor sum_to(const Tensor& a, const Shape& shape);

// ---- linear algebra and joining (autodiff/ops/linalg.cpp) ----
// As torch.matmul: 1-D x 1-D is dot; a 1-D lhs is a row and a 1-D rhs a column (that dim then
// dropped); dims before the last two are batch dims, broadcast (a 2-D operand is shared).
Tensor matmul(const Tensor& a, const Tensor& b);
// [B, n, m] x [B, m, p] -> [B, n, p]; no broadcasting, as torch.bmm.
Tensor bmm(const Tensor& a, const Tensor& b);
// input [..., in] W^T + bias for a weight [out, in] and optional bias [out]: one product with
// the bias accumulated in, and gradients produced in the parameters' own layout.
Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias = {});
Tensor dot(const Tensor& a, const Tensor& b);
Tensor outer(const Tensor& a, const Tensor& b);
Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim = 0);

// ---- shape and indexing; views share storage (autodiff/ops/shape.cpp, indexing.cpp) ----
Tensor reshape(const Tensor& a, Shape shape);  // a view when possible, else a copy; one dim may be -1
Tensor view(const Tensor& a, Shape shape);     // always a view; an error if the strides do not allow it
Tensor flatten(const Tensor& a, std::int64_t start_dim = 0, std::int64_t end_dim = -1);
Tensor squeeze(const Tensor& a);
Tensor squeeze(const Tensor& a, std::int64_t dim);
Tensor unsqueeze(const Tensor& a, std::int64_t dim);
Tensor transpose(const Tensor& a, std::int64_t dim0, std::int64_t dim1);
Tensor permute(const Tensor& a, const Dims& dims);
Tensor narrow(const Tensor& a, std::int64_t dim, std::int64_t start, std::int64_t length);
// Elements start, start+step, ... below end along dim (negative start/end count from the end).
Tensor slice(const Tensor& a, std::int64_t dim, std::int64_t start, std::int64_t end, std::int64_t step = 1);
Tensor select(const Tensor& a, std::int64_t dim, std::int64_t index);
// Views of consecutive pieces along dim. chunk: `chunks` pieces of ceil(size / chunks), the last
// smaller, fewer when the size runs out (as torch.chunk). split: pieces of split_size, the last
// smaller; or pieces of the given sizes, which must add up to the dim's size.
std::vector<Tensor> chunk(const Tensor& a, std::int64_t chunks, std::int64_t dim = 0);
std::vector<Tensor> split(const Tensor& a, std::int64_t split_size, std::int64_t dim = 0);
std::vector<Tensor> split(const Tensor& a, const std::vector<std::int64_t>& sizes, std::int64_t dim = 0);
Tensor expand(const Tensor& a, const Shape& shape);  // -1 keeps a dim
Tensor contiguous(const Tensor& a);
Tensor clone(const Tensor& a);
Tensor to_dtype(const Tensor& a, DType dtype);
Tensor index_select(const Tensor& a, std::int64_t dim, const Tensor& index);
Tensor gather(const Tensor& a, std::int64_t dim, const Tensor& index);
// Zeros of `shape` with `source` added at `index` along dim (the gradient of index_select).
Tensor index_add_into_zeros(const Tensor& source, const Shape& shape, std::int64_t dim, const Tensor& index);
// Zeros of `shape` with `source` scatter-added along dim (the gradient of gather).
Tensor scatter_add_into_zeros(const Tensor& source, const Shape& shape, std::int64_t dim, const Tensor& index);

// ---- neural-network functions (autodiff/ops/nn_functional.cpp); images are NCHW ----
struct Conv2dParams {
  std::array<std::int64_t, 2> stride{1, 1};
  std::array<std::int64_t, 2> padding{0, 0};   // zeros added on each side
  std::array<std::int64_t, 2> dilation{1, 1};
  // Input and output channels split into this many groups, each convolved with its own filters;
  // groups == C_in is a depthwise convolution.
  std::int64_t groups = 1;
};
// input [N, C_in, H, W], weight [C_out, C_in / groups, kH, kW], bias [C_out] (optional: pass {}).
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias = {}, const Conv2dParams& params = {});
// relu(conv2d(input, weight, bias, params)) in one pass over the output: the same values and
// gradients, without the output making a second trip through memory. nn::Sequential runs a
// Conv2d followed by a ReLU this way.
Tensor conv2d_relu(const Tensor& input, const Tensor& weight, const Tensor& bias = {},
                   const Conv2dParams& params = {});
// The two gradients of conv2d, differentiable themselves (so conv layers have second
// derivatives): d(input) from d(output) and the weight, d(weight) from the input and d(output).
Tensor conv2d_input_grad(const Tensor& grad_output, const Tensor& weight, const Shape& input_shape,
                         const Conv2dParams& params);
Tensor conv2d_weight_grad(const Tensor& input, const Tensor& grad_output, const Shape& weight_shape,
                          const Conv2dParams& params);

struct Conv1dParams {
  std::int64_t stride = 1;
  std::int64_t padding = 0;  // zeros added on each side
  std::int64_t dilation = 1;
  std::int64_t groups = 1;
};
// input [N, C_in, L] (or [C_in, L]), weight [C_out, C_in / groups, k], bias [C_out] (optional):
// conv2d over a unit height.
Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias = {}, const Conv1dParams& params = {});

struct ConvTranspose2dParams {
  std::array<std::int64_t, 2> stride{1, 1};
  std::array<std::int64_t, 2> padding{0, 0};         // removed from each side of the output
  std::array<std::int64_t, 2> output_padding{0, 0};  // added to one side; below the stride or the dilation
  std::int64_t groups = 1;
  std::array<std::int64_t, 2> dilation{1, 1};
};
// The adjoint of conv2d (conv2d_input_grad with the input as grad_output), as F.conv_transpose2d:
// input [N, C_in, H, W] (or [C_in, H, W]), weight [C_in, C_out / groups, kH, kW], bias [C_out]
// (optional); H_out = (H - 1) stride - 2 padding + dilation (kH - 1) + output_padding + 1.
Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const Tensor& bias = {},
                        const ConvTranspose2dParams& params = {});

struct Pool2dParams {
  std::array<std::int64_t, 2> kernel{2, 2};
  std::array<std::int64_t, 2> stride{0, 0};    // 0: the kernel size, as PyTorch's default
  std::array<std::int64_t, 2> padding{0, 0};   // implicit -inf (max) or zeros (average) on each side
  std::array<std::int64_t, 2> dilation{1, 1};  // spacing of the window's taps (max pooling only)
  // Output size rounded up rather than down: a last, partial window is kept when it starts inside
  // the input or the left padding, as PyTorch's.
  bool ceil_mode = false;
};
// Max over each window of [N, C, H, W] (or [C, H, W]); the gradient goes to the first maximum.
Tensor max_pool2d(const Tensor& input, const Pool2dParams& params);
// kernel_size x kernel_size windows with stride kernel_size: max_pool2d(x, 2) as F.max_pool2d(x, 2).
Tensor max_pool2d(const Tensor& input, std::int64_t kernel_size);
// Also the int64 position of each maximum within its H*W plane, as return_indices=True.
ValuesIndices max_pool2d_with_indices(const Tensor& input, const Pool2dParams& params);
// relu(max_pool2d(input, params)), equal to max_pool2d(relu(input), params) value for value and
// in its gradient, with the ReLU applied while each plane is in cache and its gradient inside the
// pooling's. nn::Sequential runs a ReLU followed by a MaxPool2d (or a MaxPool2d followed by a
// ReLU) this way.
Tensor max_pool2d_relu(const Tensor& input, const Pool2dParams& params);

struct AvgPool2dParams {
  std::array<std::int64_t, 2> kernel{2, 2};
  std::array<std::int64_t, 2> stride{0, 0};   // 0: the kernel size, as PyTorch's default
  std::array<std::int64_t, 2> padding{0, 0};  // zeros on each side
  bool ceil_mode = false;                      // as Pool2dParams
  bool count_include_pad = true;               // whether the padding's zeros count in the divisor
  std::optional<std::int64_t> divisor_override{};  // when set, every window's sum is divided by it
};
// Mean over each window of [N, C, H, W] (or [C, H, W]), as F.avg_pool2d: the divisor is the
// window's size within the padded input (count_include_pad) or within the input.
Tensor avg_pool2d(const Tensor& input, const AvgPool2dParams& params);
// Mean over output_size[0] x output_size[1] windows covering [N, C, H, W] (or [C, H, W]), as
// F.adaptive_avg_pool2d: output row i averages input rows floor(i H / out_h) to ceil((i+1) H / out_h) - 1,
// columns alike. {1, 1} is global average pooling.
Tensor adaptive_avg_pool2d(const Tensor& input, const std::array<std::int64_t, 2>& output_size);

// Batch normalization over dim 1 of [N, C], [N, C, L] or [N, C, H, W]. Training normalizes
// with the batch statistics (biased variance) and, when running_mean / running_var are given,
// updates them in place with `momentum` (the running variance is unbiased); evaluation
// normalizes with the running statistics. weight / bias ([C]) are optional.
Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum = 0.1, double eps = 1e-5);

// Normalization over the last normalized_shape.size() dims, which must equal normalized_shape,
// with the biased variance; weight and bias (optional) have normalized_shape. As torch's.
Tensor layer_norm(const Tensor& input, const Shape& normalized_shape, const Tensor& weight = {}, const Tensor& bias = {},
                  double eps = 1e-5);
// Normalization of [N, C, ...] over each of num_groups groups of C / num_groups channels (and
// every position), then weight and bias ([C], optional) per channel. As torch's.
Tensor group_norm(const Tensor& input, std::int64_t num_groups, const Tensor& weight = {}, const Tensor& bias = {},
                  double eps = 1e-5);
// The rows of weight [num_embeddings, dim] at int64 indices of any shape: [*indices.shape, dim].
// The row at padding_idx (negative counts from the end) is read but receives no gradient.
Tensor embedding(const Tensor& indices, const Tensor& weight, std::optional<std::int64_t> padding_idx = std::nullopt);

// Zeroes each element with probability p and scales the rest by 1/(1-p); identity unless training.
Tensor dropout(const Tensor& input, double p, bool training, Generator& generator);
Tensor dropout(const Tensor& input, double p, bool training);

// ---- attention (autodiff/ops/attention.cpp) ----
// As torch 2.x's F.scaled_dot_product_attention: softmax(Q K^T * scale + mask) V for query
// [..., L, E], key [..., S, E], value [..., S, Ev] -> [..., L, Ev] (batch dims broadcast). scale
// defaults to 1/sqrt(E). A floating attn_mask (broadcasting to [..., L, S]) is added to the
// scores; a mask of any other dtype is boolean: non-zero (true) positions take part, the rest get
// -inf (a row with none gives NaN, as torch). is_causal keeps key positions j <= i (tril) and
// excludes attn_mask. Dropout with probability dropout_p is applied to the weights whenever it is
// non-zero, drawing from the default generator.
Tensor scaled_dot_product_attention(const Tensor& query, const Tensor& key, const Tensor& value,
                                    const Tensor& attn_mask = {}, double dropout_p = 0, bool is_causal = false,
                                    std::optional<double> scale = std::nullopt);

// ---- losses (autodiff/ops/loss.cpp) ----
enum class Reduction { None, Mean, Sum };
// logits [N, C] (or [N, C, d...]) and int64 class indices [N] (or [N, d...]): log-softmax and
// NLL fused, computed stably. A target equal to -100 (torch's default ignore_index) is skipped.
Tensor cross_entropy(const Tensor& logits, const Tensor& target, Reduction reduction = Reduction::Mean);
// torch's further options. Targets are class indices as above, or class probabilities shaped
// like the logits (then ignore_index does not apply, and the mean is over rows, unweighted).
struct CrossEntropyOptions {
  Tensor weight = {};                // [C] per-class weights; the mean then divides by the targets' total weight
  std::int64_t ignore_index = -100;  // class-index targets equal to it add nothing and count nothing
  double label_smoothing = 0;        // in [0, 1]: the target mixes with the uniform distribution
  Reduction reduction = Reduction::Mean;
};
Tensor cross_entropy(const Tensor& logits, const Tensor& target, const CrossEntropyOptions& options);
// log_probs and targets shaped as for cross_entropy: the mean (or sum) of -log_probs[i, target[i]].
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, Reduction reduction = Reduction::Mean);
// Shapes must be equal: PyTorch's silent broadcast of [N] against [N, 1] is an error here.
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
// Targets are probabilities in [0, 1] with the input's shape; computed stably for any logit.
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target,
                                        Reduction reduction = Reduction::Mean);

}  // namespace tapegrad
