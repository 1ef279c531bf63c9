// char_transformer, the character-level language model on Moby Dick, run as a user would with a
// tiny model: it learns (validation loss falls well below the uniform guess), reports bits per
// character, writes metrics, curves, model and a sample that continues the prompt, resumes
// bit-identically, and explains bad flags.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numbers>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "example_runner.h"

namespace tapegrad::testing {
namespace {

constexpr const char* kBook = "text/mobydick.txt";

std::string tiny_model(const std::filesystem::path& out) {
  return "--data-dir " + example_data_dir() +
         " --limit-train 200000 --context 32 --width 32 --heads 2 --layers 1 --batch-size 16 --eval-every 40 "
         "--eval-batches 4 --sample-length 60 --threads 2 --seed 4 --out " + out.string();
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(CharTransformerExample, LearnsTheBookAndContinuesThePrompt) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE(kBook);
  const auto out = fresh_output_dir("char_transformer");
  const ProgramRun run = run_example("char_transformer", tiny_model(out) + " --steps 120 --prompt 'The whale'");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("(attention): CausalSelfAttention(heads=2"), std::string::npos) << run.output;

  const CsvTable metrics = read_csv(out / "metrics.csv");
  EXPECT_EQ(metrics.columns,
            (std::vector<std::string>{"step", "lr", "train_loss", "validation_loss", "validation_bpc", "seconds"}));
  ASSERT_EQ(metrics.rows.size(), 3u);
  EXPECT_EQ(metrics.numbers("step"), (std::vector<double>{40, 80, 120}));
  const std::vector<double> validation = metrics.numbers("validation_loss"), bits = metrics.numbers("validation_bpc");
  for (std::size_t i = 0; i < validation.size(); ++i) EXPECT_NEAR(bits[i], validation[i] / std::numbers::ln2, 1e-9);
  // Guessing uniformly among the book's ~90 characters costs ln 90 = 4.5 nats; even this tiny
  // model learns the letters' frequencies and common pairs within a hundred steps.
  EXPECT_LT(validation.back(), 3.0);
  EXPECT_LT(validation.back(), validation.front());
  const std::vector<double> lr = metrics.numbers("lr");
  EXPECT_LT(lr.back(), lr.front());  // the cosine decay

  const std::string sample = read_file(out / "sample.txt");
  EXPECT_EQ(sample.size(), std::string("The whale").size() + 60);
  EXPECT_TRUE(sample.starts_with("The whale")) << sample;
  EXPECT_NE(run.output.find(sample), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("bits per character"), std::string::npos) << run.output;
  EXPECT_TRUE(std::filesystem::exists(out / "model.safetensors"));
  if (gnuplot_installed()) EXPECT_TRUE(is_png(out / "curves.png")) << run.output;
}

TEST(CharTransformerExample, ResumedRunEqualsAnUninterruptedOne) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE(kBook);
  const auto straight = fresh_output_dir("char_transformer_straight");
  const ProgramRun whole = run_example("char_transformer", tiny_model(straight) + " --steps 80");
  ASSERT_EQ(whole.exit_code, 0) << whole.output;

  const auto partial = fresh_output_dir("char_transformer_partial");
  ASSERT_EQ(run_example("char_transformer", tiny_model(partial) + " --steps 80 --stop-after 40").exit_code, 0);
  ASSERT_EQ(read_csv(partial / "metrics.csv").rows.size(), 1u);
  const ProgramRun resume = run_example("char_transformer", tiny_model(partial) + " --steps 80 --resume");
  ASSERT_EQ(resume.exit_code, 0) << resume.output;
  EXPECT_NE(resume.output.find("resumed from"), std::string::npos) << resume.output;

  const CsvTable a = read_csv(straight / "metrics.csv"), b = read_csv(partial / "metrics.csv");
  for (const char* name : {"step", "lr", "train_loss", "validation_loss"}) EXPECT_EQ(a.numbers(name), b.numbers(name)) << name;
  EXPECT_EQ(read_file(straight / "sample.txt"), read_file(partial / "sample.txt"));
}

TEST(CharTransformerExample, BadFlagsAndAMissingBookAreExplained) {
  REQUIRE_EXAMPLES();
  const ProgramRun help = run_example("char_transformer", "--help");
  EXPECT_EQ(help.exit_code, 0);
  for (const char* flag : {"--steps", "--context", "--width", "--heads", "--layers", "--temperature", "--prompt"})
    EXPECT_NE(help.output.find(flag), std::string::npos) << flag << " is not documented:\n" << help.output;

  const auto out = fresh_output_dir("char_transformer_errors");
  const ProgramRun heads = run_example(
      "char_transformer", "--data-dir " + example_data_dir() + " --width 32 --heads 3 --out " + out.string());
  EXPECT_EQ(heads.exit_code, 1);
  EXPECT_NE(heads.output.find("--heads 3 does not divide --width 32"), std::string::npos) << heads.output;

  const ProgramRun missing =
      run_example("char_transformer", "--data-dir " + (out / "nowhere").string() + " --out " + out.string());
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("scripts/fetch_data.sh"), std::string::npos) << missing.output;
}

}  // namespace
}  // namespace tapegrad::testing
