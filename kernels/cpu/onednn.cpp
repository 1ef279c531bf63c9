// oneDNN convolutions, one chunk of the batch per call on tapegrad's threads, and large float32
// products (matmul primitives, or oneDNN's sgemm for products split across threads). Primitives
// (and the reorders between tapegrad's NCHW arrays and oneDNN's blocked layouts) are made once
// per geometry and chunk size, then reused: making one compiles its kernel, which takes up to
// milliseconds. Scratch memory comes from the CPU backend's caching
// allocator, per call, so one primitive runs on several threads at once.
#include <tapegrad/kernels/cpu/onednn.h>

#ifdef TAPEGRAD_WITH_ONEDNN

#include <dlfcn.h>

#include <algorithm>
#include <array>
#include <bit>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include <dnnl.hpp>

#include <tapegrad/kernels/error.h>

#include <tapegrad/kernels/cpu/conv_activation.h>
#include <tapegrad/kernels/cpu/parallel.h>

namespace tapegrad::kernels::cpu::onednn {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;

// Below this many input channels x taps the im2col kernels are faster (measured on the B1 CNN:
// 1 -> 16 channels, 5x5, is faster on im2col; 16 -> 32 channels, 5x5, 2-3x faster on oneDNN).
constexpr std::int64_t kMinColumnRows = 64;
// The batch runs as at most this many chunks: few enough that each call is a real batch for
// oneDNN, enough for threads to share them. Fixed by the batch size alone, so the weight
// gradient's partial sums (one per chunk, added in order) do not depend on the thread count.
constexpr std::int64_t kMaxChunks = 8;
// From this many multiply-adds on, oneDNN 2.6's sgemm beats OpenBLAS 0.3.21's SkylakeX kernels
// (one core of an AMD EPYC with AVX-512, best of 7 x 2000 calls): the MNIST MLP's first layer,
// 64 x 128 x 784, 124 us against 140 us forward and 117 us against 131 us for its weight
// gradient; 256^3 and 512^3 9-10% faster; a batch-128 classifier head (128 x 10 x 1568) 6% slower
// forward, 35% and 24% faster backward. Below it OpenBLAS wins: 64 x 64 x 128, 15 us against 12.
constexpr std::int64_t kMinSgemmMultiplyAdds = std::int64_t{1} << 20;

enum class Pass { Forward, InputGrad, WeightGrad };

// Every thread that calls oneDNN asks its OpenMP runtime for one thread: the parallelism is
// tapegrad's, and an OpenMP team would spin beside it.
void use_one_openmp_thread() {
  thread_local bool done = false;
  if (done) return;
  using SetThreads = void (*)(int);
  if (auto set_threads = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"))) set_threads(1);
  done = true;
}

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& thread_stream() {
  thread_local dnnl::stream stream(cpu_engine());
  return stream;
}

// Memory from the CPU backend's allocator for one call.
class Scratch {
 public:
  explicit Scratch(std::size_t bytes)
      : bytes_(std::max<std::size_t>(bytes, 64)), data_(backend_for(Device::cpu()).allocate(bytes_)) {}
  ~Scratch() { backend_for(Device::cpu()).deallocate(data_, bytes_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  void* get() const { return data_; }

 private:
  std::size_t bytes_;
  void* data_;
};

// An operand in tapegrad's plain layout and in the layout the primitive wants, with the reorder
// between them when they differ.
struct Operand {
  memory::desc plain, wanted;
  dnnl::reorder to_wanted, to_plain;

  Operand(const memory::desc& plain_md, const memory::desc& wanted_md, bool read, bool written)
      : plain(plain_md), wanted(wanted_md) {
    if (plain == wanted) return;
    const dnnl::engine& e = cpu_engine();
    if (read) to_wanted = dnnl::reorder(memory(plain, e, DNNL_MEMORY_NONE), memory(wanted, e, DNNL_MEMORY_NONE));
    if (written) to_plain = dnnl::reorder(memory(wanted, e, DNNL_MEMORY_NONE), memory(plain, e, DNNL_MEMORY_NONE));
  }

  // The operand as the primitive reads or writes it: `data` itself when the layouts agree, else
  // `buffer` (filled from `data` when the primitive reads it).
  memory bind(void* data, Scratch& buffer, bool read) const {
    const dnnl::engine& e = cpu_engine();
    if (plain == wanted) return memory(wanted, e, data);
    memory wanted_memory(wanted, e, buffer.get());
    if (read) {
      memory plain_memory(plain, e, data);
      to_wanted.execute(thread_stream(), plain_memory, wanted_memory);
    }
    return wanted_memory;
  }
  void write_back(memory wanted_memory, void* data) const {
    if (plain == wanted) return;
    memory plain_memory(plain, cpu_engine(), data);
    to_plain.execute(thread_stream(), wanted_memory, plain_memory);
  }
  std::size_t bytes() const { return plain == wanted ? 0 : wanted.get_size(); }
};

// The primitives of one convolution geometry, for a chunk of `batch` images.
struct Convolution {
  memory::dims strides, dilates, padding_l, padding_r;
  memory::desc src, weights, bias, dst;
  dnnl::primitive_attr attr;
  dnnl::convolution_forward::primitive_desc forward_pd;

  Convolution(const Window2d& w, std::int64_t out_channels)
      : strides{w.stride_h, w.stride_w}, dilates{w.dilation_h - 1, w.dilation_w - 1}, padding_l{w.pad_h, w.pad_w},
        padding_r{padding_after(w.height, w.out_h, w.stride_h, w.kernel_h, w.dilation_h, w.pad_h),
                  padding_after(w.width, w.out_w, w.stride_w, w.kernel_w, w.dilation_w, w.pad_w)},
        src({w.batch, w.channels, w.height, w.width}, memory::data_type::f32, Tag::nchw),
        weights(weights_desc(w, out_channels)),
        bias({out_channels}, memory::data_type::f32, Tag::x),
        dst({w.batch, out_channels, w.out_h, w.out_w}, memory::data_type::f32, Tag::nchw) {
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    forward_pd = dnnl::convolution_forward::primitive_desc(
        dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                        any(src), any(weights), bias, any(dst), strides, dilates, padding_l, padding_r),
        attr, cpu_engine());
  }

  // The padding past the last tap that oneDNN wants stated: what the last output window reads
  // beyond the image (possibly less than pad, when the stride skips the end).
  static std::int64_t padding_after(std::int64_t size, std::int64_t out, std::int64_t stride, std::int64_t kernel,
                                    std::int64_t dilation, std::int64_t pad) {
    return (out - 1) * stride + (kernel - 1) * dilation + 1 - size - pad;
  }
  // [C_out, C / groups, kH, kW]; grouped, oneDNN reads the same array as [groups, C_out / groups, C / groups, kH, kW].
  static memory::desc weights_desc(const Window2d& w, std::int64_t out_channels) {
    if (w.groups == 1)
      return memory::desc({out_channels, w.channels, w.kernel_h, w.kernel_w}, memory::data_type::f32, Tag::oihw);
    return memory::desc({w.groups, out_channels / w.groups, w.channels / w.groups, w.kernel_h, w.kernel_w},
                        memory::data_type::f32, Tag::goihw);
  }
  static memory::desc any(const memory::desc& md) { return memory::desc(md.dims(), md.data_type(), Tag::any); }
};

struct ForwardPlan {
  Convolution conv;
  dnnl::convolution_forward primitive;
  Operand src, weights, dst;
  explicit ForwardPlan(const Window2d& w, std::int64_t out_channels)
      : conv(w, out_channels), primitive(conv.forward_pd), src(conv.src, conv.forward_pd.src_desc(), true, false),
        weights(conv.weights, conv.forward_pd.weights_desc(), true, false),
        dst(conv.dst, conv.forward_pd.dst_desc(), false, true) {}
};

struct InputGradPlan {
  Convolution conv;
  dnnl::convolution_backward_data::primitive_desc pd;
  dnnl::convolution_backward_data primitive;
  Operand diff_dst, weights, diff_src;
  explicit InputGradPlan(const Window2d& w, std::int64_t out_channels)
      : conv(w, out_channels),
        pd(dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_direct, Convolution::any(conv.src),
                                                 Convolution::any(conv.weights), Convolution::any(conv.dst),
                                                 conv.strides, conv.dilates, conv.padding_l, conv.padding_r),
           conv.attr, cpu_engine(), conv.forward_pd),
        primitive(pd), diff_dst(conv.dst, pd.diff_dst_desc(), true, false),
        weights(conv.weights, pd.weights_desc(), true, false), diff_src(conv.src, pd.diff_src_desc(), false, true) {}
};

struct WeightGradPlan {
  Convolution conv;
  dnnl::convolution_backward_weights::primitive_desc pd;
  dnnl::convolution_backward_weights primitive;
  Operand src, diff_dst, diff_weights;
  explicit WeightGradPlan(const Window2d& w, std::int64_t out_channels)
      : conv(w, out_channels),
        // With the bias gradient always: summing diff_dst while the primitive reads it costs
        // little, and one plan serves both calls.
        pd(dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, Convolution::any(conv.src),
                                                    Convolution::any(conv.weights), conv.bias,
                                                    Convolution::any(conv.dst), conv.strides, conv.dilates,
                                                    conv.padding_l, conv.padding_r),
           conv.attr, cpu_engine(), conv.forward_pd),
        primitive(pd), src(conv.src, pd.src_desc(), true, false), diff_dst(conv.dst, pd.diff_dst_desc(), true, false),
        diff_weights(conv.weights, pd.diff_weights_desc(), false, true) {}
};

using PlanKey = std::array<std::int64_t, 14>;

PlanKey key_of(const Window2d& w, std::int64_t out_channels) {
  return {w.batch,  w.channels, w.height,   w.width,    w.kernel_h,   w.kernel_w,   w.stride_h,
          w.stride_w, w.pad_h,  w.pad_w,    w.dilation_h, w.dilation_w, out_channels, w.groups};
}

// One cache per pass; plans live as long as the process.
template <class Plan>
const Plan& plan_for(const Window2d& w, std::int64_t out_channels) {
  static std::mutex mutex;
  static std::map<PlanKey, std::unique_ptr<Plan>> plans;
  std::lock_guard lock(mutex);
  std::unique_ptr<Plan>& plan = plans[key_of(w, out_channels)];
  if (!plan) plan = std::make_unique<Plan>(w, out_channels);
  return *plan;
}

std::int64_t chunk_count(std::int64_t batch) { return std::min(batch, kMaxChunks); }

// Runs per_chunk(first_image, window over the chunk's images) for the batch's chunks, on the
// pool's threads when the work is worth it.
template <class F>
void for_each_chunk(const Window2d& w, std::int64_t out_channels, F&& per_chunk) {
  const std::int64_t chunks = chunk_count(w.batch);
  const std::int64_t work = w.batch * out_channels * (w.channels / w.groups) * w.kernel_h * w.kernel_w * w.out_h *
                             w.out_w / kConvMultiplyAddsPerUnit;
  const auto run = [&](std::int64_t begin, std::int64_t end) {
    use_one_openmp_thread();
    for (std::int64_t c = begin; c < end; ++c) {
      Window2d chunk = w;
      const std::int64_t first = c * w.batch / chunks;
      chunk.batch = (c + 1) * w.batch / chunks - first;
      per_chunk(c, first, chunk);
    }
  };
  if (worth_parallel(work))
    run_parallel(chunks, chunks, num_threads(), run);
  else
    run(0, chunks);
}

void execute(const dnnl::primitive& primitive, const dnnl::primitive_desc_base& pd,
             std::unordered_map<int, memory> args) {
  Scratch scratchpad(pd.scratchpad_desc().get_size());
  args.insert({DNNL_ARG_SCRATCHPAD, memory(pd.scratchpad_desc(), cpu_engine(), scratchpad.get())});
  primitive.execute(thread_stream(), args);
}

void* mutable_ptr(const float* p) { return const_cast<float*>(p); }

}  // namespace

