// mnist_mlp, the main example, run as a user would on a slice of MNIST: it trains (the loss
// falls), writes its metrics, plots, model and class probabilities, resumes bit-identically
// from its checkpoint, stops on a non-finite loss, and explains bad input.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numeric>
#include <regex>
#include <string>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <tapegrad/kernels/cuda/cuda.h>

#include "example_runner.h"

namespace tapegrad::testing {
namespace {

constexpr const char* kTrainImages = "mnist/train-images-idx3-ubyte";

// A small, fast configuration on the first images of MNIST, pinned to two threads.
std::string small_run(const std::filesystem::path& out, int epochs) {
  return "--data-dir " + example_data_dir() + " --limit-train 1200 --limit-test 300 --threads 2 --seed 5 --epochs " +
         std::to_string(epochs) + " --out " + out.string();
}

std::string file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(MnistMlpExample, TrainsAndWritesMetricsPlotsModelAndProbabilities) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE(kTrainImages);
  const auto out = fresh_output_dir("mnist_mlp_train");
  const ProgramRun run = run_example("mnist_mlp", small_run(out, 3));
  ASSERT_EQ(run.exit_code, 0) << run.output;

  const CsvTable metrics = read_csv(out / "metrics.csv");
  EXPECT_EQ(metrics.columns, (std::vector<std::string>{"epoch", "train_loss", "train_accuracy", "test_loss",
                                                       "test_accuracy", "train_seconds", "test_seconds"}));
  ASSERT_EQ(metrics.rows.size(), 3u);
  const std::vector<double> train_loss = metrics.numbers("train_loss");
  EXPECT_LT(train_loss.back(), 0.6 * train_loss.front()) << run.output;
  EXPECT_GT(metrics.numbers("test_accuracy").back(), 0.5) << run.output;
  // One plain line per epoch when output is not a terminal, then the final accuracy.
  const std::regex epoch_line(R"(epoch \d/3 .*test loss)");
  EXPECT_EQ(std::distance(std::sregex_iterator(run.output.begin(), run.output.end(), epoch_line), std::sregex_iterator()), 3)
      << run.output;
  EXPECT_TRUE(std::regex_search(run.output, std::regex(R"(test accuracy 0\.\d{4}\n$)"))) << run.output;

  const CsvTable probabilities = read_csv(out / "probabilities.csv");
  const std::vector<double> p = probabilities.numbers("probability");
  ASSERT_EQ(p.size(), 10u);
  EXPECT_NEAR(std::accumulate(p.begin(), p.end(), 0.0), 1.0, 1e-5);
  EXPECT_TRUE(std::filesystem::exists(out / "model.safetensors"));
  EXPECT_TRUE(std::filesystem::exists(out / "checkpoint.safetensors"));
  if (gnuplot_installed()) {
    EXPECT_TRUE(is_png(out / "curves.png")) << run.output;
    EXPECT_TRUE(is_png(out / "probabilities.png")) << run.output;
  }
}

TEST(MnistMlpExample, InterruptedThenResumedRunEndsWithBitIdenticalWeights) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE(kTrainImages);
  const auto straight = fresh_output_dir("mnist_mlp_straight");
  ASSERT_EQ(run_example("mnist_mlp", small_run(straight, 3)).exit_code, 0);

  const auto resumed = fresh_output_dir("mnist_mlp_resumed");
  ASSERT_EQ(run_example("mnist_mlp", small_run(resumed, 1)).exit_code, 0);
  const ProgramRun resume = run_example("mnist_mlp", small_run(resumed, 3) + " --resume");
  ASSERT_EQ(resume.exit_code, 0) << resume.output;
  EXPECT_NE(resume.output.find("resumed from"), std::string::npos) << resume.output;
  EXPECT_EQ(resume.output.find("epoch 1/3"), std::string::npos) << "epoch 1 ran again:\n" << resume.output;

  EXPECT_EQ(file_bytes(straight / "model.safetensors"), file_bytes(resumed / "model.safetensors"));
  const CsvTable a = read_csv(straight / "metrics.csv"), b = read_csv(resumed / "metrics.csv");
  EXPECT_EQ(a.numbers("train_loss"), b.numbers("train_loss"));
  EXPECT_EQ(a.numbers("test_accuracy"), b.numbers("test_accuracy"));
}

TEST(MnistMlpExample, NonFiniteLossStopsTheRunWithoutACheckpoint) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE(kTrainImages);
  const auto out = fresh_output_dir("mnist_mlp_diverged");
  const ProgramRun run = run_example("mnist_mlp", small_run(out, 2) + " --lr 1e30");
  EXPECT_EQ(run.exit_code, 3) << run.output;
  EXPECT_TRUE(std::regex_search(run.output, std::regex(R"(loss became (nan|inf) at epoch 1, step \d+ .*lr 1e\+30.*last finite loss was \d)")))
      << run.output;
  EXPECT_FALSE(std::filesystem::exists(out / "checkpoint.safetensors"));
  EXPECT_FALSE(std::filesystem::exists(out / "model.safetensors"));
}

