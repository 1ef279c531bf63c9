// The boundary between libtapegrad and its NCCL module (libtapegrad_nccl.so, built whenever the
// CUDA backend is), which libtapegrad loads with dlopen the first time a collective gets a CUDA
// tensor in a job of several processes: machines without NCCL or CUDA never load it.
#pragma once

#include <tapegrad/kernels/comm/communicator.h>

namespace tapegrad::kernels::comm {

struct NcclModuleEntry {
  static constexpr int kVersion = 1;  // raised whenever the table or Communicator changes
  int version;
  // NCCL's communicator over the ranks of `host_world` (MPI's), created on the first call: rank
  // 0's NCCL id travels over host_world, and each rank takes GPU local_rank % device count.
  Communicator& (*world)(Communicator& host_world);
};

}  // namespace tapegrad::kernels::comm

#define TAPEGRAD_NCCL_MODULE_ENTRY "tapegrad_nccl_module_entry"
extern "C" const tapegrad::kernels::comm::NcclModuleEntry* tapegrad_nccl_module_entry();
