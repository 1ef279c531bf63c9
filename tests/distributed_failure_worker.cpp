// A two-rank job in which rank 1 fails while rank 0 waits for it in a collective; the
// distributed_failure_* tests (tests/distributed_failure.sh) check that the job ends at once and
// says which rank failed, instead of hanging.
//   distributed_failure_worker throw   rank 1 lets an exception escape main
//   distributed_failure_worker kill    rank 1 is killed by SIGKILL
#include <csignal>
#include <cstdio>
#include <stdexcept>
#include <string_view>

#include <tapegrad/tapegrad.h>

int main(int argc, char** argv) {
  using namespace tapegrad;
  const std::string_view mode = argc > 1 ? argv[1] : "";
  auto& group = distributed::world();
  Tensor t = ones({4});
  group.all_reduce(t);  // both ranks are up and connected
  if (group.rank() == 1) {
    if (mode == "throw") throw std::runtime_error("the data file is corrupt");
    if (mode == "kill") std::raise(SIGKILL);
  }
  group.all_reduce(t);  // rank 0 blocks here for the rank that never comes
  std::printf("rank %d was not stopped\n", group.rank());
  return 0;
}
