// safetensors files (autodiff/serialize.h): an accepted file's tensors are read whole, so a
// byte range the header got wrong shows up under AddressSanitizer.
#include "fuzz_input.h"

using namespace tapegrad;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::single_threaded();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  TensorFile file;
  try {
    file = load_tensors(fuzz::write_input(data, size, "input.safetensors"));
  } catch (const Error&) {
    return 0;
  }
  for (const auto& [name, tensor] : file.tensors) {
    if (!tensor.defined()) __builtin_trap();
    (void)tensor.to_vector<double>();
  }
  return 0;
}
