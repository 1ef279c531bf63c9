// Faults injected into a training run: an example program is killed with SIGKILL at random
// moments and continued with --resume until it finishes, and what it leaves (the model, the
// metrics' deterministic columns, every other CSV) must be bit-identical to an uninterrupted
// run's. The moments come from a logged seed, so a failure can be replayed.
//
//   TAPEGRAD_KILLS=N          kills (one per interrupted run; default 5)
//   TAPEGRAD_KILL_SEED=S      the seed of the kill moments (default: drawn, and printed)
//   TAPEGRAD_KILL_PROGRAM=P   the example program (default mnist_mlp; it must take the data,
//                             training and --resume flags)
// scripts/kill_resume.sh runs this test with 50 kills.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include "example_runner.h"

extern char** environ;

namespace tapegrad::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

// Starts the example with `arguments`, its output appended to `log`; returns its process id.
pid_t start_example(const std::string& program, const std::vector<std::string>& arguments, const fs::path& log) {
#ifdef TAPEGRAD_EXAMPLES_DIR
  const std::string path = std::string(TAPEGRAD_EXAMPLES_DIR) + "/" + program;
#else
  const std::string path = program;  // never run: REQUIRE_EXAMPLES() skips the test
#endif
  std::vector<std::string> words{path};
  words.insert(words.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (std::string& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = -1;
  const int error = posix_spawn(&pid, path.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return error == 0 ? pid : -1;
}

// The exit status, or -signal when a signal ended the process.
int wait_for(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1000;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

std::string file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A CSV without its wall-time columns (named *_seconds), which differ from run to run.
std::string deterministic_columns(const fs::path& path) {
  const CsvTable table = read_csv(path);
  std::ostringstream text;
  const auto keep = [&](std::size_t column) { return !table.columns[column].ends_with("seconds"); };
  for (std::size_t c = 0; c < table.columns.size(); ++c)
    if (keep(c)) text << table.columns[c] << ',';
  text << '\n';
  for (const auto& row : table.rows) {
    for (std::size_t c = 0; c < row.size() && c < table.columns.size(); ++c)
      if (keep(c)) text << row[c] << ',';
    text << '\n';
  }
  return text.str();
}

// What a finished run leaves that must not depend on interruptions: every CSV (less wall
// times) and every tensor file but the checkpoint (which carries the wall times too).
std::vector<std::pair<std::string, std::string>> results_of(const fs::path& out) {
  std::vector<std::pair<std::string, std::string>> results;
  for (const auto& entry : fs::directory_iterator(out)) {
    const fs::path& path = entry.path();
    if (path.extension() == ".csv") results.emplace_back(path.filename(), deterministic_columns(path));
    if (path.extension() == ".safetensors" && path.filename() != "checkpoint.safetensors")
      results.emplace_back(path.filename(), file_bytes(path));
  }
  std::sort(results.begin(), results.end());
  return results;
}

TEST(KillResume, RunsKilledAtRandomMomentsAndResumedEndBitIdenticalToAnUninterruptedRun) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE("mnist/train-images-idx3-ubyte");
  const std::string program = env_or("TAPEGRAD_KILL_PROGRAM", "mnist_mlp");
  const int kills = std::stoi(env_or("TAPEGRAD_KILLS", "5"));
  const std::uint64_t seed = std::stoull(env_or("TAPEGRAD_KILL_SEED", std::to_string(std::random_device()())));
  std::cout << "kill moments from seed " << seed << " (TAPEGRAD_KILL_SEED=" << seed << " repeats them)\n";
  SCOPED_TRACE("TAPEGRAD_KILL_SEED=" + std::to_string(seed));
  // Every run, first or resumed, gets the same flags: one thread, so that results are
  // reproducible, and --resume, which starts afresh when there is no checkpoint yet.
  const auto arguments = [&](const fs::path& out) {
    return std::vector<std::string>{"--data-dir", example_data_dir(), "--limit-train", "1500", "--limit-test", "300",
                                    "--batch-size", "50", "--epochs", "5", "--threads", "1", "--seed", "7",
                                    "--out", out.string(), "--resume"};
  };

  const fs::path straight = fresh_output_dir("kill_resume_straight");
  const auto start = Clock::now();
  const pid_t uninterrupted = start_example(program, arguments(straight), straight / "log.txt");
  ASSERT_GT(uninterrupted, 0);
  ASSERT_EQ(wait_for(uninterrupted), 0) << file_bytes(straight / "log.txt");
  const auto run_time = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
  const auto expected = results_of(straight);
  ASSERT_FALSE(expected.empty());

  std::mt19937_64 random(seed);
  std::uniform_int_distribution<std::int64_t> moment(0, run_time.count());
  for (int kill_number = 1; kill_number <= kills; ++kill_number) {
    const fs::path out = fresh_output_dir("kill_resume_" + std::to_string(kill_number));
    const fs::path log = out.parent_path() / ("kill_resume_" + std::to_string(kill_number) + ".log");
    fs::remove(log);
    const std::chrono::microseconds delay(moment(random));
    const pid_t victim = start_example(program, arguments(out), log);
    ASSERT_GT(victim, 0);
    std::this_thread::sleep_for(delay);
    kill(victim, SIGKILL);
    const int status = wait_for(victim);  // SIGKILL, or 0 when the run was already over
    ASSERT_TRUE(status == -SIGKILL || status == 0) << "status " << status << "\n" << file_bytes(log);
    std::cout << "kill " << kill_number << " after " << delay.count() / 1000 << " ms: "
              << (status == 0 ? "the run had finished"
                  : fs::exists(out / "checkpoint.safetensors") ? "resuming from its checkpoint"
                                                                : "no checkpoint yet, starting again")
              << "\n";
    const pid_t resumed = start_example(program, arguments(out), log);
    ASSERT_GT(resumed, 0);
    ASSERT_EQ(wait_for(resumed), 0) << "killed after " << delay.count() << " us\n" << file_bytes(log);
    EXPECT_EQ(results_of(out), expected) << "kill " << kill_number << " after " << delay.count() << " us of a "
                                         << run_time.count() << " us run\n" << file_bytes(log);
    if (!::testing::Test::HasFailure()) fs::remove_all(out);
  }
}

}  // namespace
}  // namespace tapegrad::testing
