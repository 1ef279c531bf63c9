// robust_regression (experiment C5): Adam and SGD on |a.theta - y|^gamma, replicated, with the
// mean test loss and 2.5-standard-error bars every few updates, beside least squares.
#include <regex>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "example_runner.h"

namespace tapegrad::testing {
namespace {

TEST(RobustRegressionExample, RecordsMeanTestLossWithErrorBarsForEveryGammaAndOptimizer) {
  REQUIRE_EXAMPLES();
  const auto out = fresh_output_dir("robust_regression");
  const ProgramRun run = run_example("robust_regression", "--threads 1 --updates 300 --replicates 4 --out " + out.string());
  ASSERT_EQ(run.exit_code, 0) << run.output;

  // Least squares recovers theta_true = ones up to the noise.
  std::smatch distance;
  ASSERT_TRUE(std::regex_search(run.output, distance, std::regex(R"(\|theta - ones\| = ([0-9.]+))"))) << run.output;
  EXPECT_LT(std::stod(distance[1]), 0.1);

  const CsvTable metrics = read_csv(out / "metrics.csv");
  EXPECT_EQ(metrics.columns,
            (std::vector<std::string>{"series", "gamma", "optimizer", "update", "mean_test_loss", "error"}));
  // 6 gammas x 2 optimizers x (300 / 50 + 1) records.
  ASSERT_EQ(metrics.rows.size(), 6u * 2u * 7u);
  std::set<std::string> series;
  for (const auto& row : metrics.rows) series.insert(row.at(0));
  EXPECT_EQ(series.size(), 12u);
  const std::vector<double> loss = metrics.numbers("mean_test_loss"), error = metrics.numbers("error"),
                            gamma = metrics.numbers("gamma"), update = metrics.numbers("update");
  for (double e : error) EXPECT_GE(e, 0);
  // With the squared loss both optimizers lower the test loss from theta = 0.
  double first_sgd = 0, last_sgd = 0;
  for (std::size_t i = 0; i < metrics.rows.size(); ++i) {
    if (gamma[i] != 2 || metrics.rows[i][2] != "SGD") continue;
    if (update[i] == 0) first_sgd = loss[i];
    if (update[i] == 300) last_sgd = loss[i];
  }
  EXPECT_LT(last_sgd, 0.8 * first_sgd);
  if (gnuplot_installed()) EXPECT_TRUE(is_png(out / "test_loss.png"));
}

TEST(RobustRegressionExample, HelpDocumentsTheFlagsAndBadValuesAreRefused) {
  REQUIRE_EXAMPLES();
  const ProgramRun help = run_example("robust_regression", "--help");
  EXPECT_EQ(help.exit_code, 0);
  for (const char* flag : {"--updates", "--replicates", "--gammas", "--lr", "--seed", "--out"})
    EXPECT_NE(help.output.find(flag), std::string::npos) << flag << "\n" << help.output;
  EXPECT_NE(run_example("robust_regression", "--replicates 1").exit_code, 0) << "one replicate has no standard error";
}

}  // namespace
}  // namespace tapegrad::testing
