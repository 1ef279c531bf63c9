// Pixel normalization as the experiments use it: ToTensor's scaling to [0, 1], (x - 0.5) / 0.5,
// and per-pixel standardization with statistics of the training set applied to the test set.
// Each works on one image or a batch alike, so each can be a MappedDataset function.
#pragma once

#include <tapegrad/autodiff/tensor.h>

namespace tapegrad::datasets {

// uint8 pixels (or any tensor) as float32 divided by 255, as torchvision's ToTensor.
Tensor to_unit_range(const Tensor& pixels);

// (x - mean) / std; x is converted to float32 first when it is not floating.
Tensor normalize(const Tensor& x, double mean, double std);

// Per-pixel statistics over the leading (example) dim: mean and standard deviation (unbiased, as
// torch.std), float32 of one example's shape.
struct PixelStatistics {
  Tensor mean;
  Tensor std;
};

// Statistics of images [N, ...] in the units they are given in (uint8 raw values or floats),
// accumulated in float64 a chunk at a time, so a uint8 set is never converted whole.
PixelStatistics pixel_statistics(const Tensor& images);

// (x - mean) / (std + eps), pixel by pixel, for one example or a batch; x is converted to
// float32 when it is not floating, keeping its raw values as pixel_statistics read them.
Tensor standardize(const Tensor& x, const PixelStatistics& statistics, double eps = 1e-6);

}  // namespace tapegrad::datasets
