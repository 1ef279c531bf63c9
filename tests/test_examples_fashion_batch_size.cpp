// fashion_batch_size, the batch size study, run as a user would on a slice of FashionMNIST: the
// learning rate search stops at the first lr whose one-pass loss rises, training runs at half of
// it, larger batches need fewer updates to fit the training set, a non-finite loss in the search
// only marks an lr as divergent, and bad input is explained.
#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "example_runner.h"

namespace tapegrad::testing {
namespace {

constexpr const char* kTrainImages = "fashion-mnist/train-images-idx3-ubyte.gz";

std::string small_run(const std::filesystem::path& out) {
  return "--data-dir " + example_data_dir() + " --limit-train 600 --limit-test 500 --threads 2 --seed 3 --out " +
         out.string();
}

TEST(FashionBatchSizeExample, InterruptedThenResumedStudyMatchesAStraightRun) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE(kTrainImages);
  const std::string study = " --batch-sizes 8,16";
  const auto straight = fresh_output_dir("fashion_batch_size_straight");
  ASSERT_EQ(run_example("fashion_batch_size", small_run(straight) + study + " --passes 3").exit_code, 0);
  const auto resumed = fresh_output_dir("fashion_batch_size_resumed");
  ASSERT_EQ(run_example("fashion_batch_size", small_run(resumed) + study + " --passes 1").exit_code, 0);
  const ProgramRun resume = run_example("fashion_batch_size", small_run(resumed) + study + " --passes 3 --resume");
  ASSERT_EQ(resume.exit_code, 0) << resume.output;
  EXPECT_NE(resume.output.find("[B=16] resumed from"), std::string::npos) << resume.output;

  const CsvTable a = read_csv(straight / "metrics.csv"), b = read_csv(resumed / "metrics.csv");
  ASSERT_EQ(a.rows.size(), 6u);
  for (const char* column : {"batch_size", "pass", "updates", "train_loss", "test_accuracy"})
    EXPECT_EQ(a.numbers(column), b.numbers(column)) << column;
  EXPECT_EQ(read_csv(straight / "interpolation.csv").rows, read_csv(resumed / "interpolation.csv").rows);
}

TEST(FashionBatchSizeExample, SearchStopsWhereTheLossRisesAndLargerBatchesFitInFewerUpdates) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE(kTrainImages);
  const auto out = fresh_output_dir("fashion_batch_size_study");
  const ProgramRun run = run_example("fashion_batch_size", small_run(out) + " --batch-sizes 16,4 --passes 30");
  ASSERT_EQ(run.exit_code, 0) << run.output;

  // Per batch size, every lr tried lowers the one-pass loss below the previous lr's until the last.
  const CsvTable search = read_csv(out / "lr_search.csv");
  EXPECT_EQ(search.columns, (std::vector<std::string>{"batch_size", "lr", "loss_after_pass", "previous_loss", "rises"}));
  std::map<double, double> divergent_lr;
  const std::vector<double> batch = search.numbers("batch_size"), lr = search.numbers("lr"),
                            loss = search.numbers("loss_after_pass"), previous = search.numbers("previous_loss"),
                            rises = search.numbers("rises");
  for (std::size_t i = 0; i < search.rows.size(); ++i) {
    const bool last_of_batch = i + 1 == search.rows.size() || batch[i + 1] != batch[i];
    EXPECT_EQ(rises[i], last_of_batch ? 1 : 0) << "row " << i;
    EXPECT_EQ(loss[i] > previous[i] || !std::isfinite(loss[i]), last_of_batch) << "row " << i;
    if (i > 0 && batch[i - 1] == batch[i]) EXPECT_EQ(previous[i], loss[i - 1]) << "row " << i;
    if (last_of_batch) divergent_lr[batch[i]] = lr[i];
  }
  ASSERT_EQ(divergent_lr.size(), 2u);

