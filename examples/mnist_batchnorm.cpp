// MNIST BatchNorm study (experiment A2): the three-layer perceptron with and without BatchNorm1d
// after each hidden Linear, trained with SGD (momentum 0.9) at a small and a large learning rate,
// four runs from fresh weights. The defaults are the notebook's configuration; the program ends by
// checking the notebook's three claims: BatchNorm converges faster, permits the larger learning
// rate (without it, lr 0.5 does not train), and ends at least as accurate.
//
//   build/examples/mnist_batchnorm                        # the four runs, 15 epochs each
//   build/examples/mnist_batchnorm --runs bn-0.5          # one of them
//   build/examples/mnist_batchnorm --resume               # finished runs are not trained again
//
// A run whose loss merely fails to fall is a result ("did not train"), not an error; a non-finite
// loss stops the program as in every example, naming the run, epoch, step and learning rate.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <experiment/checkpoint.h>
#include <experiment/distributed_run.h>
#include <experiment/metrics.h>
#include <experiment/plot.h>
#include <experiment/program.h>
#include <experiment/training.h>

using namespace tapegrad;

namespace {

// One of the study's runs: "bn-0.5" is the BatchNorm model at lr 0.5, "nobn-0.01" the plain one
// at lr 0.01.
struct Run {
  bool batchnorm = false;
  double lr = 0;
  std::string name() const { return fmt::format("{}-{}", batchnorm ? "bn" : "nobn", lr); }
};

struct StudyConfig {
  int epochs = 15;
  std::int64_t batch_size = 60;
  std::vector<double> lrs{0.01, 0.5};
  std::vector<std::string> runs;  // empty: every (model, lr) pair
};

// Pixels/255 (ToTensor's scaling, no normalization), flattened to 784 features; converted batch
// by batch so the dataset stays uint8 in memory.
datasets::DatasetPtr mlp_inputs(datasets::DatasetPtr images) {
  return datasets::map_inputs(std::move(images), [](const Tensor& pixels) {
    const Tensor x = datasets::to_unit_range(pixels);
    return x.dim() == 3 ? x.reshape({x.size(0), 28 * 28}) : x.reshape({28 * 28});
  });
}

// BatchNorm1d (eps 1e-5, momentum 0.1, affine: the defaults) after each hidden Linear, before its ReLU.
std::shared_ptr<nn::Sequential> make_model(bool batchnorm) {
  if (!batchnorm)
    return std::make_shared<nn::Sequential>(nn::Linear(784, 128), nn::ReLU(), nn::Linear(128, 64), nn::ReLU(),
                                            nn::Linear(64, 10));
  return std::make_shared<nn::Sequential>(nn::Linear(784, 128), nn::BatchNorm1d(128), nn::ReLU(), nn::Linear(128, 64),
                                          nn::BatchNorm1d(64), nn::ReLU(), nn::Linear(64, 10));
}

Tensor cross_entropy_loss(const Tensor& logits, const Tensor& target) { return cross_entropy(logits, target); }

// The runs to do, in a fixed order (each learning rate without, then with BatchNorm), whatever the
// order of --runs; an unknown name in --runs is an error listing the known ones.
std::vector<Run> selected_runs(const StudyConfig& config) {
  std::vector<Run> all;
  for (const double lr : config.lrs)
    for (const bool batchnorm : {false, true}) all.push_back({.batchnorm = batchnorm, .lr = lr});
  if (config.runs.empty()) return all;
  for (const std::string& name : config.runs)
    if (std::ranges::none_of(all, [&](const Run& run) { return run.name() == name; })) {
      std::vector<std::string> names;
      for (const Run& run : all) names.push_back(run.name());
      throw Error(fmt::format("--runs: there is no run '{}'; with --lrs {} the runs are {}", name,
                              fmt::join(config.lrs, ","), fmt::join(names, ", ")));
    }
  std::erase_if(all, [&](const Run& run) { return std::ranges::find(config.runs, run.name()) == config.runs.end(); });
  return all;
}

// One row per run and epoch; batchnorm is 1 or 0. The training figures are the epoch's running
// means, the test figures those after the epoch, and the seconds cover both.
const std::vector<std::string> kColumns{"run",       "batchnorm", "lr",           "epoch",  "train_loss", "train_accuracy",
                                        "test_loss", "test_accuracy", "seconds"};

struct StudyData {
  datasets::DatasetPtr train, test;
};

// Trains `run` from fresh weights (the same seed for every run: BatchNorm draws nothing at
// initialization, so both models start from the same Linear weights), logging and checkpointing
// each epoch; with --resume it continues from the run's own checkpoint, and a finished run only
// has its metrics restored.
void train_run(const Run& run, const StudyConfig& config, const StudyData& data, experiment::MetricsLog& metrics,
               const experiment::Program& program) {
  const experiment::Flags& flags = program.flags();
  manual_seed(flags.seed);
  auto model = make_model(run.batchnorm);
  model->to(program.device());
  optim::SGD optimizer(model->parameters(), {.lr = run.lr, .momentum = 0.9});
  datasets::DataLoader loader(data.train, experiment::shard_over_ranks(
                                              datasets::DataLoaderOptions().with_batch_size(config.batch_size)
                                                  .with_shuffle().with_seed(flags.seed)
                                                  .with_device(program.device()),
                                              data.train->size()));

  experiment::Checkpointer checkpoint(program.out_path(fmt::format("checkpoint_{}.safetensors", run.name())), *model,
                                      optimizer, metrics);
  checkpoint.own_rows([name = run.name()](std::string_view row_run) { return row_run == name; });
  const std::int64_t first_epoch = checkpoint.restore_if(flags.resume);
  if (first_epoch > 0) {
    fmt::print("[{}] resumed from {} after epoch {}\n", run.name(), checkpoint.path().string(), first_epoch);
  }
  std::int64_t steps = checkpoint.steps_done();
  for (std::int64_t epoch = first_epoch; epoch < config.epochs; ++epoch) {
    const experiment::EpochLabel label{.epoch = epoch, .epochs = config.epochs, .run = run.name()};
    loader.set_epoch(epoch);
    const experiment::PassResult trained =
        experiment::train_epoch(*model, optimizer, loader, cross_entropy_loss, label, program.device());
    const experiment::PassResult test =
        experiment::evaluate(*model, *data.test, cross_entropy_loss, 1000, program.device());
    experiment::print_epoch_line(label, trained, test);
    steps += trained.steps;
    metrics.append({run.name(), run.batchnorm ? 1 : 0, run.lr, epoch + 1, trained.loss, trained.accuracy, test.loss,
                    test.accuracy, trained.seconds + test.seconds});
    checkpoint.save(epoch + 1, steps);
  }
}

// What the summary needs of one finished run, read back from the metrics table (so that resumed
// runs count alike).
struct RunOutcome {
  double first_test_accuracy = 0;  // after epoch 1
  double final_test_accuracy = 0;
  double final_train_loss = 0;
  std::int64_t epochs = 0;
};

std::optional<RunOutcome> outcome_of(const Run& run, const experiment::MetricsLog& metrics) {
  std::optional<RunOutcome> outcome;
  for (std::size_t row = 0; row < metrics.rows(); ++row) {
    if ((metrics.number(row, "batchnorm") != 0) != run.batchnorm || metrics.number(row, "lr") != run.lr) continue;
    if (!outcome) outcome = RunOutcome{.first_test_accuracy = metrics.number(row, "test_accuracy")};
    outcome->final_test_accuracy = metrics.number(row, "test_accuracy");
    outcome->final_train_loss = metrics.number(row, "train_loss");
    outcome->epochs = static_cast<std::int64_t>(metrics.number(row, "epoch"));
  }
  return outcome;
}

// A run did not train when its last training loss is no better than guessing uniformly among the
// ten digits (ln 10 = 2.30) or within 10% of it; the notebook's failed run stayed at 2.32.
bool did_train(const RunOutcome& outcome) { return outcome.final_train_loss < 0.9 * std::log(10.0); }

std::string describe(const RunOutcome& outcome) {
  if (!did_train(outcome)) return fmt::format("did not train (loss stuck at {:.4f})", outcome.final_train_loss);
  return fmt::format("trained to training loss {:.4f}", outcome.final_train_loss);
}

// What two runs at one learning rate, without and with BatchNorm, say about a claim.
struct Verdict {
  std::string evidence;
  bool holds = false;
};
using Judge = std::function<Verdict(const RunOutcome& plain, const RunOutcome& batchnorm)>;

void check_claim(const std::string& claim, double lr, const experiment::MetricsLog& metrics, const Judge& judge) {
  const Run plain_run{.batchnorm = false, .lr = lr}, batchnorm_run{.batchnorm = true, .lr = lr};
  const auto plain = outcome_of(plain_run, metrics), batchnorm = outcome_of(batchnorm_run, metrics);
  if (!plain || !batchnorm) {
    fmt::print("  {}: not checked (needs runs {} and {})\n", claim, plain_run.name(), batchnorm_run.name());
    return;
  }
  const Verdict verdict = judge(*plain, *batchnorm);
  fmt::print("  {}: {} -> {}\n", claim, verdict.evidence, verdict.holds ? "holds" : "does NOT hold");
}

// The notebook's three claims: at the smallest learning rate, BatchNorm converges faster and ends
// at least as accurate; at the largest, only the BatchNorm model trains at all.
void print_summary(const std::vector<Run>& runs, const StudyConfig& config, const experiment::MetricsLog& metrics) {
  fmt::print("\nrun        test accuracy after epoch 1 / last epoch\n");
  for (const Run& run : runs)
    if (const auto outcome = outcome_of(run, metrics))
      fmt::print("{:<10} {:.4f} / {:.4f} (epoch {})  {}\n", run.name(), outcome->first_test_accuracy,
                 outcome->final_test_accuracy, outcome->epochs, describe(*outcome));

  const double small_lr = std::ranges::min(config.lrs), large_lr = std::ranges::max(config.lrs);
  fmt::print("claims:\n");
  check_claim(fmt::format("BatchNorm converges faster (lr {}, test accuracy after epoch 1)", small_lr), small_lr,
              metrics, [](const RunOutcome& plain, const RunOutcome& batchnorm) {
                return Verdict{fmt::format("{:.4f} with vs {:.4f} without", batchnorm.first_test_accuracy,
                                           plain.first_test_accuracy),
                               batchnorm.first_test_accuracy > plain.first_test_accuracy};
              });
  check_claim(fmt::format("BatchNorm permits lr {}", large_lr), large_lr, metrics,
              [](const RunOutcome& plain, const RunOutcome& batchnorm) {
                return Verdict{fmt::format("with BatchNorm it {}, test accuracy {:.4f}; without, it {}",
                                           describe(batchnorm), batchnorm.final_test_accuracy, describe(plain)),
                               did_train(batchnorm) && !did_train(plain)};
              });
  check_claim(fmt::format("BatchNorm ends at least as accurate (lr {}, last epoch)", small_lr), small_lr, metrics,
              [](const RunOutcome& plain, const RunOutcome& batchnorm) {
                return Verdict{fmt::format("{:.4f} with vs {:.4f} without", batchnorm.final_test_accuracy,
                                           plain.final_test_accuracy),
                               batchnorm.final_test_accuracy >= plain.final_test_accuracy};
              });
}

experiment::Figure learning_curves(const std::vector<Run>& runs, const experiment::MetricsLog& metrics,
                                   const experiment::Program& program) {
  const auto panel = [&](std::string title, std::string y_label, std::string column, bool log_y) {
    experiment::Panel panel{.title = std::move(title), .x_label = "epoch", .y_label = std::move(y_label),
                            .log_y = log_y, .setup = {"set key center right"}};
    for (const Run& run : runs)
      panel.series.push_back({.title = fmt::format("{} lr {}", run.batchnorm ? "BatchNorm" : "no BatchNorm", run.lr),
                              .x = "epoch", .y = column, .where_column = "run", .where_value = run.name(),
                              .style = "linespoints"});
    return panel;
  };
  return {.png = program.out_path("curves.png"),
          .csv = metrics.path(),
          // Log scale: the plain network at lr 0.5 averages a loss in the thousands over its first epoch.
          .panels = {panel("training loss", "cross-entropy", "train_loss", true),
                     panel("training accuracy", "accuracy", "train_accuracy", false),
                     panel("test accuracy", "accuracy", "test_accuracy", false)}};
}

}  // namespace

