// The frame every example program shares: its flags (parsed by CLI11, each documented with its
// default under --help), thread count, seed, device and output folder, and one place that turns
// errors into a message and an exit status, so each example file holds only its experiment.
//
//   int main(int argc, char** argv) {
//     experiment::Program program("mnist_mlp", "Trains ...", {.epochs = 15, .batch_size = 64});
//     return program.run(argc, argv, [&](experiment::Program& p) { ... });
//   }
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <memory>

#include <tapegrad/tapegrad.h>

#include "checkpoint.h"
#include "out_dir.h"

namespace experiment {

// Which of the shared flags a program offers (--seed, --threads, --device, --out,
// --detect-anomaly and --help always): the data flags, the training flags and --resume.
enum FlagGroup : unsigned {
  kDataFlags = 1,      // --data-dir, --limit-train, --limit-test
  kTrainingFlags = 2,  // --epochs, --batch-size, --lr
  kResumeFlag = 4,     // --resume
  kAllFlags = kDataFlags | kTrainingFlags | kResumeFlag,
};

// The shared flags' values; a program's defaults are its experiment's configuration.
struct Flags {
  std::string data_dir;          // empty: $TAPEGRAD_DATA, else data/
  int epochs = 1;
  std::int64_t batch_size = 64;
  double lr = 1e-3;
  std::uint64_t seed = 0;
  int threads = 0;               // 0: every core this process may use
  std::string device = "cpu";
  std::string out;               // empty: runs/<program>
  std::int64_t limit_train = 0;  // 0: the whole set
  std::int64_t limit_test = 0;
  bool resume = false;
  bool overwrite = false;        // start over in an --out that holds an earlier run's checkpoint
  bool detect_anomaly = false;   // backward names the op whose gradient first became NaN or Inf
  bool override_configuration = false;  // --override: resume with flags that differ from the checkpoint's
};

// Thrown when training produces a non-finite loss; run() reports it and exits with
// kDivergedExitCode.
class Diverged : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr int kErrorExitCode = 1;
// The output folder is busy, holds a run to resume, or --resume was given flags that differ from
// the checkpoint's without --override.
inline constexpr int kRefusedExitCode = 2;
inline constexpr int kDivergedExitCode = 3;

class Program {
 public:
  Program(std::string name, std::string description, Flags defaults, unsigned flag_groups = kAllFlags);

  // For the program's own flags, added before run().
  CLI::App& app() { return app_; }
  // Every flag defines the run, and a checkpoint records them all: --resume refuses other values
  // unless --override is given, except for --epochs, --threads, --data-dir, --device, --out and
  // the flags that say what to do with the folder, and the flags named here (without dashes): the
  // program's own that only extend or end the run (--stop-after), choose which of a study's runs
  // are done (each with its own checkpoint), or shape what is shown at the end.
  void may_change_on_resume(std::string flag) { changeable_.push_back(std::move(flag)); }
  // The flags that define the run, as given or defaulted (name without dashes -> value); set by run().
  const Configuration& configuration() const { return configuration_; }
  const std::string& name() const { return name_; }
  const Flags& flags() const { return flags_; }

  // Parses the command line, applies --threads and --seed, checks --device, creates the output
  // folder, then calls `body`. Returns the exit status: 0, CLI11's for --help or bad flags,
  // kDivergedExitCode when training diverged, kErrorExitCode for any other error (the message
  // goes to stderr).
  int run(int argc, char** argv, const std::function<void(Program&)>& body);

  tapegrad::Device device() const { return device_; }
  // The data folder (--data-dir, else $TAPEGRAD_DATA, else data/).
  std::string data_dir() const;
  // A file in the output folder.
  std::filesystem::path out_path(std::string_view file) const { return out_dir_ / file; }
  const std::filesystem::path& out_dir() const { return out_dir_; }

 private:
  void apply_flags();
  // Locks the output folder, clears what killed runs left there, and refuses to start over a
  // checkpoint unless --resume or --overwrite says what to do with it.
  void guard_out_dir();
  // Under --resume: compares the checkpoints' recorded configuration with the flags given now;
  // refuses any difference without --override, and prints each one with it.
  void check_resumed_configuration() const;

  std::string name_;
  CLI::App app_;
  Flags flags_;
  tapegrad::Device device_ = tapegrad::Device::cpu();
  std::filesystem::path out_dir_;
  unsigned flag_groups_;
  std::unique_ptr<OutDirLock> out_dir_lock_;
  // The defining flags' values as their bound variables hold them now.
  Configuration defining_values();

  std::vector<std::string> changeable_;
  Configuration defaults_;  // before parsing: the values of flags that checkpoints of older versions lack
  Configuration configuration_;
};

// Checks for numeric flags whose messages stay human-sized ("--lr: must be positive, got -1");
// CLI11's PositiveNumber and NonNegativeNumber print the largest double, 309 digits, as the bound.
extern const CLI::Validator Positive;
extern const CLI::Validator NonNegative;

// The first `limit` items of `dataset` (all of them when limit is 0 or not smaller).
tapegrad::datasets::DatasetPtr limit_dataset(tapegrad::datasets::DatasetPtr dataset, std::int64_t limit);

}  // namespace experiment
