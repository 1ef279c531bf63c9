// Writes a PNG grid to look at the augmentation pipeline of the FashionMNIST study (B1):
// the first row holds original training images, each row below a fresh augmented copy of them
// (RandomResizedCrop(28, scale 0.75-1, ratio 3/4-4/3), then RandomRotation(+-10 degrees)).
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/datasets/datasets.h>
#include <tapegrad/tapegrad.h>

using namespace tapegrad;
namespace transforms = datasets::transforms;

namespace {

constexpr const char* kUsage =
    "usage: show_augmentations [--data-dir DIR] [--out FILE] [--images N] [--copies K] [--seed S]\n"
    "  Writes a PNG grid: N FashionMNIST training images (default 8) in the first row, then K rows\n"
    "  (default 3) of augmented copies: RandomResizedCrop(28, scale 0.75-1, ratio 3/4-4/3) and\n"
    "  RandomRotation(+-10 degrees).\n"
    "  --data-dir DIR  where the datasets are (default: $TAPEGRAD_DATA, else data/)\n"
    "  --out FILE      the PNG to write (default: augmentations.png)\n"
    "  --seed S        seed of the augmentations (default: 0)\n";

struct Flags {
  std::optional<std::string> data_dir;
  std::string out = "augmentations.png";
  std::int64_t images = 8, copies = 3;
  std::uint64_t seed = 0;
};

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "show_augmentations: %s\n%s", message.c_str(), kUsage);
  std::exit(2);
}

std::int64_t integer_at_least(const std::string& flag, const std::string& text, std::int64_t minimum) {
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || value < minimum)
    usage_error(fmt::format("{} expects an integer >= {}, got '{}'", flag, minimum, text));
  return value;
}

Flags parse_flags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) usage_error("unknown flag or missing value: " + flag);
    const std::string value = argv[++i];
    if (flag == "--data-dir") flags.data_dir = value;
    else if (flag == "--out") flags.out = value;
    else if (flag == "--images") flags.images = integer_at_least(flag, value, 1);
    else if (flag == "--copies") flags.copies = integer_at_least(flag, value, 1);
    else if (flag == "--seed") flags.seed = static_cast<std::uint64_t>(integer_at_least(flag, value, 0));
    else usage_error("unknown flag " + flag);
  }
  return flags;
}

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = parse_flags(argc, argv);
  try {
    const datasets::FashionMNIST train(datasets::resolve_data_dir(flags.data_dir), datasets::Split::Train);
    const std::int64_t count = std::min(flags.images, train.size());
    const Tensor originals = datasets::to_unit_range(train.images().narrow(0, 0, count)).unsqueeze(1);  // [N,1,28,28]

    const transforms::Compose augment({std::make_shared<transforms::RandomResizedCrop>(
                                           std::array<std::int64_t, 2>{28, 28}, std::array<double, 2>{0.75, 1.0},
                                           std::array<double, 2>{3.0 / 4.0, 4.0 / 3.0}),
                                       std::make_shared<transforms::RandomRotation>(10.0)});
    Generator generator(flags.seed);
    std::vector<Tensor> rows{originals};
    for (std::int64_t k = 0; k < flags.copies; ++k) rows.push_back(augment(originals, generator));
    datasets::write_png_grid(flags.out, cat(rows, 0), {.columns = count});

    std::vector<std::string> names;
    for (std::int64_t label : train.labels().narrow(0, 0, count).to_vector<std::int64_t>())
      names.emplace_back(datasets::FashionMNIST::kClassNames[static_cast<std::size_t>(label)]);
    fmt::print("wrote {}: {} images ({}) and {} augmented copies of each\n", flags.out, count, fmt::join(names, ", "),
               flags.copies);
    return 0;
  } catch (const Error& error) {
    std::fprintf(stderr, "show_augmentations: %s\n", error.what());
    return 1;
  }
}
