// The classification loop the MNIST and FashionMNIST examples share: one epoch of
// forward / loss / backward / step with a progress bar and a divergence check, evaluation
// without recording, and the line that closes each epoch.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <tapegrad/tapegrad.h>

namespace experiment {

// Loss of a batch: (model output, targets) -> 0-dim tensor.
using LossFunction = std::function<tapegrad::Tensor(const tapegrad::Tensor&, const tapegrad::Tensor&)>;

struct PassResult {
  double loss = 0;      // mean over examples
  double accuracy = 0;  // fraction of argmax predictions equal to the target
  std::int64_t steps = 0;
  std::int64_t examples = 0;
  double seconds = 0;
};

// Where the epoch stands, for the progress bar and the divergence message.
struct EpochLabel {
  std::int64_t epoch = 0;   // 0-based
  std::int64_t epochs = 1;
  std::string run;          // which of several runs, if any ("bn lr=0.5")
};

// One pass over `loader` (train mode), moving batches to `device`. A non-finite loss throws
// Diverged at once, naming the epoch, step, learning rate and the last finite loss; nothing
// after it (step, checkpoint) happens.
PassResult train_epoch(tapegrad::nn::Module& model, tapegrad::optim::Optimizer& optimizer,
                       tapegrad::datasets::DataLoader& loader, const LossFunction& loss, const EpochLabel& label,
                       tapegrad::Device device);

// Mean loss and accuracy over `data` in eval mode without recording, `batch_size` at a time.
PassResult evaluate(tapegrad::nn::Module& model, const tapegrad::datasets::Dataset& data, const LossFunction& loss,
                    std::int64_t batch_size, tapegrad::Device device);

// Number of rows of `output` whose argmax equals `target`.
std::int64_t count_correct(const tapegrad::Tensor& output, const tapegrad::Tensor& target);

// "epoch  3/15  train loss 0.1234  acc 0.9650  test loss 0.1000  acc 0.9700  1.23 s"
void print_epoch_line(const EpochLabel& label, const PassResult& train, const PassResult& test);

}  // namespace experiment
