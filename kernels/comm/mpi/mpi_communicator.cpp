// The MPI communicator (libtapegrad_mpi.so): MPI's world for CPU buffers. MPI is initialized at
// MPI_THREAD_FUNNELED, since tapegrad's thread pool never calls it: every collective runs on the
// thread that initialized MPI. A rank that fails calls MPI_Abort, which ends the whole job, so no
// other rank waits forever in a collective; an uncaught exception takes that way too.
#include <mpi.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <exception>

#include <fmt/format.h>

#include <tapegrad/kernels/comm/mpi/module.h>
#include <tapegrad/kernels/error.h>

namespace tapegrad::kernels::comm {
namespace {

MPI_Datatype mpi_type(DType dtype) {
  switch (dtype) {
    case DType::Float32: return MPI_FLOAT;
    case DType::Float64: return MPI_DOUBLE;
    case DType::Int64: return MPI_INT64_T;
    case DType::UInt8: return MPI_UINT8_T;
    case DType::Bool: return MPI_C_BOOL;
  }
  throw Error("MPI: unknown dtype");
}

void check(int status, const char* call) {
  if (status == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(status, text, &length);
  throw Error(fmt::format("{} failed: {}", call, std::string(text, static_cast<std::size_t>(length))));
}

// MPI counts are int: larger buffers go in pieces of at most 2^30 elements.
constexpr std::int64_t kMaxPiece = std::int64_t{1} << 30;

class MpiPending final : public PendingCollective {
 public:
  explicit MpiPending(MPI_Request request) : request_(request) {}
  ~MpiPending() override {
    // The buffer may be freed after this: a collective must not outlive its handle.
    if (request_ != MPI_REQUEST_NULL) MPI_Wait(&request_, MPI_STATUS_IGNORE);
  }
  bool test() override {
    int done = 0;
    check(MPI_Test(&request_, &done, MPI_STATUS_IGNORE), "MPI_Test");
    return done != 0;
  }
  void wait() override { check(MPI_Wait(&request_, MPI_STATUS_IGNORE), "MPI_Wait"); }

 private:
  MPI_Request request_;
};

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (initialized == 0) {
      int provided = 0;
      check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
      owns_mpi_ = true;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Comm local{};
    check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local),
          "MPI_Comm_split_type");
    MPI_Comm_rank(local, &local_rank_);
    MPI_Comm_size(local, &local_size_);
    MPI_Comm_free(&local);
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int length = 0;
    MPI_Get_library_version(version, &length);
    std::string text(version, static_cast<std::size_t>(length));
    engine_ = "MPI (" + text.substr(0, text.find(',')) + ")";
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  std::string engine() const override { return engine_; }

  void allreduce_sum(void* data, std::int64_t count, DType dtype) override {
    check_main_thread("allreduce");
    for_each_piece(data, count, dtype, [&](void* piece, int n) {
      check(MPI_Allreduce(MPI_IN_PLACE, piece, n, mpi_type(dtype), MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
    });
  }

  std::unique_ptr<PendingCollective> start_allreduce_sum(void* data, std::int64_t count, DType dtype) override {
    check_main_thread("allreduce");
    TAPEGRAD_CHECK(count <= kMaxPiece, "MPI nonblocking allreduce: {} elements in one call; at most {} (use smaller "
                   "buckets)", count, kMaxPiece);
    MPI_Request request = MPI_REQUEST_NULL;
    check(MPI_Iallreduce(MPI_IN_PLACE, data, static_cast<int>(count), mpi_type(dtype), MPI_SUM, MPI_COMM_WORLD,
                         &request),
          "MPI_Iallreduce");
    return std::make_unique<MpiPending>(request);
  }

  void broadcast(void* data, std::int64_t count, DType dtype, int root) override {
    check_main_thread("broadcast");
    for_each_piece(data, count, dtype, [&](void* piece, int n) {
      check(MPI_Bcast(piece, n, mpi_type(dtype), root, MPI_COMM_WORLD), "MPI_Bcast");
    });
  }

  void allgather(const void* sent, void* received, std::int64_t count, DType dtype) override {
    check_main_thread("allgather");
    TAPEGRAD_CHECK(count <= kMaxPiece, "MPI allgather: {} elements per rank; at most {}", count, kMaxPiece);
    check(MPI_Allgather(sent, static_cast<int>(count), mpi_type(dtype), received, static_cast<int>(count),
                        mpi_type(dtype), MPI_COMM_WORLD),
          "MPI_Allgather");
  }

  void barrier() override {
    check_main_thread("barrier");
    check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
  }

  [[noreturn]] void abort(const std::string& message) override {
    std::fprintf(stderr, "tapegrad: rank %d of %d failed: %s; ending all %d ranks\n", rank_, size_, message.c_str(),
                 size_);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    std::_Exit(1);
  }

  // At exit of a process that did not abort: MPI requires every rank to finalize.
  void finalize() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (owns_mpi_ && finalized == 0) MPI_Finalize();
  }

 private:
  template <typename Call>
  static void for_each_piece(void* data, std::int64_t count, DType dtype, Call&& call) {
    auto* bytes = static_cast<unsigned char*>(data);
    for (std::int64_t done = 0; done < count; done += kMaxPiece) {
      const std::int64_t n = std::min(kMaxPiece, count - done);
      call(bytes + static_cast<std::size_t>(done) * dtype_size(dtype), static_cast<int>(n));
    }
  }

  void check_main_thread(const char* call) const {
    int is_main = 0;
    MPI_Is_thread_main(&is_main);
    TAPEGRAD_CHECK(is_main != 0, "distributed {}: called from a thread other than the one that initialized MPI; "
                   "tapegrad runs MPI at MPI_THREAD_FUNNELED, so call collectives from that thread", call);
  }

  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  bool owns_mpi_ = false;
  std::string engine_;
};

MpiCommunicator* world_instance = nullptr;

void finalize_at_exit() {
  if (world_instance != nullptr) world_instance->finalize();
}

// An exception nobody caught would end this rank alone, and leave the others blocked in their
// next collective: abort the job instead, naming the rank and the error.
void abort_job_on_terminate() {
  std::string what = "terminated";
  if (std::exception_ptr error = std::current_exception()) {
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      what = fmt::format("uncaught exception: {}", e.what());
    } catch (...) {
      what = "uncaught exception of unknown type";
    }
  }
  world_instance->abort(what);
}

Communicator& mpi_world() {
  static MpiCommunicator* world = [] {
    world_instance = new MpiCommunicator();  // lives until exit, after every static that may use it
    std::atexit(finalize_at_exit);
    std::set_terminate(abort_job_on_terminate);
    return world_instance;
  }();
  return *world;
}

}  // namespace
}  // namespace tapegrad::kernels::comm

extern "C" const tapegrad::kernels::comm::MpiModuleEntry* tapegrad_mpi_module_entry() {
  static const tapegrad::kernels::comm::MpiModuleEntry entry{tapegrad::kernels::comm::MpiModuleEntry::kVersion,
                                                             &tapegrad::kernels::comm::mpi_world};
  return &entry;
}
