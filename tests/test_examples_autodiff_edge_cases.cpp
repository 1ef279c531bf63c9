// autodiff_edge_cases prints experiments D1-D5 with their expected derivatives and plots f and f'
// for the branch, loop and step cases.
#include <cmath>
#include <regex>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "example_runner.h"

namespace tapegrad::testing {
namespace {

// The "computed" column of the row whose description starts with `description`.
double computed_value(const std::string& output, const std::string& description) {
  const std::size_t row = output.find(description);
  if (row == std::string::npos) return NAN;
  std::smatch match;
  const std::string line = output.substr(row, output.find('\n', row) - row);
  if (!std::regex_search(line, match, std::regex(R"(([-0-9.e+]+)\s+([-0-9.e+]+)\s+(OK|FAIL)$)"))) return NAN;
  return std::stod(match[2]);
}

TEST(AutodiffEdgeCasesExample, EveryCaseGivesTheDerivativeTheProgramDefines) {
  REQUIRE_EXAMPLES();
  const auto out = fresh_output_dir("autodiff_edge_cases");
  const ProgramRun run = run_example("autodiff_edge_cases", "--threads 1 --out " + out.string());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(run.output.find("FAIL"), std::string::npos) << run.output;
  EXPECT_NEAR(computed_value(run.output, "d/dx exp(u)+sin(u)"), 555.9719679, 1e-6) << run.output;
  EXPECT_EQ(computed_value(run.output, "jump x^3 | x^3+200 at 0"), 0) << run.output;
  EXPECT_EQ(computed_value(run.output, "same, branch x==0: -1728x"), -1728) << run.output;
  EXPECT_EQ(computed_value(run.output, "x^4 at 0"), 0) << run.output;
  EXPECT_EQ(computed_value(run.output, "x^4, branch x==0: 897x"), 897) << run.output;
  EXPECT_EQ(computed_value(run.output, "halve while |x| >= 1e-6, at 1e-6"), 0.5) << run.output;
  EXPECT_EQ(computed_value(run.output, "halve while |x| > 1e-6, at 1e-6"), 1) << run.output;
  EXPECT_EQ(computed_value(run.output, "Heaviside (x > 0) at 0.5"), 0) << run.output;
  EXPECT_LT(computed_value(run.output, "sigmoid least squares vs closed form"), 1e-12) << run.output;

  const CsvTable curves = read_csv(out / "curves.csv");
  EXPECT_EQ(curves.columns, (std::vector<std::string>{"function", "x", "f", "df"}));
  std::set<std::string> functions;
  for (const auto& row : curves.rows) functions.insert(row.at(0));
  EXPECT_EQ(functions, (std::set<std::string>{"jump", "jump_zero_branch", "halve_at_least", "heaviside"}));
  // Away from 0 the jump's derivative is 3x^2; the step's is 0 everywhere.
  const std::vector<double> x = curves.numbers("x"), df = curves.numbers("df");
  for (std::size_t i = 0; i < curves.rows.size(); ++i) {
    if (curves.rows[i][0] == "jump" && x[i] != 0) EXPECT_NEAR(df[i], 3 * x[i] * x[i], 1e-9) << "x = " << x[i];
    if (curves.rows[i][0] == "heaviside") EXPECT_EQ(df[i], 0) << "x = " << x[i];
  }
  if (gnuplot_installed()) EXPECT_TRUE(is_png(out / "curves.png"));
}

TEST(AutodiffEdgeCasesExample, HelpListsTheFlagsAndUnknownFlagsAreRefused) {
  REQUIRE_EXAMPLES();
  const ProgramRun help = run_example("autodiff_edge_cases", "--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("--out"), std::string::npos) << help.output;
  EXPECT_NE(run_example("autodiff_edge_cases", "--no-such-flag").exit_code, 0);
}

}  // namespace
}  // namespace tapegrad::testing
