// Storage allocation: one block (header + data) on the CPU, backend memory elsewhere.
#include <tapegrad/kernels/storage.h>

#include <new>

#include <tapegrad/kernels/backend.h>

namespace tapegrad::kernels {
namespace {

constexpr std::size_t kAlignment = 64;
constexpr std::size_t kHeaderSize = (sizeof(Storage) + kAlignment - 1) / kAlignment * kAlignment;

}  // namespace

Storage* Storage::create(std::size_t nbytes, Device device) {
  if (device.is_cpu()) {
    void* block = ::operator new(kHeaderSize + nbytes, std::align_val_t{kAlignment});
    return new (block) Storage(static_cast<char*>(block) + kHeaderSize, nbytes, device);
  }
  void* data = backend_for(device).allocate(nbytes);
  return new Storage(data, nbytes, device);
}

void Storage::destroy() {
  if (device_.is_cpu()) {
    this->~Storage();
    ::operator delete(static_cast<void*>(this), std::align_val_t{kAlignment});
    return;
  }
  backend_for(device_).deallocate(data_, nbytes_);
  delete this;
}

}  // namespace tapegrad::kernels
