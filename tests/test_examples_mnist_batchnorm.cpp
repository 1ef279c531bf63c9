// mnist_batchnorm, the BatchNorm study, run as a user would on a slice of MNIST: four runs in one
// long metrics table, a summary that checks the study's claims (plain SGD at lr 0.5 does not
// train, which is a result and not an error), per-run resume that never retrains a finished run,
// a non-finite loss that stops the program, and bad input explained.
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "example_runner.h"

namespace tapegrad::testing {
namespace {

constexpr const char* kTrainImages = "mnist/train-images-idx3-ubyte";

std::string small_run(const std::filesystem::path& out, int epochs) {
  return "--data-dir " + example_data_dir() + " --limit-train 3000 --limit-test 500 --threads 2 --seed 5 --epochs " +
         std::to_string(epochs) + " --out " + out.string();
}

// The column `column` of the rows of run `run`.
std::vector<double> run_column(const CsvTable& table, const std::string& run, const std::string& column) {
  std::vector<double> values;
  const std::size_t run_index = table.index_of("run"), value_index = table.index_of(column);
  for (const auto& row : table.rows)
    if (row.at(run_index) == run) values.push_back(std::stod(row.at(value_index)));
  return values;
}

TEST(MnistBatchnormExample, FourRunsShowTheClaimsAndPlainSgdAtLrHalfDoesNotTrain) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE(kTrainImages);
  const auto out = fresh_output_dir("mnist_batchnorm_study");
  const ProgramRun run = run_example("mnist_batchnorm", small_run(out, 2));
  ASSERT_EQ(run.exit_code, 0) << run.output;

  const CsvTable metrics = read_csv(out / "metrics.csv");
  EXPECT_EQ(metrics.columns, (std::vector<std::string>{"run", "batchnorm", "lr", "epoch", "train_loss", "train_accuracy",
                                                       "test_loss", "test_accuracy", "seconds"}));
  ASSERT_EQ(metrics.rows.size(), 8u);
  for (const char* name : {"nobn-0.01", "bn-0.01", "nobn-0.5", "bn-0.5"}) {
    EXPECT_EQ(run_column(metrics, name, "epoch"), (std::vector<double>{1, 2})) << name;
    EXPECT_TRUE(std::filesystem::exists(out / (std::string("checkpoint_") + name + ".safetensors"))) << name;
  }
  // BatchNorm trains at lr 0.5; the plain network stays at the loss of guessing (ln 10 = 2.30).
  const std::vector<double> bn_loss = run_column(metrics, "bn-0.5", "train_loss");
  EXPECT_LT(bn_loss.back(), 0.6 * bn_loss.front());
  EXPECT_GT(run_column(metrics, "bn-0.5", "test_accuracy").back(), 0.8);
  EXPECT_GT(run_column(metrics, "nobn-0.5", "train_loss").back(), 2.2);
  EXPECT_LT(run_column(metrics, "nobn-0.5", "test_accuracy").back(), 0.2);

  EXPECT_TRUE(std::regex_search(run.output, std::regex(R"(nobn-0\.5 .*did not train \(loss stuck at 2\.\d{4}\))")))
      << run.output;
  for (const char* claim : {"BatchNorm converges faster", "BatchNorm permits lr 0.5", "BatchNorm ends at least as accurate"})
    EXPECT_TRUE(std::regex_search(run.output, std::regex(std::string(claim) + R"(.*-> holds\n)"))) << claim << "\n"
                                                                                                  << run.output;
  if (gnuplot_installed()) EXPECT_TRUE(is_png(out / "curves.png")) << run.output;
}

TEST(MnistBatchnormExample, ResumeContinuesEachRunFromItsOwnCheckpointAndNeverRetrainsAFinishedOne) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE(kTrainImages);
  const std::string two_runs = " --runs bn-0.5,nobn-0.01";
  const auto straight = fresh_output_dir("mnist_batchnorm_straight");
  ASSERT_EQ(run_example("mnist_batchnorm", small_run(straight, 2) + two_runs).exit_code, 0);

