// IDX files behind gzip: the input is compressed first, so mutations reach the IDX header and
// payload checks of the compressed path (the idx target mostly breaks the compression itself).
#include <zlib.h>

#include "fuzz_input.h"

using namespace tapegrad;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::single_threaded();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = (fuzz::scratch_dir() / "input.idx.gz").string();
  gzFile file = gzopen(path.c_str(), "wb1");
  if (file == nullptr) __builtin_trap();
  if (size > 0 && gzwrite(file, data, static_cast<unsigned>(size)) != static_cast<int>(size)) __builtin_trap();
  if (gzclose(file) != Z_OK) __builtin_trap();
  fuzz::read_idx_consistently(path);
  return 0;
}
