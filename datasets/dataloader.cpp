// DataLoader: epoch orders from (seed, epoch), collation through Dataset::get_batch (or example
// by example through the per-example transform), and a one-slot background worker that collates
// the next batch while the current one is in use.
#include <tapegrad/datasets/dataloader.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <numeric>
#include <thread>
#include <utility>

#include <tapegrad/autodiff/grad_mode.h>
#include <tapegrad/autodiff/ops.h>

namespace tapegrad::datasets {

// A persistent thread that runs one job at a time; the iterator waits for each job's result
// before submitting the next, so one slot suffices.
class DataLoader::Worker {
 public:
  Worker() : thread_([this] { run(); }) {}
  ~Worker() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }

  std::future<Example> submit(std::function<Example()> job) {
    std::packaged_task<Example()> task(std::move(job));
    std::future<Example> result = task.get_future();
    {
      std::lock_guard lock(mutex_);
      task_ = std::move(task);
    }
    wake_.notify_one();
    return result;
  }

 private:
  void run() {
    NoGradGuard no_grad;  // grad mode is per thread; collation never records
    kernels::SerialKernelsGuard serial;  // one batch is small work; leave the cores' teams to the main thread
    for (;;) {
      std::packaged_task<Example()> task;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || task_.valid(); });
        if (!task_.valid()) return;
        task = std::move(task_);
      }
      task();  // an exception reaches the caller through the future
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::packaged_task<Example()> task_;
  bool stopping_ = false;
  std::thread thread_;  // last: it starts running once the members above exist
};

DataLoader::DataLoader(DatasetPtr dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(options) {
  TAPEGRAD_CHECK(dataset_ != nullptr, "DataLoader: no dataset");
  TAPEGRAD_CHECK(options_.batch_size >= 1, "DataLoader: batch_size must be at least 1, got {}", options_.batch_size);
  TAPEGRAD_CHECK(!options_.with_replacement || options_.num_samples >= -1,
                 "DataLoader: num_samples must be -1 (the dataset's size) or non-negative, got {}", options_.num_samples);
  TAPEGRAD_CHECK(!options_.with_replacement || dataset_->size() > 0 || samples_per_epoch() == 0,
                 "DataLoader: cannot sample with replacement from an empty dataset");
  TAPEGRAD_CHECK(options_.sampler == nullptr || (!options_.shuffle && !options_.with_replacement),
                 "DataLoader: a sampler decides the order itself; turn shuffle and sampling with replacement off "
                 "(the sampler shuffles when told to)");
  kernels::backend_for(options_.device);  // an unusable device fails here, not at the first batch
}

DataLoader::~DataLoader() = default;

std::int64_t DataLoader::samples_per_epoch() const {
  if (options_.sampler) return options_.sampler->size();
  if (options_.with_replacement && options_.num_samples >= 0) return options_.num_samples;
  return dataset_->size();
}

std::int64_t DataLoader::size() const {
  const std::int64_t samples = samples_per_epoch(), batch = options_.batch_size;
  return options_.drop_last ? samples / batch : (samples + batch - 1) / batch;
}

std::vector<std::int64_t> DataLoader::epoch_order(std::int64_t epoch) const {
  TAPEGRAD_CHECK(epoch >= 0, "DataLoader: epoch must be non-negative, got {}", epoch);
  const std::int64_t n = dataset_->size();
  if (options_.sampler) {
    std::vector<std::int64_t> order = options_.sampler->indices(epoch);
    for (const std::int64_t index : order)
      TAPEGRAD_CHECK(index >= 0 && index < n, "DataLoader: the sampler gave index {} for a dataset of {} examples; "
                     "build the sampler for this dataset's size", index, n);
    return order;
  }
  // Each epoch reads its own stretch of the seed's Philox counters (2^40 draws apart), so an
  // epoch's order never depends on the epochs before it.
  Generator generator(options_.seed);
  generator.set_offset(static_cast<std::uint64_t>(epoch) << 40);
  if (options_.with_replacement) {
    const std::int64_t samples = samples_per_epoch();
    if (samples == 0) return {};
    return randint(0, n, {samples}, generator).to_vector<std::int64_t>();
  }
  if (options_.shuffle) return randperm(n, generator).to_vector<std::int64_t>();
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), std::int64_t{0});
  return order;
}

void DataLoader::load_state(const DataLoaderState& state) {
  TAPEGRAD_CHECK(!iterating_, "DataLoader::load_state: an iteration is under way; finish or leave it first");
  TAPEGRAD_CHECK(state.epoch >= 0 && state.batches_done >= 0 && state.batches_done <= size(),
                 "DataLoader::load_state: epoch {} batch {} is not a position of this loader ({} batches per epoch)",
                 state.epoch, state.batches_done, size());
  state_ = state;
}

DataLoaderOptions& DataLoaderOptions::with_transform(std::function<Tensor(const Tensor&)> t) {
  TAPEGRAD_CHECK(t != nullptr, "DataLoaderOptions::with_transform: the function is empty");
  transform = [t = std::move(t)](const Tensor& input, Generator&) { return t(input); };
  return *this;
}

