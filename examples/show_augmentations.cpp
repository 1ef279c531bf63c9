// Writes a PNG grid to look at the augmentation pipeline of the FashionMNIST study (B1):
// the first row holds original training images, each row below a fresh augmented copy of them
// (RandomResizedCrop(28, scale 0.75-1, ratio 3/4-4/3), then RandomRotation(+-10 degrees)).
// The study applies them to standardized images, where the corners a rotation uncovers take the
// mean pixel rather than the black shown here.
//
//   build/examples/show_augmentations --images 8 --copies 3 --out augmentations.png
#include <string>
#include <vector>

#include <fmt/format.h>

#include <experiment/program.h>

using namespace tapegrad;
namespace transforms = datasets::transforms;

namespace {

// This program reads a few images, writes one file rather than a folder of results, and computes
// on the CPU only: of the shared flags it keeps --data-dir, --seed and --threads, and --out
// becomes the PNG's path.
void keep_the_flags_that_apply(CLI::App& app, std::string& png_path) {
  for (const char* flag : {"--limit-train", "--limit-test", "--device", "--out"}) app.remove_option(app.get_option(flag));
  app.add_option("--out", png_path, "The PNG to write")->capture_default_str();
}

}  // namespace

int main(int argc, char** argv) {
  // The output folder is the current one, so that nothing but the PNG is created.
  experiment::Program program("show_augmentations",
                              "Writes a PNG grid: FashionMNIST training images in the first row, then rows of "
                              "augmented copies: RandomResizedCrop(28, scale 0.75-1, ratio 3/4-4/3) and "
                              "RandomRotation(+-10 degrees)",
                              {.out = "."}, experiment::kDataFlags);
  std::string png_path = "augmentations.png";
  std::int64_t images = 8, copies = 3;
  keep_the_flags_that_apply(program.app(), png_path);
  program.app().add_option("--images", images, "Training images shown, one per column")
      ->capture_default_str()->check(experiment::Positive);
  program.app().add_option("--copies", copies, "Rows of augmented copies under the originals")
      ->capture_default_str()->check(experiment::Positive);

  return program.run(argc, argv, [&](experiment::Program& p) {
    const datasets::FashionMNIST train(p.data_dir(), datasets::Split::Train);
    const std::int64_t count = std::min(images, train.size());
    const Tensor originals = datasets::to_unit_range(train.images().narrow(0, 0, count)).unsqueeze(1);  // [N,1,28,28]

    const transforms::Compose augment({std::make_shared<transforms::RandomResizedCrop>(
                                           std::array<std::int64_t, 2>{28, 28}, std::array<double, 2>{0.75, 1.0},
                                           std::array<double, 2>{3.0 / 4.0, 4.0 / 3.0}),
                                       std::make_shared<transforms::RandomRotation>(10.0)});
    Generator generator(p.flags().seed);
    std::vector<Tensor> rows{originals};
    for (std::int64_t k = 0; k < copies; ++k) rows.push_back(augment(originals, generator));
    datasets::write_png_grid(png_path, cat(rows, 0), {.columns = count});

    std::vector<std::string> names;
    for (std::int64_t label : train.labels().narrow(0, 0, count).to_vector<std::int64_t>())
      names.emplace_back(datasets::FashionMNIST::kClassNames[static_cast<std::size_t>(label)]);
    fmt::print("wrote {}: {} images ({}) and {} augmented copies of each\n", png_path, count, fmt::join(names, ", "),
               copies);
  });
}
