// The optimizers and learning-rate schedulers in one include.
#pragma once

#include <tapegrad/optim/adagrad.h>
#include <tapegrad/optim/adam.h>
#include <tapegrad/optim/lbfgs.h>
#include <tapegrad/optim/optimizer.h>
#include <tapegrad/optim/rmsprop.h>
#include <tapegrad/optim/scheduler.h>
#include <tapegrad/optim/sgd.h>
