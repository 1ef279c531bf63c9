// --detect-anomaly, the examples' shared flag for anomaly mode, run as a user would: a run made
// to diverge stops with exit status 3 and a message that names the op where the first NaN or Inf
// appeared and the forward call that recorded it.
#include <regex>
#include <string>

#include <gtest/gtest.h>

#include "example_runner.h"

namespace tapegrad::testing {
namespace {

TEST(DetectAnomalyFlag, ADivergedRunNamesTheOpAndTheForwardCallWhereTheFirstNanOrInfAppeared) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE("mnist/train-images-idx3-ubyte");
  const auto out = fresh_output_dir("anomaly_diverged");
  const ProgramRun run =
      run_example("mnist_mlp", "--data-dir " + example_data_dir() + " --limit-train 600 --limit-test 100 --threads 2 "
                               "--epochs 1 --lr 1e12 --detect-anomaly --out " + out.string());
  EXPECT_EQ(run.exit_code, 3) << run.output;
  EXPECT_TRUE(std::regex_search(run.output, std::regex(R"(training diverged: the loss became (nan|inf) at epoch 1)")))
      << run.output;
  EXPECT_TRUE(std::regex_search(run.output,
                                std::regex(R"('\w+' is the earliest op on its graph whose output held (nan|inf) values)")))
      << run.output;
  EXPECT_NE(run.output.find("The forward call that created it:"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("experiment::train_epoch"), std::string::npos) << run.output;
}

TEST(DetectAnomalyFlag, WithoutTheFlagTheDivergenceMessageNamesNoOp) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE("mnist/train-images-idx3-ubyte");
  const auto out = fresh_output_dir("anomaly_off_diverged");
  const ProgramRun run = run_example("mnist_mlp", "--data-dir " + example_data_dir() + " --limit-train 600 "
                                                  "--limit-test 100 --threads 2 --epochs 1 --lr 1e12 --out " + out.string());
  EXPECT_EQ(run.exit_code, 3) << run.output;
  EXPECT_EQ(run.output.find("earliest op"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace tapegrad::testing
