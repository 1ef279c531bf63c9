// DataLoader: batches of a Dataset in a seeded order, as torch.utils.data.DataLoader, iterable
// with `for (auto& [x, y] : loader)`. The order of epoch e depends only on (seed, e), so a run
// is reproducible and can resume mid-epoch from state(); the next batch is collated on a
// background thread while the caller works on the current one.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <iterator>
#include <memory>
#include <vector>

#include <tapegrad/datasets/dataset.h>
#include <tapegrad/datasets/transforms.h>

namespace tapegrad::datasets {

// A function of one example's input (e.g. one image [C, H, W]) that draws any randomness from
// the generator it is given.
using SampleTransform = std::function<Tensor(const Tensor& input, Generator& generator)>;

// Which examples an epoch serves, and in what order, in place of the loader's own order (torch's
// Sampler): a distributed::DistributedSampler gives each rank its shard this way.
class Sampler {
 public:
  virtual ~Sampler() = default;
  virtual std::int64_t size() const = 0;  // indices per epoch
  virtual std::vector<std::int64_t> indices(std::int64_t epoch) const = 0;
};

struct DataLoaderOptions {
  std::int64_t batch_size = 1;
  bool shuffle = false;           // a fresh permutation each epoch
  bool drop_last = false;         // drop a last batch smaller than batch_size
  // Each epoch draws num_samples indices uniformly with replacement (torch's RandomSampler
  // with replacement=True); shuffle is then irrelevant.
  bool with_replacement = false;
  std::int64_t num_samples = -1;  // examples per epoch with replacement; -1: the dataset's size
  bool prefetch = true;           // collate the next batch on a background thread
  std::uint64_t seed = 0;
  // Where batches are handed out. A GPU loader moves each batch there as it collates it — on the
  // prefetch thread, through the backend's pinned staging buffers — so the copy overlaps the
  // training step that uses the batch before.
  Device device = Device::cpu();
  // Applied to each example's input as its batch is collated (on the prefetch thread when
  // prefetching), the batch then stacked from the results: torchvision's per-sample transform.
  // Each example gets its own generator, a function of (seed, epoch, position in the epoch), so
  // augmentation is the same for a seed whatever the batch size, prefetching or thread timing,
  // and differs from epoch to epoch. The examples are read one by one with Dataset::get.
  SampleTransform transform;
  // Serves the sampler's indices each epoch; shuffle and sampling with replacement must be off.
  std::shared_ptr<const Sampler> sampler;

  DataLoaderOptions& with_batch_size(std::int64_t b) { batch_size = b; return *this; }
  DataLoaderOptions& with_shuffle(bool s = true) { shuffle = s; return *this; }
  DataLoaderOptions& with_drop_last(bool d = true) { drop_last = d; return *this; }
  DataLoaderOptions& with_sampling_with_replacement(std::int64_t samples = -1) {
    with_replacement = true;
    num_samples = samples;
    return *this;
  }
  DataLoaderOptions& with_prefetch(bool p) { prefetch = p; return *this; }
  DataLoaderOptions& with_seed(std::uint64_t s) { seed = s; return *this; }
  DataLoaderOptions& with_device(Device d) { device = d; return *this; }
  DataLoaderOptions& with_transform(SampleTransform t) { transform = std::move(t); return *this; }
  DataLoaderOptions& with_sampler(std::shared_ptr<const Sampler> s) { sampler = std::move(s); return *this; }
  // A function without randomness, or an image transform applied to each image [C, H, W] as a
  // batch of one.
  DataLoaderOptions& with_transform(std::function<Tensor(const Tensor&)> t);
  DataLoaderOptions& with_transform(transforms::TransformPtr t);
};

// Where a loader stands: the epoch under way and how many of its batches were handed out.
struct DataLoaderState {
  std::int64_t epoch = 0;
  std::int64_t batches_done = 0;
  friend bool operator==(const DataLoaderState&, const DataLoaderState&) = default;
};

class DataLoader {
  class Worker;

 public:
  DataLoader(DatasetPtr dataset, DataLoaderOptions options);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Walks the rest of the current epoch (all of it unless resumed mid-epoch), handing out one
  // collated batch at a time. Only one iteration may be under way per loader. Leaving the loop
  // early keeps the position: the next iteration continues the same epoch.
  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Example;
    using difference_type = std::ptrdiff_t;

    Iterator(Iterator&& other) noexcept;
    Iterator& operator=(Iterator&&) = delete;
    ~Iterator();

    Example& operator*() { return current_; }
    Example* operator->() { return &current_; }
    Iterator& operator++();
    bool operator==(std::default_sentinel_t) const { return finished_; }

   private:
    friend class DataLoader;
    explicit Iterator(DataLoader* loader);
    void fetch_current();
    void request_next();

    DataLoader* loader_ = nullptr;
    std::shared_ptr<const std::vector<std::int64_t>> order_;
    Example current_;
    std::future<Example> next_;  // the prefetched batch that follows current_, if any
    bool finished_ = true;
  };

  Iterator begin();
  std::default_sentinel_t end() { return {}; }

  // Batches per epoch.
  std::int64_t size() const;
  const Dataset& dataset() const { return *dataset_; }
  const DataLoaderOptions& options() const { return options_; }

  // The example indices of epoch `epoch`, in the order they are served (all of them, before
  // batching or drop_last): a pure function of (seed, epoch).
  std::vector<std::int64_t> epoch_order(std::int64_t epoch) const;

  DataLoaderState state() const { return state_; }
  // Resumes at `state` (as saved by state()); set_epoch(e) is load_state({e, 0}).
  void load_state(const DataLoaderState& state);
  void set_epoch(std::int64_t epoch) { load_state({epoch, 0}); }

 private:
  Example collate(const std::vector<std::int64_t>& order, std::int64_t epoch, std::int64_t batch) const;
  Example transformed_batch(const std::vector<std::int64_t>& indices, std::int64_t epoch,
                            std::int64_t first_position) const;
  std::int64_t samples_per_epoch() const;

  DatasetPtr dataset_;
  DataLoaderOptions options_;
  DataLoaderState state_;
  std::unique_ptr<Worker> worker_;  // present when prefetching
  bool iterating_ = false;
};

}  // namespace tapegrad::datasets
