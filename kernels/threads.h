// How many threads tapegrad's CPU kernels use.
#pragma once

namespace tapegrad {

// Threads used by CPU kernels and BLAS (default: TAPEGRAD_NUM_THREADS, else the cores this
// process may run on). More threads than usable cores only queue behind each other, so a larger
// request is capped at the usable cores, with a notice on stderr.
int num_threads();
void set_num_threads(int threads);
// The cores this process may run on (its CPU affinity).
int usable_cores();

}  // namespace tapegrad
