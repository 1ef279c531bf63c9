// Where a tensor's memory lives. Every tensor carries one; ops require all inputs on one device.
#pragma once

#include <cstdint>
#include <string>

#include <fmt/format.h>

namespace tapegrad {

enum class DeviceType : std::uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  static constexpr Device cpu() { return {DeviceType::CPU, 0}; }
  static constexpr Device cuda(int index = 0) { return {DeviceType::CUDA, index}; }
  constexpr bool is_cpu() const { return type == DeviceType::CPU; }
  constexpr bool is_cuda() const { return type == DeviceType::CUDA; }
  friend constexpr bool operator==(Device, Device) = default;

  std::string str() const { return is_cpu() ? "cpu" : fmt::format("cuda:{}", index); }
};

}  // namespace tapegrad

template <>
struct fmt::formatter<tapegrad::Device> : fmt::formatter<std::string> {
  auto format(tapegrad::Device device, format_context& ctx) const {
    return fmt::formatter<std::string>::format(device.str(), ctx);
  }
};
