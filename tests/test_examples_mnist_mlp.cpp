// mnist_mlp, the main example, run as a user would on a slice of MNIST: it trains (the loss
// falls), writes its metrics, plots, model and class probabilities, resumes bit-identically
// from its checkpoint, stops on a non-finite loss, and explains bad input.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <numeric>
#include <regex>
#include <string>
#include <tuple>
#include <vector>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <tapegrad/kernels/cuda/cuda.h>
#include <tapegrad/tapegrad.h>

#include "example_runner.h"

namespace tapegrad::testing {
namespace {

constexpr const char* kTrainImages = "mnist/train-images-idx3-ubyte";

// A small, fast configuration on the first images of MNIST, pinned to two threads.
std::string small_run(const std::filesystem::path& out, int epochs) {
  return "--data-dir " + example_data_dir() + " --limit-train 1200 --limit-test 300 --threads 2 --seed 5 --epochs " +
         std::to_string(epochs) + " --out " + out.string();
}

std::string file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(MnistMlpExample, TrainsAndWritesMetricsPlotsModelAndProbabilities) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE(kTrainImages);
  const auto out = fresh_output_dir("mnist_mlp_train");
  const ProgramRun run = run_example("mnist_mlp", small_run(out, 3));
  ASSERT_EQ(run.exit_code, 0) << run.output;

  const CsvTable metrics = read_csv(out / "metrics.csv");
  EXPECT_EQ(metrics.columns, (std::vector<std::string>{"epoch", "train_loss", "train_accuracy", "test_loss",
                                                       "test_accuracy", "train_seconds", "test_seconds"}));
  ASSERT_EQ(metrics.rows.size(), 3u);
  const std::vector<double> train_loss = metrics.numbers("train_loss");
  EXPECT_LT(train_loss.back(), 0.6 * train_loss.front()) << run.output;
  EXPECT_GT(metrics.numbers("test_accuracy").back(), 0.5) << run.output;
  // One plain line per epoch when output is not a terminal, then the final accuracy.
  const std::regex epoch_line(R"(epoch \d/3 .*test loss)");
  EXPECT_EQ(std::distance(std::sregex_iterator(run.output.begin(), run.output.end(), epoch_line), std::sregex_iterator()), 3)
      << run.output;
  EXPECT_TRUE(std::regex_search(run.output, std::regex(R"(test accuracy 0\.\d{4}\n$)"))) << run.output;

  const CsvTable probabilities = read_csv(out / "probabilities.csv");
  const std::vector<double> p = probabilities.numbers("probability");
  ASSERT_EQ(p.size(), 10u);
  EXPECT_NEAR(std::accumulate(p.begin(), p.end(), 0.0), 1.0, 1e-5);
  EXPECT_TRUE(std::filesystem::exists(out / "model.safetensors"));
  EXPECT_TRUE(std::filesystem::exists(out / "checkpoint.safetensors"));
  if (gnuplot_installed()) {
    EXPECT_TRUE(is_png(out / "curves.png")) << run.output;
    EXPECT_TRUE(is_png(out / "probabilities.png")) << run.output;
  }
}

TEST(MnistMlpExample, InterruptedThenResumedRunEndsWithBitIdenticalWeights) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE(kTrainImages);
  const auto straight = fresh_output_dir("mnist_mlp_straight");
  ASSERT_EQ(run_example("mnist_mlp", small_run(straight, 3)).exit_code, 0);

  const auto resumed = fresh_output_dir("mnist_mlp_resumed");
  ASSERT_EQ(run_example("mnist_mlp", small_run(resumed, 1)).exit_code, 0);
  const ProgramRun resume = run_example("mnist_mlp", small_run(resumed, 3) + " --resume");
  ASSERT_EQ(resume.exit_code, 0) << resume.output;
  EXPECT_NE(resume.output.find("resumed from"), std::string::npos) << resume.output;
  EXPECT_EQ(resume.output.find("epoch 1/3"), std::string::npos) << "epoch 1 ran again:\n" << resume.output;

  EXPECT_EQ(file_bytes(straight / "model.safetensors"), file_bytes(resumed / "model.safetensors"));
  const CsvTable a = read_csv(straight / "metrics.csv"), b = read_csv(resumed / "metrics.csv");
  EXPECT_EQ(a.numbers("train_loss"), b.numbers("train_loss"));
  EXPECT_EQ(a.numbers("test_accuracy"), b.numbers("test_accuracy"));
}

