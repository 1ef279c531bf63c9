// tapegrad::distributed: the processes of a training job and collectives on their tensors, as
// torch.distributed. Started by mpirun, a program's group is MPI's world; started alone, it is a
// group of one whose collectives change nothing, so the same program runs either way.
//
//   auto& group = tapegrad::distributed::world();
//   group.all_reduce(loss_sum);            // every rank now holds the sum over ranks
//   if (group.rank() == 0) save(...);
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <tapegrad/autodiff/tensor.h>
#include <tapegrad/kernels/comm/communicator.h>

namespace tapegrad::distributed {

enum class ReduceOp { Sum, Average };

// A nonblocking collective under way (ProcessGroup::all_reduce_async). Its tensor must not be
// read or written until wait() returns; destroying an unfinished handle waits.
class Work {
 public:
  Work() = default;
  // Lets the collective advance; true once it has completed.
  bool test();
  void wait();
  bool valid() const { return pending_ != nullptr; }

 private:
  friend class ProcessGroup;
  Work(std::unique_ptr<kernels::comm::PendingCollective> pending, Tensor tensor, double scale)
      : pending_(std::move(pending)), tensor_(std::move(tensor)), scale_(scale) {}
  std::unique_ptr<kernels::comm::PendingCollective> pending_;
  Tensor tensor_;
  double scale_ = 1;  // applied after the sum (1 / world size for Average)
  bool finished_ = false;
};

// The ranks of one job. Every collective is called by all ranks in the same order; each first
// checks that all ranks passed tensors of the same shape and dtype (else every rank throws an
// Error naming the ranks that differ). float32, float64 and int64 tensors, contiguous or not:
// CPU tensors through MPI, CUDA tensors through NCCL (loaded on the first such call).
class ProcessGroup {
 public:
  explicit ProcessGroup(kernels::comm::Communicator& communicator) : communicator_(&communicator) {}

  int rank() const { return communicator_->rank(); }
  int size() const { return communicator_->size(); }
  // This process's rank among the job's processes on its machine, and their number.
  int local_rank() const { return communicator_->local_rank(); }
  int local_size() const { return communicator_->local_size(); }
  // "MPI (Open MPI v4.1.4)" or "single process".
  std::string engine() const { return communicator_->engine(); }

  // In place: tensor = the sum (or mean) over ranks. Every rank ends with the same bits.
  // Average of int64 tensors is refused (an integer mean would round).
  void all_reduce(const Tensor& tensor, ReduceOp op = ReduceOp::Sum);
  // In place: tensor = rank root's tensor.
  void broadcast(const Tensor& tensor, int root = 0);
  // Every rank's tensor, stacked: shape [size(), *tensor.shape()], row r from rank r.
  Tensor all_gather(const Tensor& tensor);
  void barrier();
  // Starts an in-place all_reduce of a contiguous tensor without checks and returns at once:
  // data-parallel training overlaps gradient reductions with the rest of backward this way.
  Work all_reduce_async(const Tensor& tensor, ReduceOp op = ReduceOp::Sum);
  // Ends every rank of the job now, printing `message` with this rank's number. A rank that
  // cannot go on must call this (or let an exception escape main, which does the same), so
  // that the others do not wait for it forever.
  [[noreturn]] void abort(const std::string& message);

 private:
  void check_same_on_all_ranks(const char* call, const Tensor& tensor, std::int64_t extra);
  kernels::comm::Communicator& communicator_for(const Tensor& tensor);
  kernels::comm::Communicator* communicator_;
};

// The job's group: MPI's world when an MPI launcher (mpirun, mpiexec, srun with PMIx) started
// this process, MPI then initialized on this first call; else a group of this process alone.
ProcessGroup& world();
// Whether an MPI launcher started this process (read from its environment; initializes nothing).
bool launched_by_mpi();

}  // namespace tapegrad::distributed
