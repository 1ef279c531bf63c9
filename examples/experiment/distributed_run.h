// What makes every example a data-parallel program when mpirun starts it, with no flag: the ranks
// split each --batch-size batch between them, rank 0 alone prints and writes the output folder,
// the others write into a scratch folder of their own, and a rank that fails ends the job.
// Started without mpirun, every function here leaves the program as it was.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string_view>

#include <tapegrad/tapegrad.h>

namespace experiment {

struct Flags;

// Whether this process is rank 0 of its job (true without mpirun).
bool is_main_rank();

// Joins the job when an MPI launcher started this process: a --threads of 0 becomes the cores
// divided among the job's ranks on this machine, and ranks other than 0 print nothing to stdout.
void join_distributed_job(Flags& flags);

// The folder a rank other than 0 writes to: a scratch folder removed at exit, holding a copy of
// `out_dir`'s files when resuming (the checkpoint must be readable by every rank: one machine, or
// a shared file system).
std::filesystem::path follower_out_dir(const std::filesystem::path& out_dir, std::string_view program, bool resume);

// `status` when this process is alone or succeeded; otherwise ends every rank of the job (the
// others would wait for this one in their next collective), naming this rank and the status.
int finish_rank(int status, std::string_view program);

// The training loader's options for this rank: a batch of batch_size / ranks examples from a
// DistributedSampler shard of each epoch (the same shuffle seed); sampling with replacement
// draws each rank's share from a stream of its own. Unchanged without mpirun.
tapegrad::datasets::DataLoaderOptions shard_over_ranks(tapegrad::datasets::DataLoaderOptions options,
                                                       std::int64_t dataset_size);

// For the length of a training epoch: rank 0's weights on every rank, and gradients averaged over
// the ranks as backward runs. Nothing without mpirun.
class GradientAveraging {
 public:
  explicit GradientAveraging(tapegrad::nn::Module& model);

 private:
  std::optional<tapegrad::distributed::DistributedDataParallel> data_parallel_;
};

// Sums `values` over the ranks in place (epoch totals: loss sums, counts).
void sum_over_ranks(std::initializer_list<double*> values);
// The mean of `value` over the ranks: non-finite on every rank when it is on any.
double mean_over_ranks(double value);

}  // namespace experiment