TEST(MnistMlpExample, NonFiniteLossStopsTheRunWithoutACheckpoint) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE(kTrainImages);
  const auto out = fresh_output_dir("mnist_mlp_diverged");
  const ProgramRun run = run_example("mnist_mlp", small_run(out, 2) + " --lr 1e30");
  EXPECT_EQ(run.exit_code, 3) << run.output;
  EXPECT_TRUE(std::regex_search(run.output, std::regex(R"(loss became (nan|inf) at epoch 1, step \d+ .*lr 1e\+30.*last finite loss was \d)")))
      << run.output;
  EXPECT_FALSE(std::filesystem::exists(out / "checkpoint.safetensors"));
  EXPECT_FALSE(std::filesystem::exists(out / "model.safetensors"));
}

TEST(MnistMlpExample, HelpDocumentsEveryFlagAndBadInputIsExplained) {
  REQUIRE_EXAMPLES();
  const ProgramRun help = run_example("mnist_mlp", "--help");
  EXPECT_EQ(help.exit_code, 0);
  for (const char* flag : {"--data-dir", "--epochs", "--batch-size", "--lr", "--seed", "--threads", "--device", "--out",
                           "--limit-train", "--limit-test", "--resume", "--show-digit"})
    EXPECT_NE(help.output.find(flag), std::string::npos) << flag << " is not documented:\n" << help.output;
  EXPECT_NE(help.output.find("15"), std::string::npos) << "the default epoch count is not shown:\n" << help.output;

  const ProgramRun bad_value = run_example("mnist_mlp", "--epochs zero");
  EXPECT_NE(bad_value.exit_code, 0);
  EXPECT_NE(bad_value.output.find("--epochs"), std::string::npos) << bad_value.output;

  const auto out = fresh_output_dir("mnist_mlp_errors");
  const ProgramRun missing = run_example("mnist_mlp", "--data-dir /nonexistent --out " + out.string());
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("scripts/fetch_data.sh --data-dir /nonexistent"), std::string::npos) << missing.output;

  const ProgramRun cuda = run_example("mnist_mlp", "--device cuda --out " + out.string());
  if (cuda.exit_code != 0) EXPECT_NE(cuda.output.find("--device cpu"), std::string::npos) << cuda.output;
}

TEST(MnistMlpExample, TrainsOnTheGpuAsOnTheCpu) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE(kTrainImages);
  if (!cuda::is_available()) GTEST_SKIP() << "no usable CUDA device; the CPU-only error is checked above";
  const auto cpu_out = fresh_output_dir("mnist_mlp_cpu"), gpu_out = fresh_output_dir("mnist_mlp_gpu");
  const ProgramRun cpu = run_example("mnist_mlp", small_run(cpu_out, 2));
  const ProgramRun gpu = run_example("mnist_mlp", small_run(gpu_out, 2) + " --device cuda");
  ASSERT_EQ(cpu.exit_code, 0) << cpu.output;
  ASSERT_EQ(gpu.exit_code, 0) << gpu.output;
  // Same seed, same initial weights and batches; only float32 summation orders differ (accuracies
  // are left out: one image classified the other way moves them by 1/300).
  const CsvTable on_cpu = read_csv(cpu_out / "metrics.csv"), on_gpu = read_csv(gpu_out / "metrics.csv");
  for (const char* column : {"train_loss", "test_loss"}) {
    const std::vector<double> a = on_cpu.numbers(column), b = on_gpu.numbers(column);
    ASSERT_EQ(a.size(), b.size()) << column;
    for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(b[i], a[i], 1e-3 + 1e-3 * std::abs(a[i])) << column;
  }
}

