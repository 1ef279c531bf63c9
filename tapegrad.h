// The whole public API of tapegrad in one include: tensors, ops, the tape, gradient checking,
// tensor files, the nn module, the optimizers and the datasets.
#pragma once

#include <tapegrad/autodiff/anomaly_mode.h>
#include <tapegrad/autodiff/engine.h>
#include <tapegrad/autodiff/format.h>
#include <tapegrad/autodiff/function.h>
#include <tapegrad/autodiff/generator.h>
#include <tapegrad/autodiff/grad_mode.h>
#include <tapegrad/autodiff/gradcheck.h>
#include <tapegrad/autodiff/node.h>
#include <tapegrad/autodiff/op_table.h>
#include <tapegrad/autodiff/ops.h>
#include <tapegrad/autodiff/serialize.h>
#include <tapegrad/autodiff/tensor.h>
#include <tapegrad/datasets/datasets.h>
#include <tapegrad/kernels/backend.h>
#include <tapegrad/kernels/cpu_memory.h>
#include <tapegrad/kernels/threads.h>
#include <tapegrad/kernels/cuda/cuda.h>
#include <tapegrad/nn/nn.h>
#include <tapegrad/optim/optim.h>
