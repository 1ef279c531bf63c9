// Storage allocation: on the CPU one block holds header and data (from the small-block pool
// when it fits, 64-byte aligned otherwise); other devices get backend memory.
#include <tapegrad/kernels/storage.h>

#include <new>

#include <tapegrad/kernels/backend.h>
#include <tapegrad/kernels/error.h>
#include <tapegrad/kernels/small_alloc.h>

namespace tapegrad::kernels {
namespace {

constexpr std::size_t kAlignment = 64;
constexpr std::size_t kHeaderSize = (sizeof(Storage) + kAlignment - 1) / kAlignment * kAlignment;

bool fits_small_block(std::size_t nbytes) { return kHeaderSize + nbytes <= kSmallBlockLimit; }

}  // namespace

Storage* Storage::create(std::size_t nbytes, Device device) {
  if (device.is_cpu()) {
    void* block = nullptr;
    try {
      block = fits_small_block(nbytes) ? small_alloc(kHeaderSize + nbytes)
                                       : ::operator new(kHeaderSize + nbytes, std::align_val_t{kAlignment});
    } catch (const std::bad_alloc&) {
      throw Error(fmt::format("out of memory: allocating {} bytes for a tensor on the CPU failed; use smaller "
                              "batches or tensors",
                              nbytes));
    }
    return new (block) Storage(static_cast<char*>(block) + kHeaderSize, nbytes, device);
  }
  void* data = backend_for(device).allocate(nbytes);
  return new Storage(data, nbytes, device);
}

void Storage::destroy() {
  if (device_.is_cpu()) {
    const std::size_t nbytes = nbytes_;
    this->~Storage();
    if (fits_small_block(nbytes)) {
      small_free(this, kHeaderSize + nbytes);
    } else {
      ::operator delete(static_cast<void*>(this), std::align_val_t{kAlignment});
    }
    return;
  }
  backend_for(device_).deallocate(data_, nbytes_);
  delete this;
}

}  // namespace tapegrad::kernels