// A finished run's folder is not trained over by a run that forgot --resume: it is refused with
// exit status 2 before anything is written, and --overwrite says to start over.
TEST(MnistMlpExample, AnEarlierRunIsNeitherReplacedNorMixedWithoutBeingAsked) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE(kTrainImages);
  const auto out = fresh_output_dir("mnist_mlp_guarded");
  ASSERT_EQ(run_example("mnist_mlp", small_run(out, 2)).exit_code, 0);
  const std::string checkpoint = file_bytes(out / "checkpoint.safetensors"), metrics = file_bytes(out / "metrics.csv");

  const ProgramRun again = run_example("mnist_mlp", small_run(out, 1));
  EXPECT_EQ(again.exit_code, 2) << again.output;
  for (const std::string words : {(out / "checkpoint.safetensors").string(), std::string("--resume"),
                                  std::string("--overwrite")})
    EXPECT_NE(again.output.find(words), std::string::npos) << words << "\n" << again.output;
  EXPECT_EQ(file_bytes(out / "checkpoint.safetensors"), checkpoint);
  EXPECT_EQ(file_bytes(out / "metrics.csv"), metrics);

  const ProgramRun both = run_example("mnist_mlp", small_run(out, 1) + " --resume --overwrite");
  EXPECT_NE(both.exit_code, 0) << both.output;
  EXPECT_NE(both.output.find("excludes"), std::string::npos) << both.output;

  const ProgramRun over = run_example("mnist_mlp", small_run(out, 1) + " --overwrite");
  ASSERT_EQ(over.exit_code, 0) << over.output;
  EXPECT_EQ(read_csv(out / "metrics.csv").rows.size(), 1u);
}

// One run at a time per folder: a second is refused at once, naming the process that holds it;
// temporary files of killed runs are cleared, those of live processes kept.
TEST(MnistMlpExample, OneRunAtATimePerOutputFolderAndNoLeftoversOfKilledRuns) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE(kTrainImages);
  const auto out = fresh_output_dir("mnist_mlp_locked");
  {
    const int fd = ::open((out / ".lock").c_str(), O_RDWR | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    struct flock whole_file {};  // the lock a run takes: a write lock on the whole file
    whole_file.l_type = F_WRLCK;
    whole_file.l_whence = SEEK_SET;
    ASSERT_EQ(::fcntl(fd, F_SETLK, &whole_file), 0);
    const std::string pid = std::to_string(::getpid());
    ASSERT_EQ(::write(fd, pid.data(), pid.size()), static_cast<ssize_t>(pid.size()));
    const ProgramRun busy = run_example("mnist_mlp", small_run(out, 1));
    ::close(fd);
    EXPECT_EQ(busy.exit_code, 2) << busy.output;
    EXPECT_NE(busy.output.find("in use by another run (process " + pid + ")"), std::string::npos) << busy.output;
    EXPECT_FALSE(std::filesystem::exists(out / "metrics.csv"));
  }
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ::waitpid(child, nullptr, 0);  // a process id that is no longer alive
  const auto dead = out / ("checkpoint.safetensors.tmp." + std::to_string(child));
  const auto alive = out / ("checkpoint.safetensors.tmp." + std::to_string(::getpid()));
  std::ofstream(dead) << "partial";
  std::ofstream(alive) << "partial";
  const ProgramRun run = run_example("mnist_mlp", small_run(out, 1));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("removed 1 temporary file(s)"), std::string::npos) << run.output;
  EXPECT_FALSE(std::filesystem::exists(dead));
  EXPECT_TRUE(std::filesystem::exists(alive));
}

// ---- resuming: the checkpoint's configuration, its integrity, a full disk ----

// A short run's flags without the ones the resume tests vary (--lr, --seed, --limit-train).
std::string base_flags(const std::filesystem::path& out, int threads = 2) {
  return "--data-dir " + example_data_dir() + " --limit-test 200 --threads " + std::to_string(threads) + " --out " +
         out.string();
}

// `out` after one epoch at lr 0.001, seed 5, on 600 training images.
std::filesystem::path one_epoch_run(const std::string& name) {
  const auto out = fresh_output_dir(name);
  const ProgramRun run = run_example("mnist_mlp", base_flags(out) + " --limit-train 600 --seed 5 --epochs 1");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  return out;
}

const std::string kSameRun = " --limit-train 600 --seed 5";