bool handles(const Window2d& w, DType dtype, bool contiguous_operands) {
  return dtype == DType::Float32 && contiguous_operands && w.channels * w.kernel_h * w.kernel_w >= kMinColumnRows;
}

void conv2d(const float* input, const float* weight, const float* bias, const Window2d& w, std::int64_t out_channels,
            float* out, ConvActivation activation) {
  const std::int64_t image_in = w.channels * w.height * w.width, image_out = out_channels * w.out_h * w.out_w;
  for_each_chunk(w, out_channels, [&](std::int64_t, std::int64_t first, const Window2d& chunk) {
    const ForwardPlan& plan = plan_for<ForwardPlan>(chunk, out_channels);
    Scratch src_buffer(plan.src.bytes()), weights_buffer(plan.weights.bytes()), dst_buffer(plan.dst.bytes());
    const memory src = plan.src.bind(mutable_ptr(input + first * image_in), src_buffer, true);
    const memory weights = plan.weights.bind(mutable_ptr(weight), weights_buffer, true);
    const memory dst = plan.dst.bind(out + first * image_out, dst_buffer, false);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}};
    // Without a bias the primitive still has a bias operand (it was made with one): zeros.
    Scratch zeros(bias == nullptr ? out_channels * sizeof(float) : 0);
    if (bias == nullptr) std::fill_n(static_cast<float*>(zeros.get()), out_channels, 0.0f);
    args.insert({DNNL_ARG_BIAS, memory(plan.conv.bias, cpu_engine(), bias != nullptr ? mutable_ptr(bias) : zeros.get())});
    execute(plan.primitive, plan.conv.forward_pd, std::move(args));
    plan.dst.write_back(dst, out + first * image_out);
    // Not oneDNN's ReLU post-op: its max against zero turns NaN into 0, where ReLU keeps NaN.
    if (activation == ConvActivation::Relu) apply_relu(out + first * image_out, chunk.batch * image_out);
  });
}

