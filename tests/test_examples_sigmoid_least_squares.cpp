// sigmoid_least_squares (experiment C6) on heart_scale: every method lowers the objective, the L1
// penalty zeroes more coordinates as it grows, and the quasi-Newton methods reach GD's objective
// with less data read.
#include <map>
#include <regex>
#include <string>

#include <fstream>

#include <gtest/gtest.h>

#include "example_runner.h"

namespace tapegrad::testing {
namespace {

struct MethodSummary {
  double objective = 0;
  long data_accesses = 0;
  std::string zeros;
};

// The final table: method, objective, data accesses, vector updates, zeros.
std::map<std::string, MethodSummary> summary_table(const std::string& output) {
  std::map<std::string, MethodSummary> table;
  const std::regex row(R"((\S+(?: \S+)?)\s+([0-9.]+)\s+(\d+)\s+(\d+)\s+(\d+|-)\n)");
  for (std::sregex_iterator it(output.begin(), output.end(), row), end; it != end; ++it)
    table[(*it)[1]] = {std::stod((*it)[2]), std::stol((*it)[3]), (*it)[5]};
  return table;
}

TEST(SigmoidLeastSquaresExample, EveryMethodDescendsAndL1SparsityGrowsWithLambda) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE("libsvm/heart_scale");
  const auto out = fresh_output_dir("sigmoid_least_squares");
  const ProgramRun run = run_example("sigmoid_least_squares", "--threads 1 --data-dir " + example_data_dir() + " --out " +
                                                                  out.string());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("270 rows, 13 features"), std::string::npos) << run.output;

  const CsvTable metrics = read_csv(out / "metrics.csv");
  EXPECT_EQ(metrics.columns,
            (std::vector<std::string>{"method", "iteration", "objective", "data_accesses", "vector_updates"}));
  std::map<std::string, std::vector<double>> curves;
  for (const auto& row : metrics.rows) curves[row.at(0)].push_back(std::stod(row.at(2)));
  EXPECT_EQ(curves.size(), 13u);
  for (const auto& [method, objective] : curves) {
    ASSERT_GE(objective.size(), 2u) << method;
    if (!method.starts_with("prox")) EXPECT_LT(objective.back(), objective.front()) << method;
  }

  const auto table = summary_table(run.output);
  ASSERT_EQ(table.size(), 13u) << run.output;
  int previous_zeros = -1;
  for (const char* lambda : {"0.001", "0.01", "0.05", "0.1"}) {
    const int zeros = std::stoi(table.at(std::string("prox-L1 lambda=") + lambda).zeros);
    EXPECT_GE(zeros, previous_zeros) << "lambda " << lambda;
    previous_zeros = zeros;
  }
  EXPECT_GT(previous_zeros, 0) << "lambda 0.1 zeroes some coordinates";
  // Quasi-Newton: as low as the best GD (to 1e-4) with less data read.
  const MethodSummary& gd = table.at("GD lr=8");
  for (const char* method : {"BFGS", "L-BFGS m=5", "L-BFGS m=10"}) {
    EXPECT_LE(table.at(method).objective, gd.objective + 1e-4) << method;
    EXPECT_LT(table.at(method).data_accesses, gd.data_accesses) << method;
  }
  if (gnuplot_installed()) EXPECT_TRUE(is_png(out / "objective.png"));
}

TEST(SigmoidLeastSquaresExample, HelpAndMissingFilesAreExplained) {
  REQUIRE_EXAMPLES();
  const ProgramRun help = run_example("sigmoid_least_squares", "--help");
  EXPECT_EQ(help.exit_code, 0);
  for (const char* flag : {"--file", "--gd-lrs", "--lambdas", "--batch-size", "--epochs", "--data-dir"})
    EXPECT_NE(help.output.find(flag), std::string::npos) << flag << "\n" << help.output;

  const auto out = fresh_output_dir("sigmoid_least_squares_missing");
  const ProgramRun no_data = run_example("sigmoid_least_squares", "--data-dir /nonexistent --out " + out.string());
  EXPECT_EQ(no_data.exit_code, 1);
  EXPECT_NE(no_data.output.find("scripts/fetch_data.sh --data-dir /nonexistent"), std::string::npos) << no_data.output;
  const ProgramRun no_file = run_example("sigmoid_least_squares", "--file /nonexistent/a9a --out " + out.string());
  EXPECT_EQ(no_file.exit_code, 1);
  EXPECT_NE(no_file.output.find("/nonexistent/a9a"), std::string::npos) << no_file.output;
}

// Files that would make the example ask for more memory than a machine has are refused before
// anything large is allocated, naming the file, the line and the feature.
TEST(SigmoidLeastSquaresExample, DataTooWideForItsDenseMatricesIsRefusedNamingTheLine) {
  REQUIRE_EXAMPLES();
  const auto out = fresh_output_dir("sigmoid_least_squares_wide");
  const std::string file = (out / "wide.libsvm").string();
  std::ofstream(file) << "1 1:0.5\n-1 2:1 100000:1\n1 3:1\n";
  const ProgramRun wide = run_example("sigmoid_least_squares", "--file " + file + " --out " + out.string());
  EXPECT_EQ(wide.exit_code, 1) << wide.output;
  for (const char* words : {"wide.libsvm has 100000 features", "line 2", "80.0 GB", "fewer features"})
    EXPECT_NE(wide.output.find(words), std::string::npos) << words << "\n" << wide.output;

  std::ofstream(file) << "1 1:0.5\n-1 1099511627776:1\n";
  const ProgramRun huge = run_example("sigmoid_least_squares", "--file " + file + " --out " + out.string());
  EXPECT_EQ(huge.exit_code, 1) << huge.output;
  for (const char* words : {"wide.libsvm:2", "feature index 1099511627776", "max_feature_index"})
    EXPECT_NE(huge.output.find(words), std::string::npos) << words << "\n" << huge.output;
  // Raising the bound lets the index through, to the memory check.
  const ProgramRun raised = run_example("sigmoid_least_squares", "--file " + file + " --max-feature-index 1099511627776 --out " + out.string());
  EXPECT_EQ(raised.exit_code, 1) << raised.output;
  EXPECT_NE(raised.output.find("has 1099511627776 features"), std::string::npos) << raised.output;

  std::ofstream(file) << "";
  const ProgramRun empty = run_example("sigmoid_least_squares", "--file " + file + " --out " + out.string());
  EXPECT_EQ(empty.exit_code, 1) << empty.output;
  EXPECT_NE(empty.output.find("holds no examples"), std::string::npos) << empty.output;
}

}  // namespace
}  // namespace tapegrad::testing
