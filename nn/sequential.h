// Sequential: modules applied in order, named "0", "1", ... as PyTorch's nn.Sequential.
//   nn::Sequential model(nn::Linear(784, 128), nn::ReLU(), nn::Linear(128, 10));
#pragma once

#include <cstddef>
#include <memory>
#include <type_traits>
#include <utility>

#include <tapegrad/nn/module.h>

namespace tapegrad::nn {

class Sequential : public Module {
 public:
  Sequential() = default;
  // Modules by value (moved in) or shared_ptrs to modules (shared).
  template <class... Modules>
  explicit Sequential(Modules&&... modules) {
    (push_back(std::forward<Modules>(modules)), ...);
  }

  template <class M>
    requires std::is_base_of_v<Module, std::decay_t<M>>
  void push_back(M&& module) {
    append(std::make_shared<std::decay_t<M>>(std::forward<M>(module)));
  }
  template <class M>
    requires std::is_base_of_v<Module, M>
  void push_back(std::shared_ptr<M> module) {
    append(std::move(module));
  }

  Tensor forward(const Tensor& input) override;
  std::string name() const override { return "Sequential"; }

  std::size_t size() const { return named_children().size(); }
  // The module at `index` (negative counts from the end); throws when out of range.
  const std::shared_ptr<Module>& operator[](std::ptrdiff_t index) const;
  // The same, cast to its layer type: model.at<Linear>(0).weight. Throws on a type mismatch.
  template <class M>
  M& at(std::ptrdiff_t index) const {
    auto* typed = dynamic_cast<M*>((*this)[index].get());
    TAPEGRAD_CHECK(typed != nullptr, "Sequential::at: module {} is a {}, not the requested type", index,
                   (*this)[index]->name());
    return *typed;
  }

 private:
  void append(std::shared_ptr<Module> module);
};

}  // namespace tapegrad::nn
