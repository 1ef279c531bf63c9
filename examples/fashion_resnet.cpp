// A small residual network on FashionMNIST: a 3x3 stem, three stages of basic residual blocks
// (16, 32 and 64 channels, the last two halving the resolution), BatchNorm after every
// convolution, global average pooling and one Linear layer, as torchvision's ResNet builds them
// (Kaiming-normal convolutions, BatchNorm at weight 1 and bias 0). Trained with SGD (momentum 0.9,
// weight decay 5e-4) under a cosine learning-rate schedule; evaluates on the 10,000 test images
// after every epoch, checkpoints, and writes the metrics and curves.
//
//   build/examples/fashion_resnet                      # 10 epochs, batch 128
//   build/examples/fashion_resnet --blocks 2           # two blocks per stage (a ResNet-14)
//   build/examples/fashion_resnet --epochs 15 --resume # continue from runs/fashion_resnet
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>

#include <fmt/format.h>

#include <experiment/checkpoint.h>
#include <experiment/plot.h>
#include <experiment/program.h>
#include <experiment/training.h>

using namespace tapegrad;

namespace {

// FashionMNIST's training-set pixel mean and standard deviation (after scaling to [0, 1]).
constexpr double kPixelMean = 0.2860;
constexpr double kPixelStd = 0.3530;

// Standardized images with their channel dim, [N, 1, 28, 28] (or [1, 28, 28] for one image),
// converted batch by batch so the dataset stays uint8 in memory.
datasets::DatasetPtr resnet_inputs(datasets::DatasetPtr images) {
  return datasets::map_inputs(std::move(images), [](const Tensor& pixels) {
    const Tensor x = datasets::normalize(datasets::to_unit_range(pixels), kPixelMean, kPixelStd);
    return x.unsqueeze(x.dim() == 3 ? 1 : 0);
  });
}

std::shared_ptr<nn::Conv2d> conv3x3(std::int64_t in, std::int64_t out, std::int64_t stride) {
  return std::make_shared<nn::Conv2d>(in, out, 3, stride, 1, 1, /*bias=*/false);
}

// relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)); the shortcut is the identity, or a strided
// 1x1 convolution with BatchNorm where the block changes the channels or the resolution.
class BasicBlock : public nn::Module {
 public:
  BasicBlock(std::int64_t in, std::int64_t out, std::int64_t stride)
      : conv1_(register_module("conv1", conv3x3(in, out, stride))),
        bn1_(register_module("bn1", std::make_shared<nn::BatchNorm2d>(out))),
        conv2_(register_module("conv2", conv3x3(out, out, 1))),
        bn2_(register_module("bn2", std::make_shared<nn::BatchNorm2d>(out))) {
    if (stride != 1 || in != out)
      shortcut_ = register_module("downsample", std::make_shared<nn::Sequential>(
                                                    nn::Conv2d(in, out, 1, stride, 0, 1, /*bias=*/false),
                                                    nn::BatchNorm2d(out)));
  }

  Tensor forward(const Tensor& x) override {
    const Tensor residual = bn2_->forward(conv2_->forward(relu(bn1_->forward(conv1_->forward(x)))));
    return relu(residual + (shortcut_ ? shortcut_->forward(x) : x));
  }
  std::string name() const override { return "BasicBlock"; }

 private:
  std::shared_ptr<nn::Conv2d> conv1_;
  std::shared_ptr<nn::BatchNorm2d> bn1_;
  std::shared_ptr<nn::Conv2d> conv2_;
  std::shared_ptr<nn::BatchNorm2d> bn2_;
  std::shared_ptr<nn::Sequential> shortcut_;
};

std::shared_ptr<nn::Sequential> make_model(std::int64_t blocks_per_stage) {
  auto model = std::make_shared<nn::Sequential>(nn::Conv2d(1, 16, 3, 1, 1, 1, /*bias=*/false), nn::BatchNorm2d(16),
                                                nn::ReLU());
  std::int64_t channels = 16;
  for (const std::int64_t width : {16, 32, 64})
    for (std::int64_t block = 0; block < blocks_per_stage; ++block) {
      const std::int64_t stride = block == 0 && width != channels ? 2 : 1;
      model->push_back(std::make_shared<BasicBlock>(channels, width, stride));
      channels = width;
    }
  model->push_back(std::make_shared<nn::AdaptiveAvgPool2d>(1));  // global average pooling
  model->push_back(std::make_shared<nn::Flatten>());
  model->push_back(std::make_shared<nn::Linear>(channels, 10));
  // torchvision's initialization: He-normal convolutions keeping the backward pass's variance.
  for (nn::Module* module : model->modules())
    if (auto* conv = dynamic_cast<nn::Conv2d*>(module))
      nn::init::kaiming_normal_(conv->weight, 0, nn::init::FanMode::FanOut, nn::init::Nonlinearity::Relu);
  return model;
}

experiment::Figure training_curves(const experiment::MetricsLog& metrics, const experiment::Program& program) {
  std::vector<experiment::Panel> panels = experiment::loss_and_accuracy_panels("cross-entropy");
  panels.push_back({.title = "learning rate", .x_label = "epoch", .y_label = "lr",
                    .series = {{.title = "lr", .x = "epoch", .y = "lr", .style = "linespoints"}}});
  return {.png = program.out_path("curves.png"), .csv = metrics.path(), .panels = std::move(panels)};
}

}  // namespace

