// FashionMNIST data augmentation study (experiment B1): a small CNN trained with plain SGD on a
// random 12% of the training set, with augmentation (random resized crop, then a small random
// rotation) at training time, at test time (majority vote over 8 augmented copies), both, or
// neither. The defaults are the notebook's configuration.
//
//   build/examples/fashion_augment                        # the four settings, up to 100 passes each
//   build/examples/fashion_augment --settings none,train  # two of them
//   build/examples/fashion_augment --resume               # continue from runs/fashion_augment
//
// Every setting starts from the same weights and draws the same batches, so the settings that
// train alike ("none" and "test"; "train" and "both") share one training run and differ only in
// how the test set is classified after each pass.
//
// Augmentation runs on the standardized images, as the notebook's transforms ran on its already
// standardized tensors (rotation fills the corners with 0, the mean pixel). The other order does
// not train: a few border pixels are almost never lit in the subsample (their std is ~1e-4), so
// once cropping enlarges an image onto them, standardizing gives inputs in the thousands.
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <experiment/checkpoint.h>
#include <experiment/distributed_run.h>
#include <experiment/plot.h>
#include <experiment/program.h>
#include <experiment/training.h>

using namespace tapegrad;
namespace transforms = datasets::transforms;

namespace {

struct Setting {
  std::string_view name;
  bool augment_train;
  bool augment_test;          // test accuracy by the vote of augmented copies
  std::string_view notebook;  // the notebook's final test accuracy
};

constexpr std::array<Setting, 4> kSettings{{{"none", false, false, "0.877"},
                                            {"train", true, false, "0.861"},
                                            {"test", false, true, "0.830"},
                                            {"both", true, true, "0.69-0.83"}}};

// One training run and the settings it serves (all train with or all without augmentation).
struct Training {
  bool augmented = false;
  std::vector<Setting> settings;

