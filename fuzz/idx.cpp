// IDX files as they come: raw, or gzip-compressed when the bytes start with gzip's magic (the
// reader detects it from the contents), so zlib's gzip parsing is fuzzed along with the headers.
#include "fuzz_input.h"

using namespace tapegrad;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::single_threaded();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = fuzz::write_input(data, size, "input.idx").string();
  fuzz::read_idx_consistently(path);
  return 0;
}