DataLoaderOptions& DataLoaderOptions::with_transform(transforms::TransformPtr t) {
  TAPEGRAD_CHECK(t != nullptr, "DataLoaderOptions::with_transform: the transform is null");
  transform = [t = std::move(t)](const Tensor& image, Generator& generator) {
    TAPEGRAD_CHECK(image.dim() == 3, "DataLoader transform: an image transform takes each example as one image "
                   "[C, H, W], got shape {}; for single-channel images [H, W] store the dataset's inputs as "
                   "[N, 1, H, W] (inputs.unsqueeze(1))", image.shape());
    return (*t)(image.unsqueeze(0), generator).squeeze(0);
  };
  return *this;
}

namespace {

// The key of the transforms' generators in epoch `epoch`: splitmix64 of the seed and epoch, so
// their streams are unrelated to the epoch orders' (keyed by the seed itself) and to each other.
std::uint64_t transform_stream_key(std::uint64_t seed, std::int64_t epoch) {
  std::uint64_t z = seed ^ (0x9e3779b97f4a7c15ull * (static_cast<std::uint64_t>(epoch) + 1));
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Counters each example's transform may draw before reaching the next example's.
constexpr int kTransformCountersLog2 = 24;

}  // namespace

Example DataLoader::transformed_batch(const std::vector<std::int64_t>& indices, std::int64_t epoch,
                                      std::int64_t first_position) const {
  NoGradGuard no_grad;
  std::vector<Tensor> inputs, targets;
  inputs.reserve(indices.size());
  targets.reserve(indices.size());
  for (std::size_t k = 0; k < indices.size(); ++k) {
    Example example = dataset_->get(indices[k]);
    Generator generator(transform_stream_key(options_.seed, epoch));
    generator.set_offset(static_cast<std::uint64_t>(first_position + static_cast<std::int64_t>(k))
                         << kTransformCountersLog2);
    inputs.push_back(options_.transform(example.input, generator));
    targets.push_back(std::move(example.target));
  }
  return {stack(inputs), stack(targets)};
}

Example DataLoader::collate(const std::vector<std::int64_t>& order, std::int64_t epoch, std::int64_t batch) const {
  const auto start = static_cast<std::size_t>(batch * options_.batch_size);
  const std::size_t end = std::min(order.size(), start + static_cast<std::size_t>(options_.batch_size));
  const std::vector<std::int64_t> indices(order.begin() + static_cast<std::ptrdiff_t>(start),
                                          order.begin() + static_cast<std::ptrdiff_t>(end));
  Example example = options_.transform ? transformed_batch(indices, epoch, static_cast<std::int64_t>(start))
                                       : dataset_->get_batch(from_vector(indices));
  if (options_.device.is_cpu()) return example;
  return {example.input.to(options_.device), example.target.to(options_.device)};
}

DataLoader::Iterator DataLoader::begin() {
  TAPEGRAD_CHECK(!iterating_, "DataLoader: an iteration over this loader is already under way");
  if (state_.batches_done >= size()) state_ = {state_.epoch + (size() > 0 ? 1 : 0), 0};
  if (options_.prefetch && worker_ == nullptr) worker_ = std::make_unique<Worker>();
  return Iterator(this);
}

DataLoader::Iterator::Iterator(DataLoader* loader) : loader_(loader) {
  if (loader_->size() == 0) {  // nothing to hand out: the epoch is over as soon as it starts
    loader_->state_ = {loader_->state_.epoch + 1, 0};
    loader_ = nullptr;
    return;
  }
  order_ = std::make_shared<const std::vector<std::int64_t>>(loader_->epoch_order(loader_->state_.epoch));
  fetch_current();
  // Only now: had the first batch failed, no iterator would exist to end the iteration.
  loader_->iterating_ = true;
  finished_ = false;
}

DataLoader::Iterator::Iterator(Iterator&& other) noexcept
    : loader_(std::exchange(other.loader_, nullptr)),
      order_(std::move(other.order_)),
      current_(std::move(other.current_)),
      next_(std::move(other.next_)),
      finished_(std::exchange(other.finished_, true)) {}

DataLoader::Iterator::~Iterator() {
  if (next_.valid()) next_.wait();  // the worker may still be reading this iteration's order
  if (loader_ != nullptr) loader_->iterating_ = false;
}

void DataLoader::Iterator::fetch_current() {
  DataLoaderState& state = loader_->state_;
  current_ = next_.valid() ? next_.get() : loader_->collate(*order_, state.epoch, state.batches_done);
  ++state.batches_done;
  request_next();
}

void DataLoader::Iterator::request_next() {
  DataLoaderState& state = loader_->state_;
  if (loader_->worker_ == nullptr || state.batches_done >= loader_->size()) return;
  next_ = loader_->worker_->submit([loader = loader_, order = order_, epoch = state.epoch, batch = state.batches_done] {
    return loader->collate(*order, epoch, batch);
  });
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  DataLoaderState& state = loader_->state_;
  if (state.batches_done < loader_->size()) {
    fetch_current();
    return *this;
  }
  state = {state.epoch + 1, 0};
  finished_ = true;
  current_ = {};
  loader_->iterating_ = false;
  loader_ = nullptr;
  return *this;
}

}  // namespace tapegrad::datasets
