// fashion_resnet, the residual network on FashionMNIST, run as a user would on a slice of the
// data: it learns, follows its cosine schedule, writes metrics, curves, checkpoint and model,
// resumes bit-identically (the schedule's position included), and explains bad flags.
#include <cmath>
#include <filesystem>
#include <numbers>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "example_runner.h"

namespace tapegrad::testing {
namespace {

constexpr const char* kTrainImages = "fashion-mnist/train-images-idx3-ubyte.gz";

std::string small_run(const std::filesystem::path& out, int epochs) {
  return "--data-dir " + example_data_dir() + " --limit-train 1024 --limit-test 256 --batch-size 64 --threads 2 " +
         "--seed 3 --epochs " + std::to_string(epochs) + " --out " + out.string();
}

TEST(FashionResnetExample, LearnsOnASliceAndFollowsTheCosineSchedule) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE(kTrainImages);
  const auto out = fresh_output_dir("fashion_resnet");
  const ProgramRun run = run_example("fashion_resnet", small_run(out, 3));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("BasicBlock("), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("(downsample): Sequential("), std::string::npos) << run.output;

  const CsvTable metrics = read_csv(out / "metrics.csv");
  EXPECT_EQ(metrics.columns, (std::vector<std::string>{"epoch", "lr", "train_loss", "train_accuracy", "test_loss",
                                                       "test_accuracy", "seconds"}));
  ASSERT_EQ(metrics.rows.size(), 3u);
  // CosineAnnealingLR over 3 epochs from 0.1: 0.1, 0.1 (1 + cos(pi/3)) / 2, 0.1 (1 + cos(2pi/3)) / 2.
  const std::vector<double> lr = metrics.numbers("lr");
  EXPECT_NEAR(lr[0], 0.1, 1e-12);
  EXPECT_NEAR(lr[1], 0.075, 1e-12);
  EXPECT_NEAR(lr[2], 0.025, 1e-12);
  const std::vector<double> train_loss = metrics.numbers("train_loss");
  EXPECT_LT(train_loss.back(), 0.75 * train_loss.front());
  EXPECT_GT(metrics.numbers("test_accuracy").back(), 0.5);  // ten classes: chance is 0.1

  EXPECT_TRUE(std::filesystem::exists(out / "checkpoint.safetensors"));
  EXPECT_TRUE(std::filesystem::exists(out / "model.safetensors"));
  if (gnuplot_installed()) EXPECT_TRUE(is_png(out / "curves.png")) << run.output;
}

TEST(FashionResnetExample, ResumedRunEqualsAnUninterruptedOne) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE(kTrainImages);
  const auto straight = fresh_output_dir("fashion_resnet_straight");
  ASSERT_EQ(run_example("fashion_resnet", small_run(straight, 2)).exit_code, 0);

  // The schedule spans --epochs, so the interrupted run stops after its first epoch of two.
  const auto partial = fresh_output_dir("fashion_resnet_partial");
  const ProgramRun first = run_example("fashion_resnet", small_run(partial, 2) + " --stop-after 1");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  ASSERT_EQ(read_csv(partial / "metrics.csv").rows.size(), 1u);
  const ProgramRun resume = run_example("fashion_resnet", small_run(partial, 2) + " --resume");
  ASSERT_EQ(resume.exit_code, 0) << resume.output;
  EXPECT_NE(resume.output.find("resumed from"), std::string::npos) << resume.output;

  const CsvTable a = read_csv(straight / "metrics.csv"), b = read_csv(partial / "metrics.csv");
  ASSERT_EQ(b.rows.size(), 2u);
  for (const char* name : {"lr", "train_loss", "test_loss", "test_accuracy"})
    EXPECT_EQ(a.numbers(name), b.numbers(name)) << name;
}

TEST(FashionResnetExample, HelpShowsTheDefaultsAndBadFlagsAreExplained) {
  REQUIRE_EXAMPLES();
  const ProgramRun help = run_example("fashion_resnet", "--help");
  EXPECT_EQ(help.exit_code, 0);
  for (const char* flag : {"--blocks", "--weight-decay", "--epochs", "--batch-size", "--lr", "--resume"})
    EXPECT_NE(help.output.find(flag), std::string::npos) << flag << " is not documented:\n" << help.output;

  const ProgramRun no_blocks = run_example("fashion_resnet", "--blocks 0");
  EXPECT_NE(no_blocks.exit_code, 0);
  EXPECT_NE(no_blocks.output.find("--blocks"), std::string::npos) << no_blocks.output;
}

}  // namespace
}  // namespace tapegrad::testing