int main(int argc, char** argv) {
  experiment::Program program("mnist_batchnorm",
                              "MNIST: Linear(784,128)-ReLU-Linear(128,64)-ReLU-Linear(64,10) with and without "
                              "BatchNorm1d after each hidden Linear, trained with SGD (momentum 0.9) and cross-entropy "
                              "at each learning rate of --lrs, then the three claims of the study checked "
                              "(experiment A2)",
                              {}, experiment::kDataFlags | experiment::kResumeFlag);
  StudyConfig config;
  CLI::App& app = program.app();
  app.add_option("--epochs", config.epochs, "Passes over the training data in each run")
      ->capture_default_str()->check(experiment::Positive);
  app.add_option("--batch-size", config.batch_size, "Examples per step")->capture_default_str()->check(experiment::Positive);
  app.add_option("--lrs", config.lrs, "Learning rates; each is run without and with BatchNorm")
      ->delimiter(',')->capture_default_str()->check(experiment::Positive);
  app.add_option("--runs", config.runs,
                 "Only these runs, named bn-<lr> or nobn-<lr> (e.g. bn-0.5,nobn-0.01; default: all)")
      ->delimiter(',');
  for (const char* selection : {"lrs", "runs"}) program.may_change_on_resume(selection);  // each run has its own checkpoint

  return program.run(argc, argv, [&](experiment::Program& p) {
    std::ranges::sort(config.lrs);
    config.lrs.erase(std::unique(config.lrs.begin(), config.lrs.end()), config.lrs.end());
    const std::vector<Run> runs = selected_runs(config);
    const std::string data_dir = p.data_dir();
    const StudyData data{
        .train = mlp_inputs(experiment::limit_dataset(
            std::make_shared<datasets::MNIST>(data_dir, datasets::Split::Train), p.flags().limit_train)),
        .test = mlp_inputs(experiment::limit_dataset(
            std::make_shared<datasets::MNIST>(data_dir, datasets::Split::Test), p.flags().limit_test))};
    fmt::print("{}\n{} training images, {} test images, {} threads\n", *make_model(true), data.train->size(),
               data.test->size(), num_threads());

    experiment::MetricsLog metrics(p.out_path("metrics.csv"), kColumns);
    for (const Run& run : runs) train_run(run, config, data, metrics, p);
    experiment::render(learning_curves(runs, metrics, p));
    fmt::print("metrics, plots and checkpoints in {}\n", p.out_dir().string());
    print_summary(runs, config, metrics);
  });
}
