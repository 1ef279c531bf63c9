// fashion_augment (the FashionMNIST augmentation study) run as a user would on a slice of the
// data: every setting trains and is logged in one long table, augmentation changes training or
// only the test accuracy as the setting says, the costly vote runs as often as asked, a resumed
// run matches a straight one, a run stops once it fits every training image, and bad input is
// explained.
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "example_runner.h"

namespace tapegrad::testing {
namespace {

constexpr const char* kTrainImages = "fashion-mnist/train-images-idx3-ubyte.gz";

// A small, fast configuration: 400 training and 200 test images, three augmented copies per
// test image, one thread (so that tests running side by side do not fight over cores).
std::string small_run(const std::filesystem::path& out, int passes, const std::string& settings) {
  return "--data-dir " + example_data_dir() + " --limit-train 400 --limit-test 200 --test-copies 3 --threads 1 " +
         "--seed 3 --epochs " + std::to_string(passes) + " --settings " + settings + " --out " + out.string();
}

// The rows of one setting, and one column of them as numbers.
std::vector<double> column_of(const CsvTable& table, const std::string& setting, const std::string& column) {
  std::vector<double> values;
  const std::size_t setting_index = table.index_of("setting"), column_index = table.index_of(column);
  for (const auto& row : table.rows)
    if (row.at(setting_index) == setting) values.push_back(std::stod(row.at(column_index)));
  return values;
}

TEST(FashionAugmentExample, EverySettingTrainsAndAugmentationActsWhereTheSettingSays) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE(kTrainImages);
  const auto out = fresh_output_dir("fashion_augment_settings");
  const ProgramRun run = run_example("fashion_augment", small_run(out, 3, "none,train,test,both"));
  ASSERT_EQ(run.exit_code, 0) << run.output;

  const CsvTable metrics = read_csv(out / "metrics.csv");
  EXPECT_EQ(metrics.columns, (std::vector<std::string>{"setting", "pass", "steps", "train_loss", "train_accuracy",
                                                       "test_loss", "test_accuracy", "clean_test_accuracy",
                                                       "train_seconds", "eval_seconds", "vote_seconds"}));
  ASSERT_EQ(metrics.rows.size(), 12u) << run.output;
  for (const std::string setting : {"none", "train", "test", "both"}) {
    EXPECT_EQ(column_of(metrics, setting, "pass"), (std::vector<double>{1, 2, 3})) << setting;
    // round(400 / 16) = 25 steps a pass.
    EXPECT_EQ(column_of(metrics, setting, "steps"), (std::vector<double>{25, 50, 75})) << setting;
    EXPECT_GT(column_of(metrics, setting, "test_accuracy").back(), 0.3) << setting << "\n" << run.output;
  }
  // One checkpoint per training run: the settings that train alike share it.
  EXPECT_TRUE(std::filesystem::exists(out / "checkpoint_none+test.safetensors"));
  EXPECT_TRUE(std::filesystem::exists(out / "checkpoint_train+both.safetensors"));
  const std::vector<double> plain_loss = column_of(metrics, "none", "train_loss");
  EXPECT_LT(plain_loss.back(), 0.8 * plain_loss.front()) << run.output;

  // Every setting starts from the same weights and draws the same batches: "test" trains exactly
  // as "none" and differs only in its test accuracy, the vote of augmented copies.
  EXPECT_EQ(column_of(metrics, "test", "train_loss"), plain_loss);
  EXPECT_EQ(column_of(metrics, "test", "clean_test_accuracy"), column_of(metrics, "none", "test_accuracy"));
  EXPECT_NE(column_of(metrics, "test", "test_accuracy"), column_of(metrics, "test", "clean_test_accuracy"));
  EXPECT_EQ(column_of(metrics, "none", "vote_seconds"), (std::vector<double>{0, 0, 0}));
  // Training on augmented copies changes training: "both" trains as "train" does.
  EXPECT_NE(column_of(metrics, "train", "train_loss"), plain_loss);
  EXPECT_EQ(column_of(metrics, "both", "train_loss"), column_of(metrics, "train", "train_loss"));
  EXPECT_EQ(column_of(metrics, "train", "test_accuracy"), column_of(metrics, "train", "clean_test_accuracy"));

  // The closing table: setting, passes, test accuracy, clean test accuracy, the notebook's figure.
  EXPECT_TRUE(std::regex_search(run.output, std::regex(R"(\ntest +3 +0\.\d{4} +0\.\d{4} +0\.830\n)"))) << run.output;
  if (gnuplot_installed()) {
    EXPECT_TRUE(is_png(out / "curves.png")) << run.output;
    EXPECT_TRUE(std::filesystem::exists(out / "curves.gp"));
  }
}

TEST(FashionAugmentExample, VotesEveryGivenNumberOfPassesAndOnTheLast) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE(kTrainImages);
  const auto out = fresh_output_dir("fashion_augment_vote_every");
  const ProgramRun run = run_example("fashion_augment", small_run(out, 5, "none,test") + " --vote-every 2");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const CsvTable metrics = read_csv(out / "metrics.csv");
  EXPECT_EQ(column_of(metrics, "none", "pass"), (std::vector<double>{1, 2, 3, 4, 5}));
  EXPECT_EQ(column_of(metrics, "test", "pass"), (std::vector<double>{2, 4, 5}));
  for (const double seconds : column_of(metrics, "test", "vote_seconds")) EXPECT_GT(seconds, 0);
}

