#include "training.h"

#include <cmath>
#include <cstdio>

#include <fmt/format.h>

#include "distributed_run.h"
#include "program.h"
#include "progress.h"

namespace experiment {

using namespace tapegrad;

namespace {

std::string epoch_text(const EpochLabel& label) {
  const int width = static_cast<int>(std::to_string(label.epochs).size());
  std::string text = fmt::format("epoch {:>{}}/{}", label.epoch + 1, width, label.epochs);
  return label.run.empty() ? text : fmt::format("[{}] {}", label.run, text);
}

}  // namespace

std::int64_t count_correct(const Tensor& output, const Tensor& target) {
  NoGradGuard no_grad;
  return static_cast<std::int64_t>(sum(eq(argmax(output, 1), target).to(kFloat64)).item());
}

PassResult train_epoch(nn::Module& model, optim::Optimizer& optimizer, datasets::DataLoader& loader,
                       const LossFunction& loss_function, const EpochLabel& label, Device device) {
  model.train();
  const GradientAveraging averaging(model);
  ProgressBar progress(epoch_text(label), loader.size());
  PassResult result;
  double loss_sum = 0, last_finite = NAN;
  std::int64_t correct = 0;
  for (auto& [input_batch, target_batch] : loader) {
    const Tensor input = input_batch.to(device), target = target_batch.to(device);
    const Tensor output = model(input);
    Tensor loss = loss_function(output, target);
    // Under mpirun, all ranks must agree that training diverged, or one would stop alone.
    const double value = mean_over_ranks(loss.item());
    if (!std::isfinite(value))
      throw Diverged(fmt::format("the loss became {} at epoch {}, step {} of the epoch (lr {}){}; the last finite loss "
                                 "was {}. Lower --lr (with --resume --override to continue from the last checkpoint).{}",
                                 value, label.epoch + 1, result.steps + 1, optimizer.lr(),
                                 label.run.empty() ? "" : fmt::format(" in run '{}'", label.run), last_finite,
                                 autograd::is_anomaly_enabled() ? " " + autograd::first_non_finite_op(loss) : ""));
    last_finite = value;
    optimizer.zero_grad();
    try {
      loss.backward();
    } catch (const AnomalyError& anomaly) {  // only under --detect-anomaly
      throw Diverged(fmt::format("a gradient became non-finite at epoch {}, step {} of the epoch (lr {}){}, the loss "
                                 "being {}. Lower --lr (with --resume --override to continue from the last "
                                 "checkpoint). {}", label.epoch + 1, result.steps + 1, optimizer.lr(),
                                 label.run.empty() ? "" : fmt::format(" in run '{}'", label.run), value, anomaly.what()));
    }
    optimizer.step();

    const std::int64_t batch = input.size(0);
    loss_sum += value * static_cast<double>(batch);
    correct += count_correct(output, target);
    result.examples += batch;
    ++result.steps;
    progress.update(result.steps, result.examples, value);
  }
  progress.finish();
  result.seconds = progress.elapsed_seconds();
  // Under mpirun each rank saw its shard; the epoch's figures cover all of them.
  double examples = static_cast<double>(result.examples), correct_total = static_cast<double>(correct);
  sum_over_ranks({&loss_sum, &correct_total, &examples});
  result.examples = static_cast<std::int64_t>(examples);
  correct = static_cast<std::int64_t>(correct_total);
  if (result.examples > 0) {
    result.loss = loss_sum / static_cast<double>(result.examples);
    result.accuracy = static_cast<double>(correct) / static_cast<double>(result.examples);
  }
  return result;
}

PassResult evaluate(nn::Module& model, const datasets::Dataset& data, const LossFunction& loss_function,
                    std::int64_t batch_size, Device device) {
  NoGradGuard no_grad;
  model.eval();
  const auto start = std::chrono::steady_clock::now();
  PassResult result;
  double loss_sum = 0;
  std::int64_t correct = 0;
  for (std::int64_t first = 0; first < data.size(); first += batch_size) {
    const std::int64_t count = std::min(batch_size, data.size() - first);
    const datasets::Example batch = data.get_batch(arange(first, first + count, 1, TensorOptions(kInt64)));
    const Tensor input = batch.input.to(device), target = batch.target.to(device);
    const Tensor output = model(input);
    loss_sum += loss_function(output, target).item() * static_cast<double>(count);
    correct += count_correct(output, target);
    result.examples += count;
    ++result.steps;
  }
  model.train();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (result.examples > 0) {
    result.loss = loss_sum / static_cast<double>(result.examples);
    result.accuracy = static_cast<double>(correct) / static_cast<double>(result.examples);
  }
  return result;
}

void print_epoch_line(const EpochLabel& label, const PassResult& train, const PassResult& test) {
  fmt::print("{}  train loss {:.4f}  acc {:.4f}  test loss {:.4f}  acc {:.4f}  {:.2f} s\n", epoch_text(label),
             train.loss, train.accuracy, test.loss, test.accuracy, train.seconds + test.seconds);
  std::fflush(stdout);
}

}  // namespace experiment
