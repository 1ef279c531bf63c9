#include "program.h"

#include "distributed_run.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <exception>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace experiment {

using namespace tapegrad;

namespace {

// A validator that parses the flag's text as a number and applies `accept`, else says `requirement`.
CLI::Validator number_check(bool (*accept)(double), const char* requirement, const char* description) {
  return CLI::Validator(
      [accept, requirement](std::string& input) -> std::string {
        char* end = nullptr;
        const double value = std::strtod(input.c_str(), &end);
        if (end == input.c_str() || *end != '\0') return fmt::format("expected a number, got '{}'", input);
        return accept(value) ? std::string() : fmt::format("must be {}, got {}", requirement, input);
      },
      description);
}

// Flags that may take other values when a run is resumed: how long it runs, where and with what
// resources, what to do with the output folder, and whether backward checks for NaN.
constexpr std::array kAlwaysChangeable{"help", "epochs", "threads", "data-dir", "device", "out", "resume", "overwrite",
                                       "override", "detect-anomaly"};

// The option's value as text, read from the variable it is bound to as --help reads defaults
// ("0.001", "[16,128]"); the option's shown default is left as it was.
std::string value_text(CLI::Option& option) {
  if (option.get_type_size_max() == 0) return option.count() > 0 ? "true" : "false";  // a flag
  const std::string shown = option.get_default_str();
  option.capture_default_str();
  std::string value = option.get_default_str();
  option.default_str(shown);
  if (value.empty() && option.count() > 0) value = fmt::format("{}", fmt::join(option.results(), ","));
  return value;
}

}  // namespace

const CLI::Validator Positive = number_check([](double value) { return value > 0; }, "positive", "POSITIVE");
const CLI::Validator NonNegative = number_check([](double value) { return value >= 0; }, "zero or more", "NONNEGATIVE");

Program::Program(std::string name, std::string description, Flags defaults, unsigned flag_groups)
    : name_(std::move(name)), app_(std::move(description), name_), flags_(std::move(defaults)), flag_groups_(flag_groups) {
  if (flag_groups & kDataFlags) {
    app_.add_option("--data-dir", flags_.data_dir, "Folder with the datasets (default: $TAPEGRAD_DATA, else data/)");
    app_.add_option("--limit-train", flags_.limit_train, "Use only the first N training examples (0: all)")
        ->capture_default_str()->check(NonNegative);
    app_.add_option("--limit-test", flags_.limit_test, "Use only the first N test examples (0: all)")
        ->capture_default_str()->check(NonNegative);
  }
  if (flag_groups & kTrainingFlags) {
    app_.add_option("--epochs", flags_.epochs, "Passes over the training data")
        ->capture_default_str()->check(Positive);
    app_.add_option("--batch-size", flags_.batch_size, "Examples per step (under mpirun: over all ranks together)")
        ->capture_default_str()->check(Positive);
    app_.add_option("--lr", flags_.lr, "Learning rate")->capture_default_str()->check(Positive);
  }
  app_.add_option("--seed", flags_.seed, "Seed of every random draw (init, data order, augmentation)")
      ->capture_default_str();
  app_.add_option("--threads", flags_.threads,
                  "CPU threads (0: every core this process may use; under mpirun, the cores divided among this "
                  "machine's ranks)")
      ->capture_default_str()->check(NonNegative);
  app_.add_option("--device", flags_.device, "Where to compute")->capture_default_str()
      ->check(CLI::IsMember({"cpu", "cuda"}));
  app_.add_option("--out", flags_.out, fmt::format("Folder for metrics, plots and checkpoints (default: runs/{})", name_));
  app_.add_flag("--detect-anomaly", flags_.detect_anomaly,
                "Name the op whose gradient first becomes NaN or Inf, and where it was called (slow)");
  if (flag_groups & kResumeFlag) {
    CLI::Option* resume =
        app_.add_flag("--resume", flags_.resume, "Continue from the checkpoint in --out, if there is one");
    app_.add_flag("--overwrite", flags_.overwrite,
                  "Start over in an --out that holds an earlier run's checkpoint, replacing its files")
        ->excludes(resume);
    app_.add_flag("--override", flags_.override_configuration,
                  "With --resume: continue even with flags that differ from the checkpoint's; the new values apply")
        ->needs(resume);
  }
}

std::string Program::data_dir() const {
  return datasets::resolve_data_dir(flags_.data_dir.empty() ? std::nullopt : std::optional(flags_.data_dir));
}

void Program::apply_flags() {
  join_distributed_job(flags_);
  if (flags_.threads > 0) set_num_threads(flags_.threads);
  manual_seed(flags_.seed);
  autograd::set_detect_anomaly(flags_.detect_anomaly);
  if (flags_.device == "cuda") {
    if (!cuda::is_available())
      throw DeviceError(fmt::format("--device cuda: {}; run with --device cpu", cuda::unavailable_reason()));
    device_ = Device::cuda();
  }
  out_dir_ = flags_.out.empty() ? std::filesystem::path("runs") / name_ : std::filesystem::path(flags_.out);
  if (!is_main_rank()) {  // rank 0 alone writes the output folder
    out_dir_ = follower_out_dir(out_dir_, name_, flags_.resume);
    return;
  }
  std::error_code error;
  std::filesystem::create_directories(out_dir_, error);
  if (error)
    throw Error(fmt::format("cannot create the output folder '{}': {}; pass a writable folder with --out",
                            out_dir_.string(), error.message()));
  guard_out_dir();
}

