// The boundary between libtapegrad and its MPI module (libtapegrad_mpi.so), which libtapegrad
// loads with dlopen only when an MPI launcher started the process: programs that never run under
// mpirun neither need nor initialize MPI. The module exports one C function returning this table.
#pragma once

#include <tapegrad/kernels/comm/communicator.h>

namespace tapegrad::kernels::comm {

struct MpiModuleEntry {
  static constexpr int kVersion = 1;  // raised whenever the table or Communicator changes
  int version;
  // MPI's world, initialized (MPI_THREAD_FUNNELED) on the first call; finalized at exit.
  Communicator& (*world)();
};

}  // namespace tapegrad::kernels::comm

#define TAPEGRAD_MPI_MODULE_ENTRY "tapegrad_mpi_module_entry"
extern "C" const tapegrad::kernels::comm::MpiModuleEntry* tapegrad_mpi_module_entry();
