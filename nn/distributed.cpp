// tapegrad::distributed's process group: checks that every rank passed the same kind of tensor,
// makes non-contiguous tensors contiguous for the engine and writes the result back in place.
#include <tapegrad/nn/distributed.h>

#include <array>
#include <cstdlib>
#include <string_view>

#include <fmt/format.h>

#include <tapegrad/autodiff/grad_mode.h>
#include <tapegrad/autodiff/ops.h>

namespace tapegrad::distributed {
namespace {

// What one rank passed to a collective, as a fixed-size record every rank gathers from all.
constexpr std::size_t kShownDims = 8;
struct CallRecord {
  std::int64_t call = 0;   // which collective
  std::int64_t extra = 0;  // its other arguments (root, reduce op)
  std::int64_t dtype = 0;
  std::int64_t ndim = 0;
  std::int64_t numel = 0;
  std::array<std::int64_t, kShownDims> dims{};  // dims past the 8th are folded into the last
};
constexpr std::int64_t kRecordWords = sizeof(CallRecord) / sizeof(std::int64_t);
static_assert(sizeof(CallRecord) == kRecordWords * sizeof(std::int64_t));

std::int64_t call_code(std::string_view call) {
  std::uint64_t code = 0;  // unsigned: the hash wraps around by design
  for (const char c : call) code = code * 131 + static_cast<unsigned char>(c);
  return static_cast<std::int64_t>(code);
}

CallRecord record_of(const char* call, const Tensor& tensor, std::int64_t extra) {
  CallRecord record;
  record.call = call_code(call);
  record.extra = extra;
  record.dtype = static_cast<std::int64_t>(tensor.dtype());
  record.ndim = tensor.dim();
  record.numel = tensor.numel();
  for (std::int64_t d = 0; d < tensor.dim(); ++d) {
    const std::size_t slot = std::min(static_cast<std::size_t>(d), kShownDims - 1);
    const bool folded = slot != static_cast<std::size_t>(d);
    const std::uint64_t fold =
        static_cast<std::uint64_t>(record.dims[slot]) * 1000003 + static_cast<std::uint64_t>(tensor.size(d));
    record.dims[slot] = folded ? static_cast<std::int64_t>(fold) : tensor.size(d);
  }
  return record;
}

bool same(const CallRecord& a, const CallRecord& b) {
  return a.call == b.call && a.extra == b.extra && a.dtype == b.dtype && a.ndim == b.ndim && a.numel == b.numel &&
         a.dims == b.dims;
}

// "float32 [3, 4]", plus what else differs from rank 0's call.
std::string describe(const CallRecord& record, const CallRecord& rank0) {
  if (record.call != rank0.call) return "called another collective";
  std::string shape = "[";
  for (std::int64_t d = 0; d < std::min<std::int64_t>(record.ndim, kShownDims); ++d)
    shape += fmt::format("{}{}", d > 0 ? ", " : "", record.dims[static_cast<std::size_t>(d)]);
  shape += record.ndim > static_cast<std::int64_t>(kShownDims) ? ", ...]" : "]";
  const std::string argument =
      record.extra != rank0.extra ? fmt::format(" with root or reduce op {}", record.extra) : "";
  return fmt::format("{} {}{}", static_cast<DType>(record.dtype), shape, argument);
}

void check_supported(const char* call, const Tensor& tensor) {
  TAPEGRAD_CHECK(tensor.defined(), "distributed {}: the tensor is undefined", call);
  TAPEGRAD_CHECK(tensor.dtype() == kFloat32 || tensor.dtype() == kFloat64 || tensor.dtype() == kInt64,
                 "distributed {}: tensors of float32, float64 or int64 are supported, got {}; convert with .to()",
                 call, tensor.dtype());
}

// Runs `collective` on a contiguous buffer holding `tensor`'s values, then writes them back into
// `tensor` when it was not contiguous itself.
template <typename Collective>
void on_contiguous(const Tensor& tensor, Collective&& collective) {
  NoGradGuard no_grad;
  if (tensor.is_contiguous()) {
    collective(tensor);
    return;
  }
  Tensor buffer = tensor.contiguous();
  collective(buffer);
  Tensor(tensor).copy_(buffer);
}

}  // namespace

bool Work::test() {
  if (finished_ || pending_ == nullptr) return true;
  return pending_->test();
}

void Work::wait() {
  if (finished_ || pending_ == nullptr) return;
  pending_->wait();
  finished_ = true;
  if (scale_ != 1) {
    NoGradGuard no_grad;
    tensor_.mul_(scale_);
  }
}

kernels::comm::Communicator& ProcessGroup::communicator_for(const Tensor& tensor) {
  return tensor.device().is_cpu() ? *communicator_ : kernels::comm::cuda_world_communicator();
}

void ProcessGroup::check_same_on_all_ranks(const char* call, const Tensor& tensor, std::int64_t extra) {
  check_supported(call, tensor);
  if (size() == 1) return;
  // The device counts too: rank 0 on the CPU and rank 1 on a GPU would call different engines.
  extra = extra * 2 + (tensor.device().is_cpu() ? 0 : 1);
  const CallRecord mine = record_of(call, tensor, extra);
  std::vector<CallRecord> all(static_cast<std::size_t>(size()));
  communicator_->allgather(&mine, all.data(), kRecordWords, kInt64);
  std::string differences;
  for (int r = 1; r < size(); ++r)
    if (!same(all[static_cast<std::size_t>(r)], all[0]))
      differences += fmt::format("; rank {}: {}", r, describe(all[static_cast<std::size_t>(r)], all[0]));
  if (differences.empty()) return;
  throw Error(fmt::format("distributed {}: the ranks passed different tensors (rank 0: {}{}); every rank must pass a "
                          "tensor of the same shape and dtype, with the same arguments",
                          call, describe(all[0], all[0]), differences));
}

void ProcessGroup::all_reduce(const Tensor& tensor, ReduceOp op) {
  check_same_on_all_ranks("all_reduce", tensor, static_cast<std::int64_t>(op));
  TAPEGRAD_CHECK(!(op == ReduceOp::Average && tensor.dtype() == kInt64),
                 "distributed all_reduce: the average of int64 tensors would round; reduce with Sum and divide a "
                 "floating-point copy");
  if (size() == 1) return;  // the sum and the mean of one rank's tensor are that tensor
  on_contiguous(tensor, [&](const Tensor& buffer) {
    communicator_for(buffer).allreduce_sum(buffer.desc().data, buffer.numel(), buffer.dtype());
    if (op == ReduceOp::Average) Tensor(buffer).mul_(1.0 / size());
  });
}

void ProcessGroup::broadcast(const Tensor& tensor, int root) {
  TAPEGRAD_CHECK(root >= 0 && root < size(), "distributed broadcast: root {} is not a rank of this group of {}", root,
                 size());
  check_same_on_all_ranks("broadcast", tensor, root);
  if (size() == 1) return;
  on_contiguous(tensor, [&](const Tensor& buffer) {
    communicator_for(buffer).broadcast(buffer.desc().data, buffer.numel(), buffer.dtype(), root);
  });
}

Tensor ProcessGroup::all_gather(const Tensor& tensor) {
  check_same_on_all_ranks("all_gather", tensor, 0);
  NoGradGuard no_grad;
  const Tensor sent = tensor.contiguous();
  Shape shape = tensor.shape();
  shape.insert(0, size());
  if (size() == 1) return sent.reshape(shape).clone();
  Tensor gathered = zeros(shape, TensorOptions(tensor.dtype()).with_device(tensor.device()));
  communicator_for(sent).allgather(sent.desc().data, gathered.desc().data, sent.numel(), sent.dtype());
  return gathered;
}

void ProcessGroup::barrier() { communicator_->barrier(); }

Work ProcessGroup::all_reduce_async(const Tensor& tensor, ReduceOp op) {
  check_supported("all_reduce_async", tensor);
  TAPEGRAD_CHECK(tensor.is_contiguous(), "distributed all_reduce_async: the tensor (shape {}) must be contiguous; "
                 "call .contiguous() and keep that tensor", tensor.shape());
  TAPEGRAD_CHECK(!(op == ReduceOp::Average && tensor.dtype() == kInt64),
                 "distributed all_reduce_async: the average of int64 tensors would round; reduce with Sum");
  if (size() == 1) return Work();
  const double scale = op == ReduceOp::Average ? 1.0 / size() : 1.0;
  return Work(communicator_for(tensor).start_allreduce_sum(tensor.desc().data, tensor.numel(), tensor.dtype()), tensor, scale);
}

void ProcessGroup::abort(const std::string& message) {
  communicator_->abort(message);
  std::_Exit(1);  // not reached: a [[noreturn]] virtual call is not known to end here
}

ProcessGroup& world() {
  static ProcessGroup group(kernels::comm::world_communicator());
  return group;
}

bool launched_by_mpi() { return kernels::comm::detect_launch().by_mpi; }

}  // namespace tapegrad::distributed