  std::string name() const {
    std::vector<std::string_view> names;
    for (const Setting& setting : settings) names.push_back(setting.name);
    return fmt::format("{}", fmt::join(names, "+"));
  }
  bool votes() const { return std::ranges::any_of(settings, &Setting::augment_test); }
  bool serves(std::string_view setting) const {
    return std::ranges::any_of(settings, [&](const Setting& s) { return s.name == setting; });
  }
};

// The runs the chosen settings need: one without and one with training-time augmentation.
std::vector<Training> trainings_for(const std::vector<std::string>& chosen) {
  std::vector<Training> trainings;
  for (const bool augmented : {false, true}) {
    Training training{.augmented = augmented};
    for (const Setting& setting : kSettings)
      if (setting.augment_train == augmented && std::ranges::find(chosen, setting.name) != chosen.end())
        training.settings.push_back(setting);
    if (!training.settings.empty()) trainings.push_back(std::move(training));
  }
  return trainings;
}

// Every random draw of the study has its own stream, derived from --seed, so that changing one
// (the number of test-time copies, say) leaves the others as they were.
enum class Stream : std::uint64_t { kSubsample = 1, kSampling, kTrainAugmentation, kTestAugmentation };

std::uint64_t stream_seed(std::uint64_t seed, Stream stream) {
  return seed ^ (static_cast<std::uint64_t>(stream) * 0x9e3779b97f4a7c15ull);
}

// The notebook's augmentation: RandomResizedCrop(28, scale (0.75, 1), ratio (3/4, 4/3)), then
// RandomRotation(-10..10 degrees).
transforms::Compose augmentation() {
  return transforms::Compose({std::make_shared<transforms::RandomResizedCrop>(
                                  std::array<std::int64_t, 2>{28, 28}, std::array<double, 2>{0.75, 1.0},
                                  std::array<double, 2>{3.0 / 4.0, 4.0 / 3.0}),
                              std::make_shared<transforms::RandomRotation>(10.0)});
}

std::shared_ptr<nn::Sequential> make_model() {
  return std::make_shared<nn::Sequential>(nn::Conv2d(1, 16, 5, 1, 2), nn::ReLU(), nn::MaxPool2d(2),
                                          nn::Conv2d(16, 32, 5, 1, 2), nn::ReLU(), nn::MaxPool2d(2), nn::Flatten(),
                                          nn::Linear(7 * 7 * 32, 10));
}

// The training subsample and the test set, standardized pixel by pixel with the subsample's
// statistics: images [N, 1, 28, 28], labels [N].
struct StudyData {
  std::shared_ptr<const datasets::TensorDataset> train, test;
};

Tensor unit_range_images(const Tensor& pixels) { return datasets::to_unit_range(pixels).unsqueeze(1); }

StudyData load_data(const experiment::Program& program, double train_fraction) {
  const experiment::Flags& flags = program.flags();
  const std::string data_dir = program.data_dir();
  Generator subsample_generator(stream_seed(flags.seed, Stream::kSubsample));
  const auto subsample = datasets::random_subset(
      std::make_shared<datasets::FashionMNIST>(data_dir, datasets::Split::Train), train_fraction, subsample_generator);
  const datasets::Example train = datasets::load_all(*experiment::limit_dataset(subsample, flags.limit_train));
  const datasets::Example test = datasets::load_all(*experiment::limit_dataset(
      std::make_shared<datasets::FashionMNIST>(data_dir, datasets::Split::Test), flags.limit_test));

  const Tensor train_images = unit_range_images(train.input);
  const datasets::PixelStatistics statistics = datasets::pixel_statistics(train_images);
  return {.train = std::make_shared<datasets::TensorDataset>(datasets::standardize(train_images, statistics),
                                                             train.target),
          .test = std::make_shared<datasets::TensorDataset>(
              datasets::standardize(unit_range_images(test.input), statistics), test.target)};
}

// The training set of one pass: a fresh augmented copy of the subsample, or the subsample itself.
datasets::DatasetPtr pass_training_set(const StudyData& data, const Training& training,
                                       const transforms::Transform& augment, Generator& generator) {
  if (!training.augmented) return data.train;
  return std::make_shared<datasets::TensorDataset>(augment(data.train->inputs(), generator), data.train->targets());
}

// Images per call of the model when evaluating: batches whose activations stay in the CPU's caches
// (the first convolution writes 50 KB per image). On 2 cores the clean evaluation of a B1 pass took
// 0.43 s at 128 images, 0.69 s at 1000.
constexpr std::int64_t kEvalBatch = 128;

// Test accuracy of the majority vote over `copies` augmented versions of each test image. The
// copies are drawn for a thousand images at a time (so the draws, and with them the accuracy,
// stay those of a model that saw all thousand at once); the model sees them kEvalBatch at a time.
double vote_accuracy(nn::Module& model, const datasets::TensorDataset& test, const transforms::Transform& augment,
                     std::int64_t copies, Generator& generator, Device device) {
  constexpr std::int64_t kBatch = 1000;
  model.eval();
  const datasets::ModelFunction classify = [&](const Tensor& images) {
    std::vector<Tensor> scores;
    for (const Tensor& slice : split(images, kEvalBatch)) scores.push_back(model(slice.to(device)).cpu());
    return cat(scores, 0);
  };
  std::int64_t correct = 0;
  for (std::int64_t first = 0; first < test.size(); first += kBatch) {
    const std::int64_t size = std::min(kBatch, test.size() - first);
    const Tensor votes = datasets::tta_predict(classify, test.inputs().narrow(0, first, size), augment, copies,
                                               generator);
    correct += static_cast<std::int64_t>(sum(eq(votes, test.targets().narrow(0, first, size)).to(kFloat64)).item());
  }
  model.train();
  return static_cast<double>(correct) / static_cast<double>(test.size());
}

// One row per setting and pass; a setting that votes has rows only for the passes with a vote.
// The losses and clean_test_accuracy are those of the un-augmented training subsample and test
// set after the pass; test_accuracy is the vote's where the setting augments test images. The
// seconds are those of the training pass, of the clean evaluations and of the vote.
const std::vector<std::string> kColumns{"setting",   "pass",           "steps",          "train_loss",
                                        "train_accuracy", "test_loss", "test_accuracy", "clean_test_accuracy",
                                        "train_seconds",  "eval_seconds", "vote_seconds"};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The metrics table's text as lines (the header, then one per row), and back.
std::vector<std::string> lines_of(const std::string& text) {
  std::istringstream stream(text);
  std::vector<std::string> lines;
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

std::string text_of(const std::vector<std::string>& lines) { return fmt::format("{}\n", fmt::join(lines, "\n")); }

// The setting a row of the metrics table belongs to: its first cell.
std::string_view setting_of(std::string_view line) { return line.substr(0, line.find(',')); }

// Adds `row` after the last row of its setting (else at the end), keeping each setting's rows
// together: gnuplot draws a setting's line only through consecutive rows of the table.
void append_grouped(experiment::MetricsLog& metrics, const std::vector<experiment::Cell>& row) {
  std::vector<std::string> cells;
  for (const experiment::Cell& cell : row) cells.push_back(cell.text());
  const std::string new_row = fmt::format("{}", fmt::join(cells, ","));
  std::vector<std::string> table = lines_of(metrics.text());
  auto position = table.end();
  for (auto line = table.begin() + 1; line != table.end(); ++line)
    if (setting_of(*line) == setting_of(new_row)) position = line + 1;
  table.insert(position, new_row);
  metrics.restore(text_of(table));
}

// The row index of each setting's latest logged pass.
std::map<std::string, std::size_t, std::less<>> latest_rows(const experiment::MetricsLog& metrics) {
  const std::vector<std::string> table = lines_of(metrics.text());
  std::map<std::string, std::size_t, std::less<>> latest;
  for (std::size_t row = 1; row < table.size(); ++row) latest[std::string(setting_of(table[row]))] = row - 1;
  return latest;
}

Tensor classification_loss(const Tensor& logits, const Tensor& target) { return cross_entropy(logits, target); }

// One pass is round(n / batch) steps, each on `batch` indices drawn uniformly with replacement.
datasets::DataLoaderOptions pass_sampling(std::int64_t train_size, const experiment::Flags& flags) {
  const std::int64_t steps = std::llround(static_cast<double>(train_size) / static_cast<double>(flags.batch_size));
  TAPEGRAD_CHECK(steps >= 1, "--batch-size {} is more than twice the {} training images; lower it", flags.batch_size,
                 train_size);
  return experiment::shard_over_ranks(datasets::DataLoaderOptions()
                                          .with_batch_size(flags.batch_size)
                                          .with_sampling_with_replacement(steps * flags.batch_size)
                                          .with_seed(stream_seed(flags.seed, Stream::kSampling)),
                                      train_size);
}

struct StudyOptions {
  std::int64_t test_copies = 8;
  std::int64_t vote_every = 1;  // passes between votes (the last pass always votes)
};

// What is measured after a pass.
struct PassEvaluation {
  experiment::PassResult train, test;  // on the clean images
  bool voted = false;
  double vote_accuracy = 0;
  double vote_seconds = 0;
};

PassEvaluation evaluate_clean(nn::Module& model, const StudyData& data, Device device) {
  return {.train = experiment::evaluate(model, *data.train, classification_loss, kEvalBatch, device),
          .test = experiment::evaluate(model, *data.test, classification_loss, kEvalBatch, device)};
}

void add_vote(PassEvaluation& evaluation, nn::Module& model, const StudyData& data, const transforms::Transform& augment,
              std::int64_t copies, Generator& generator, Device device) {
  const auto start = std::chrono::steady_clock::now();
  evaluation.vote_accuracy = vote_accuracy(model, *data.test, augment, copies, generator, device);
  evaluation.vote_seconds = seconds_since(start);
  evaluation.voted = true;
}

void print_pass(const experiment::EpochLabel& label, double train_seconds, const PassEvaluation& evaluation,
                std::int64_t copies) {
  experiment::print_epoch_line(label, {.loss = evaluation.train.loss, .accuracy = evaluation.train.accuracy,
                                       .seconds = train_seconds},
                               {.loss = evaluation.test.loss, .accuracy = evaluation.test.accuracy,
                                .seconds = evaluation.train.seconds + evaluation.test.seconds});
  if (evaluation.voted)
    fmt::print("  vote of {} augmented copies: test accuracy {:.4f}  {:.2f} s\n", copies, evaluation.vote_accuracy,
               evaluation.vote_seconds);
  std::fflush(stdout);
}

void log_pass(experiment::MetricsLog& metrics, const Training& training, std::int64_t pass, std::int64_t steps,
              double train_seconds, const PassEvaluation& evaluation) {
  for (const Setting& setting : training.settings) {
    if (setting.augment_test && !evaluation.voted) continue;
    append_grouped(metrics, {std::string(setting.name), pass, steps, evaluation.train.loss, evaluation.train.accuracy,
                             evaluation.test.loss,
                             setting.augment_test ? evaluation.vote_accuracy : evaluation.test.accuracy,
                             evaluation.test.accuracy, train_seconds,
                             evaluation.train.seconds + evaluation.test.seconds,
                             setting.augment_test ? evaluation.vote_seconds : 0.0});
  }
}

// Under --resume, restores `training`'s checkpoint, if any; returns the passes it had done.
std::int64_t resume_training(experiment::Checkpointer& checkpoint, experiment::MetricsLog& metrics,
                             const Training& training, bool resume) {
  checkpoint.own_rows([&training](std::string_view setting) { return training.serves(setting); });
  const std::int64_t passes = checkpoint.restore_if(resume);
  if (passes > 0) {
    fmt::print("[{}] resumed from {} after pass {}\n", training.name(), checkpoint.path().string(), passes);
  }
  return passes;
}

// Whether a resumed run had already classified every training image correctly, and so is over.
bool fitted_every_image(const experiment::MetricsLog& metrics, const Training& training) {
  const auto latest = latest_rows(metrics);
  return std::ranges::any_of(training.settings, [&](const Setting& setting) {
    const auto row = latest.find(setting.name);
    return row != latest.end() && metrics.number(row->second, "train_accuracy") >= 1;
  });
}

// Trains a fresh model (the same initial weights for every run) until it classifies every
// training image correctly or --epochs passes have run, logging and checkpointing each pass.
void run_training(const Training& training, const StudyData& data, const StudyOptions& options,
                  experiment::MetricsLog& metrics, const experiment::Program& program) {
  const experiment::Flags& flags = program.flags();
  manual_seed(flags.seed);
  auto model = make_model();
  model->to(program.device());
  optim::SGD optimizer(model->parameters(), {.lr = flags.lr});
  const transforms::Compose augment = augmentation();
  Generator train_augmentation(stream_seed(flags.seed, Stream::kTrainAugmentation));
  Generator test_augmentation(stream_seed(flags.seed, Stream::kTestAugmentation));
  experiment::Checkpointer checkpoint(program.out_path(fmt::format("checkpoint_{}.safetensors", training.name())),
                                      *model, optimizer, metrics);
  checkpoint.track("train_augmentation", train_augmentation);
  checkpoint.track("test_augmentation", test_augmentation);

  const std::int64_t first_pass = resume_training(checkpoint, metrics, training, flags.resume);
  if (first_pass > 0 && fitted_every_image(metrics, training)) return;
  const datasets::DataLoaderOptions sampling = pass_sampling(data.train->size(), flags);
  std::int64_t steps = checkpoint.steps_done();
  for (std::int64_t pass = first_pass; pass < flags.epochs; ++pass) {
    const experiment::EpochLabel label{.epoch = pass, .epochs = flags.epochs, .run = training.name()};
    const auto pass_start = std::chrono::steady_clock::now();
    datasets::DataLoader loader(pass_training_set(data, training, augment, train_augmentation), sampling);
    loader.set_epoch(pass);
    steps += experiment::train_epoch(*model, optimizer, loader, classification_loss, label, program.device()).steps;
    const double train_seconds = seconds_since(pass_start);  // the augmentation's included

    // The vote is costly (copies x the test set): every vote_every passes, and on the last pass,
    // which is only known once the training set has been evaluated.
    PassEvaluation evaluation = evaluate_clean(*model, data, program.device());
    const bool interpolated = evaluation.train.accuracy >= 1;
    const bool vote_due = interpolated || pass + 1 == flags.epochs || (pass + 1) % options.vote_every == 0;
    if (training.votes() && vote_due)
      add_vote(evaluation, *model, data, augment, options.test_copies, test_augmentation, program.device());
    print_pass(label, train_seconds, evaluation, options.test_copies);
    log_pass(metrics, training, pass + 1, steps, train_seconds, evaluation);
    checkpoint.save(pass + 1, steps);
    if (interpolated) break;
  }
}

experiment::Figure learning_curves(const experiment::MetricsLog& metrics, const std::vector<Training>& trainings,
                                   const experiment::Program& program) {
  const auto panel = [&](std::string title, std::string column, std::string key_position) {
    experiment::Panel panel{.title = std::move(title), .x_label = "pass", .y_label = column,
                            .setup = {"set key " + key_position}};
    for (const Training& training : trainings)
      for (const Setting& setting : training.settings)
        panel.series.push_back({.title = setting.name == "none" ? "no augmentation"
                                                                : fmt::format("{} augmentation", setting.name),
                                .x = "pass", .y = column, .where_column = "setting",
                                .where_value = std::string(setting.name)});
    return panel;
  };
  return {.png = program.out_path("curves.png"),
          .csv = metrics.path(),
          .panels = {panel("training loss", "train_loss", "top right"),
                     panel("training accuracy", "train_accuracy", "bottom right"),
                     panel("test loss (clean images)", "test_loss", "top right"),
                     panel("test accuracy (vote of augmented copies where test-augmented)", "test_accuracy",
                           "bottom right")},
          .columns = 2};
}

// Each setting's latest pass beside the notebook's figure.
void print_summary(const experiment::MetricsLog& metrics, const std::vector<Training>& trainings) {
  const auto latest = latest_rows(metrics);
  fmt::print("setting  passes  test accuracy  (clean images)  notebook\n");
  for (const Training& training : trainings)
    for (const Setting& setting : training.settings) {
      const auto row = latest.find(setting.name);
      if (row == latest.end()) continue;
      fmt::print("{:<7}  {:>6}  {:>13.4f}  {:>14.4f}  {}\n", setting.name,
                 static_cast<std::int64_t>(metrics.number(row->second, "pass")),
                 metrics.number(row->second, "test_accuracy"), metrics.number(row->second, "clean_test_accuracy"),
                 setting.notebook);
    }
}

}  // namespace

int main(int argc, char** argv) {
  experiment::Program program("fashion_augment",
                              "FashionMNIST, 12% of the training set: Conv2d(1,16,5,pad 2)-ReLU-MaxPool(2)-"
                              "Conv2d(16,32,5,pad 2)-ReLU-MaxPool(2)-Linear(1568,10) trained with plain SGD on "
                              "batches drawn with replacement, with and without augmentation at training and test "
                              "time (experiment B1). --epochs counts passes; a run stops early once it classifies "
                              "every training image correctly.",
                              {.epochs = 100, .batch_size = 16, .lr = 0.04});
  double train_fraction = 0.12;
  StudyOptions options;
  std::vector<std::string> settings{"none", "train", "test", "both"};
  program.app().add_option("--train-fraction", train_fraction, "Fraction of the training set drawn without replacement")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  program.app().add_option("--settings", settings, "Augmentation settings to run: none, train, test, both")
      ->delimiter(',')->capture_default_str()->check(CLI::IsMember({"none", "train", "test", "both"}));
  program.may_change_on_resume("settings");  // which runs; each has its own checkpoint
  program.app().add_option("--test-copies", options.test_copies, "Augmented copies of each test image in the vote")
      ->capture_default_str()->check(experiment::Positive);
  program.app().add_option("--vote-every", options.vote_every,
                           "Passes between test-time votes (the last pass always votes); each vote classifies "
                           "--test-copies times the test set")
      ->capture_default_str()->check(experiment::Positive);

  return program.run(argc, argv, [&](experiment::Program& p) {
    const StudyData data = load_data(p, train_fraction);
    fmt::print("{}\n{} training images, {} test images, {} threads\n", *make_model(), data.train->size(),
               data.test->size(), num_threads());

    experiment::MetricsLog metrics(p.out_path("metrics.csv"), kColumns);
    const std::vector<Training> trainings = trainings_for(settings);
    for (const Training& training : trainings) run_training(training, data, options, metrics, p);
    experiment::render(learning_curves(metrics, trainings, p));
    fmt::print("metrics, plots and checkpoints in {}\n", p.out_dir().string());
    print_summary(metrics, trainings);
  });
}