void Program::guard_out_dir() {
  out_dir_lock_ = std::make_unique<OutDirLock>(out_dir_);
  if (const int removed = remove_stale_temporaries(out_dir_); removed > 0)
    fmt::print("removed {} temporary file(s) that killed runs left in {}\n", removed, out_dir_.string());
  if (flags_.resume) check_resumed_configuration();
  if (!(flag_groups_ & kResumeFlag) || flags_.resume || flags_.overwrite) return;
  const std::vector<std::filesystem::path> checkpoints = checkpoints_in(out_dir_);
  if (checkpoints.empty()) return;
  std::vector<std::string> names;
  for (const auto& checkpoint : checkpoints) names.push_back(checkpoint.string());
  throw Refused(fmt::format("{} holds the checkpoint of an earlier run ({}); continue that run with --resume, start "
                            "over with --overwrite (which replaces its files), or pass another folder with --out",
                            out_dir_.string(), fmt::join(names, ", ")));
}

Configuration Program::defining_values() {
  Configuration values;
  for (CLI::Option* option : app_.get_options()) {
    const std::vector<std::string>& names = option->get_lnames();
    if (names.empty()) continue;
    const std::string& name = names.front();
    if (std::ranges::find(kAlwaysChangeable, name) != kAlwaysChangeable.end() ||
        std::ranges::find(changeable_, name) != changeable_.end())
      continue;
    values.emplace(name, value_text(*option));
  }
  return values;
}

void Program::check_resumed_configuration() const {
  std::vector<std::string> unrecorded, changes;
  for (const auto& checkpoint : checkpoints_in(out_dir_)) {
    const std::optional<Configuration> recorded = recorded_configuration(checkpoint);
    if (!recorded) {
      unrecorded.push_back(checkpoint.string());
      continue;
    }
    for (const auto& [flag, value] : configuration_) {
      // A flag newer than the checkpoint ran as its default then.
      const auto found = recorded->find(flag);
      const std::string& then = found != recorded->end() ? found->second : defaults_.at(flag);
      const std::string change = fmt::format("--{} {} in the checkpoint, {} now", flag, then, value);
      if (then != value && std::ranges::find(changes, change) == changes.end()) changes.push_back(change);
    }
  }
  if (flags_.override_configuration) {
    if (!unrecorded.empty())
      fmt::print("--override: {} records no configuration; the flags given now apply\n", fmt::join(unrecorded, ", "));
    for (const std::string& change : changes) fmt::print("--override: {}; the new value applies\n", change);
    return;
  }
  if (!unrecorded.empty())
    throw Refused(fmt::format("{} does not record the configuration of its run (it was written by an older version): "
                              "continue it with the flags given now with --resume --override, or start over with "
                              "--overwrite", fmt::join(unrecorded, ", ")));
  if (!changes.empty())
    throw Refused(fmt::format("the run in {} was made with other flags: {}. Resume with the checkpoint's values, add "
                              "--override to continue it with the new ones, or start over with --overwrite or another "
                              "--out", out_dir_.string(), fmt::join(changes, "; ")));
}

int Program::run(int argc, char** argv, const std::function<void(Program&)>& body) {
  defaults_ = defining_values();
  try {
    app_.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app_.exit(error);
  }
  configuration_ = defining_values();
  set_run_configuration(configuration_);
  try {
    apply_flags();
    body(*this);
    return 0;
  } catch (const Refused& refused) {
    std::fflush(stdout);
    fmt::print(stderr, "{}: refused: {}\n", name_, refused.what());
    return finish_rank(kRefusedExitCode, name_);
  } catch (const Diverged& diverged) {
    std::fflush(stdout);
    fmt::print(stderr, "\n{}: training diverged: {}\n", name_, diverged.what());
    return finish_rank(kDivergedExitCode, name_);
  } catch (const AnomalyError& anomaly) {  // under --detect-anomaly, in a program's own training loop
    std::fflush(stdout);
    fmt::print(stderr, "\n{}: training diverged: {}\n", name_, anomaly.what());
    return finish_rank(kDivergedExitCode, name_);
  } catch (const std::exception& error) {
    std::fflush(stdout);
    fmt::print(stderr, "\n{}: error: {}\n", name_, error.what());
    return finish_rank(kErrorExitCode, name_);
  }
}

datasets::DatasetPtr limit_dataset(datasets::DatasetPtr dataset, std::int64_t limit) {
  if (limit <= 0 || limit >= dataset->size()) return dataset;
  return std::make_shared<datasets::Subset>(dataset, arange(limit, TensorOptions(kInt64)));
}

}  // namespace experiment
