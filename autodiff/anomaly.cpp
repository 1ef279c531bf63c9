// Anomaly mode's switch and the forward call stacks it keeps on nodes. The stacks are captured as
// return addresses (cheap) and turned into function names and source lines only when a message
// needs them, by Boost.Stacktrace on libbacktrace, which reads the symbol tables and any debug
// information of the executable and of the shared libraries.
#include <tapegrad/autodiff/anomaly_mode.h>

#include <atomic>

#include <boost/stacktrace.hpp>

#include <tapegrad/autodiff/node.h>

namespace tapegrad {

namespace {
// Global, as PyTorch's: relaxed, since the flag orders nothing else.
std::atomic<bool> anomaly_enabled{false};
}  // namespace

namespace autograd {
void set_detect_anomaly(bool enabled) { anomaly_enabled.store(enabled, std::memory_order_relaxed); }
bool is_anomaly_enabled() { return anomaly_enabled.load(std::memory_order_relaxed); }
}  // namespace autograd

struct ForwardTrace {
  boost::stacktrace::stacktrace frames;
};

void ForwardTraceDeleter::operator()(ForwardTrace* trace) const { delete trace; }

// Not inlined, so that skipping one frame skips exactly this function.
[[gnu::noinline]] void Node::capture_forward_trace() {
  constexpr std::size_t kSkipThisFunction = 1, kMaxFrames = 32;
  forward_trace_.reset(new ForwardTrace{boost::stacktrace::stacktrace(kSkipThisFunction, kMaxFrames)});
}

std::string Node::forward_trace() const {
  return forward_trace_ ? boost::stacktrace::to_string(forward_trace_->frames) : std::string();
}

}  // namespace tapegrad
