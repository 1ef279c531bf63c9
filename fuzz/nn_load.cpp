// nn::load into a fixed model: a file is either loaded whole or refused before anything changes.
#include "fuzz_input.h"
#include "fuzz_model.h"

using namespace tapegrad;

namespace {

std::vector<std::vector<double>> snapshot(const nn::Module& model) {
  std::vector<std::vector<double>> values;
  for (const auto& [name, tensor] : model.state_dict()) values.push_back(tensor.to_vector<double>());
  return values;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::single_threaded();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = fuzz::write_input(data, size, "input.safetensors");
  manual_seed(0);
  const auto model = fuzz::make_model();
  const auto before = snapshot(*model);
  try {
    nn::load(*model, path);
  } catch (const Error&) {
    if (snapshot(*model) != before) __builtin_trap();  // a refused file changed the model
  }
  return 0;
}
