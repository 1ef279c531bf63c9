// Collectives on raw CPU buffers between the processes of one job, on engines that are trusted
// for it (MPI here; NCCL for GPU buffers): tapegrad writes no transport of its own. The
// tensor-level API users call is tapegrad::distributed (nn/distributed.h); this is its backend.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <tapegrad/kernels/dtype.h>

namespace tapegrad::kernels::comm {

// A nonblocking collective under way. Its buffer must stay alive and untouched until wait().
class PendingCollective {
 public:
  virtual ~PendingCollective() = default;
  // Lets the collective advance without blocking (MPI progresses nonblocking collectives only
  // inside MPI calls); true once it has completed.
  virtual bool test() = 0;
  virtual void wait() = 0;
};

// The processes of a job. Every call is collective: all ranks make it, in the same order, with
// the same count and dtype (the tensor layer checks this before calling).
class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Rank and number of the job's processes on this machine.
  virtual int local_rank() const = 0;
  virtual int local_size() const = 0;
  // The engine, for messages ("MPI (Open MPI v4.1.4)", "single process").
  virtual std::string engine() const = 0;

  // data[i] = sum over ranks of data[i]. Every rank gets the same bits.
  virtual void allreduce_sum(void* data, std::int64_t count, DType dtype) = 0;
  virtual std::unique_ptr<PendingCollective> start_allreduce_sum(void* data, std::int64_t count, DType dtype) = 0;
  // data = root's data.
  virtual void broadcast(void* data, std::int64_t count, DType dtype, int root) = 0;
  // received = every rank's `count` elements of sent, rank after rank (count * size elements).
  virtual void allgather(const void* sent, void* received, std::int64_t count, DType dtype) = 0;
  virtual void barrier() = 0;
  // Ends every process of the job at once, after printing `message` with this rank's name: the
  // way out when one rank fails, so that the others never wait forever in a collective.
  [[noreturn]] virtual void abort(const std::string& message) = 0;
};

// How this process was started, read from the environment launchers set (Open MPI's mpirun,
// MPICH/Intel MPI's hydra, PMIx): a program started without one needs no MPI at all.
struct Launch {
  bool by_mpi = false;
  std::string evidence;  // the variable that told, e.g. "OMPI_COMM_WORLD_SIZE=2"
  int size = 1;          // the world size the launcher announced
  int local_size = 1;    // processes of the job on this machine
};
Launch detect_launch();

// The job's communicator: MPI's world (initializing MPI on first use, from the module
// libtapegrad_mpi.so, which the core library loads only then) when an MPI launcher started this
// process, else a group of this process alone. The same object on every call.
Communicator& world_communicator();

// The same job's communicator for CUDA buffers: NCCL, from the module libtapegrad_nccl.so loaded
// on the first call, which only a job of several processes makes (a single process has nothing
// to exchange). Throws an Error saying what is missing when NCCL cannot be used.
Communicator& cuda_world_communicator();

}  // namespace tapegrad::kernels::comm