TEST(MnistMlpResume, OtherDefiningFlagsAreRefusedNamingEachWithBothValues) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE(kTrainImages);
  const auto out = one_epoch_run("mnist_mlp_config_refused");
  const std::string checkpoint = file_bytes(out / "checkpoint.safetensors"), metrics = file_bytes(out / "metrics.csv");

  const ProgramRun changed = run_example(
      "mnist_mlp", base_flags(out) + " --epochs 2 --resume --lr 0.1 --batch-size 32 --seed 7 --limit-train 1000");
  EXPECT_EQ(changed.exit_code, 2) << changed.output;
  for (const char* words : {"--lr 0.001 in the checkpoint, 0.1 now", "--batch-size 64 in the checkpoint, 32 now",
                            "--seed 5 in the checkpoint, 7 now", "--limit-train 600 in the checkpoint, 1000 now",
                            "--override"})
    EXPECT_NE(changed.output.find(words), std::string::npos) << words << "\n" << changed.output;
  EXPECT_EQ(file_bytes(out / "checkpoint.safetensors"), checkpoint);
  EXPECT_EQ(file_bytes(out / "metrics.csv"), metrics);

  // The same value written otherwise is the same value; --epochs, --threads and --show-digit may change.
  const ProgramRun same =
      run_example("mnist_mlp", base_flags(out, 1) + kSameRun + " --lr 1e-3 --epochs 2 --show-digit 3 --resume");
  EXPECT_EQ(same.exit_code, 0) << same.output;
  EXPECT_EQ(read_csv(out / "metrics.csv").rows.size(), 2u);

  const ProgramRun alone = run_example("mnist_mlp", base_flags(out) + " --override");
  EXPECT_NE(alone.exit_code, 0);
  EXPECT_NE(alone.output.find("--override requires --resume"), std::string::npos) << alone.output;
}

// The metadata of the checkpoint in `out` (the file read as a tensor file).
TensorFile checkpoint_of(const std::filesystem::path& out) { return load_tensors(out / "checkpoint.safetensors"); }

TEST(MnistMlpResume, OverrideAppliesTheNewLearningRateAndSaysWhatChanged) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE(kTrainImages);
  const auto out = one_epoch_run("mnist_mlp_config_override");
  const ProgramRun resumed =
      run_example("mnist_mlp", base_flags(out) + kSameRun + " --epochs 2 --resume --override --lr 0.01");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("--override: --lr 0.001 in the checkpoint, 0.01 now; the new value applies"),
            std::string::npos) << resumed.output;
  EXPECT_NE(resumed.output.find("learning rate now starts from 0.01 instead of 0.001, and continues at 0.01"),
            std::string::npos) << resumed.output;
  const TensorFile saved = checkpoint_of(out);
  EXPECT_NE(saved.metadata.at("optimizer/optimizer.param_groups").find("\"lr\":0.01,"), std::string::npos)
      << saved.metadata.at("optimizer/optimizer.param_groups");
  EXPECT_EQ(saved.metadata.at("config.lr"), "0.01");
  EXPECT_EQ(saved.metadata.at("initial_lr.0"), "0.01");
  // The next resume is the run at its new rate: nothing to override.
  const ProgramRun again = run_example("mnist_mlp", base_flags(out) + kSameRun + " --epochs 3 --resume --lr 0.01");
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(again.output.find("--override"), std::string::npos) << again.output;
}

// "Lower --lr" after a divergence is advice that works: the resumed run trains at the lower rate.
TEST(MnistMlpResume, AfterADivergenceALowerLearningRateContinuesTheRun) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE(kTrainImages);
  const auto out = one_epoch_run("mnist_mlp_config_diverged");
  const ProgramRun diverged =
      run_example("mnist_mlp", base_flags(out) + kSameRun + " --epochs 2 --resume --override --lr 1e30");
  EXPECT_EQ(diverged.exit_code, 3) << diverged.output;
  EXPECT_NE(diverged.output.find("Lower --lr (with --resume --override"), std::string::npos) << diverged.output;
  EXPECT_EQ(checkpoint_of(out).metadata.at("epochs_done"), "1");
  const ProgramRun lower =
      run_example("mnist_mlp", base_flags(out) + kSameRun + " --epochs 2 --resume --override --lr 0.0005");
  ASSERT_EQ(lower.exit_code, 0) << lower.output;
  EXPECT_NE(lower.output.find("epoch 2/2"), std::string::npos) << lower.output;
  EXPECT_NE(checkpoint_of(out).metadata.at("optimizer/optimizer.param_groups").find("\"lr\":0.0005,"),
            std::string::npos);
}

