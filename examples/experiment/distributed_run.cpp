// The examples' data-parallel frame (see distributed_run.h), on tapegrad::distributed.
#include "distributed_run.h"

#include <unistd.h>

#include <cstdio>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "program.h"

namespace experiment {

using namespace tapegrad;

namespace {

// A follower's scratch folder, removed when the program ends.
struct ScratchFolder {
  std::filesystem::path path;
  ~ScratchFolder() {
    std::error_code ignored;
    if (!path.empty()) std::filesystem::remove_all(path, ignored);
  }
};
ScratchFolder scratch_folder;

}  // namespace

bool is_main_rank() { return !distributed::launched_by_mpi() || distributed::world().rank() == 0; }

void join_distributed_job(Flags& flags) {
  if (!distributed::launched_by_mpi()) return;
  distributed::ProcessGroup& group = distributed::world();
  if (flags.threads == 0) {
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    flags.threads = std::max(1, cores / group.local_size());
  }
  if (group.rank() != 0 && std::freopen("/dev/null", "w", stdout) == nullptr)
    throw Error("cannot silence stdout of a rank other than 0");
  if (group.rank() == 0 && group.size() > 1)
    fmt::print("data-parallel on {} ranks with {}, {} on this machine\n", group.size(), group.engine(), group.local_size());
}

std::filesystem::path follower_out_dir(const std::filesystem::path& out_dir, std::string_view program, bool resume) {
  const distributed::ProcessGroup& group = distributed::world();
  scratch_folder.path = std::filesystem::temp_directory_path() /
                        fmt::format("tapegrad-{}-rank{}-{}", program, group.rank(), static_cast<long>(getpid()));
  std::filesystem::create_directories(scratch_folder.path);
  std::error_code ignored;
  if (resume && std::filesystem::is_directory(out_dir, ignored))
    for (const auto& entry : std::filesystem::directory_iterator(out_dir))
      if (entry.is_regular_file() && entry.path().filename() != ".lock")
        std::filesystem::copy_file(entry.path(), scratch_folder.path / entry.path().filename(),
                                   std::filesystem::copy_options::overwrite_existing);
  return scratch_folder.path;
}

int finish_rank(int status, std::string_view program) {
  if (status != 0 && distributed::launched_by_mpi() && distributed::world().size() > 1) {
    std::fflush(stdout);
    distributed::world().abort(fmt::format("{} exited with status {}", program, status));
  }
  return status;
}

datasets::DataLoaderOptions shard_over_ranks(datasets::DataLoaderOptions options, std::int64_t dataset_size) {
  if (!distributed::launched_by_mpi() || distributed::world().size() == 1) return options;
  const distributed::ProcessGroup& group = distributed::world();
  TAPEGRAD_CHECK(options.batch_size % group.size() == 0,
                 "--batch-size {} is the global batch and must split evenly over the {} ranks; pass a multiple of {}",
                 options.batch_size, group.size(), group.size());
  options.batch_size /= group.size();
  if (options.with_replacement) {
    // Draws with replacement are independent: each rank draws its share from a stream of its own.
    if (options.num_samples > 0) options.num_samples /= group.size();
    options.seed = options.seed * 1000003 + static_cast<std::uint64_t>(group.rank());
    return options;
  }
  options.sampler = std::make_shared<distributed::DistributedSampler>(
      dataset_size, distributed::DistributedSamplerOptions{.shuffle = options.shuffle, .seed = options.seed});
  options.shuffle = false;
  return options;
}

GradientAveraging::GradientAveraging(nn::Module& model) {
  if (!distributed::launched_by_mpi() || distributed::world().size() == 1) return;
  // The wrapper needs shared ownership; the caller owns the model and outlives this object.
  data_parallel_.emplace(std::shared_ptr<nn::Module>(std::shared_ptr<void>(), &model));
}

void sum_over_ranks(std::initializer_list<double*> values) {
  if (!distributed::launched_by_mpi() || distributed::world().size() == 1) return;
  std::vector<double> packed;
  for (double* value : values) packed.push_back(*value);
  Tensor totals = from_vector(packed);
  distributed::world().all_reduce(totals);
  const std::vector<double> summed = totals.to_vector<double>();
  std::size_t i = 0;
  for (double* value : values) *value = summed[i++];
}

double mean_over_ranks(double value) {
  double total = value;
  sum_over_ranks({&total});
  return distributed::launched_by_mpi() ? total / distributed::world().size() : total;
}

}  // namespace experiment
