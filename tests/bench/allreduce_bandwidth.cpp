// Allreduce bandwidth between the ranks of an MPI job, for docs/distributed.md: float32 messages
// of 1 KB to 64 MB, summed in place through tapegrad::distributed (the path gradients take).
// Every rank runs the same fixed number of calls per size (a benchmark library's adaptive
// iteration counts would differ between ranks and deadlock); rank 0 prints a Markdown table.
//   mpirun -np 2 --bind-to none build/tests/bench/allreduce_bandwidth
#include <algorithm>
#include <chrono>
#include <cstdint>

#include <fmt/format.h>

#include <tapegrad/tapegrad.h>

int main() {
  using namespace tapegrad;
  distributed::ProcessGroup& group = distributed::world();
  const int n = group.size();
  if (group.rank() == 0)
    fmt::print("{} ranks, {}\n\n| message | calls | time per call | algorithm bandwidth | bus bandwidth |\n"
               "|---:|---:|---:|---:|---:|\n",
               n, group.engine());
  for (std::int64_t bytes = 1024; bytes <= (std::int64_t{64} << 20); bytes *= 4) {
    Tensor buffer = ones({bytes / 4});
    // About 256 MB moved per size, between 10 and 2000 calls.
    const int calls = static_cast<int>(std::clamp<std::int64_t>((std::int64_t{256} << 20) / bytes, 10, 2000));
    for (int i = 0; i < 3; ++i) group.all_reduce(buffer);
    group.barrier();
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < calls; ++i) group.all_reduce(buffer);
    group.barrier();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / calls;
    // Bus bandwidth: what each rank's link carries in a ring allreduce, 2 (n - 1) / n of the message.
    const double algorithm = static_cast<double>(bytes) / seconds / 1e9;
    const double bus = algorithm * 2.0 * (n - 1) / n;
    const std::string size = bytes < (1 << 20) ? fmt::format("{} KB", bytes >> 10) : fmt::format("{} MB", bytes >> 20);
    if (group.rank() == 0)
      fmt::print("| {} | {} | {:.1f} us | {:.2f} GB/s | {:.2f} GB/s |\n", size, calls, seconds * 1e6, algorithm, bus);
  }
  return 0;
}
