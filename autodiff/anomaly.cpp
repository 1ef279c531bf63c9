// Anomaly mode: its switch, what it keeps for each node recorded while it is on (the forward
// call stack and whether the op's outputs were finite) and the checks and messages built from
// them. That record lives in a table beside the nodes, so that nodes carry nothing for it and
// cost nothing more with the mode off. Stacks are captured as return addresses (cheap) and turned
// into function names and source lines only when a message needs them, by Boost.Stacktrace on
// libbacktrace, which reads the symbol tables and any debug information of the executable and of
// the shared libraries.
#include <tapegrad/autodiff/anomaly_checks.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <boost/stacktrace.hpp>

#include <tapegrad/autodiff/anomaly_mode.h>
#include <tapegrad/autodiff/ops.h>

namespace tapegrad {

namespace {

struct ForwardCall {
  boost::stacktrace::stacktrace frames;
  std::uint64_t sequence = 0;        // the order in which ops were recorded in anomaly mode
  const char* non_finite = nullptr;  // "nan" or "inf" when an output of the op held such values
};

// Global, as PyTorch's: relaxed, since the flag orders nothing else.
std::atomic<bool> anomaly_enabled{false};

// "nan" or "inf" when `tensor` holds such values (NaN first), else null.
const char* non_finite_kind(const Tensor& tensor) {
  if (!tensor.defined() || !tensor.is_floating_point()) return nullptr;
  NoGradGuard no_grad;  // a check, not part of any graph
  // 0 * x is NaN exactly where x is NaN or infinite, and a sum of zeros cannot overflow.
  if (!std::isnan(sum(mul(tensor, 0.0)).item())) return nullptr;
  return any(ne(tensor, tensor)).item() != 0 ? "nan" : "inf";
}

// PyTorch's names for backward functions: "binary_cross_entropy" -> "BinaryCrossEntropyBackward";
// a custom function's class name gets the suffix as it is.
std::string backward_name_of(std::string_view op) {
  const bool snake_case = std::all_of(op.begin(), op.end(), [](char c) {
    return c == '_' || std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c));
  });
  if (!snake_case) return std::string(op) + "Backward";
  std::string name;
  bool word_start = true;
  for (const char c : op) {
    if (c == '_') {
      word_start = true;
      continue;
    }
    name += word_start ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    word_start = false;
  }
  return name + "Backward";
}

// The forward calls of the nodes recorded in anomaly mode, by node. Each entry holds its node
// weakly: a dead node's entry is never found again (its memory, which the weak reference keeps,
// cannot hold another node), and entries of dead nodes are swept out as the table grows.
class ForwardCalls {
 public:
  void add(const std::shared_ptr<Node>& node, ForwardCall call) {
    std::lock_guard lock(mutex_);
    if (calls_.size() >= 2 * size_after_sweep_ + 1024) sweep_locked();
    calls_.insert_or_assign(node.get(), Entry{node, std::move(call)});
  }
  std::optional<ForwardCall> find(const Node& node) const {
    std::lock_guard lock(mutex_);
    const auto entry = calls_.find(&node);
    if (entry == calls_.end() || entry->second.node.expired()) return std::nullopt;
    return entry->second.call;
  }

 private:
  struct Entry {
    std::weak_ptr<Node> node;
    ForwardCall call;
  };
  void sweep_locked() {
    std::erase_if(calls_, [](const auto& entry) { return entry.second.node.expired(); });
    size_after_sweep_ = calls_.size();
  }
  mutable std::mutex mutex_;
  std::unordered_map<const Node*, Entry> calls_;
  std::size_t size_after_sweep_ = 0;
};

ForwardCalls& forward_calls() {
  static ForwardCalls calls;
  return calls;
}

// The stack of the forward call, one frame a line, innermost first.
std::string frames_text(const ForwardCall& call) {
  std::string text;
  int number = 0;
  for (const boost::stacktrace::frame& frame : call.frames) {
    std::string line = boost::stacktrace::to_string(frame);
    // The recording templates above the op, when not inlined, say nothing about the call.
    if (number == 0 && (line.starts_with("void tapegrad::record<") || line.starts_with("void tapegrad::record_node<")))
      continue;
    text += fmt::format("{:>3}# {}\n", number++, line);
  }
  return text;
}

std::string forward_call_text(const std::optional<ForwardCall>& call) {
  return call ? "\nThe forward call that created it:\n" + frames_text(*call)
              : " Its forward call was not recorded: anomaly mode was off when it ran.";
}

}  // namespace

namespace autograd {
void set_detect_anomaly(bool enabled) { anomaly_enabled.store(enabled, std::memory_order_relaxed); }
bool is_anomaly_enabled() { return anomaly_enabled.load(std::memory_order_relaxed); }
}  // namespace autograd

// Not inlined, so that skipping one frame skips exactly this function.
[[gnu::noinline]] void detail::record_forward_call(const std::shared_ptr<Node>& node, std::span<const Tensor> outputs) {
  constexpr std::size_t kSkipThisFunction = 1, kMaxFrames = 32;
  static std::atomic<std::uint64_t> recorded{0};
  ForwardCall call{boost::stacktrace::stacktrace(kSkipThisFunction, kMaxFrames),
                   recorded.fetch_add(1, std::memory_order_relaxed)};
  for (const Tensor& output : outputs)
    if (call.non_finite == nullptr) call.non_finite = non_finite_kind(output);
  forward_calls().add(node, std::move(call));
}

namespace autograd {

std::string first_non_finite_op(const Tensor& output) {
  if (!output.defined() || !output.grad_fn()) return {};
  // Iterative walk (graphs may be a million nodes deep) for the non-finite node recorded first.
  std::vector<const Node*> stack{output.grad_fn().get()};
  std::unordered_set<const Node*> seen{stack.back()};
  const Node* earliest = nullptr;
  std::optional<ForwardCall> earliest_call;
  while (!stack.empty()) {
    const Node* node = stack.back();
    stack.pop_back();
    std::optional<ForwardCall> call = forward_calls().find(*node);
    if (call && call->non_finite != nullptr && (!earliest_call || call->sequence < earliest_call->sequence)) {
      earliest = node;
      earliest_call = std::move(call);
    }
    for (std::size_t i = 0; i < node->num_inputs(); ++i)
      if (const Node* next = node->next(i).get(); next != nullptr && seen.insert(next).second) stack.push_back(next);
  }
  if (earliest == nullptr) return {};
  return fmt::format("'{}' is the earliest op on its graph whose output held {} values.{}", earliest->name(),
                     earliest_call->non_finite, forward_call_text(earliest_call));
}

}  // namespace autograd

void detail::check_backward_finite(const Node& node, std::span<const Tensor> grads) {
  for (std::size_t i = 0; i < grads.size(); ++i) {
    const char* kind = non_finite_kind(grads[i]);
    if (kind == nullptr) continue;
    const std::string backward_name = backward_name_of(node.name());
    throw AnomalyError(fmt::format("Function '{}' returned {} values in its {}th output (the gradient of input {} of "
                                   "'{}').{}",
                                   backward_name, kind, i, i, node.name(), forward_call_text(forward_calls().find(node))),
                       backward_name, i);
  }
}

}  // namespace tapegrad
