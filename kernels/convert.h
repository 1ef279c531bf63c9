// Converting one element between dtypes, for copies and fills on every device. A floating
// value outside [0, 255] has no uint8 (the plain cast would be undefined behaviour), so it
// saturates, and NaN becomes 0; in range it truncates toward zero as torch's .to(torch.uint8).
#pragma once

#include <cstdint>
#include <type_traits>

#include <tapegrad/kernels/host_device.h>

namespace tapegrad::kernels {

template <class D, class S>
TAPEGRAD_HOST_DEVICE inline D convert_element(S value) {
  if constexpr (std::is_same_v<D, std::uint8_t> && std::is_floating_point_v<S>) {
    if (!(value > S(0))) return 0;
    return value < S(255) ? static_cast<D>(value) : D(255);
  } else {
    return static_cast<D>(value);
  }
}

}  // namespace tapegrad::kernels