void conv2d_input_grad(const float* grad_output, const float* weight, const Window2d& w, std::int64_t out_channels,
                       float* grad_input) {
  const std::int64_t image_in = w.channels * w.height * w.width, image_out = out_channels * w.out_h * w.out_w;
  for_each_chunk(w, out_channels, [&](std::int64_t, std::int64_t first, const Window2d& chunk) {
    const InputGradPlan& plan = plan_for<InputGradPlan>(chunk, out_channels);
    Scratch dy_buffer(plan.diff_dst.bytes()), weights_buffer(plan.weights.bytes()), dx_buffer(plan.diff_src.bytes());
    const memory dy = plan.diff_dst.bind(mutable_ptr(grad_output + first * image_out), dy_buffer, true);
    const memory weights = plan.weights.bind(mutable_ptr(weight), weights_buffer, true);
    const memory dx = plan.diff_src.bind(grad_input + first * image_in, dx_buffer, false);
    execute(plan.primitive, plan.pd, {{DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DIFF_SRC, dx}});
    plan.diff_src.write_back(dx, grad_input + first * image_in);
  });
}

void conv2d_weight_grad(const float* input, const float* grad_output, const Window2d& w, std::int64_t out_channels,
                        float* grad_weight, float* grad_bias) {
  const std::int64_t image_in = w.channels * w.height * w.width, image_out = out_channels * w.out_h * w.out_w;
  const std::int64_t size = out_channels * (w.channels / w.groups) * w.kernel_h * w.kernel_w;
  const std::int64_t chunks = chunk_count(w.batch);
  // Chunk 0 writes grad_weight (and grad_bias) itself, the others partial sums added to it in
  // order. Without grad_bias, every chunk's bias sums go to scratch.
  Scratch partials((chunks - 1) * size * sizeof(float));
  Scratch bias_partials((grad_bias != nullptr ? chunks - 1 : chunks) * out_channels * sizeof(float));
  const auto bias_target = [&](std::int64_t c) {
    float* scratch = static_cast<float*>(bias_partials.get());
    if (grad_bias == nullptr) return scratch + c * out_channels;
    return c == 0 ? grad_bias : scratch + (c - 1) * out_channels;
  };
  for_each_chunk(w, out_channels, [&](std::int64_t c, std::int64_t first, const Window2d& chunk) {
    const WeightGradPlan& plan = plan_for<WeightGradPlan>(chunk, out_channels);
    float* target = c == 0 ? grad_weight : static_cast<float*>(partials.get()) + (c - 1) * size;
    Scratch x_buffer(plan.src.bytes()), dy_buffer(plan.diff_dst.bytes()), dw_buffer(plan.diff_weights.bytes());
    const memory x = plan.src.bind(mutable_ptr(input + first * image_in), x_buffer, true);
    const memory dy = plan.diff_dst.bind(mutable_ptr(grad_output + first * image_out), dy_buffer, true);
    const memory dw = plan.diff_weights.bind(target, dw_buffer, false);
    const memory db(plan.conv.bias, cpu_engine(), bias_target(c));
    execute(plan.primitive, plan.pd,
            {{DNNL_ARG_SRC, x}, {DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_DIFF_WEIGHTS, dw}, {DNNL_ARG_DIFF_BIAS, db}});
    plan.diff_weights.write_back(dw, target);
  });
  for (std::int64_t c = 1; c < chunks; ++c) {
    const float* part = static_cast<const float*>(partials.get()) + (c - 1) * size;
    for (std::int64_t i = 0; i < size; ++i) grad_weight[i] += part[i];
    if (grad_bias == nullptr) continue;
    const float* bias_part = bias_target(c);
    for (std::int64_t i = 0; i < out_channels; ++i) grad_bias[i] += bias_part[i];
  }
}

