// Anomaly detection, as PyTorch's torch.autograd.detect_anomaly: while the mode is on, every node
// recorded on the tape remembers the call stack of the forward op that made it, and backward
// checks each gradient a node produces, naming the first node whose gradient holds NaN or Inf
// together with that forward call. Slow (a stack capture per op, a device sync per gradient):
// for finding a divergence, not for training.
//
// The mode is global, as PyTorch's: turning it on in main() covers ops and backward passes run on
// any thread (grad mode, by contrast, is per thread).
#pragma once

#include <cstddef>
#include <string>
#include <utility>

#include <tapegrad/kernels/error.h>

namespace tapegrad {

class Tensor;

// Thrown by a backward in anomaly mode when a node's gradient holds NaN or Inf.
class AnomalyError : public AutogradError {
 public:
  AnomalyError(const std::string& message, std::string backward_name, std::size_t output_index)
      : AutogradError(message), backward_name_(std::move(backward_name)), output_index_(output_index) {}
  // The node's backward, PyTorch-style: "SqrtBackward" for the op sqrt.
  const std::string& backward_name() const { return backward_name_; }
  // Which of the node's gradients (one per input of the forward op) was not finite.
  std::size_t output_index() const { return output_index_; }

 private:
  std::string backward_name_;
  std::size_t output_index_;
};

namespace autograd {

void set_detect_anomaly(bool enabled);
bool is_anomaly_enabled();

// Anomaly mode's account of a non-finite forward result, such as a loss: the earliest op on its
// graph whose output held NaN or Inf ("'log' is the earliest op on its graph whose output held
// inf values. The forward call that created it: ..."); not in PyTorch, which checks only
// gradients. Empty when no op recorded in anomaly mode had such an output (the graph was
// recorded with the mode off).
std::string first_non_finite_op(const Tensor& output);

// Turns anomaly detection on (or off) for a scope and restores the previous state on exit.
class detect_anomaly {
 public:
  explicit detect_anomaly(bool enabled = true) : previous_(is_anomaly_enabled()) { set_detect_anomaly(enabled); }
  ~detect_anomaly() { set_detect_anomaly(previous_); }
  detect_anomaly(const detect_anomaly&) = delete;
  detect_anomaly& operator=(const detect_anomaly&) = delete;

 private:
  bool previous_;
};

}  // namespace autograd

}  // namespace tapegrad
