// The backward pass: an iterative walk (never recursive, so million-op chains work) that first
// counts, for every node reachable from the outputs, how many edges point at it, then runs
// nodes in reverse topological order (Kahn), summing the gradients that arrive at each node
// before it runs and freeing saved tensors as it goes.
#include <tapegrad/autodiff/engine.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <span>

#include <tapegrad/autodiff/anomaly_checks.h>
#include <tapegrad/autodiff/node.h>
#include <tapegrad/autodiff/ops.h>
#include <tapegrad/autodiff/ops/common.h>

namespace tapegrad {

namespace {
// The callbacks queued during the backward pass under way on this thread (null when none is).
thread_local std::vector<std::function<void()>>* queued_callbacks = nullptr;
}  // namespace

class Engine {
 public:
  struct Capture {
    Node* node;
    std::size_t input_index;
  };

  // Runs backward from roots[i] seeded with root_grads[i]. With captures (grad()), the gradient
  // arriving at each capture node is stored into captured[input_index] and no leaf
  // accumulator runs.
  static void execute(std::span<const std::shared_ptr<Node>> roots, std::span<Tensor> root_grads, bool keep_graph,
                      bool create_graph, const std::vector<Capture>* captures, std::vector<Tensor>* captured) {
    GradModeGuard grad_mode(create_graph);
    const bool detect_anomaly = autograd::is_anomaly_enabled();
    ScratchLease scratch;
    Scratch& work = scratch.get();
    discover(roots, work);
    // A completed pass leaves every node drained; an exception mid-pass must not leave stale
    // gradients or counts behind for the next pass over a retained graph.
    struct ResetOnThrow {
      Scratch& work;
      bool completed = false;
      ~ResetOnThrow() {
        if (completed) return;
        for (Node* node : work.graph) {
          node->pending_grad_ = Tensor();
          node->dependencies_ = 0;
        }
        for (Tensor& slot : work.grad_inputs) slot = Tensor();
      }
    } reset{work};
    // A pass started from inside another (a node calling grad()) has callbacks of its own.
    std::vector<std::function<void()>> callbacks;
    struct CallbackScope {
      std::vector<std::function<void()>>* outer;
      explicit CallbackScope(std::vector<std::function<void()>>* mine) : outer(queued_callbacks) {
        queued_callbacks = mine;
      }
      ~CallbackScope() { queued_callbacks = outer; }
    } callback_scope(&callbacks);

    // Nodes ready to run, by the edge or root that owns them (a context may need the owner).
    std::vector<const std::shared_ptr<Node>*>& ready = work.ready;
    for (std::size_t i = 0; i < roots.size(); ++i) accumulate(*roots[i], std::move(root_grads[i]));
    for (const auto& root : roots)
      if (root->dependencies_ == 0 &&
          std::none_of(ready.begin(), ready.end(), [&](const auto* owner) { return *owner == root; }))
        ready.push_back(&root);

    std::vector<Tensor>& grad_inputs = work.grad_inputs;
    while (!ready.empty()) {
      const std::shared_ptr<Node>& owner = *ready.back();
      ready.pop_back();
      Node* node = owner.get();
      Tensor grad = std::move(node->pending_grad_);
      if (node->hooks_ && grad.defined()) [[unlikely]]
        grad = node->hooks_->run(std::move(grad), node->name());
      if (captures != nullptr)
        for (const Capture& capture : *captures)
          if (capture.node == node) (*captured)[capture.input_index] = grad;
      // Slots are moved out below, so the buffer is all undefined tensors between nodes.
      if (grad_inputs.size() < node->num_inputs()) grad_inputs.resize(node->num_inputs());
      const bool runs = grad.defined() && !(captures != nullptr && node->is_accumulator());
      if (runs) {
        BackwardContext context(owner, grad, std::span<Tensor>(grad_inputs.data(), node->num_inputs()));
        node->apply(context);
        if (detect_anomaly) [[unlikely]]
          detail::check_backward_finite(*node, std::span<const Tensor>(grad_inputs.data(), node->num_inputs()));
      }
      if (!keep_graph) node->release_saved();
      for (std::size_t i = 0; i < node->num_inputs(); ++i) {
        Tensor grad_input = std::move(grad_inputs[i]);  // leaves the slot empty for the next node
        const std::shared_ptr<Node>& next = node->next(i);
        if (next == nullptr) continue;
        if (grad_input.defined()) accumulate(*next, std::move(grad_input));
        if (--next->dependencies_ == 0) ready.push_back(&next);
      }
    }
    reset.completed = true;
    // Callbacks may queue further callbacks; each runs once, in order.
    for (std::size_t i = 0; i < callbacks.size(); ++i) {
      std::function<void()> callback = std::move(callbacks[i]);
      callback();
    }
  }

