#!/usr/bin/python3
"""Writes the PyTorch reference for the pooling and convolution layers of
tests/test_pytorch_parity_conv_pool.cpp: for each layer, its input, its parameters (drawn at
random), a random upstream gradient, and what PyTorch computes: the output and the gradients of
sum(output * upstream) with respect to the input and to every parameter. All float64.

Run with Debian's python3 (PyTorch 1.13): /usr/bin/python3 tests/golden/pytorch_conv_pool.py
It writes tests/golden/conv_pool.safetensors.
"""
import os

import torch
from torch import nn

from pytorch_blocks import record
from pytorch_layers import HERE, save_safetensors


def image(*shape):
    return torch.randn(*shape, dtype=torch.float64)


def main():
    torch.manual_seed(0)
    tensors = {}
    # Max pooling with dilation and ceil_mode (the last windows hang over the edge).
    record(tensors, "max_pool_dilated_ceil", nn.MaxPool2d(3, stride=2, padding=1, dilation=2, ceil_mode=True),
           image(2, 3, 9, 8))
    record(tensors, "max_pool_ceil", nn.MaxPool2d(2, ceil_mode=True), image(2, 2, 5, 7))
    record(tensors, "max_pool_rectangular",
           nn.MaxPool2d((3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2)), image(1, 2, 7, 8))
    # Average pooling: padding counted or not, ceil_mode, a divisor override.
    record(tensors, "avg_pool", nn.AvgPool2d(2), image(2, 3, 5, 5))
    record(tensors, "avg_pool_padded", nn.AvgPool2d(3, stride=2, padding=1), image(2, 2, 7, 6))
    record(tensors, "avg_pool_ceil_exclude_pad",
           nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False), image(2, 2, 8, 7))
    record(tensors, "avg_pool_ceil_include_pad", nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True),
           image(1, 2, 8, 7))
    record(tensors, "avg_pool_divisor",
           nn.AvgPool2d((2, 3), stride=(2, 1), padding=(1, 1), ceil_mode=True, divisor_override=5), image(1, 3, 5, 6))
    # Adaptive average pooling: overlapping windows, global average, output larger than input.
    record(tensors, "adaptive_avg_pool", nn.AdaptiveAvgPool2d((3, 4)), image(2, 3, 7, 10))
    record(tensors, "adaptive_avg_pool_global", nn.AdaptiveAvgPool2d(1), image(2, 4, 5, 3))
    record(tensors, "adaptive_avg_pool_larger", nn.AdaptiveAvgPool2d((5, 2)), image(1, 2, 4, 9))
    # Grouped and depthwise convolutions.
    record(tensors, "conv_groups", nn.Conv2d(4, 6, 3, padding=1, groups=2).double(), image(2, 4, 6, 5))
    record(tensors, "conv_depthwise", nn.Conv2d(3, 6, 3, stride=2, groups=3, bias=False).double(), image(2, 3, 7, 7))
    record(tensors, "conv_groups_dilated",
           nn.Conv2d(6, 3, (3, 2), stride=(1, 2), padding=(2, 1), dilation=(2, 1), groups=3).double(), image(1, 6, 8, 7))
    # Transposed convolutions.
    record(tensors, "conv_transpose",
           nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2).double(), image(2, 4, 4, 5))
    record(tensors, "conv_transpose_dilated",
           nn.ConvTranspose2d(3, 2, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), bias=False).double(),
           image(1, 3, 5, 4))
    record(tensors, "conv_transpose_plain", nn.ConvTranspose2d(2, 3, 2).double(), image(2, 2, 3, 3))
    record(tensors, "conv_transpose_output_padding_below_dilation",
           nn.ConvTranspose2d(2, 2, 3, output_padding=(1, 2), dilation=(2, 3)).double(), image(1, 2, 3, 4))
    # One-dimensional convolutions.
    record(tensors, "conv1d", nn.Conv1d(3, 4, 3, stride=2, padding=1, dilation=2).double(), image(2, 3, 11))
    record(tensors, "conv1d_depthwise", nn.Conv1d(4, 4, 3, padding=1, groups=4, bias=False).double(), image(2, 4, 7))
    record(tensors, "conv1d_unbatched", nn.Conv1d(2, 3, 2).double(), image(2, 6))
    save_safetensors(os.path.join(HERE, "conv_pool.safetensors"), tensors)


if __name__ == "__main__":
    main()
