// MNIST with a three-layer perceptron and Adam (experiment A1 of docs/results.md): the defaults are the
// notebook's configuration. Trains, evaluates on the 10,000 test digits after every epoch,
// checkpoints, and ends with the test accuracy and the class probabilities of one test digit.
//
//   build/examples/mnist_mlp                       # 15 epochs, about 5 s on 2 cores
//   build/examples/mnist_mlp --epochs 3 --resume   # continue from runs/mnist_mlp/checkpoint
#include <cstdio>

#include <fmt/format.h>

#include <experiment/checkpoint.h>
#include <experiment/distributed_run.h>
#include <experiment/plot.h>
#include <experiment/program.h>
#include <experiment/training.h>

using namespace tapegrad;

namespace {

// Pixels/255, then (x - 0.5) / 0.5, flattened to 784 features; converted batch by batch so the
// dataset stays uint8 in memory.
datasets::DatasetPtr mlp_inputs(datasets::DatasetPtr images) {
  return datasets::map_inputs(std::move(images), [](const Tensor& pixels) {
    const Tensor x = datasets::normalize(datasets::to_unit_range(pixels), 0.5, 0.5);
    return x.dim() == 3 ? x.reshape({x.size(0), 28 * 28}) : x.reshape({28 * 28});
  });
}

std::shared_ptr<nn::Sequential> make_model() {
  return std::make_shared<nn::Sequential>(nn::Linear(784, 128), nn::ReLU(), nn::Linear(128, 64), nn::ReLU(),
                                          nn::Linear(64, 10), nn::LogSoftmax(1));
}

experiment::Figure training_curves(const experiment::MetricsLog& metrics, const experiment::Program& program) {
  return {.png = program.out_path("curves.png"), .csv = metrics.path(),
          .panels = experiment::loss_and_accuracy_panels("NLL loss")};
}

// Prints the predicted distribution over the ten digits for test image `index` and draws it as
// the notebook's bar chart.
void show_class_probabilities(nn::Module& model, const datasets::Dataset& test, std::int64_t index,
                              const experiment::Program& program) {
  NoGradGuard no_grad;
  model.eval();
  const datasets::Example example = test.get_batch(tensor({static_cast<double>(index)}, Shape{1}, kInt64));
  const Tensor probabilities = exp(model(example.input.to(program.device()))).cpu().to(kFloat64).reshape({10});
  const auto label = static_cast<std::int64_t>(example.target.item());
  fmt::print("class probabilities of test image {} (label {}):\n", index, label);
  experiment::MetricsLog table(program.out_path("probabilities.csv"), {"digit", "probability"});
  for (std::int64_t digit = 0; digit < 10; ++digit) {
    const double p = probabilities[digit].item();
    fmt::print("  {}  {:.4f}  {}\n", digit, p, std::string(static_cast<std::size_t>(p * 40 + 0.5), '#'));
    table.append({digit, p});
  }
  experiment::render({.png = program.out_path("probabilities.png"),
                      .csv = table.path(),
                      .panels = {{.title = fmt::format("test image {} (label {})", index, label),
                                  .x_label = "digit", .y_label = "probability",
                                  .setup = {"set style fill solid 0.6", "set boxwidth 0.7", "set xtics 1",
                                            "set yrange [0:1]", "set xrange [-0.6:9.6]", "unset key"},
                                  .series = {{.title = "", .x = "digit", .y = "probability", .style = "boxes"}}}}});
}

}  // namespace

int main(int argc, char** argv) {
  experiment::Program program("mnist_mlp", "MNIST: Linear(784,128)-ReLU-Linear(128,64)-ReLU-Linear(64,10)-LogSoftmax "
                              "trained with Adam and NLL loss (experiment A1)",
                              {.epochs = 15, .batch_size = 64, .lr = 1e-3});
  std::int64_t shown_digit = 0;
  program.app().add_option("--show-digit", shown_digit, "Test image whose class probabilities are printed and plotted")
      ->capture_default_str()->check(experiment::NonNegative);
  program.may_change_on_resume("show-digit");

  return program.run(argc, argv, [&](experiment::Program& p) {
    const experiment::Flags& flags = p.flags();
    const std::string data_dir = p.data_dir();
    const auto train = mlp_inputs(experiment::limit_dataset(
        std::make_shared<datasets::MNIST>(data_dir, datasets::Split::Train), flags.limit_train));
    const auto test = mlp_inputs(experiment::limit_dataset(
        std::make_shared<datasets::MNIST>(data_dir, datasets::Split::Test), flags.limit_test));
    TAPEGRAD_CHECK(shown_digit < test->size(), "--show-digit {} is past the {} test images", shown_digit, test->size());

    auto model = make_model();
    model->to(p.device());
    optim::Adam optimizer(model->parameters(), {.lr = flags.lr});
    const experiment::LossFunction loss = [](const Tensor& log_probabilities, const Tensor& target) {
      return nll_loss(log_probabilities, target);
    };
    // On the CPU a batch is collated where it is used, as PyTorch's DataLoader does by default: it
    // is a gather of 64 rows (tens of microseconds), and on a thread of its own it competed with
    // the kernels' second thread for the second core (epochs run in turn: 0.32-0.49 s prefetching
    // against 0.30-0.40 s inline). On a GPU prefetching overlaps the batch's copy with the step
    // before.
    datasets::DataLoader loader(train, experiment::shard_over_ranks(
                                           datasets::DataLoaderOptions().with_batch_size(flags.batch_size)
                                               .with_shuffle().with_seed(flags.seed).with_device(p.device())
                                               .with_prefetch(p.device().is_cuda()),
                                           train->size()));

    experiment::MetricsLog metrics(p.out_path("metrics.csv"),
                                   {"epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy",
                                    "train_seconds", "test_seconds"});
    experiment::Checkpointer checkpoint(p.out_path("checkpoint.safetensors"), *model, optimizer, metrics);
    const std::int64_t first_epoch = checkpoint.restore_if(flags.resume);
    if (first_epoch > 0) fmt::print("resumed from {} after epoch {}\n", checkpoint.path().string(), first_epoch);
    fmt::print("{}\n{} training images, {} test images, {} parameters, {} threads\n", *model, train->size(),
               test->size(), model->parameter_count(), num_threads());

    std::int64_t steps = checkpoint.steps_done();
    experiment::PassResult evaluation;
    for (std::int64_t epoch = first_epoch; epoch < flags.epochs; ++epoch) {
      const experiment::EpochLabel label{.epoch = epoch, .epochs = flags.epochs};
      loader.set_epoch(epoch);
      const experiment::PassResult trained = experiment::train_epoch(*model, optimizer, loader, loss, label, p.device());
      evaluation = experiment::evaluate(*model, *test, loss, 1000, p.device());
      experiment::print_epoch_line(label, trained, evaluation);
      steps += trained.steps;
      metrics.append({epoch + 1, trained.loss, trained.accuracy, evaluation.loss, evaluation.accuracy,
                      trained.seconds, evaluation.seconds});
      checkpoint.save(epoch + 1, steps);
    }
    if (first_epoch >= flags.epochs) evaluation = experiment::evaluate(*model, *test, loss, 1000, p.device());
    experiment::render(training_curves(metrics, p));
    nn::save(*model, p.out_path("model.safetensors"));
    show_class_probabilities(*model, *test, shown_digit, p);
    fmt::print("metrics, plots and model in {}\ntest accuracy {:.4f}\n", p.out_dir().string(), evaluation.accuracy);
  });
}
