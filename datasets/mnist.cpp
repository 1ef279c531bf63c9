// Loading an MNIST-format split: both IDX files, then the checks that tie them together.
#include <tapegrad/datasets/mnist.h>

#include <filesystem>

#include <tapegrad/autodiff/ops.h>
#include <tapegrad/datasets/data_dir.h>
#include <tapegrad/datasets/idx.h>

namespace tapegrad::datasets {
namespace {

constexpr std::int64_t kSide = 28;
constexpr std::int64_t kClasses = 10;

// folder/name, or folder/name.gz when only the compressed file is there.
std::string idx_path(const std::string& data_dir, const std::string& folder, const std::string& name) {
  const std::string relative = folder + "/" + name;
  if (std::filesystem::is_regular_file(std::filesystem::path(data_dir) / (relative + ".gz")) &&
      !std::filesystem::is_regular_file(std::filesystem::path(data_dir) / relative))
    return require_data_file(data_dir, relative + ".gz");
  return require_data_file(data_dir, relative);
}

// The two files' headers must declare images [N, 28, 28] and labels [N] before either payload is
// read, so a header claiming millions of labels costs nothing.
void check_headers(const std::string& images_path, const std::string& labels_path) {
  const Shape images = read_idx_shape(images_path), labels = read_idx_shape(labels_path);
  TAPEGRAD_CHECK(images.size() == 3 && images[1] == kSide && images[2] == kSide,
                 "MNIST: {} holds data of shape {}; expected images [N, 28, 28]", images_path, images);
  TAPEGRAD_CHECK(labels.size() == 1, "MNIST: {} holds data of shape {}; expected labels [N]", labels_path, labels);
  TAPEGRAD_CHECK(images[0] == labels[0], "MNIST: {} holds {} images but {} holds {} labels", images_path, images[0],
                 labels_path, labels[0]);
}

Tensor read_labels(const std::string& path) {
  const Tensor bytes = read_idx(path);
  const std::uint8_t* values = bytes.data_ptr<std::uint8_t>();
  for (std::int64_t i = 0; i < bytes.numel(); ++i)
    TAPEGRAD_CHECK(values[i] < kClasses, "MNIST: label {} of {} is {}; labels must be 0-9", i, path, values[i]);
  return bytes.to(kInt64);
}

}  // namespace

MnistFormatDataset::MnistFormatDataset(const std::string& data_dir, const std::string& folder, Split split)
    : TensorDataset(
          [&] {  // both files are read and checked before the dataset exists
            const std::string prefix = split == Split::Train ? "train" : "t10k";
            const std::string images_path = idx_path(data_dir, folder, prefix + "-images-idx3-ubyte");
            const std::string labels_path = idx_path(data_dir, folder, prefix + "-labels-idx1-ubyte");
            check_headers(images_path, labels_path);
            return Example{read_idx(images_path), read_labels(labels_path)};
          }()) {}

}  // namespace tapegrad::datasets
