// tapegrad's exception family: every failure a user can cause (bad shapes, dtypes, devices,
// indices, files) surfaces as a tapegrad::Error whose message names the operation, what it
// expected and what it was given.
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace tapegrad {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Thrown when an operation is asked of a device this build or machine cannot serve.
class DeviceError : public Error {
 public:
  using Error::Error;
};

// Thrown when a saved tensor was modified in place or a graph was freed before backward.
class AutogradError : public Error {
 public:
  using Error::Error;
};

template <class... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace tapegrad

#define TAPEGRAD_CHECK(condition, ...)        \
  do {                                        \
    if (!(condition)) ::tapegrad::fail(__VA_ARGS__); \
  } while (false)