// One-byte edits of a checkpoint, each of which used to be taken at face value.
TEST(MnistMlpResume, AnyEditedByteIsReportedAsDamageNamingTheFile) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE(kTrainImages);
  const auto out = fresh_output_dir("mnist_mlp_edited");
  ASSERT_EQ(run_example("mnist_mlp", base_flags(out) + kSameRun + " --epochs 3").exit_code, 0);
  const auto path = out / "checkpoint.safetensors";
  const std::string original = file_bytes(path);
  // Adam's step count, in the optimizer's state (JSON text inside the header's JSON, hence the backslash).
  const std::string steps = "step\\\":" + checkpoint_of(out).metadata.at("steps_done");
  const std::size_t loss = original.find('.', original.find("\\n1,")) + 2;  // a digit of epoch 1's train loss
  for (const std::string& text : {steps, std::string("\\n1,"), std::string("model/0.weight")})
    ASSERT_NE(original.find(text), std::string::npos) << text;
  for (const auto& [edit, position, replacement] : std::vector<std::tuple<std::string, std::size_t, char>>{
           {"Adam's step count", original.find(steps) + 7, '1'},
           {"epochs_done", original.find("\"epochs_done\":\"3\"") + 15, '6'},
           {"a loss in the metrics", loss, original[loss] == '9' ? '8' : '9'},
           {"a tensor's name", original.find("model/0.weight") + 8, 'v'}}) {
    ASSERT_LT(position, original.size()) << edit;
    std::string bytes = original;
    bytes[position] = replacement;
    std::ofstream(path, std::ios::binary) << bytes;
    const ProgramRun run = run_example("mnist_mlp", base_flags(out) + kSameRun + " --epochs 4 --resume");
    EXPECT_EQ(run.exit_code, 1) << edit << "\n" << run.output;
    EXPECT_NE(run.output.find("checkpoint '" + path.string() + "' is damaged (checksum mismatch)"), std::string::npos)
        << edit << "\n" << run.output;
    EXPECT_NE(run.output.find("delete it or restore a copy"), std::string::npos) << edit << "\n" << run.output;
  }
  std::ofstream(path, std::ios::binary) << original;
  EXPECT_EQ(read_csv(out / "metrics.csv").rows.size(), 3u);
}

// Rewrites the checkpoint in `out` with `edit` applied to its metadata (and a valid checksum).
void rewrite_checkpoint(const std::filesystem::path& out,
                        const std::function<void(std::map<std::string, std::string>&)>& edit) {
  TensorFile file = checkpoint_of(out);
  edit(file.metadata);
  save_tensors(out / "checkpoint.safetensors", file.tensors, file.metadata);
}

TEST(MnistMlpResume, EveryMetadataFieldIsParsedStrictlyNamingFieldAndFile) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE(kTrainImages);
  const auto out = one_epoch_run("mnist_mlp_fields");
  const auto path = (out / "checkpoint.safetensors").string();
  for (const auto& [field, value] : std::vector<std::pair<std::string, std::string>>{
           {"epochs_done", "three"}, {"epochs_done", "1x"}, {"steps_done", "-1"}, {"steps_done", " 9"},
           {"generator.default.offset", "18446744073709551616"}, {"initial_lr.0", "0.001abc"}}) {
    const TensorFile before = checkpoint_of(out);
    rewrite_checkpoint(out, [&](auto& metadata) { metadata[field] = value; });
    const ProgramRun run = run_example("mnist_mlp", base_flags(out) + kSameRun + " --epochs 2 --resume");
    EXPECT_EQ(run.exit_code, 1) << run.output;
    EXPECT_NE(run.output.find("checkpoint '" + path + "': the field '" + field + "' is '" + value + "', not a"),
              std::string::npos) << run.output;
    EXPECT_EQ(run.output.find("stoull"), std::string::npos) << run.output;
    save_tensors(path, before.tensors, before.metadata);
  }
  rewrite_checkpoint(out, [](auto& metadata) { metadata["metrics"] += "2,0.5\n"; });
  const ProgramRun short_row = run_example("mnist_mlp", base_flags(out) + kSameRun + " --epochs 3 --resume");
  EXPECT_EQ(short_row.exit_code, 1) << short_row.output;
  EXPECT_NE(short_row.output.find("checkpoint '" + path + "': the field 'metrics' does not fit: the checkpoint's "
                                  "metrics row '2,0.5' has 2 cells"),
            std::string::npos) << short_row.output;
}