bool handles_sgemm(std::int64_t m, std::int64_t n, std::int64_t k) { return m * n * k >= kMinSgemmMultiplyAdds; }

namespace {

// One product's shape, layout and scaling (alpha and beta by their bits, so that any value keys).
using ProductKey = std::array<std::int64_t, 10>;

// C = alpha * op(A) * op(B) + beta * C as a oneDNN matmul primitive: op(A) its source, op(B) its
// weights, both read in place through their strides; alpha an output scale, beta a sum post-op.
struct ProductPlan {
  memory::desc a, b, c;
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul primitive;

  ProductPlan(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
              std::int64_t lda, std::int64_t ldb, float beta, std::int64_t ldc)
      : a({m, k}, memory::data_type::f32, trans_a ? memory::dims{1, lda} : memory::dims{lda, 1}),
        b({k, n}, memory::data_type::f32, trans_b ? memory::dims{1, ldb} : memory::dims{ldb, 1}),
        c({m, n}, memory::data_type::f32, memory::dims{ldc, 1}),
        pd(dnnl::matmul::desc(a, b, c), attributes(alpha, beta), cpu_engine()),
        primitive(pd) {}

  static dnnl::primitive_attr attributes(float alpha, float beta) {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (alpha != 1) attr.set_output_scales(0, {alpha});
    if (beta != 0) {
      dnnl::post_ops sum;
      sum.append_sum(beta);
      attr.set_post_ops(sum);
    }
    return attr;
  }
};

// At most this many product plans: each takes 0.5-1 ms to make, which a program whose shapes
// never repeat would pay on every product; past the cap, oneDNN's sgemm.
constexpr std::size_t kMaxProductPlans = 64;

// The plan of this product; null once the cache is full and it has none, or where oneDNN has no
// matmul for it.
const ProductPlan* product_plan(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
                                float alpha, std::int64_t lda, std::int64_t ldb, float beta, std::int64_t ldc) {
  static std::mutex mutex;
  static std::map<ProductKey, std::unique_ptr<ProductPlan>> plans;
  const ProductKey key{trans_a, trans_b, m, n, k, lda, ldb, ldc, std::bit_cast<std::int32_t>(alpha),
                       std::bit_cast<std::int32_t>(beta)};
  std::lock_guard lock(mutex);
  if (auto found = plans.find(key); found != plans.end()) return found->second.get();
  if (plans.size() >= kMaxProductPlans) return nullptr;
  std::unique_ptr<ProductPlan>& plan = plans[key];
  try {
    plan = std::make_unique<ProductPlan>(trans_a, trans_b, m, n, k, alpha, lda, ldb, beta, ldc);
  } catch (const dnnl::error&) {  // a layout the matmul refuses stays on sgemm (the entry stays null)
  }
  return plan.get();
}

// Copies `rows` rows of `columns` floats between arrays of row strides `from_ld` and `to_ld`.
void copy_rows(const float* from, std::int64_t from_ld, float* to, std::int64_t to_ld, std::int64_t rows,
               std::int64_t columns) {
  for (std::int64_t i = 0; i < rows; ++i) std::copy_n(from + i * from_ld, columns, to + i * to_ld);
}

}  // namespace

