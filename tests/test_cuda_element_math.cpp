// The CUDA backend's per-thread arithmetic, run on the CPU: each test builds the plan the CUDA
// backend builds for an op (launch_plans.h), runs the per-thread function of its kernel
// (element_math.h) for every thread index, exactly as the grid-stride loop would, and compares
// the result with the CPU backend's. Only the launch itself is left for a GPU to test.
#include <cmath>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include <tapegrad/kernels/cuda/element_math.h>
#include <tapegrad/kernels/cuda/launch_geometry.h>
#include <tapegrad/kernels/cuda/launch_plans.h>
#include <tapegrad/tapegrad.h>

namespace tapegrad {
namespace {

using namespace kernels;
using namespace kernels::cuda;

Backend& cpu() { return backend_for(Device::cpu()); }

Tensor random_input(const Shape& shape, std::uint64_t seed) {
  Generator generator(seed);
  return randn(shape, generator, kFloat64);
}

// Random values on a coarse grid, with a NaN and a -inf, so windows and slices hold ties and the
// special values meet the comparison rules.
Tensor with_ties(const Shape& shape, std::uint64_t seed) {
  std::vector<double> values = random_input(shape, seed).to_vector<double>();
  for (double& v : values) v = std::floor(v * 2.0);
  values[5] = std::nan("");
  values[11] = -INFINITY;
  return from_vector(values, shape, kFloat64);
}

// The same values in a [.., W, H] buffer seen through a transpose: strides that are not row-major.
Tensor strided_copy(const Tensor& t) { return t.transpose(-1, -2).contiguous().transpose(-1, -2); }

void expect_same_values(const std::vector<double>& actual, const std::vector<double>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (std::size_t i = 0; i < actual.size(); ++i) {
    if (std::isnan(expected[i])) {
      EXPECT_TRUE(std::isnan(actual[i])) << "element " << i;
    } else {
      EXPECT_EQ(actual[i], expected[i]) << "element " << i;
    }
  }
}

Window2d window(std::int64_t batch, std::int64_t channels, std::int64_t height, std::int64_t width, std::int64_t kernel,
                std::int64_t stride, std::int64_t pad, std::int64_t dilation) {
  Window2d g;
  g.batch = batch;
  g.channels = channels;
  g.height = height;
  g.width = width;
  g.kernel_h = g.kernel_w = kernel;
  g.stride_h = g.stride_w = stride;
  g.pad_h = g.pad_w = pad;
  g.dilation_h = g.dilation_w = dilation;
  g.out_h = (height + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1;
  g.out_w = (width + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1;
  return g;
}

void strides_of(const Tensor& t, std::int64_t (&s)[4]) {
  for (int d = 0; d < 4; ++d) s[d] = t.strides()[d];
}

const std::vector<Window2d> kWindows = {
    window(2, 3, 7, 6, 3, 1, 1, 1), window(2, 3, 7, 6, 3, 2, 1, 1), window(1, 2, 9, 8, 5, 1, 2, 1),
    window(2, 2, 9, 9, 3, 2, 2, 2), window(3, 1, 5, 5, 1, 1, 0, 1), window(1, 2, 6, 7, 2, 3, 0, 1)};

TEST(CudaElementMath, Im2colEntriesAreTheCpuBackendsColumns) {
  for (const Window2d& g : kWindows) {
    const Tensor image = strided_copy(random_input({g.batch, g.channels, g.height, g.width}, 1));
    const std::int64_t rows = g.channels * g.kernel_h * g.kernel_w, width = g.batch * g.out_h * g.out_w;
    const Tensor expected = zeros({rows, width}, kFloat64);
    cpu().im2col(image.desc(), g, expected.desc());
    std::int64_t s[4];
    strides_of(image, s);
    std::vector<double> actual(rows * width);
    for (std::int64_t e = 0; e < rows * width; ++e) actual[e] = im2col_element(image.desc().ptr<double>(), s, g, e);
    expect_same_values(actual, expected.to_vector<double>());
  }
}

TEST(CudaElementMath, Col2imPixelsSumTheCpuBackendsFold) {
  for (const Window2d& g : kWindows) {
    const std::int64_t rows = g.channels * g.kernel_h * g.kernel_w, width = g.batch * g.out_h * g.out_w;
    const Tensor columns = random_input({rows, width}, 2);
    const Tensor expected = zeros({g.batch, g.channels, g.height, g.width}, kFloat64);
    cpu().col2im(columns.desc(), g, expected.desc());
    const std::vector<double> reference = expected.to_vector<double>();
    for (std::int64_t e = 0; e < expected.numel(); ++e)
      EXPECT_NEAR(col2im_element(columns.desc().ptr<double>(), g, e), reference[e], 1e-12) << "pixel " << e;
  }
}

TEST(CudaElementMath, MaxPoolOutputsAndArgmaxAreTheCpuBackends) {
  for (const Window2d& base : {window(2, 3, 7, 6, 3, 2, 1, 1), window(2, 2, 8, 8, 2, 2, 0, 1),
                               window(1, 2, 7, 7, 3, 1, 1, 1)}) {
    const Tensor input = strided_copy(with_ties({base.batch, base.channels, base.height, base.width}, 3));
    const Shape out_shape{base.batch, base.channels, base.out_h, base.out_w};
    const Tensor expected_values = empty(out_shape, kFloat64), expected_indices = empty(out_shape, kInt64);
    cpu().max_pool2d(input.desc(), base, expected_values.desc(), expected_indices.desc());
    std::int64_t s[4];
    strides_of(input, s);
    std::vector<double> actual_values(expected_values.numel());
    std::vector<std::int64_t> actual_indices(expected_values.numel());
    for (std::int64_t e = 0; e < expected_values.numel(); ++e) {
      double value = 0;
      max_pool_element(input.desc().ptr<double>(), s, base, e, value, actual_indices[e]);
      actual_values[e] = value;
    }
    expect_same_values(actual_values, expected_values.to_vector<double>());
    EXPECT_EQ(actual_indices, expected_indices.to_vector<std::int64_t>());
  }
}

// The block kernel's order: thread t sums elements t, t + 256, ...; a halving tree combines them.
double block_sum(const Tensor& in, std::int64_t base, const ReducePlan& plan) {
  std::vector<double> partial(kThreadsPerBlock);
  for (int t = 0; t < kThreadsPerBlock; ++t)
    partial[t] = sum_over(in.desc().ptr<double>(), base, plan.reduced, t, plan.reduction, kThreadsPerBlock);
  for (int half = kThreadsPerBlock / 2; half > 0; half /= 2)
    for (int t = 0; t < half; ++t) partial[t] += partial[t + half];
  return partial[0];
}

TEST(CudaElementMath, ReducePlansSumTheSameElementsAsTheCpuBackend) {
  const Tensor in = strided_copy(random_input({3, 4, 50, 6}, 4));
  for (const Dims& dims : {Dims{0}, Dims{1, 3}, Dims{2}, Dims{0, 2}, Dims{0, 1, 2, 3}, Dims{3}}) {
    const Tensor expected = sum(in, dims, true);
    const Tensor out = zeros(expected.shape(), kFloat64);
    const ReducePlan plan = plan_reduce_sum(in.desc(), out.expand(in.shape()).desc());
    ASSERT_EQ(plan.outputs * plan.reduction, in.numel());
    const std::vector<double> reference = expected.to_vector<double>();
    for (std::int64_t m = 0; m < plan.outputs; ++m) {
      std::int64_t off[2];
      plan.kept.offsets(m, off);
      const double by_thread = sum_over(in.desc().ptr<double>(), off[0], plan.reduced, 0, plan.reduction, 1);
      out.desc().ptr<double>()[off[1]] = by_thread;
      EXPECT_NEAR(block_sum(in, off[0], plan), by_thread, 1e-12);
    }
    const std::vector<double> actual = out.to_vector<double>();
    for (std::size_t i = 0; i < actual.size(); ++i) EXPECT_NEAR(actual[i], reference[i], 1e-12) << "output " << i;
  }
}

TEST(CudaElementMath, SlicePlansFindTheCpuBackendsMaximaAndSoftmax) {
  const Tensor in = strided_copy(with_ties({3, 5, 4}, 5));
  const TensorDesc in_desc = in.desc();
  for (int dim = 0; dim < 3; ++dim) {
    for (const Extreme extreme : {Extreme::Max, Extreme::Min}) {
      const ValuesIndices expected = extreme == Extreme::Min ? min(in, dim, true) : max(in, dim, true);
      const Tensor got_values = empty(expected.values.shape(), kFloat64);
      const Tensor got_indices = empty(expected.values.shape(), kInt64);
      const TensorDesc v = got_values.desc(), ix = got_indices.desc();
      const auto plan = plan_slices<3>(in.shape(), dim, {&in_desc.strides, &v.strides, &ix.strides});
      for (std::int64_t s = 0; s < plan.count; ++s) {
        std::int64_t off[3];
        plan.slices.offsets(s, off);
        extreme_of_slice(in_desc.ptr<double>() + off[0], plan.extent, in.strides()[dim], extreme,
                         v.ptr<double>()[off[1]], ix.ptr<std::int64_t>()[off[2]]);
      }
      expect_same_values(got_values.to_vector<double>(), expected.values.to_vector<double>());
      EXPECT_EQ(got_indices.to_vector<std::int64_t>(), expected.indices.to_vector<std::int64_t>());
    }
    const Tensor finite = strided_copy(random_input({3, 5, 4}, 6) * 30.0);
    for (const SoftmaxOutput output : {SoftmaxOutput::Probabilities, SoftmaxOutput::LogProbabilities}) {
      const Tensor expected =
          output == SoftmaxOutput::LogProbabilities ? log_softmax(finite, dim) : softmax(finite, dim);
      const Tensor out = empty(finite.shape(), kFloat64);
      const TensorDesc o = out.desc();
      const TensorDesc f = finite.desc();
      const auto plan = plan_slices<2>(finite.shape(), dim, {&f.strides, &o.strides});
      for (std::int64_t s = 0; s < plan.count; ++s) {
        std::int64_t off[2];
        plan.slices.offsets(s, off);
        softmax_slice(f.ptr<double>() + off[0], o.ptr<double>() + off[1], plan.extent,
                      finite.strides()[dim], o.strides[dim], output);
      }
      expect_same_values(out.to_vector<double>(), expected.to_vector<double>());
    }
  }
}

// Runs the cumsum plan slice by slice, as its threads would, into a fresh contiguous output.
template <class T>
Tensor cumsum_by_slices(const Tensor& in, int dim) {
  const Tensor out = empty(in.shape(), in.dtype());
  const TensorDesc i = in.desc(), o = out.desc();
  const auto plan = plan_slices<2>(in.shape(), dim, {&i.strides, &o.strides});
  for (std::int64_t s = 0; s < plan.count; ++s) {
    std::int64_t off[2];
    plan.slices.offsets(s, off);
    cumsum_slice(i.ptr<T>() + off[0], o.ptr<T>() + off[1], plan.extent, i.strides[dim], o.strides[dim]);
  }
  return out;
}

TEST(CudaElementMath, SlicePlansGiveTheCpuBackendsRunningSums) {
  const Tensor values = random_input({3, 5, 4}, 7) * 1e4;
  const Tensor in = strided_copy(values), single = strided_copy(values.to(kFloat32)),
               integers = strided_copy(values.to(kInt64));
  for (int dim = 0; dim < 3; ++dim) {
    EXPECT_EQ(cumsum_by_slices<double>(in, dim).to_vector<double>(), cumsum(in, dim).to_vector<double>()) << dim;
    EXPECT_EQ(cumsum_by_slices<float>(single, dim).to_vector<float>(), cumsum(single, dim).to_vector<float>()) << dim;
    EXPECT_EQ(cumsum_by_slices<std::int64_t>(integers, dim).to_vector<std::int64_t>(),
              cumsum(integers, dim).to_vector<std::int64_t>())
        << dim;
  }
}

// Runs the argsort plan slice by slice, as its threads would (insertion sort), into fresh indices;
// the CPU backend sorts with std::stable_sort, so ties and NaN must land alike by the shared rule.
Tensor argsort_by_slices(const Tensor& in, int dim, SortOrder order) {
  const Tensor out = empty(in.shape(), kInt64);
  const TensorDesc i = in.desc(), o = out.desc();
  const auto plan = plan_slices<2>(in.shape(), dim, {&i.strides, &o.strides});
  for (std::int64_t s = 0; s < plan.count; ++s) {
    std::int64_t off[2];
    plan.slices.offsets(s, off);
    argsort_slice_by_insertion(i.ptr<double>() + off[0], plan.extent, i.strides[dim], order,
                               o.ptr<std::int64_t>() + off[1], o.strides[dim]);
  }
  return out;
}

TEST(CudaElementMath, SlicePlansSortAsTheCpuBackendWithTiesAndNaN) {
  const Tensor in = strided_copy(with_ties({3, 5, 4}, 8));
  for (int dim = 0; dim < 3; ++dim)
    for (const bool descending : {false, true}) {
      EXPECT_EQ(argsort_by_slices(in, dim, descending ? SortOrder::Descending : SortOrder::Ascending)
                    .to_vector<std::int64_t>(),
                sort(in, dim, descending).indices.to_vector<std::int64_t>())
          << dim << (descending ? " descending" : " ascending");
    }
}

// Runs a gather plan thread by thread; returns the first bad index, or -1.
std::int64_t run_gather(const GatherPlan& plan, const Tensor& in, const Tensor& index, const Tensor& out) {
  std::int64_t bad = -1;
  for (std::int64_t i = 0; i < plan.n; ++i) {
    std::int64_t this_bad = 0;
    if (!gather_element(plan.layout, i, index.desc().ptr<std::int64_t>(), plan.extent, plan.in_step,
                        in.desc().ptr<double>(), out.desc().ptr<double>(), this_bad) && bad == -1)
      bad = this_bad;
  }
  return bad;
}

std::int64_t run_scatter(const ScatterPlan& plan, const Tensor& src, const Tensor& index, const Tensor& out) {
  std::int64_t bad = -1;
  for (std::int64_t s = 0; s < plan.count; ++s) {
    std::int64_t this_bad = 0;
    if (!scatter_add_slice(plan.slices, s, plan.length, plan.index_step, plan.src_step,
                           index.desc().ptr<std::int64_t>(), src.desc().ptr<double>(), plan.extent, plan.out_step,
                           out.desc().ptr<double>(), this_bad) && bad == -1)
      bad = this_bad;
  }
  return bad;
}

// The same plan run with one thread per output element, the kernel chosen when slices are few.
std::int64_t run_scatter_owned(const ScatterPlan& plan, const Tensor& src, const Tensor& index, const Tensor& out) {
  std::int64_t bad = -1;
  for (std::int64_t e = 0; e < plan.count * plan.extent; ++e) {
    std::int64_t this_bad = 0;
    if (!scatter_add_owned(plan.slices, e / plan.extent, e % plan.extent, plan.length, plan.index_step,
                           plan.src_step, index.desc().ptr<std::int64_t>(), src.desc().ptr<double>(), plan.extent,
                           plan.out_step, out.desc().ptr<double>(), this_bad) && bad == -1)
      bad = this_bad;
  }
  return bad;
}

TEST(CudaElementMath, BothScatterKernelsGiveTheSameBitsAsTheCpuBackend) {
  // Max-pool backward's shape: [N, C, H * W] planes receiving [N, C, out_plane] window maxima,
  // many landing on the same pixel, in an order that changes the rounding of their sum.
  const Tensor src = random_input({2, 3, 40}, 14) * 1e3;
  Generator generator(15);
  const Tensor index = randint(0, 6, {2, 3, 40}, generator, TensorOptions(kInt64));
  ASSERT_TRUE(scatter_by_owner(6, 6, 40));
  EXPECT_FALSE(scatter_by_owner(6, 0, 40)) << "an empty output has no owners to report bad indices";
  const Tensor start = random_input({2, 3, 6}, 16);
  const Tensor expected = start.clone(), by_slice = start.clone(), by_owner = start.clone();
  cpu().scatter_add(src.desc(), 2, index.desc(), expected.desc());
  const ScatterPlan plan = plan_scatter_add(src.desc(), 2, index.desc(), by_slice.desc());
  EXPECT_EQ(run_scatter(plan, src, index, by_slice), -1);
  EXPECT_EQ(run_scatter_owned(plan, src, index, by_owner), -1);
  EXPECT_EQ(by_slice.to_vector<double>(), expected.to_vector<double>());
  EXPECT_EQ(by_owner.to_vector<double>(), expected.to_vector<double>());

  const Tensor bad = from_vector(std::vector<std::int64_t>(2 * 3 * 40, 6), Shape{2, 3, 40});
  const Tensor untouched = start.clone();
  EXPECT_EQ(run_scatter_owned(plan_scatter_add(src.desc(), 2, bad.desc(), untouched.desc()), src, bad, untouched), 6);
}

TEST(CudaElementMath, IndexPlansMatchTheCpuBackendIncludingRepeatedIndices) {
  const Tensor in = strided_copy(random_input({4, 5, 3}, 7));
  for (int dim = 0; dim < 3; ++dim) {
    // Repeated indices: the adjoints must add both contributions.
    const std::int64_t n = in.size(dim);
    const Tensor index = from_vector(std::vector<std::int64_t>{3 % n, 0, 3 % n, 1 % n});
    // index_select, and its adjoint index_add
    Shape selected = in.shape();
    selected[dim] = index.numel();
    const Tensor expected = zeros(selected, kFloat64), actual = zeros(selected, kFloat64);
    cpu().index_select(in.desc(), dim, index.desc(), expected.desc());
    EXPECT_EQ(run_gather(plan_index_select(in.desc(), dim, index.desc(), actual.desc()), in, index, actual), -1);
    expect_same_values(actual.to_vector<double>(), expected.to_vector<double>());

    const Tensor added_expected = zeros(in.shape(), kFloat64), added = zeros(in.shape(), kFloat64);
    cpu().index_add(expected.desc(), dim, index.desc(), added_expected.desc());
    EXPECT_EQ(run_scatter(plan_index_add(expected.desc(), dim, index.desc(), added.desc()), expected, index, added),
              -1);
    expect_same_values(added.to_vector<double>(), added_expected.to_vector<double>());

    // gather along dim with an index of in's shape but 2 along dim, and its adjoint scatter_add
    Shape picked = in.shape();
    picked[dim] = 2;
    Generator generator(8 + dim);
    const Tensor positions = randint(0, in.size(dim), picked, generator, TensorOptions(kInt64));
    const Tensor gathered_expected = zeros(picked, kFloat64), gathered = zeros(picked, kFloat64);
    cpu().gather(in.desc(), dim, positions.desc(), gathered_expected.desc());
    EXPECT_EQ(run_gather(plan_gather(in.desc(), dim, positions.desc(), gathered.desc()), in, positions, gathered), -1);
    expect_same_values(gathered.to_vector<double>(), gathered_expected.to_vector<double>());

    const Tensor scattered_expected = zeros(in.shape(), kFloat64), scattered = zeros(in.shape(), kFloat64);
    cpu().scatter_add(gathered.desc(), dim, positions.desc(), scattered_expected.desc());
    EXPECT_EQ(run_scatter(plan_scatter_add(gathered.desc(), dim, positions.desc(), scattered.desc()), gathered,
                          positions, scattered),
              -1);
    expect_same_values(scattered.to_vector<double>(), scattered_expected.to_vector<double>());
  }
  // An index out of range is reported, not followed.
  const Tensor bad = from_vector(std::vector<std::int64_t>{1, 9});
  const Tensor out = zeros({2, 5, 3}, kFloat64);
  EXPECT_EQ(run_gather(plan_index_select(in.desc(), 0, bad.desc(), out.desc()), in, bad, out), 9);
}

TEST(CudaElementMath, ElementwiseLayoutsAndFunctorsGiveTheCpuBackendsResults) {
  const Tensor a = strided_copy(random_input({3, 4, 5}, 9));
  const Tensor b = random_input({4, 1}, 10);
  const Tensor expected = zeros({3, 4, 5}, kFloat64), actual = zeros({3, 4, 5}, kFloat64);
  const TensorDesc da = a.desc(), db = b.expand({3, 4, 5}).desc(), dout = actual.desc();
  cpu().binary(BinaryOp::Div, da, db, expected.desc(), 1.0);
  const auto layout = coalesce<3>(dout.shape, {&da.strides, &db.strides, &dout.strides});
  const Binary<BinaryOp::Div> divide{1.0};
  for (std::int64_t i = 0; i < actual.numel(); ++i) {
    std::int64_t off[3];
    layout.offsets(i, off);
    dout.ptr<double>()[off[2]] = divide(da.ptr<double>()[off[0]], db.ptr<double>()[off[1]]);
  }
  expect_same_values(actual.to_vector<double>(), expected.to_vector<double>());
}

TEST(CudaElementMath, RandomFillsDrawTheCpuBackendsNumbersInRowMajorOrder) {
  for (Distribution dist : {Distribution::Uniform, Distribution::Normal}) {
    const Tensor expected = zeros({4, 6}, kFloat32).transpose(0, 1);  // row-major order differs from memory order
    cpu().fill_random(expected.desc(), dist, -1.0, 2.0, 1234, 77);
    const Tensor actual = zeros({4, 6}, kFloat32).transpose(0, 1);
    const TensorDesc d = actual.desc();
    const auto layout = coalesce<1>(d.shape, {&d.strides});
    for (std::int64_t i = 0; i < actual.numel(); ++i)
      d.ptr<float>()[layout.offset(0, i)] = random_element<float>(dist, -1.0, 2.0, 1234, 77 + i);
    EXPECT_EQ(actual.to_vector<float>(), expected.to_vector<float>());
  }
}

// BLAS's column-major gemm by its definition: C = alpha op(first) op(second) + beta C, each
// matrix stored column by column, batch after batch.
void column_major_gemm(const ColumnMajorGemm& g, double alpha, double beta) {
  for (std::int64_t b = 0; b < g.batch; ++b) {
    const double* x = static_cast<const double*>(g.first) + b * g.first_stride;
    const double* y = static_cast<const double*>(g.second) + b * g.second_stride;
    double* out = static_cast<double*>(g.out) + b * g.out_stride;
    for (std::int64_t i = 0; i < g.rows; ++i)
      for (std::int64_t j = 0; j < g.cols; ++j) {
        double total = 0;
        for (std::int64_t l = 0; l < g.inner; ++l) {
          const double xv = g.transpose_first ? x[l + i * g.first_ld] : x[i + l * g.first_ld];
          const double yv = g.transpose_second ? y[j + l * g.second_ld] : y[l + j * g.second_ld];
          total += xv * yv;
        }
        out[i + j * g.out_ld] = alpha * total + beta * out[i + j * g.out_ld];
      }
  }
}

TEST(CudaElementMath, TheColumnMajorGemmCublasIsAskedForIsTheRowMajorProduct) {
  const std::int64_t m = 3, n = 4, k = 5, batch = 2, pad = 2;  // leading dims `pad` wider than the matrices
  for (bool a_transposed : {false, true})
    for (bool b_transposed : {false, true}) {
      const std::int64_t a_rows = a_transposed ? k : m, a_cols = a_transposed ? m : k;
      const std::int64_t b_rows = b_transposed ? n : k, b_cols = b_transposed ? k : n;
      const Tensor a = random_input({batch, a_rows, a_cols + pad}, 11);
      const Tensor b = random_input({1, b_rows, b_cols + pad}, 12);  // shared by the batch: stride 0
      const Tensor c_start = random_input({batch, m, n + pad}, 13);
      const Tensor expected = c_start.clone(), actual = c_start.clone();
      GemmProblem problem;
      problem.dtype = kFloat64;
      problem.batch = batch;
      problem.m = m;
      problem.n = n;
      problem.k = k;
      problem.a = {a.desc().data, a_cols + pad, a_rows * (a_cols + pad), a_transposed};
      problem.b = {b.desc().data, b_cols + pad, 0, b_transposed};
      problem.alpha = 0.5;
      problem.beta = -2;
      problem.c = {expected.desc().data, n + pad, m * (n + pad)};
      cpu().gemm(problem);
      problem.c = {actual.desc().data, n + pad, m * (n + pad)};
      column_major_gemm(to_column_major(problem), problem.alpha, problem.beta);
      const std::vector<double> want = expected.to_vector<double>(), got = actual.to_vector<double>();
      for (std::size_t i = 0; i < want.size(); ++i)
        EXPECT_NEAR(got[i], want[i], 1e-12) << "a transposed " << a_transposed << ", b transposed " << b_transposed
                                            << ", element " << i;
    }
}

}  // namespace
}  // namespace tapegrad
