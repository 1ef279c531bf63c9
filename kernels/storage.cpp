// Storage allocation: on the CPU a small storage is one block from the small-block pool holding
// header and data; larger data, and every other device's, comes from the backend's caching
// allocator, with the header from the pool.
#include <tapegrad/kernels/storage.h>

#include <new>

#include <tapegrad/kernels/backend.h>
#include <tapegrad/kernels/error.h>
#include <tapegrad/kernels/small_alloc.h>

namespace tapegrad::kernels {
namespace {

constexpr std::size_t kAlignment = 64;
constexpr std::size_t kHeaderSize = (sizeof(Storage) + kAlignment - 1) / kAlignment * kAlignment;

bool fits_small_block(std::size_t nbytes, Device device) {
  return device.is_cpu() && kHeaderSize + nbytes <= kSmallBlockLimit;
}

}  // namespace

StoragePtr Storage::create(std::size_t nbytes, Device device) {
  if (fits_small_block(nbytes, device)) {
    void* block = small_alloc(kHeaderSize + nbytes);
    return StoragePtr::adopt(new (block) Storage(static_cast<char*>(block) + kHeaderSize, nbytes, device));
  }
  Backend& backend = backend_for(device);
  void* data = backend.allocate(nbytes);
  try {
    return StoragePtr::adopt(new (small_alloc(sizeof(Storage))) Storage(data, nbytes, device));
  } catch (...) {
    backend.deallocate(data, nbytes);
    throw;
  }
}

void Storage::destroy() {
  const std::size_t nbytes = nbytes_;
  const Device device = device_;
  void* data = data_;
  this->~Storage();
  if (fits_small_block(nbytes, device)) {
    small_free(this, kHeaderSize + nbytes);
    return;
  }
  small_free(this, sizeof(Storage));
  backend_for(device).deallocate(data, nbytes);
}

}  // namespace tapegrad::kernels