// A whole product on a matmul primitive: as fast here as sgemm (the MNIST MLP's first layer,
// 64 x 128 x 784: 119 against 122 us forward, 115 against 115 us for its weight gradient), but
// making it costs 0.5-1 ms where sgemm's cost 29 ms for the weight gradient (A transposed),
// which the first training epoch paid.
//
// oneDNN 2.6 runs its brgemm kernels only on some layouts, and otherwise a gemm whose kernels
// take 29 ms to compile on first use and run slower; such operands are copied into the layout
// brgemm takes:
// - a transposed A beside a plain B gets brgemm only in some shapes (the MLP's weight gradient,
//   128 x 784 x 64, but not its halves, 64 x 784 x 64): op(A) is copied out (3 us for 128 x 64)
//   and multiplied as a plain A;
// - a C whose rows are further apart than its width (a part of a product cut by columns) never
//   does: C is computed in a contiguous buffer and copied back (a column half of the MLP's first
//   layer, 64 x 64 x 784: 90 us in place, 62 us through the buffer).
void sgemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha, const float* a,
           std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc,
           ProductRun run) {
  use_one_openmp_thread();
  if (run == ProductRun::Whole && ldc != n) {
    Scratch buffer(static_cast<std::size_t>(m * n) * sizeof(float));
    auto* contiguous_c = static_cast<float*>(buffer.get());
    if (beta != 0) copy_rows(c, ldc, contiguous_c, n, m, n);
    sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, contiguous_c, n, run);
    copy_rows(contiguous_c, n, c, ldc, m, n);
    return;
  }
  std::optional<Scratch> plain_a;
  if (run == ProductRun::Whole && trans_a && !trans_b) {
    plain_a.emplace(static_cast<std::size_t>(m * k) * sizeof(float));
    auto* rows = static_cast<float*>(plain_a->get());
    for (std::int64_t j = 0; j < k; ++j)
      for (std::int64_t i = 0; i < m; ++i) rows[i * k + j] = a[j * lda + i];
    a = rows;
    lda = k;
    trans_a = false;
  }
  const ProductPlan* plan =
      run == ProductRun::Whole ? product_plan(trans_a, trans_b, m, n, k, alpha, lda, ldb, beta, ldc) : nullptr;
  if (plan != nullptr) {
    const dnnl::engine& e = cpu_engine();
    execute(plan->primitive, plan->pd,
            {{DNNL_ARG_SRC, memory(plan->a, e, mutable_ptr(a))},
             {DNNL_ARG_WEIGHTS, memory(plan->b, e, mutable_ptr(b))},
             {DNNL_ARG_DST, memory(plan->c, e, c)}});
    return;
  }
  const dnnl_status_t status =
      dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  TAPEGRAD_CHECK(status == dnnl_success, "oneDNN's sgemm failed on a {} x {} x {} product (status {})", m, n, k,
                 static_cast<int>(status));
}

}  // namespace tapegrad::kernels::cpu::onednn

#else  // no oneDNN in this build: im2col + gemm take every convolution

#include <tapegrad/kernels/error.h>

namespace tapegrad::kernels::cpu::onednn {

bool handles(const Window2d&, DType, bool) { return false; }

void conv2d(const float*, const float*, const float*, const Window2d&, std::int64_t, float*, ConvActivation) {
  throw Error("conv2d: this build of tapegrad has no oneDNN");
}
void conv2d_input_grad(const float*, const float*, const Window2d&, std::int64_t, float*) {
  throw Error("conv2d_input_grad: this build of tapegrad has no oneDNN");
}
void conv2d_weight_grad(const float*, const float*, const Window2d&, std::int64_t, float*, float*) {
  throw Error("conv2d_weight_grad: this build of tapegrad has no oneDNN");
}

bool handles_sgemm(std::int64_t, std::int64_t, std::int64_t) { return false; }

void sgemm(bool, bool, std::int64_t, std::int64_t, std::int64_t, float, const float*, std::int64_t, const float*,
           std::int64_t, float, float*, std::int64_t, ProductRun) {
  throw Error("sgemm: this build of tapegrad has no oneDNN");
}

}  // namespace tapegrad::kernels::cpu::onednn

#endif
