// Runs the example programs as a user would and checks what they promise: quickstart trains and
// passes its gradient check; gradcheck covers every differentiable op and reports no failure;
// show_augmentations writes a PNG of the expected size.
#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <tapegrad/autodiff/op_table.h>

#include "example_runner.h"

namespace {

using tapegrad::OpInfo;
using tapegrad::op_table;
using tapegrad::testing::fresh_output_dir;
using tapegrad::testing::ProgramRun;
using tapegrad::testing::run_example;

// The op names of the table rows, in order: the first word of each line before the blank line
// that precedes the summary.
std::vector<std::string> table_ops(const std::string& output) {
  std::vector<std::string> ops;
  std::istringstream lines(output);
  std::string line;
  std::getline(lines, line);  // the header
  while (std::getline(lines, line) && !line.empty()) ops.push_back(line.substr(0, line.find(' ')));
  return ops;
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

TEST(QuickstartExample, TrainsUntilTheLossFallsAndPassesGradcheck) {
  REQUIRE_EXAMPLES();
  const ProgramRun run = run_example("quickstart");
  EXPECT_EQ(run.exit_code, 0) << run.output;

  const std::regex loss_line(R"(step\s+\d+\s+loss ([0-9.eE+-]+))");
  std::vector<double> losses;
  for (std::sregex_iterator it(run.output.begin(), run.output.end(), loss_line), end; it != end; ++it)
    losses.push_back(std::stod((*it)[1]));
  ASSERT_GE(losses.size(), 2u) << run.output;
  EXPECT_LT(losses.back(), 0.5 * losses.front()) << run.output;

  std::smatch summary;
  ASSERT_TRUE(std::regex_search(run.output, summary, std::regex(R"(gradcheck: (\d+)/(\d+) parameters ok)")))
      << run.output;
  EXPECT_EQ(summary[1], summary[2]);
  EXPECT_NE(summary[2], "0");
}

TEST(GradcheckExample, EveryDifferentiableOpHasPassingRows) {
  REQUIRE_EXAMPLES();
  const ProgramRun run = run_example("gradcheck");
  EXPECT_EQ(run.exit_code, 0) << run.output;

  std::smatch summary;
  ASSERT_TRUE(std::regex_search(run.output, summary, std::regex(R"((\d+) samples, (\d+) passed, (\d+) failed)")))
      << run.output;
  EXPECT_EQ(summary[1], summary[2]);
  EXPECT_EQ(summary[3], "0");
  EXPECT_EQ(run.output.find("FAILED"), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find("ERROR"), std::string::npos) << run.output;

  // Every op of the op table with a differentiable input has rows.
  const std::vector<std::string> ops = table_ops(run.output);
  for (const OpInfo& op : op_table())
    if (!op.differentiable_inputs.empty()) EXPECT_TRUE(contains(ops, op.name)) << "no gradcheck row for " << op.name;
}

TEST(GradcheckExample, TablePrintsOneLinePerOp) {
  REQUIRE_EXAMPLES();
  const ProgramRun run = run_example("gradcheck", "--table");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  const std::vector<std::string> ops = table_ops(run.output);
  EXPECT_EQ(ops.size(), op_table().size()) << run.output;
  for (const OpInfo& op : op_table()) EXPECT_TRUE(contains(ops, op.name)) << op.name << " missing from\n" << run.output;
}

TEST(GradcheckExample, FilterRunsOnlyMatchingOps) {
  REQUIRE_EXAMPLES();
  const ProgramRun run = run_example("gradcheck", "--filter softmax");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  const std::vector<std::string> ops = table_ops(run.output);
  ASSERT_FALSE(ops.empty()) << run.output;
  for (const std::string& op : ops) EXPECT_NE(op.find("softmax"), std::string::npos) << op;
  EXPECT_TRUE(contains(ops, "softmax") && contains(ops, "log_softmax")) << run.output;
}

TEST(GradcheckExample, HelpExplainsTheFlagsAndUnknownFlagsAreRefused) {
  REQUIRE_EXAMPLES();
  const ProgramRun help = run_example("gradcheck", "--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("--filter"), std::string::npos) << help.output;

  const ProgramRun unknown = run_example("gradcheck", "--no-such-flag");
  EXPECT_EQ(unknown.exit_code, 2) << unknown.output;
  EXPECT_NE(unknown.output.find("--no-such-flag"), std::string::npos) << unknown.output;

  const ProgramRun no_match = run_example("gradcheck", "--filter no_such_op");
  EXPECT_NE(no_match.exit_code, 0) << no_match.output;
}

// Every example shares the numeric flag checks; their messages name the flag, the rule and the
// value, in one short line (CLI11's own checks printed the largest double as a 309-digit bound).
TEST(ExampleFlags, OutOfRangeNumbersGetAShortMessage) {
  REQUIRE_EXAMPLES();
  const std::pair<const char*, const char*> cases[] = {
      {"--lr -1", "--lr: must be positive, got -1"},
      {"--limit-train -5", "--limit-train: must be zero or more, got -5"},
      {"--threads -2", "--threads: must be zero or more, got -2"},
      {"--epochs 0", "--epochs: must be positive, got 0"},
      {"--lr fast", "--lr: expected a number, got 'fast'"}};
  for (const auto& [flags, message] : cases) {
    const ProgramRun run = run_example("mnist_mlp", flags);
    EXPECT_EQ(run.exit_code, 105) << flags << "\n" << run.output;  // CLI11's ValidationError
    EXPECT_NE(run.output.find(message), std::string::npos) << flags << "\n" << run.output;
    EXPECT_LT(run.output.size(), 200u) << flags << "\n" << run.output;
  }
}

TEST(ShowAugmentationsExample, WritesAPngGridOfOriginalsAndAugmentedCopies) {
  REQUIRE_EXAMPLES();
  const std::string data_dir = std::getenv("TAPEGRAD_DATA") ? std::getenv("TAPEGRAD_DATA") : "data";
  if (!std::filesystem::exists(data_dir + "/fashion-mnist/train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "FashionMNIST is not in " << data_dir << "; run scripts/fetch_data.sh";
  const std::string out = (fresh_output_dir("show_augmentations") / "grid.png").string();
  const ProgramRun run = run_example("show_augmentations", "--data-dir " + data_dir + " --out " + out + " --images 5 --copies 2");
  EXPECT_EQ(run.exit_code, 0) << run.output;

  std::ifstream png(out, std::ios::binary);
  ASSERT_TRUE(png.good()) << run.output;
  std::array<unsigned char, 24> header{};
  png.read(reinterpret_cast<char*>(header.data()), header.size());
  const std::array<unsigned char, 8> signature{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  EXPECT_TRUE(std::equal(signature.begin(), signature.end(), header.begin())) << "not a PNG";
  // IHDR's width and height (big-endian, bytes 16-23): 5 columns and 3 rows of 28-pixel images
  // with 2 pixels of padding around each.
  const auto be32 = [&](int at) { return header[at] << 24 | header[at + 1] << 16 | header[at + 2] << 8 | header[at + 3]; };
  EXPECT_EQ(be32(16), 5 * 30 + 2);
  EXPECT_EQ(be32(20), 3 * 30 + 2);
  std::filesystem::remove(out);

  const ProgramRun help = run_example("show_augmentations", "--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("--data-dir"), std::string::npos) << help.output;
  const ProgramRun missing = run_example("show_augmentations", "--data-dir /nonexistent --out " + out);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("scripts/fetch_data.sh --data-dir /nonexistent"), std::string::npos) << missing.output;
}

}  // namespace
