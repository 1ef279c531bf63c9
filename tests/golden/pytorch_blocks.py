#!/usr/bin/python3
"""Writes the PyTorch reference for the building-block layers of tests/test_pytorch_parity.cpp:
for each layer, its input, its parameters (drawn at random, so that an identity-like default
initialization cannot hide a mistake), a random upstream gradient, and what PyTorch computes:
the output and the gradients of sum(output * upstream) with respect to the input (when it is
floating-point) and to every parameter. All float64. The cross-entropy cases record a loss's
output and logit gradient for class weights, ignored targets, label smoothing and probability
targets.

Run with Debian's python3 (PyTorch 1.13): /usr/bin/python3 tests/golden/pytorch_blocks.py
It writes tests/golden/blocks.safetensors.
"""
import os

import torch
from torch import nn

from pytorch_layers import HERE, save_safetensors


def record(tensors, name, layer, x):
    for key, parameter in layer.named_parameters():
        with torch.no_grad():
            parameter.copy_(torch.randn_like(parameter))
        if key == "weight" and isinstance(layer, nn.Embedding) and layer.padding_idx is not None:
            with torch.no_grad():
                parameter[layer.padding_idx].zero_()
        tensors[f"{name}.param.{key}"] = parameter.detach().clone()
    floating = x.is_floating_point()
    if floating:
        x = x.clone().requires_grad_()
    out = layer(x)
    upstream = torch.randn_like(out)
    (out * upstream).sum().backward()
    tensors[f"{name}.input"] = x.detach()
    tensors[f"{name}.upstream"] = upstream
    tensors[f"{name}.output"] = out.detach()
    if floating:
        tensors[f"{name}.grad_input"] = x.grad
    for key, parameter in layer.named_parameters():
        tensors[f"{name}.grad.{key}"] = parameter.grad


def record_loss(tensors, name, loss, logits, target):
    logits = logits.clone().requires_grad_()
    out = loss(logits, target)
    upstream = torch.randn_like(out)
    (out * upstream).sum().backward()
    tensors[f"{name}.input"] = logits.detach()
    tensors[f"{name}.target"] = target
    tensors[f"{name}.upstream"] = upstream
    tensors[f"{name}.output"] = out.detach()
    tensors[f"{name}.grad_input"] = logits.grad
    if loss.weight is not None:
        tensors[f"{name}.weight"] = loss.weight


def main():
    torch.manual_seed(0)
    tensors = {}
    x = torch.randn(3, 4, dtype=torch.float64) * 2
    record(tensors, "gelu", nn.GELU(), x)
    record(tensors, "gelu_tanh", nn.GELU(approximate="tanh"), x)
    record(tensors, "silu", nn.SiLU(), x)
    record(tensors, "leaky_relu", nn.LeakyReLU(0.2), x)
    record(tensors, "softplus", nn.Softplus(beta=2, threshold=1), x)
    record(tensors, "layer_norm", nn.LayerNorm([3, 4]).double(), torch.randn(2, 3, 4, dtype=torch.float64) + 3)
    record(tensors, "group_norm", nn.GroupNorm(3, 6).double(), torch.randn(2, 6, 3, 3, dtype=torch.float64))
    record(tensors, "embedding", nn.Embedding(5, 4, padding_idx=1).double(), torch.tensor([[0, 1, 4], [1, 3, 0]]))
    logits = torch.randn(6, 4, dtype=torch.float64) * 2
    classes = torch.tensor([0, 3, -100, 1, 3, 2])
    weight = torch.rand(4, dtype=torch.float64) + 0.5
    record_loss(tensors, "ce_weighted", nn.CrossEntropyLoss(weight=weight), logits, classes)
    record_loss(tensors, "ce_smoothed", nn.CrossEntropyLoss(label_smoothing=0.2), logits, classes)
    record_loss(tensors, "ce_weighted_smoothed_sum",
                nn.CrossEntropyLoss(weight=weight, label_smoothing=0.1, reduction="sum"), logits, classes)
    record_loss(tensors, "ce_none_ignore_2",
                nn.CrossEntropyLoss(ignore_index=2, reduction="none"), logits, torch.tensor([0, 3, 2, 1, 3, 2]))
    probabilities = torch.softmax(torch.randn(6, 4, dtype=torch.float64), 1)
    record_loss(tensors, "ce_probabilities", nn.CrossEntropyLoss(weight=weight, label_smoothing=0.3), logits,
                probabilities)
    save_safetensors(os.path.join(HERE, "blocks.safetensors"), tensors)


if __name__ == "__main__":
    main()
