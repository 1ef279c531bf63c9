// The whole datasets layer in one include: readers (IDX, LIBSVM, CSV), MNIST/FashionMNIST,
// Dataset / DataLoader, normalization, transforms, test-time augmentation and PNG grids.
#pragma once

#include <tapegrad/datasets/csv.h>
#include <tapegrad/datasets/data_dir.h>
#include <tapegrad/datasets/dataloader.h>
#include <tapegrad/datasets/dataset.h>
#include <tapegrad/datasets/idx.h>
#include <tapegrad/datasets/image_io.h>
#include <tapegrad/datasets/libsvm.h>
#include <tapegrad/datasets/mnist.h>
#include <tapegrad/datasets/distributed_sampler.h>
#include <tapegrad/datasets/normalize.h>
#include <tapegrad/datasets/transforms.h>
#include <tapegrad/datasets/tta.h>