// A checkpoint written before checkpoints recorded their configuration is refused, and continued
// with the flags given now under --override.
TEST(MnistMlpResume, ACheckpointWithoutConfigurationNeedsOverride) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE(kTrainImages);
  const auto out = one_epoch_run("mnist_mlp_unrecorded");
  rewrite_checkpoint(out, [](auto& metadata) {
    std::erase_if(metadata, [](const auto& entry) { return entry.first.starts_with("config."); });
  });
  const ProgramRun refused = run_example("mnist_mlp", base_flags(out) + kSameRun + " --epochs 2 --resume");
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("checkpoint.safetensors does not record the configuration of its run"), std::string::npos)
      << refused.output;
  const ProgramRun overridden =
      run_example("mnist_mlp", base_flags(out) + kSameRun + " --epochs 2 --resume --override --lr 0.002");
  EXPECT_EQ(overridden.exit_code, 0) << overridden.output;
  EXPECT_NE(overridden.output.find("starts from 0.002 instead of 0.001"), std::string::npos) << overridden.output;
  EXPECT_EQ(checkpoint_of(out).metadata.at("config.seed"), "5");
}

// A flag newer than a checkpoint counts as having had its default value in the checkpoint's run.
TEST(MnistMlpResume, AFlagTheCheckpointLacksHadItsDefault) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE(kTrainImages);
  const auto out = one_epoch_run("mnist_mlp_newer_flag");
  rewrite_checkpoint(out, [](auto& metadata) { metadata.erase("config.batch-size"); });
  const ProgramRun other = run_example("mnist_mlp", base_flags(out) + kSameRun + " --epochs 2 --resume --batch-size 32");
  EXPECT_EQ(other.exit_code, 2) << other.output;
  EXPECT_NE(other.output.find("--batch-size 64 in the checkpoint, 32 now"), std::string::npos) << other.output;
  const ProgramRun same = run_example("mnist_mlp", base_flags(out) + kSameRun + " --epochs 2 --resume");
  EXPECT_EQ(same.exit_code, 0) << same.output;
}

// A full disk while the checkpoint is written: a clear error, and the previous checkpoint intact.
// The disk is a 2 MiB tmpfs in a user and mount namespace of its own (skipped where those are not
// allowed); the file-size-limit variant in test_serialize runs everywhere.
TEST(MnistMlpResume, AFullDiskKeepsThePreviousCheckpoint) {
  REQUIRE_EXAMPLES();
  REQUIRE_DATA_FILE(kTrainImages);
  if (run_command("unshare -Urm true").exit_code != 0) GTEST_SKIP() << "no user namespaces to mount a small tmpfs in";
  const auto source = one_epoch_run("mnist_mlp_full_disk_source");
  const auto disk = fresh_output_dir("mnist_mlp_full_disk");
  const std::string script =
      "mount -t tmpfs -o size=2m tmpfs " + disk.string() + " && cp " + (source / "checkpoint.safetensors").string() +
      " " + (source / "metrics.csv").string() + " " + disk.string() + " && " + example_command("mnist_mlp") + " " +
      base_flags(disk) + kSameRun + " --epochs 2 --resume; echo \"exit status $?\"; cmp " +
      (source / "checkpoint.safetensors").string() + " " + (disk / "checkpoint.safetensors").string() +
      " && echo intact; ls -a " + disk.string();
  const ProgramRun run = run_command("unshare -Urm sh -c '" + script + "'");
  EXPECT_NE(run.output.find("exit status 1"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("could not write checkpoint '" + (disk / "checkpoint.safetensors").string() +
                            "': No space left on device; the previous checkpoint is kept"),
            std::string::npos) << run.output;
  EXPECT_NE(run.output.find("intact"), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find(".tmp."), std::string::npos) << "a temporary file was left:\n" << run.output;
}

}  // namespace
}  // namespace tapegrad::testing