 private:
  // Work lists of one pass. Kept per thread and reused, so a backward over a small graph does not
  // pay a dozen vector growths; a backward started from inside another (a node's apply calling
  // grad()) gets fresh ones.
  struct Scratch {
    std::vector<Node*> graph, stack;
    std::vector<const std::shared_ptr<Node>*> ready;
    std::vector<Tensor> grad_inputs;
    bool in_use = false;
  };
  class ScratchLease {
   public:
    ScratchLease() : work_(per_thread().in_use ? nested_ : per_thread()) {
      work_.in_use = true;
      work_.graph.clear();
      work_.stack.clear();
      work_.ready.clear();
    }
    ~ScratchLease() {
      work_.in_use = false;
      // After an exceptionally large graph, give the memory back rather than keep it per thread.
      constexpr std::size_t kKeep = 1 << 16;
      if (work_.graph.capacity() > kKeep) std::vector<Node*>().swap(work_.graph);
      if (work_.stack.capacity() > kKeep) std::vector<Node*>().swap(work_.stack);
      if (work_.ready.capacity() > kKeep) decltype(work_.ready)().swap(work_.ready);
    }
    Scratch& get() { return work_; }

   private:
    static Scratch& per_thread() {
      thread_local Scratch scratch;
      return scratch;
    }
    Scratch nested_;
    Scratch& work_;
  };

  // Marks every node reachable from the roots into work.graph and counts the edges pointing at each.
  static void discover(std::span<const std::shared_ptr<Node>> roots, Scratch& work) {
    static std::atomic<std::uint64_t> pass_counter{0};
    const std::uint64_t mark = ++pass_counter;
    std::vector<Node*>& graph = work.graph;
    std::vector<Node*>& stack = work.stack;
    for (const auto& root : roots) {
      if (root->visit_mark_ == mark) continue;
      root->visit_mark_ = mark;
      graph.push_back(root.get());
      stack.push_back(root.get());
    }
    while (!stack.empty()) {
      Node* node = stack.back();
      stack.pop_back();
      for (std::size_t i = 0; i < node->next_.size(); ++i) {
        const std::shared_ptr<Node>& next = node->next_[i];
        if (!next) continue;
        ++next->dependencies_;
        if (next->visit_mark_ == mark) continue;
        next->visit_mark_ = mark;
        graph.push_back(next.get());
        stack.push_back(next.get());
      }
    }
  }

  static void accumulate(Node& node, Tensor&& grad) {
    Tensor& pending = node.pending_grad_;
    if (!pending.defined()) {
      pending = std::move(grad);
      return;
    }
    if (GradMode::is_enabled() || pending.shape() != grad.shape() || pending.dtype() != grad.dtype() ||
        pending.device() != grad.device()) {  // recorded (create_graph), or not the rule: add's checks
      pending = add(pending, grad);
      return;
    }
    // Gradients of one shape, dtype and device (the rule) go straight to the kernel. Nobody else
    // sees a buffer owned exclusively: summing into it saves an allocation.
    if (owned_exclusively(pending)) {
      add_into(pending, pending, grad);
      return;
    }
    Tensor sum = empty(pending.shape(), detail::options_of(pending));
    add_into(sum, pending, grad);
    pending = std::move(sum);
  }

  // sum = a + b, all of one shape, dtype and device; `sum` is contiguous.
  static void add_into(const Tensor& sum, const Tensor& a, const Tensor& b) {
    kernels::Backend& backend = detail::backend_of(sum);
    if (a.is_contiguous() && b.is_contiguous())
      backend.binary_contiguous(kernels::BinaryOp::Add, sum.dtype(), a.impl().data(), b.impl().data(),
                                sum.impl().data(), sum.numel(), 1);
    else
      backend.binary(kernels::BinaryOp::Add, a.desc(), b.desc(), sum.desc(), 1);
  }

