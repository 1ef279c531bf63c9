// The nn module in one include: Module, the layers (recurrent and attention ones included), the
// containers (Sequential, ModuleList, ModuleDict), losses, initialization, gradient clipping.
#pragma once

#include <tapegrad/nn/activation.h>
#include <tapegrad/nn/attention.h>
#include <tapegrad/nn/batchnorm.h>
#include <tapegrad/nn/clip_grad.h>
#include <tapegrad/nn/containers.h>
#include <tapegrad/nn/conv.h>
#include <tapegrad/nn/data_parallel.h>
#include <tapegrad/nn/distributed.h>
#include <tapegrad/nn/embedding.h>
#include <tapegrad/nn/init.h>
#include <tapegrad/nn/linear.h>
#include <tapegrad/nn/loss.h>
#include <tapegrad/nn/module.h>
#include <tapegrad/nn/normalization.h>
#include <tapegrad/nn/pooling.h>
#include <tapegrad/nn/rnn.h>
#include <tapegrad/nn/sequential.h>
#include <tapegrad/nn/sync_batchnorm.h>
