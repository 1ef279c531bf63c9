// MNIST and FashionMNIST as datasets: uint8 images [N, 28, 28] and int64 labels [N], read from
// the IDX files that scripts/fetch_data.sh places under <data dir>/mnist and
// <data dir>/fashion-mnist (each file raw or gzipped).
#pragma once

#include <array>
#include <string>
#include <string_view>

#include <tapegrad/datasets/dataset.h>

namespace tapegrad::datasets {

enum class Split { Train, Test };

// The images and labels of one split of an MNIST-format dataset in `folder` of `data_dir`,
// checked to pair up (equal counts, 28x28 images, labels 0-9).
class MnistFormatDataset : public TensorDataset {
 public:
  MnistFormatDataset(const std::string& data_dir, const std::string& folder, Split split);
  // uint8 [N, 28, 28]
  const Tensor& images() const { return inputs(); }
  // int64 [N], values 0-9
  const Tensor& labels() const { return targets(); }
};

class MNIST : public MnistFormatDataset {
 public:
  MNIST(const std::string& data_dir, Split split) : MnistFormatDataset(data_dir, "mnist", split) {}
};

class FashionMNIST : public MnistFormatDataset {
 public:
  FashionMNIST(const std::string& data_dir, Split split) : MnistFormatDataset(data_dir, "fashion-mnist", split) {}
  // The name of each label, as torchvision lists them.
  static constexpr std::array<std::string_view, 10> kClassNames = {
      "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
};

}  // namespace tapegrad::datasets
