// The NCCL communicator (libtapegrad_nccl.so): collectives on CUDA buffers between the ranks of an
// MPI job. tapegrad's CUDA backend runs its kernels on a stream of its own, so each collective
// first waits for the device (the buffer's producers), runs on this communicator's stream, and
// the blocking ones wait for it too; a nonblocking one is waited for by its handle.
#include <cuda_runtime.h>
#include <nccl.h>

#include <cstdlib>

#include <fmt/format.h>

#include <tapegrad/kernels/comm/nccl/module.h>
#include <tapegrad/kernels/error.h>

namespace tapegrad::kernels::comm {
namespace {

void check_cuda(cudaError_t status, const char* call) {
  if (status != cudaSuccess) throw Error(fmt::format("{} failed: {}", call, cudaGetErrorString(status)));
}

void check_nccl(ncclResult_t status, const char* call) {
  if (status != ncclSuccess) throw Error(fmt::format("{} failed: {}", call, ncclGetErrorString(status)));
}

ncclDataType_t nccl_type(DType dtype) {
  switch (dtype) {
    case DType::Float32: return ncclFloat32;
    case DType::Float64: return ncclFloat64;
    case DType::Int64: return ncclInt64;
    case DType::UInt8: return ncclUint8;
    case DType::Bool: return ncclUint8;
  }
  throw Error("NCCL: unknown dtype");
}

class NcclPending final : public PendingCollective {
 public:
  explicit NcclPending(cudaStream_t stream) : stream_(stream) {}
  bool test() override { return cudaStreamQuery(stream_) == cudaSuccess; }
  void wait() override { check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize"); }

 private:
  cudaStream_t stream_;
};

class NcclCommunicator final : public Communicator {
 public:
  explicit NcclCommunicator(Communicator& host_world) : host_(host_world) {
    int devices = 0;
    check_cuda(cudaGetDeviceCount(&devices), "cudaGetDeviceCount");
    check_cuda(cudaSetDevice(host_.local_rank() % devices), "cudaSetDevice");
    ncclUniqueId id{};
    if (host_.rank() == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    host_.broadcast(&id, sizeof(id), DType::UInt8, 0);
    check_nccl(ncclCommInitRank(&comm_, host_.size(), id, host_.rank()), "ncclCommInitRank");
    check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    int version = 0;
    ncclGetVersion(&version);
    engine_ = fmt::format("NCCL {}", version);
  }

  int rank() const override { return host_.rank(); }
  int size() const override { return host_.size(); }
  int local_rank() const override { return host_.local_rank(); }
  int local_size() const override { return host_.local_size(); }
  std::string engine() const override { return engine_; }

  void allreduce_sum(void* data, std::int64_t count, DType dtype) override {
    start_allreduce_sum(data, count, dtype)->wait();
  }

  std::unique_ptr<PendingCollective> start_allreduce_sum(void* data, std::int64_t count, DType dtype) override {
    after_producers();
    check_nccl(ncclAllReduce(data, data, static_cast<std::size_t>(count), nccl_type(dtype), ncclSum, comm_, stream_),
               "ncclAllReduce");
    return std::make_unique<NcclPending>(stream_);
  }

  void broadcast(void* data, std::int64_t count, DType dtype, int root) override {
    after_producers();
    check_nccl(ncclBroadcast(data, data, static_cast<std::size_t>(count), nccl_type(dtype), root, comm_, stream_),
               "ncclBroadcast");
    NcclPending(stream_).wait();
  }

  void allgather(const void* sent, void* received, std::int64_t count, DType dtype) override {
    after_producers();
    check_nccl(ncclAllGather(sent, received, static_cast<std::size_t>(count), nccl_type(dtype), comm_, stream_),
               "ncclAllGather");
    NcclPending(stream_).wait();
  }

  void barrier() override { host_.barrier(); }

  [[noreturn]] void abort(const std::string& message) override {
    ncclCommAbort(comm_);
    host_.abort(message);
    std::_Exit(1);  // not reached: a [[noreturn]] virtual call is not known to end here
  }

 private:
  // The buffers' producers run on the CUDA backend's stream: wait for the device.
  static void after_producers() { check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

  Communicator& host_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  std::string engine_;
};

Communicator& nccl_world(Communicator& host_world) {
  // Lives until exit: NCCL's teardown after the CUDA runtime's would fail.
  static NcclCommunicator* world = new NcclCommunicator(host_world);
  return *world;
}

}  // namespace
}  // namespace tapegrad::kernels::comm

extern "C" const tapegrad::kernels::comm::NcclModuleEntry* tapegrad_nccl_module_entry() {
  static const tapegrad::kernels::comm::NcclModuleEntry entry{tapegrad::kernels::comm::NcclModuleEntry::kVersion,
                                                              &tapegrad::kernels::comm::nccl_world};
  return &entry;
}
