// Storage allocation beyond the small CPU case (inline in the header): larger data, and every
// other device's, comes from the backend's caching allocator, with the header from the pool.
#include <tapegrad/kernels/storage.h>

#include <tapegrad/kernels/backend.h>

namespace tapegrad::kernels {

StoragePtr Storage::create_large(std::size_t nbytes, Device device) {
  Backend& backend = backend_for(device);
  void* data = backend.allocate(nbytes);
  try {
    return StoragePtr::adopt(new (small_alloc(sizeof(Storage))) Storage(data, nbytes, device));
  } catch (...) {
    backend.deallocate(data, nbytes);
    throw;
  }
}

void Storage::destroy_large() {
  const std::size_t nbytes = nbytes_;
  void* data = data_;
  Backend& backend = backend_for(device_);
  this->~Storage();
  small_free(this, sizeof(Storage));
  backend.deallocate(data, nbytes);
}

}  // namespace tapegrad::kernels
