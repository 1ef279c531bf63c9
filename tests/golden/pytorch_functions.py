#!/usr/bin/python3
"""Writes the PyTorch reference for the tensor functions of tests/test_pytorch_parity_functions.cpp:
for each function of one floating input, the input, a random upstream gradient, and what PyTorch
computes: every output and the gradient of sum(output * upstream) with respect to the input.
Functions with several outputs (sort, topk, chunk) record each, and integer outputs (indices)
have no upstream. All float64; boolean masks are stored as int64.

Run with Debian's python3 (PyTorch 1.13): /usr/bin/python3 tests/golden/pytorch_functions.py
It writes tests/golden/functions.safetensors.
"""
import os

import torch

from pytorch_layers import HERE, save_safetensors


def record(tensors, name, function, x, **extra):
    """function(x) returns a tensor or a tuple of tensors; floating outputs get an upstream."""
    x = x.clone().requires_grad_()
    outputs = function(x)
    if isinstance(outputs, torch.Tensor):
        outputs = (outputs,)
    total = 0
    for i, out in enumerate(outputs):
        tensors[f"{name}.output{i}"] = out.detach().clone()
        if out.is_floating_point():
            upstream = torch.randn_like(out)
            tensors[f"{name}.upstream{i}"] = upstream
            total = total + (out * upstream).sum()
    total.backward()
    tensors[f"{name}.input"] = x.detach()
    tensors[f"{name}.grad_input"] = x.grad
    for key, value in extra.items():
        tensors[f"{name}.{key}"] = value


def main():
    torch.manual_seed(0)
    tensors = {}
    x = torch.randn(3, 5, dtype=torch.float64)
    positive = torch.rand(3, 5, dtype=torch.float64) + 0.5
    record(tensors, "erf", torch.erf, x)
    record(tensors, "log1p", torch.log1p, positive)
    record(tensors, "rsqrt", torch.rsqrt, positive)
    # Away from the points where floor and round jump; their gradient is zero.
    record(tensors, "floor", torch.floor, x * 3 + 0.25)
    record(tensors, "round", torch.round, x * 3 + 0.1)
    record(tensors, "var_dim1", lambda t: torch.var(t, dim=1), x)
    record(tensors, "var_all_correction0", lambda t: torch.var(t, unbiased=False), x)
    record(tensors, "std_dim0_keepdim", lambda t: torch.std(t, dim=0, keepdim=True), x)
    mask = torch.rand(1, 5) > 0.5
    record(tensors, "masked_fill", lambda t: t.masked_fill(mask, -2.5), x, mask=mask.to(torch.int64))
    record(tensors, "tril_minus1", lambda t: torch.tril(t, -1), x)
    record(tensors, "triu_1", lambda t: torch.triu(t, 1), x)
    record(tensors, "cumsum_dim1", lambda t: torch.cumsum(t, 1), x)
    record(tensors, "cumsum_dim0", lambda t: torch.cumsum(t, 0), x)
    record(tensors, "chunk_3_dim1", lambda t: torch.chunk(t, 3, 1), x)
    record(tensors, "split_2_dim0", lambda t: torch.split(t, 2, 0), x)
    record(tensors, "sort_dim1", lambda t: torch.sort(t, dim=1), x)
    record(tensors, "sort_dim0_descending", lambda t: torch.sort(t, dim=0, descending=True), x)
    record(tensors, "topk_2_dim1", lambda t: torch.topk(t, 2, dim=1), x)
    record(tensors, "topk_2_dim0_smallest", lambda t: torch.topk(t, 2, dim=0, largest=False), x)
    batched = torch.randn(2, 1, 3, 4, dtype=torch.float64)
    right = torch.randn(3, 4, 2, dtype=torch.float64)
    record(tensors, "matmul_broadcast", lambda t: torch.matmul(t, right), batched, right=right)
    save_safetensors(os.path.join(HERE, "functions.safetensors"), tensors)


if __name__ == "__main__":
    main()