TEST(FashionAugmentExample, InterruptedThenResumedRunMatchesAStraightRun) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE(kTrainImages);
  // "both" draws from both augmentation generators, whose positions the checkpoint must keep.
  const auto straight = fresh_output_dir("fashion_augment_straight");
  ASSERT_EQ(run_example("fashion_augment", small_run(straight, 2, "none,both")).exit_code, 0);

  const auto resumed = fresh_output_dir("fashion_augment_resumed");
  ASSERT_EQ(run_example("fashion_augment", small_run(resumed, 1, "none,both")).exit_code, 0);
  const ProgramRun resume = run_example("fashion_augment", small_run(resumed, 2, "none,both") + " --resume");
  ASSERT_EQ(resume.exit_code, 0) << resume.output;
  EXPECT_NE(resume.output.find("[both] resumed from"), std::string::npos) << resume.output;
  EXPECT_EQ(resume.output.find("epoch 1/2"), std::string::npos) << "pass 1 ran again:\n" << resume.output;

  const CsvTable a = read_csv(straight / "metrics.csv"), b = read_csv(resumed / "metrics.csv");
  ASSERT_EQ(b.rows.size(), 4u);
  for (const std::string setting : {"none", "both"})
    for (const std::string column : {"pass", "train_loss", "test_loss", "test_accuracy", "clean_test_accuracy"})
      EXPECT_EQ(column_of(a, setting, column), column_of(b, setting, column)) << setting << " " << column;
}

TEST(FashionAugmentExample, StopsOnceEveryTrainingImageIsClassifiedCorrectly) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE(kTrainImages);
  const auto out = fresh_output_dir("fashion_augment_interpolation");
  // 48 training images (3 steps a pass) are fitted long before 60 passes.
  const std::string arguments = "--data-dir " + example_data_dir() +
                                " --limit-train 48 --limit-test 100 --threads 1 --epochs 60 --settings none --out " +
                                out.string();
  const ProgramRun run = run_example("fashion_augment", arguments);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const std::vector<double> accuracy = read_csv(out / "metrics.csv").numbers("train_accuracy");
  ASSERT_FALSE(accuracy.empty());
  EXPECT_LT(accuracy.size(), 60u) << run.output;
  EXPECT_EQ(accuracy.back(), 1.0) << run.output;
  for (std::size_t pass = 0; pass + 1 < accuracy.size(); ++pass) EXPECT_LT(accuracy[pass], 1.0) << pass;

  // Resuming a finished run trains no further.
  const ProgramRun again = run_example("fashion_augment", arguments + " --resume");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("resumed from"), std::string::npos) << again.output;
  EXPECT_EQ(again.output.find("epoch"), std::string::npos) << again.output;
  EXPECT_EQ(read_csv(out / "metrics.csv").numbers("train_accuracy"), accuracy);
}

TEST(FashionAugmentExample, HelpShowsTheStudysDefaultsAndBadInputIsExplained) {
  REQUIRE_EXAMPLES();
  const ProgramRun help = run_example("fashion_augment", "--help");
  EXPECT_EQ(help.exit_code, 0);
  for (const char* flag : {"--data-dir", "--epochs", "--batch-size", "--lr", "--seed", "--threads", "--out", "--resume",
                           "--settings", "--test-copies", "--vote-every", "--train-fraction"})
    EXPECT_NE(help.output.find(flag), std::string::npos) << flag << " is not documented:\n" << help.output;
  for (const char* default_value : {"=100", "=16", "=0.04", "=0.12", "=8", "[none,train,test,both]"})
    EXPECT_NE(help.output.find(default_value), std::string::npos) << default_value << " not shown:\n" << help.output;

  const ProgramRun bad_setting = run_example("fashion_augment", "--settings none,sideways");
  EXPECT_NE(bad_setting.exit_code, 0);
  EXPECT_NE(bad_setting.output.find("--settings"), std::string::npos) << bad_setting.output;
  EXPECT_NE(bad_setting.output.find("sideways"), std::string::npos) << bad_setting.output;

  const auto out = fresh_output_dir("fashion_augment_errors");
  const ProgramRun missing = run_example("fashion_augment", "--data-dir /nonexistent --out " + out.string());
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("scripts/fetch_data.sh --data-dir /nonexistent"), std::string::npos) << missing.output;
}

}  // namespace
}  // namespace tapegrad::testing
