// ModuleList's and ModuleDict's registration, lookup and printing.
#include <tapegrad/nn/containers.h>

#include <algorithm>

#include <fmt/format.h>

namespace tapegrad::nn {

ModuleSequence& ModuleSequence::append(std::shared_ptr<Module> module) {
  register_module(std::to_string(size()), std::move(module));
  return *this;
}

Tensor ModuleList::forward(const Tensor&) {
  fail("ModuleList has no forward: it only holds modules. Iterate over it and call each module "
       "(for (const auto& layer : list) x = layer->forward(x)), or use nn::Sequential to apply them in order");
}

std::vector<std::string> ModuleList::child_lines() const {
  std::vector<std::string> printed;
  for (const auto& module : *this) printed.push_back(module->str());
  std::vector<std::string> lines;
  for (std::size_t first = 0, end = 0; first < printed.size(); first = end) {
    end = first + 1;
    while (end < printed.size() && printed[end] == printed[first]) ++end;
    lines.push_back(end - first == 1 ? fmt::format("({}): {}", first, printed[first])
                                     : fmt::format("({}-{}): {} x {}", first, end - 1, end - first, printed[first]));
  }
  return lines;
}

ModuleDict::ModuleDict(std::initializer_list<std::pair<std::string, std::shared_ptr<Module>>> modules) {
  for (const auto& [key, module] : modules) set(key, module);
}

void ModuleDict::set(const std::string& key, std::shared_ptr<Module> module) {
  if (contains(key)) {
    replace_module(key, std::move(module));
  } else {
    register_module(key, std::move(module));
  }
}

Tensor ModuleDict::forward(const Tensor&) {
  fail("ModuleDict has no forward: it only holds modules. Look one up by key and call it (dict[key]->forward(x)), "
       "or iterate over the (key, module) pairs");
}

bool ModuleDict::contains(const std::string& key) const {
  return std::any_of(begin(), end(), [&](const auto& entry) { return entry.first == key; });
}

std::vector<std::string> ModuleDict::keys() const {
  std::vector<std::string> out;
  for (const auto& entry : *this) out.push_back(entry.first);
  return out;
}

void ModuleDict::fail_missing(const std::string& key) const {
  if (size() == 0) fail("ModuleDict: there is no module under the key '{}': the dict is empty", key);
  fail("ModuleDict: there is no module under the key '{}'; the keys are: {}", key, fmt::join(keys(), ", "));
}

const std::shared_ptr<Module>& ModuleDict::operator[](const std::string& key) const {
  for (const auto& [name, module] : *this)
    if (name == key) return module;
  fail_missing(key);
}

std::shared_ptr<Module> ModuleDict::pop(const std::string& key) {
  if (!contains(key)) fail_missing(key);
  return remove_module(key);
}

void ModuleDict::clear() {
  for (const std::string& key : keys()) remove_module(key);
}

}  // namespace tapegrad::nn