TEST(MnistMlpExample, HelpDocumentsEveryFlagAndBadInputIsExplained) {
  REQUIRE_EXAMPLES();
  const ProgramRun help = run_example("mnist_mlp", "--help");
  EXPECT_EQ(help.exit_code, 0);
  for (const char* flag : {"--data-dir", "--epochs", "--batch-size", "--lr", "--seed", "--threads", "--device", "--out",
                           "--limit-train", "--limit-test", "--resume", "--show-digit"})
    EXPECT_NE(help.output.find(flag), std::string::npos) << flag << " is not documented:\n" << help.output;
  EXPECT_NE(help.output.find("15"), std::string::npos) << "the default epoch count is not shown:\n" << help.output;

  const ProgramRun bad_value = run_example("mnist_mlp", "--epochs zero");
  EXPECT_NE(bad_value.exit_code, 0);
  EXPECT_NE(bad_value.output.find("--epochs"), std::string::npos) << bad_value.output;

  const auto out = fresh_output_dir("mnist_mlp_errors");
  const ProgramRun missing = run_example("mnist_mlp", "--data-dir /nonexistent --out " + out.string());
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("scripts/fetch_data.sh --data-dir /nonexistent"), std::string::npos) << missing.output;

  const ProgramRun cuda = run_example("mnist_mlp", "--device cuda --out " + out.string());
  if (cuda.exit_code != 0) EXPECT_NE(cuda.output.find("--device cpu"), std::string::npos) << cuda.output;
}

TEST(MnistMlpExample, TrainsOnTheGpuAsOnTheCpu) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE(kTrainImages);
  if (!cuda::is_available()) GTEST_SKIP() << "no usable CUDA device; the CPU-only error is checked above";
  const auto cpu_out = fresh_output_dir("mnist_mlp_cpu"), gpu_out = fresh_output_dir("mnist_mlp_gpu");
  const ProgramRun cpu = run_example("mnist_mlp", small_run(cpu_out, 2));
  const ProgramRun gpu = run_example("mnist_mlp", small_run(gpu_out, 2) + " --device cuda");
  ASSERT_EQ(cpu.exit_code, 0) << cpu.output;
  ASSERT_EQ(gpu.exit_code, 0) << gpu.output;
  // Same seed, same initial weights and batches; only float32 summation orders differ (accuracies
  // are left out: one image classified the other way moves them by 1/300).
  const CsvTable on_cpu = read_csv(cpu_out / "metrics.csv"), on_gpu = read_csv(gpu_out / "metrics.csv");
  for (const char* column : {"train_loss", "test_loss"}) {
    const std::vector<double> a = on_cpu.numbers(column), b = on_gpu.numbers(column);
    ASSERT_EQ(a.size(), b.size()) << column;
    for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(b[i], a[i], 1e-3 + 1e-3 * std::abs(a[i])) << column;
  }
}

// A finished run's folder is not trained over by a run that forgot --resume: it is refused with
// exit status 2 before anything is written, and --overwrite says to start over.
TEST(MnistMlpExample, AnEarlierRunIsNeitherReplacedNorMixedWithoutBeingAsked) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE(kTrainImages);
  const auto out = fresh_output_dir("mnist_mlp_guarded");
  ASSERT_EQ(run_example("mnist_mlp", small_run(out, 2)).exit_code, 0);
  const std::string checkpoint = file_bytes(out / "checkpoint.safetensors"), metrics = file_bytes(out / "metrics.csv");

  const ProgramRun again = run_example("mnist_mlp", small_run(out, 1));
  EXPECT_EQ(again.exit_code, 2) << again.output;
  for (const std::string words : {(out / "checkpoint.safetensors").string(), std::string("--resume"),
                                  std::string("--overwrite")})
    EXPECT_NE(again.output.find(words), std::string::npos) << words << "\n" << again.output;
  EXPECT_EQ(file_bytes(out / "checkpoint.safetensors"), checkpoint);
  EXPECT_EQ(file_bytes(out / "metrics.csv"), metrics);

  const ProgramRun both = run_example("mnist_mlp", small_run(out, 1) + " --resume --overwrite");
  EXPECT_NE(both.exit_code, 0) << both.output;
  EXPECT_NE(both.output.find("excludes"), std::string::npos) << both.output;

  const ProgramRun over = run_example("mnist_mlp", small_run(out, 1) + " --overwrite");
  ASSERT_EQ(over.exit_code, 0) << over.output;
  EXPECT_EQ(read_csv(out / "metrics.csv").rows.size(), 1u);
}

// One run at a time per folder: a second is refused at once, naming the process that holds it;
// temporary files of killed runs are cleared, those of live processes kept.
TEST(MnistMlpExample, OneRunAtATimePerOutputFolderAndNoLeftoversOfKilledRuns) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE(kTrainImages);
  const auto out = fresh_output_dir("mnist_mlp_locked");
  {
    const int fd = ::open((out / ".lock").c_str(), O_RDWR | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
    const std::string pid = std::to_string(::getpid());
    ASSERT_EQ(::write(fd, pid.data(), pid.size()), static_cast<ssize_t>(pid.size()));
    const ProgramRun busy = run_example("mnist_mlp", small_run(out, 1));
    ::close(fd);
    EXPECT_EQ(busy.exit_code, 2) << busy.output;
    EXPECT_NE(busy.output.find("in use by another run (process " + pid + ")"), std::string::npos) << busy.output;
    EXPECT_FALSE(std::filesystem::exists(out / "metrics.csv"));
  }
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ::waitpid(child, nullptr, 0);  // a process id that is no longer alive
  const auto dead = out / ("checkpoint.safetensors.tmp." + std::to_string(child));
  const auto alive = out / ("checkpoint.safetensors.tmp." + std::to_string(::getpid()));
  std::ofstream(dead) << "partial";
  std::ofstream(alive) << "partial";
  const ProgramRun run = run_example("mnist_mlp", small_run(out, 1));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("removed 1 temporary file(s)"), std::string::npos) << run.output;
  EXPECT_FALSE(std::filesystem::exists(dead));
  EXPECT_TRUE(std::filesystem::exists(alive));
}

}  // namespace
}  // namespace tapegrad::testing
