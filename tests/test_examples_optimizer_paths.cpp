// optimizer_paths runs experiments C1-C3: GD and momentum are rotation invariant while RMSprop
// and Adam are not; Adam on the Beale function ends where PyTorch's does; a larger SGD step
// converges faster at first and settles with the larger error.
#include <algorithm>
#include <cmath>
#include <map>
#include <regex>
#include <string>

#include <gtest/gtest.h>

#include "example_runner.h"

namespace tapegrad::testing {
namespace {

// The largest relative difference between the f1 and f2 curves of `method` in rotation.csv.
double rotation_gap(const CsvTable& table, const std::string& method) {
  std::map<std::string, std::vector<double>> curves;
  const std::size_t curve = table.index_of("curve"), objective = table.index_of("objective");
  for (const auto& row : table.rows) curves[row.at(curve)].push_back(std::stod(row.at(objective)));
  const std::vector<double>& f1 = curves["f1 " + method];
  const std::vector<double>& f2 = curves["f2 " + method];
  EXPECT_EQ(f1.size(), f2.size());
  double gap = 0;
  for (std::size_t i = 0; i < std::min(f1.size(), f2.size()); ++i) gap = std::max(gap, std::abs(f1[i] - f2[i]) / f1[i]);
  return gap;
}

TEST(OptimizerPathsExample, ReproducesTheClaimsOfC1C2AndC3) {
  REQUIRE_EXAMPLES();
  const auto out = fresh_output_dir("optimizer_paths");
  const ProgramRun run = run_example("optimizer_paths", "--threads 1 --out " + out.string());
  ASSERT_EQ(run.exit_code, 0) << run.output;

  // C1: 2000 iterations of each method on both functions, from the rotated starting points.
  const CsvTable rotation = read_csv(out / "rotation.csv");
  EXPECT_EQ(rotation.columns, (std::vector<std::string>{"curve", "function", "method", "iteration", "objective"}));
  EXPECT_EQ(rotation.rows.size(), 2u * 4u * 2001u);
  EXPECT_LT(rotation_gap(rotation, "GD"), 1e-12);
  EXPECT_LT(rotation_gap(rotation, "momentum"), 1e-12);
  EXPECT_GT(rotation_gap(rotation, "RMSprop"), 1e-3);
  EXPECT_GT(rotation_gap(rotation, "Adam"), 1e-3);

  // C2: PyTorch's Adam runs all 1000 steps and ends at (2.7263, 0.4219), f = 0.0166.
  std::smatch end;
  ASSERT_TRUE(std::regex_search(run.output, end, std::regex(R"(from \(0\.7, 1\.4\)\s+(\d+) steps\s+->\s+\(([-0-9.]+), ([-0-9.]+)\)\s+f = ([0-9.]+))")))
      << run.output;
  EXPECT_EQ(end[1], "1000");
  EXPECT_NEAR(std::stod(end[2]), 2.7263, 1e-3);
  EXPECT_NEAR(std::stod(end[3]), 0.4219, 1e-3);
  EXPECT_NEAR(std::stod(end[4]), 0.0166, 1e-4);
  const CsvTable paths = read_csv(out / "beale_paths.csv");
  EXPECT_EQ(paths.columns, (std::vector<std::string>{"start", "step", "x", "y", "f"}));

  // C3: the larger step is ahead after 20 steps and behind at the end.
  const std::regex line_for_lr(R"(lr (0\.01|0\.1)\s+error after 20 steps ([0-9.]+), mean error over the last 50 steps ([0-9.]+))");
  std::vector<std::smatch> lines;
  for (std::sregex_iterator it(run.output.begin(), run.output.end(), line_for_lr), stop; it != stop; ++it)
    lines.push_back(*it);
  ASSERT_EQ(lines.size(), 2u) << run.output;
  EXPECT_LT(std::stod(lines[1][2]), std::stod(lines[0][2])) << "lr 0.1 converges faster at first";
  EXPECT_GT(std::stod(lines[1][3]), std::stod(lines[0][3])) << "lr 0.1 settles with the larger error";

  if (gnuplot_installed())
    for (const char* plot : {"rotation.png", "beale.png", "sgd_step_sizes.png"}) EXPECT_TRUE(is_png(out / plot)) << plot;
}

TEST(OptimizerPathsExample, HelpDocumentsTheFlagsAndBadValuesAreRefused) {
  REQUIRE_EXAMPLES();
  const ProgramRun help = run_example("optimizer_paths", "--help");
  EXPECT_EQ(help.exit_code, 0);
  for (const char* flag : {"--rotation-iterations", "--rotation-lr", "--beale-steps", "--sgd-steps", "--seed", "--out"})
    EXPECT_NE(help.output.find(flag), std::string::npos) << flag << "\n" << help.output;
  const ProgramRun bad = run_example("optimizer_paths", "--beale-steps -3");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("--beale-steps"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace tapegrad::testing
