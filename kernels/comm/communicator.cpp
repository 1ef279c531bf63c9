// The job's communicator: detecting an MPI launcher from the environment, loading the MPI module
// only then, and the single-process group every other program gets (its collectives copy or do
// nothing), so code written for several processes runs unchanged in one.
#include <tapegrad/kernels/comm/communicator.h>

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include <tapegrad/kernels/comm/mpi/module.h>
#include <tapegrad/kernels/comm/nccl/module.h>
#include <tapegrad/kernels/error.h>

namespace tapegrad::kernels::comm {
namespace {

int positive_int_from(const char* text) {
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  return end != text && *end == '\0' && value > 0 && value < (1L << 30) ? static_cast<int>(value) : 0;
}

class SingleProcessCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  std::string engine() const override { return "single process"; }
  void allreduce_sum(void*, std::int64_t, DType) override {}
  std::unique_ptr<PendingCollective> start_allreduce_sum(void*, std::int64_t, DType) override {
    return std::make_unique<Done>();
  }
  void broadcast(void*, std::int64_t, DType, int) override {}
  void allgather(const void* sent, void* received, std::int64_t count, DType dtype) override {
    if (count > 0) std::memcpy(received, sent, static_cast<std::size_t>(count) * dtype_size(dtype));
  }
  void barrier() override {}
  [[noreturn]] void abort(const std::string& message) override {
    std::fprintf(stderr, "tapegrad: %s\n", message.c_str());
    std::fflush(stderr);
    std::_Exit(1);
  }

 private:
  struct Done final : PendingCollective {
    bool test() override { return true; }
    void wait() override {}
  };
};

// A module beside libtapegrad (in the build tree and once installed), opened with its symbols
// global (Open MPI's own plugins resolve MPI's symbols through the MPI module), and the address
// of its entry function; null with `error` set when it cannot be loaded.
void* open_module_entry(const char* file, const char* entry_name, std::string& error) {
  Dl_info info{};
  std::filesystem::path path = file;
  if (dladdr(reinterpret_cast<const void*>(&open_module_entry), &info) != 0 && info.dli_fname != nullptr)
    path = std::filesystem::path(info.dli_fname).parent_path() / file;
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    error = why != nullptr ? why : path.string();
    return nullptr;
  }
  void* entry = dlsym(handle, entry_name);
  if (entry == nullptr) error = fmt::format("{} is not a module of this tapegrad build; reinstall tapegrad", path.string());
  return entry;
}

#ifdef TAPEGRAD_MPI_MODULE
Communicator& load_mpi_world(const Launch& launch) {
  std::string error;
  void* entry_function = open_module_entry(TAPEGRAD_MPI_MODULE, TAPEGRAD_MPI_MODULE_ENTRY, error);
  const MpiModuleEntry* entry =
      entry_function != nullptr ? reinterpret_cast<const MpiModuleEntry* (*)()>(entry_function)() : nullptr;
  if (entry == nullptr || entry->version != MpiModuleEntry::kVersion)
    throw Error(fmt::format("this process was started by an MPI launcher ({}), but tapegrad's MPI module could not "
                            "be loaded ({}); install Open MPI's library (Debian: libopenmpi3) and tapegrad with "
                            "libtapegrad_mpi.so, or run the program without mpirun",
                            launch.evidence, error.empty() ? "a module from another version" : error));
  return entry->world();
}
#else
Communicator& load_mpi_world(const Launch& launch) {
  throw Error(fmt::format("this process was started by an MPI launcher ({}), but tapegrad was built without MPI; "
                          "install Open MPI (Debian: libopenmpi-dev) and rebuild, or run the program without mpirun",
                          launch.evidence));
}
#endif

#ifdef TAPEGRAD_NCCL_MODULE
Communicator& load_nccl_world() {
  std::string error;
  void* entry_function = open_module_entry(TAPEGRAD_NCCL_MODULE, TAPEGRAD_NCCL_MODULE_ENTRY, error);
  const NcclModuleEntry* entry =
      entry_function != nullptr ? reinterpret_cast<const NcclModuleEntry* (*)()>(entry_function)() : nullptr;
  if (entry == nullptr || entry->version != NcclModuleEntry::kVersion)
    throw Error(fmt::format("collectives on CUDA tensors need NCCL, but tapegrad's NCCL module could not be loaded "
                            "({}); install NCCL (libnccl2) or put the CUDA toolkit's library folder on "
                            "LD_LIBRARY_PATH, or copy the tensors to the CPU",
                            error.empty() ? "a module from another version" : error));
  return entry->world(world_communicator());
}
#else
Communicator& load_nccl_world() {
  throw Error("collectives on CUDA tensors need NCCL, but tapegrad was built without CUDA; copy the tensors to the "
              "CPU with .cpu()");
}
#endif

Communicator& make_world() {
  const Launch launch = detect_launch();
  if (launch.by_mpi) return load_mpi_world(launch);
  static SingleProcessCommunicator single;
  return single;
}

}  // namespace

Launch detect_launch() {
  // Open MPI, MPICH/Intel MPI (hydra, PMI), MVAPICH, and PMIx launchers (srun --mpi=pmix).
  constexpr const char* kSizeVariables[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE", "PMIX_SIZE"};
  constexpr const char* kLocalSizeVariables[] = {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS",
                                                 "MV2_COMM_WORLD_LOCAL_SIZE"};
  Launch launch;
  for (const char* name : kSizeVariables) {
    const char* value = std::getenv(name);
    if (value == nullptr) continue;
    launch.by_mpi = true;
    launch.evidence = fmt::format("{}={}", name, value);
    launch.size = std::max(positive_int_from(value), 1);
    break;
  }
  if (!launch.by_mpi && std::getenv("PMIX_RANK") != nullptr) {
    launch.by_mpi = true;
    launch.evidence = fmt::format("PMIX_RANK={}", std::getenv("PMIX_RANK"));
  }
  launch.local_size = launch.size;
  for (const char* name : kLocalSizeVariables)
    if (const char* value = std::getenv(name); value != nullptr && positive_int_from(value) > 0) {
      launch.local_size = positive_int_from(value);
      break;
    }
  return launch;
}

Communicator& world_communicator() {
  static Communicator& world = make_world();
  return world;
}

Communicator& cuda_world_communicator() {
  static Communicator& world = load_nccl_world();
  return world;
}

}  // namespace tapegrad::kernels::comm