  const auto resumed = fresh_output_dir("mnist_batchnorm_resumed");
  ASSERT_EQ(run_example("mnist_batchnorm", small_run(resumed, 1) + two_runs).exit_code, 0);
  const ProgramRun resume = run_example("mnist_batchnorm", small_run(resumed, 2) + two_runs + " --resume");
  ASSERT_EQ(resume.exit_code, 0) << resume.output;
  for (const char* name : {"nobn-0.01", "bn-0.5"}) {
    const std::string run = std::string("[") + name + "]";
    EXPECT_NE(resume.output.find(run + " resumed from"), std::string::npos) << resume.output;
    EXPECT_EQ(resume.output.find(run + " epoch 1/2"), std::string::npos) << "epoch 1 ran again:\n" << resume.output;
    EXPECT_NE(resume.output.find(run + " epoch 2/2"), std::string::npos) << resume.output;
  }
  const CsvTable a = read_csv(straight / "metrics.csv"), b = read_csv(resumed / "metrics.csv");
  EXPECT_EQ(a.rows.size(), 4u);
  for (const char* column : {"train_loss", "test_accuracy"})
    for (const char* name : {"nobn-0.01", "bn-0.5"})
      EXPECT_EQ(run_column(a, name, column), run_column(b, name, column)) << name << " " << column;

  const ProgramRun finished = run_example("mnist_batchnorm", small_run(resumed, 2) + two_runs + " --resume");
  ASSERT_EQ(finished.exit_code, 0) << finished.output;
  EXPECT_FALSE(std::regex_search(finished.output, std::regex(R"(\] epoch \d)"))) << "a finished run trained again:\n"
                                                                              << finished.output;
  EXPECT_EQ(read_csv(resumed / "metrics.csv").rows, b.rows);
  EXPECT_NE(finished.output.find("claims:"), std::string::npos) << finished.output;
}

TEST(MnistBatchnormExample, NonFiniteLossStopsTheProgramNamingTheRun) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE(kTrainImages);
  const auto out = fresh_output_dir("mnist_batchnorm_diverged");
  const ProgramRun run = run_example("mnist_batchnorm", small_run(out, 1) + " --lrs 1e30 --runs nobn-1e+30");
  EXPECT_EQ(run.exit_code, 3) << run.output;
  EXPECT_TRUE(std::regex_search(run.output, std::regex(R"(loss became (nan|inf) at epoch 1, step \d+ .*lr 1e\+30.*in run 'nobn-1e\+30'.*last finite loss was \d)")))
      << run.output;
  EXPECT_FALSE(std::filesystem::exists(out / "checkpoint_nobn-1e+30.safetensors"));
}

TEST(MnistBatchnormExample, HelpDocumentsTheStudyFlagsAndBadInputIsExplained) {
  REQUIRE_EXAMPLES();
  const ProgramRun help = run_example("mnist_batchnorm", "--help");
  EXPECT_EQ(help.exit_code, 0);
  for (const char* flag : {"--data-dir", "--epochs", "--batch-size", "--lrs", "--runs", "--seed", "--threads", "--out",
                           "--limit-train", "--limit-test", "--resume"})
    EXPECT_NE(help.output.find(flag), std::string::npos) << flag << " is not documented:\n" << help.output;
  EXPECT_EQ(help.output.find("--lr "), std::string::npos) << "a single --lr does not fit a study of two:\n" << help.output;
  for (const char* default_value : {"15", "60", "0.01,0.5"})
    EXPECT_NE(help.output.find(default_value), std::string::npos) << default_value << " is not shown:\n" << help.output;

  const ProgramRun bad_lr = run_example("mnist_batchnorm", "--lrs 0.1,-1");
  EXPECT_NE(bad_lr.exit_code, 0);
  EXPECT_NE(bad_lr.output.find("--lrs"), std::string::npos) << bad_lr.output;

  const auto out = fresh_output_dir("mnist_batchnorm_errors");
  const ProgramRun unknown_run =
      run_example("mnist_batchnorm", "--data-dir " + example_data_dir() + " --runs bn-0.3 --out " + out.string());
  EXPECT_EQ(unknown_run.exit_code, 1);
  EXPECT_NE(unknown_run.output.find("no run 'bn-0.3'"), std::string::npos) << unknown_run.output;
  EXPECT_NE(unknown_run.output.find("nobn-0.01, bn-0.01, nobn-0.5, bn-0.5"), std::string::npos) << unknown_run.output;
}

}  // namespace
}  // namespace tapegrad::testing
