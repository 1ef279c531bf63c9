// The example programs' checkpoints (examples/experiment/checkpoint.h): restoring a model, an
// Adam optimizer, the default generator and a metrics table from one file. Besides
// tapegrad::Error, a checkpoint may be refused with the std::runtime_error MetricsLog throws
// when the metrics' columns differ. What is restored must train: a state that restores but
// fails the next step was checked too little.
#include <cstdio>

#include <experiment/checkpoint.h>

#include "fuzz_input.h"
#include "fuzz_model.h"

using namespace tapegrad;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::single_threaded();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = fuzz::write_input(data, size, "checkpoint.safetensors");
  const auto model = fuzz::make_model();
  optim::Adam optimizer = fuzz::make_optimizer(*model);
  experiment::MetricsLog metrics(fuzz::scratch_dir() / "metrics.csv", fuzz::metrics_columns());
  experiment::Checkpointer checkpoint(path, *model, optimizer, metrics);
  try {
    (void)checkpoint.restore_if(true);
  } catch (const std::runtime_error&) {  // tapegrad::Error is one too
    return 0;
  }
  try {
    optimizer.zero_grad();
    mse_loss(model->forward(ones({2, 3})), zeros({2, 2})).backward();
    optimizer.step();
  } catch (const Error& error) {
    std::fprintf(stderr, "a restored checkpoint fails the next step: %s\n", error.what());
    __builtin_trap();
  }
  return 0;
}
