// A reference-counted block of device memory that tensors view. On the CPU the header and the
// data share one allocation: a small tensor costs one malloc, which matters when every op of
// a long chain of tiny tensors allocates its result. The version counter is shared by all
// views of the storage and bumped by every in-place write, so autodiff can detect that a
// tensor it saved for backward was modified.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>

#include <tapegrad/kernels/device.h>
#include <tapegrad/kernels/small_alloc.h>

namespace tapegrad::kernels {

class StoragePtr;

class Storage {
 public:
  // A new storage and its first owner. The small CPU case, header and data in one pool block, is
  // inline: every op on small tensors makes one, and the call cost more than taking the block.
  static StoragePtr create(std::size_t nbytes, Device device);

  void* data() const { return data_; }
  std::size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  std::uint32_t version() const { return version_.load(std::memory_order_relaxed); }
  // A load and a store, not a locked read-modify-write (tens of cycles, and every in-place update
  // and optimizer step bumps): two threads writing one storage at once race on its contents
  // anyway, and even then the version moves, which is all a saved tensor's check looks at.
  void bump_version() { version_.store(version_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }

  void retain() { refcount_.fetch_add(1, std::memory_order_relaxed); }
  // A sole owner skips the atomic read-modify-write (tens of cycles on a hot path of tiny
  // tensors): nobody else holds a handle it could copy from, so the count cannot rise meanwhile.
  void release() {
    if (refcount_.load(std::memory_order_acquire) == 1 || refcount_.fetch_sub(1, std::memory_order_acq_rel) == 1)
      destroy();
  }
  int use_count() const { return refcount_.load(std::memory_order_relaxed); }

 private:
  // A small block's data begins this far in: the header, rounded up to a cache line.
  static constexpr std::size_t kHeaderSize = 64;
  static bool fits_small_block(std::size_t nbytes, Device device) {
    return device.is_cpu() && kHeaderSize + nbytes <= kSmallBlockLimit;
  }

  Storage(void* data, std::size_t nbytes, Device device) : data_(data), nbytes_(nbytes), device_(device) {}
  static StoragePtr create_large(std::size_t nbytes, Device device);
  void destroy() {
    if (fits_small_block(nbytes_, device_)) {
      const std::size_t block_size = kHeaderSize + nbytes_;
      this->~Storage();
      small_free(this, block_size);
    } else {
      destroy_large();
    }
  }
  void destroy_large();

  std::atomic<int> refcount_{1};  // made by create() for its first owner
  std::atomic<std::uint32_t> version_{0};
  void* data_;
  std::size_t nbytes_;
  Device device_;
};

// Owning handle to a Storage.
class StoragePtr {
 public:
  StoragePtr() = default;
  explicit StoragePtr(Storage* storage) : storage_(storage) {
    if (storage_ != nullptr) storage_->retain();
  }
  StoragePtr(const StoragePtr& other) : StoragePtr(other.storage_) {}
  StoragePtr(StoragePtr&& other) noexcept : storage_(std::exchange(other.storage_, nullptr)) {}
  StoragePtr& operator=(StoragePtr other) noexcept {
    std::swap(storage_, other.storage_);
    return *this;
  }
  ~StoragePtr() {
    if (storage_ != nullptr) storage_->release();
  }

  Storage* get() const { return storage_; }
  // Takes over a reference the caller holds, without counting it again.
  static StoragePtr adopt(Storage* storage) {
    StoragePtr handle;
    handle.storage_ = storage;
    return handle;
  }
  Storage* operator->() const { return storage_; }
  explicit operator bool() const { return storage_ != nullptr; }

 private:
  Storage* storage_ = nullptr;
};

inline StoragePtr Storage::create(std::size_t nbytes, Device device) {
  static_assert(sizeof(Storage) <= kHeaderSize && alignof(Storage) <= kHeaderSize,
                "the Storage header outgrew kHeaderSize, the offset of a small block's data");
  if (!fits_small_block(nbytes, device)) return create_large(nbytes, device);
  void* block = small_alloc(kHeaderSize + nbytes);
  return StoragePtr::adopt(new (block) Storage(static_cast<char*>(block) + kHeaderSize, nbytes, device));
}

}  // namespace tapegrad::kernels