  const CsvTable metrics = read_csv(out / "metrics.csv");
  EXPECT_EQ(metrics.columns, (std::vector<std::string>{"batch_size", "lr", "pass", "updates", "train_loss",
                                                       "train_accuracy", "test_loss", "test_accuracy", "train_seconds"}));
  ASSERT_EQ(metrics.rows.size(), 60u);
  for (std::size_t i = 0; i < metrics.rows.size(); ++i) {
    const double batch_size = metrics.numbers("batch_size")[i], pass = metrics.numbers("pass")[i];
    EXPECT_EQ(metrics.numbers("lr")[i], divergent_lr.at(batch_size) / 2) << "row " << i;
    EXPECT_EQ(metrics.numbers("updates")[i], pass * std::ceil(600 / batch_size)) << "row " << i;
  }
  EXPECT_LT(metrics.numbers("train_loss").back(), 0.1 * metrics.numbers("train_loss").front()) << run.output;

  // Batch sizes in ascending order, whatever the command line's order.
  const CsvTable interpolation = read_csv(out / "interpolation.csv");
  ASSERT_EQ(interpolation.rows.size(), 2u) << run.output;
  EXPECT_EQ(interpolation.numbers("batch_size"), (std::vector<double>{4, 16}));
  const std::vector<double> updates = interpolation.numbers("updates_to_interpolation");
  EXPECT_LT(updates[1], updates[0]) << run.output;
  EXPECT_NE(run.output.find("fall as the batch size grows: yes"), std::string::npos) << run.output;
  if (gnuplot_installed()) {
    EXPECT_TRUE(is_png(out / "curves.png")) << run.output;
    EXPECT_TRUE(is_png(out / "updates_to_interpolation.png")) << run.output;
  }
}

TEST(FashionBatchSizeExample, NonFiniteLossMarksAnLrDivergentInTheSearchButStopsTraining) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE(kTrainImages);
  const auto out = fresh_output_dir("fashion_batch_size_diverged");
  const ProgramRun run = run_example("fashion_batch_size", small_run(out) + " --batch-sizes 16 --lr-grid 1e30");
  EXPECT_EQ(run.exit_code, 3) << run.output;
  EXPECT_NE(run.output.find("lr 1e+30  loss after one pass inf (rises from"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("training diverged: the loss became"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("(lr 5e+29) in run 'B=16 lr=5e+29'"), std::string::npos) << run.output;
  EXPECT_EQ(read_csv(out / "lr_search.csv").numbers("rises"), (std::vector<double>{1}));
}

TEST(FashionBatchSizeExample, HelpDocumentsTheStudyFlagsAndBadInputIsExplained) {
  REQUIRE_EXAMPLES();
  const ProgramRun help = run_example("fashion_batch_size", "--help");
  EXPECT_EQ(help.exit_code, 0);
  for (const char* flag : {"--data-dir", "--batch-sizes", "--lr-grid", "--passes", "--train-fraction", "--seed",
                           "--threads", "--out", "--limit-train", "--limit-test"})
    EXPECT_NE(help.output.find(flag), std::string::npos) << flag << " is not documented:\n" << help.output;
  for (const char* default_value : {"1,2,4,8,16", "0.005,0.01,0.02,0.05,0.1,0.15", "50", "0.1"})
    EXPECT_NE(help.output.find(default_value), std::string::npos) << default_value << " is not shown:\n" << help.output;

  const ProgramRun zero_batch = run_example("fashion_batch_size", "--batch-sizes 0,4");
  EXPECT_NE(zero_batch.exit_code, 0);
  EXPECT_NE(zero_batch.output.find("--batch-sizes"), std::string::npos) << zero_batch.output;

  REQUIRE_DATA_FILE(kTrainImages);
  const auto out = fresh_output_dir("fashion_batch_size_errors");
  const ProgramRun small_grid =
      run_example("fashion_batch_size", small_run(out) + " --batch-sizes 16 --lr-grid 0.001,0.002");
  EXPECT_EQ(small_grid.exit_code, 1) << small_grid.output;
  EXPECT_NE(small_grid.output.find("add larger values to --lr-grid"), std::string::npos) << small_grid.output;
}

}  // namespace
}  // namespace tapegrad::testing