int main(int argc, char** argv) {
  experiment::Program program("fashion_resnet",
                              "FashionMNIST: a residual network (3x3 stem, stages of basic blocks at 16, 32 and 64 "
                              "channels with BatchNorm, global average pooling, Linear) trained with SGD, momentum "
                              "0.9, weight decay 5e-4 and a cosine learning-rate schedule",
                              {.epochs = 10, .batch_size = 128, .lr = 0.1});
  std::int64_t blocks_per_stage = 1;
  double weight_decay = 5e-4;
  std::int64_t stop_after = 0;
  program.app().add_option("--blocks", blocks_per_stage, "Residual blocks per stage (1: a ResNet-8)")
      ->capture_default_str()->check(CLI::Range(1, 16));
  program.app().add_option("--weight-decay", weight_decay, "SGD's L2 penalty")
      ->capture_default_str()->check(experiment::NonNegative);
  program.app().add_option("--stop-after", stop_after,
                           "Stop after this many epochs, as an interrupted run would (the schedule still spans "
                           "--epochs); --resume continues")
      ->check(experiment::Positive);
  program.may_change_on_resume("stop-after");

  return program.run(argc, argv, [&](experiment::Program& p) {
    const experiment::Flags& flags = p.flags();
    const std::string data_dir = p.data_dir();
    const auto train = resnet_inputs(experiment::limit_dataset(
        std::make_shared<datasets::FashionMNIST>(data_dir, datasets::Split::Train), flags.limit_train));
    const auto test = resnet_inputs(experiment::limit_dataset(
        std::make_shared<datasets::FashionMNIST>(data_dir, datasets::Split::Test), flags.limit_test));

    auto model = make_model(blocks_per_stage);
    model->to(p.device());
    optim::SGD optimizer(model->parameters(), {.lr = flags.lr, .momentum = 0.9, .weight_decay = weight_decay});
    optim::CosineAnnealingLR schedule(optimizer, flags.epochs);
    const experiment::LossFunction loss = [](const Tensor& logits, const Tensor& target) {
      return cross_entropy(logits, target);
    };
    datasets::DataLoader loader(train, datasets::DataLoaderOptions().with_batch_size(flags.batch_size)
                                           .with_shuffle().with_seed(flags.seed).with_device(p.device()));

    experiment::MetricsLog metrics(p.out_path("metrics.csv"), {"epoch", "lr", "train_loss", "train_accuracy",
                                                               "test_loss", "test_accuracy", "seconds"});
    experiment::Checkpointer checkpoint(p.out_path("checkpoint.safetensors"), *model, optimizer, metrics);
    checkpoint.track(schedule);
    const std::int64_t first_epoch = checkpoint.restore_if(flags.resume);
    if (first_epoch > 0) fmt::print("resumed from {} after epoch {}\n", checkpoint.path().string(), first_epoch);
    fmt::print("{}\n{} training images, {} test images, {} parameters, {} threads\n", *model, train->size(),
               test->size(), model->parameter_count(), num_threads());

    std::int64_t steps = checkpoint.steps_done();
    experiment::PassResult evaluation;
    const std::int64_t last_epoch = stop_after > 0 ? std::min<std::int64_t>(stop_after, flags.epochs) : flags.epochs;
    for (std::int64_t epoch = first_epoch; epoch < last_epoch; ++epoch) {
      const experiment::EpochLabel label{.epoch = epoch, .epochs = flags.epochs};
      const double lr = schedule.last_lr().front();
      loader.set_epoch(epoch);
      const experiment::PassResult trained = experiment::train_epoch(*model, optimizer, loader, loss, label, p.device());
      evaluation = experiment::evaluate(*model, *test, loss, 500, p.device());
      experiment::print_epoch_line(label, trained, evaluation);
      schedule.step();
      steps += trained.steps;
      metrics.append({epoch + 1, lr, trained.loss, trained.accuracy, evaluation.loss, evaluation.accuracy,
                      trained.seconds + evaluation.seconds});
      checkpoint.save(epoch + 1, steps);
    }
    if (first_epoch >= last_epoch) evaluation = experiment::evaluate(*model, *test, loss, 500, p.device());
    experiment::render(training_curves(metrics, p));
    nn::save(*model, p.out_path("model.safetensors"));
    fmt::print("metrics, plots and model in {}\ntest accuracy {:.4f}\n", p.out_dir().string(), evaluation.accuracy);
  });
}
