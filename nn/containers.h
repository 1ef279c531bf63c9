// ModuleList and ModuleDict: modules held as submodules, so their parameters are listed, moved,
// saved and loaded with the model's, under dotted names ("layers.0.weight", "heads.cls.bias"),
// as PyTorch's nn.ModuleList and nn.ModuleDict. Neither has a forward: the model's own forward
// decides how the modules are used.
//
//   struct Net : nn::Module {
//     std::shared_ptr<nn::ModuleList> layers = register_module("layers", nn::ModuleList{
//         std::make_shared<nn::Linear>(4, 8), std::make_shared<nn::Linear>(8, 8)});
//     Tensor forward(const Tensor& x) override {
//       Tensor y = x;
//       for (const auto& layer : *layers) y = relu(layer->forward(y));
//       return y;
//     }
//   };
#pragma once

#include <cstddef>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <ranges>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <tapegrad/nn/module.h>

namespace tapegrad::nn {

// Modules in order, registered as "0", "1", ...: what ModuleList and Sequential share.
class ModuleSequence : public Module {
 public:
  // Registers `module` under the next index.
  ModuleSequence& append(std::shared_ptr<Module> module);
  // The same for a module by value (moved in) or a shared_ptr to one (shared).
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
  // Appends each of `modules` (shared_ptrs to modules, or another ModuleList) in order.
  template <std::ranges::input_range Modules>
    requires std::is_convertible_v<std::ranges::range_reference_t<Modules>, std::shared_ptr<Module>>
  ModuleSequence& extend(const Modules& modules) {
    // Gathered first, so a list can be extended with itself.
    std::vector<std::shared_ptr<Module>> added;
    for (const auto& module : modules) added.emplace_back(module);
    for (auto& module : added) append(std::move(module));
    return *this;
  }

  std::size_t size() const { return named_children().size(); }
  // The module at `index` (negative counts from the end); throws when out of range.
  const std::shared_ptr<Module>& operator[](std::ptrdiff_t index) const { return child_at(index); }
  // The same, cast to its layer type: layers->at<Linear>(0).weight. Throws on a type mismatch.
  template <class M>
  M& at(std::ptrdiff_t index) const {
    auto* typed = dynamic_cast<M*>((*this)[index].get());
    TAPEGRAD_CHECK(typed != nullptr, "{}::at: module {} is a {}, not the requested type", name(), index,
                   (*this)[index]->name());
    return *typed;
  }

  // The modules in order, as shared_ptrs: named_children()'s second members. (Written out, where
  // std::views::values would do: clang 14 cannot compile that view over libstdc++ 12's vector.)
  class Iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = std::shared_ptr<Module>;
    using difference_type = std::ptrdiff_t;
    using reference = const std::shared_ptr<Module>&;
    using pointer = const std::shared_ptr<Module>*;

    Iterator() = default;
    explicit Iterator(std::vector<std::pair<std::string, std::shared_ptr<Module>>>::const_iterator entry)
        : entry_(entry) {}
    reference operator*() const { return entry_->second; }
    pointer operator->() const { return &entry_->second; }
    Iterator& operator++() {
      ++entry_;
      return *this;
    }
    Iterator operator++(int) {
      const Iterator before = *this;
      ++entry_;
      return before;
    }
    bool operator==(const Iterator&) const = default;

   private:
    std::vector<std::pair<std::string, std::shared_ptr<Module>>>::const_iterator entry_;
  };
  Iterator begin() const { return Iterator(named_children().begin()); }
  Iterator end() const { return Iterator(named_children().end()); }
};

class ModuleList : public ModuleSequence {
 public:
  ModuleList() = default;
  ModuleList(std::initializer_list<std::shared_ptr<Module>> modules) { extend(modules); }
  explicit ModuleList(const std::vector<std::shared_ptr<Module>>& modules) { extend(modules); }

  // Throws: a list has no computation of its own.
  Tensor forward(const Tensor& input) override;
  std::string name() const override { return "ModuleList"; }

 protected:
  // Folds a run of modules that print alike into one entry, "(0-2): 3 x Linear(...)", as PyTorch.
  std::vector<std::string> child_lines() const override;
};

// Modules under string keys, in insertion order. A key is a submodule name: non-empty, no '.'.
class ModuleDict : public Module {
 public:
  ModuleDict() = default;
  ModuleDict(std::initializer_list<std::pair<std::string, std::shared_ptr<Module>>> modules);

  // Registers `module` under `key`; an existing key keeps its place and gets the new module, as
  // assigning to a key does in PyTorch. By value (moved in) or as a shared_ptr (shared); returns
  // the module, typed.
  template <class M>
    requires std::is_base_of_v<Module, M>
  std::shared_ptr<M> insert(const std::string& key, std::shared_ptr<M> module) {
    set(key, module);
    return module;
  }
  template <class M>
    requires std::is_base_of_v<Module, std::decay_t<M>>
  std::shared_ptr<std::decay_t<M>> insert(const std::string& key, M&& module) {
    return insert(key, std::make_shared<std::decay_t<M>>(std::forward<M>(module)));
  }

  // Throws: a dict has no computation of its own.
  Tensor forward(const Tensor& input) override;
  std::string name() const override { return "ModuleDict"; }

  std::size_t size() const { return named_children().size(); }
  bool contains(const std::string& key) const;
  std::vector<std::string> keys() const;
  // The module under `key`; throws naming the keys there are when there is none.
  const std::shared_ptr<Module>& operator[](const std::string& key) const;
  // Removes the module under `key` and returns it, as PyTorch's pop; throws when there is none.
  std::shared_ptr<Module> pop(const std::string& key);
  // The same without the result, as `del dict[key]`.
  void erase(const std::string& key) { (void)pop(key); }
  void clear();
  // The same, cast to its layer type: heads->at<Linear>("cls").weight. Throws on a type mismatch.
  template <class M>
  M& at(const std::string& key) const {
    auto* typed = dynamic_cast<M*>((*this)[key].get());
    TAPEGRAD_CHECK(typed != nullptr, "ModuleDict::at: module '{}' is a {}, not the requested type", key,
                   (*this)[key]->name());
    return *typed;
  }

  // (key, module) pairs in insertion order.
  auto begin() const { return named_children().begin(); }
  auto end() const { return named_children().end(); }

 private:
  void set(const std::string& key, std::shared_ptr<Module> module);
  [[noreturn]] void fail_missing(const std::string& key) const;
};

}  // namespace tapegrad::nn