  static bool owned_exclusively(const Tensor& t) {
    return t.impl_ptr().use_count() == 1 && t.impl().storage->use_count() == 1 && t.is_contiguous() &&
           !t.requires_grad();
  }
};

namespace {

// Where a pass starts: the node of output i and the gradient it is seeded with (`gradient`, or 1
// for a single-element output when undefined).
struct Root {
  std::shared_ptr<Node> node;
  Tensor grad;
};

Root make_root(const Tensor& output, const Tensor& gradient, std::size_t i, const char* api) {
  TAPEGRAD_CHECK(output.defined(), "{}: output {} is an undefined tensor", api, i);
  if (!output.requires_grad())
    throw AutogradError(fmt::format(
        "{}: output {} (shape {}) does not require grad and has no grad_fn; was it computed under NoGradGuard, "
        "or from tensors without requires_grad_()?",
        api, i, output.shape()));
  Tensor grad = gradient;
  if (!grad.defined()) {
    TAPEGRAD_CHECK(output.numel() == 1,
                   "{}: a gradient can be implied only for a single-element output, but output {} has shape {}; "
                   "pass its gradient explicitly",
                   api, i, output.shape());
    grad = ones_like(output);
  }
  TAPEGRAD_CHECK(grad.shape() == output.shape() && grad.dtype() == output.dtype(),
                 "{}: gradient {} has shape {} and dtype {}, but its output has shape {} and dtype {}", api, i,
                 grad.shape(), grad.dtype(), output.shape(), output.dtype());
  return {gradient_edge(output), std::move(grad)};
}

struct Roots {
  std::vector<std::shared_ptr<Node>> nodes;
  std::vector<Tensor> grads;
};

Roots make_roots(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs, const char* api) {
  TAPEGRAD_CHECK(!outputs.empty(), "{}: expected at least one output tensor", api);
  TAPEGRAD_CHECK(grad_outputs.empty() || grad_outputs.size() == outputs.size(),
                 "{}: got {} outputs but {} grad_outputs; pass one gradient per output or none", api,
                 outputs.size(), grad_outputs.size());
  Roots roots;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    Root root = make_root(outputs[i], grad_outputs.empty() ? Tensor() : grad_outputs[i], i, api);
    roots.nodes.push_back(std::move(root.node));
    roots.grads.push_back(std::move(root.grad));
  }
  return roots;
}

}  // namespace

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs,
              std::optional<bool> retain_graph, bool create_graph) {
  Roots roots = make_roots(outputs, grad_outputs, "backward");
  Engine::execute(roots.nodes, roots.grads, retain_graph.value_or(create_graph), create_graph, nullptr, nullptr);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, std::optional<bool> retain_graph, bool create_graph,
                         bool allow_unused) {
  Roots roots = make_roots(outputs, grad_outputs, "grad");
  std::vector<Engine::Capture> captures;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& input = inputs[i];
    TAPEGRAD_CHECK(input.defined(), "grad: input {} is an undefined tensor", i);
    if (!input.requires_grad())
      throw AutogradError(fmt::format("grad: input {} (shape {}) does not require grad; call requires_grad_() on it "
                                      "before computing the outputs",
                                      i, input.shape()));
    const AutogradMeta* meta = input.impl().autograd.get();
    std::shared_ptr<Node> node = !input.is_leaf() ? input.grad_fn() : meta ? meta->grad_accumulator : nullptr;
    if (node) captures.push_back({node.get(), i});
  }
  std::vector<Tensor> results(inputs.size());
  Engine::execute(roots.nodes, roots.grads, retain_graph.value_or(create_graph), create_graph, &captures, &results);
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (!results[i].defined() && !allow_unused)
      throw AutogradError(fmt::format(
          "grad: input {} (shape {}) was not used to compute the outputs; pass allow_unused=true to get an "
          "undefined gradient for it instead",
          i, inputs[i].shape()));
  return results;
}

void queue_backward_callback(std::function<void()> callback) {
  TAPEGRAD_CHECK(callback != nullptr, "queue_backward_callback: the callback is empty");
  TAPEGRAD_CHECK(queued_callbacks != nullptr,
                 "queue_backward_callback: no backward pass is under way on this thread; queue callbacks from a "
                 "gradient hook while backward runs");
  queued_callbacks->push_back(std::move(callback));
}

// The common case, one output, without the vectors of the general form: a training step of small
// tensors would spend a tenth of its backward pass allocating and freeing them.
void Tensor::backward(const Tensor& gradient, bool retain_graph, bool create_graph) const {
  Root root = make_root(*this, gradient, 0, "backward");
  Engine::execute(std::span(&root.node, 1), std::span(&root.grad, 1), retain_graph || create_graph, create_graph,
                  nullptr, nullptr);
}

}  // namespace tapegrad
