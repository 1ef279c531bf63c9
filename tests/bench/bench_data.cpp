// Data pipeline speed: one augmentation pass over the FashionMNIST study's 7,200-image training
// subsample (RandomResizedCrop + RandomRotation, as EXPERIMENTS.md B1), and one epoch of
// batch-64 MNIST loading with per-batch conversion to normalized float32, with and without
// prefetch. Both report images per second. Needs the real data (scripts/fetch_data.sh; the
// directory comes from $TAPEGRAD_DATA, else data/). Rates are per wall-clock second, since prefetch
// moves work off the timed thread.
#include <benchmark/benchmark.h>

#include <memory>
#include <optional>

#include <tapegrad/datasets/datasets.h>
#include <tapegrad/tapegrad.h>

namespace {

using namespace tapegrad;
namespace transforms = datasets::transforms;

template <class Dataset>
std::shared_ptr<Dataset> load_or_skip(benchmark::State& state) {
  try {
    return std::make_shared<Dataset>(datasets::resolve_data_dir(), datasets::Split::Train);
  } catch (const Error& error) {
    state.SkipWithError(error.what());
    return nullptr;
  }
}

void BM_AugmentFashionSubsamplePass(benchmark::State& state) {
  const auto fashion = load_or_skip<datasets::FashionMNIST>(state);
  if (fashion == nullptr) return;
  Generator generator(0);
  const auto subset = datasets::random_subset(fashion, 0.12, generator);
  const Tensor images = datasets::to_unit_range(datasets::load_all(*subset).input).unsqueeze(1);  // [7200,1,28,28]
  const transforms::Compose augment({std::make_shared<transforms::RandomResizedCrop>(
                                         std::array<std::int64_t, 2>{28, 28}, std::array<double, 2>{0.75, 1.0}),
                                     std::make_shared<transforms::RandomRotation>(10.0)});
  for (auto _ : state) benchmark::DoNotOptimize(augment(images, generator));
  state.SetItemsProcessed(state.iterations() * images.size(0));
  state.counters["images"] = static_cast<double>(images.size(0));
}
BENCHMARK(BM_AugmentFashionSubsamplePass)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_MnistEpochBatch64(benchmark::State& state) {
  const auto mnist = load_or_skip<datasets::MNIST>(state);
  if (mnist == nullptr) return;
  const auto normalized = datasets::map_inputs(mnist, [](const Tensor& pixels) {
    return datasets::normalize(datasets::to_unit_range(pixels), 0.5, 0.5);
  });
  datasets::DataLoader loader(normalized, datasets::DataLoaderOptions().with_batch_size(64).with_shuffle().with_prefetch(
                                              state.range(0) != 0));
  for (auto _ : state)
    for (auto& [x, y] : loader) benchmark::DoNotOptimize(x);
  state.SetItemsProcessed(state.iterations() * mnist->size());
}
BENCHMARK(BM_MnistEpochBatch64)->ArgName("prefetch")->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
