// Generator state and host-side draws.
#include <tapegrad/autodiff/generator.h>

#include <tapegrad/kernels/philox.h>

namespace tapegrad {

void Generator::manual_seed(std::uint64_t seed) {
  std::lock_guard lock(mutex_);
  seed_ = seed;
  offset_ = 0;
}

std::uint64_t Generator::offset() const {
  std::lock_guard lock(mutex_);
  return offset_;
}

void Generator::set_offset(std::uint64_t offset) {
  std::lock_guard lock(mutex_);
  offset_ = offset;
}

std::uint64_t Generator::reserve(std::uint64_t count) {
  std::lock_guard lock(mutex_);
  const std::uint64_t first = offset_;
  offset_ += count;
  return first;
}

std::uint64_t Generator::next_u64() {
  const kernels::Philox4x32 r = kernels::philox4x32(reserve(1), seed_);
  return (static_cast<std::uint64_t>(r.words[0]) << 32) | r.words[1];
}

double Generator::next_double() {
  const kernels::Philox4x32 r = kernels::philox4x32(reserve(1), seed_);
  return kernels::uniform_double(r.words[0], r.words[1]);
}

Generator& default_generator() {
  static Generator generator;
  return generator;
}

void manual_seed(std::uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace tapegrad
