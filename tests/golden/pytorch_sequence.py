#!/usr/bin/python3
"""Writes the PyTorch reference for the sequence building blocks of
tests/test_pytorch_parity_sequence.cpp: batched matmul, scaled dot-product attention (PyTorch
1.13 has no F.scaled_dot_product_attention, so torch 2.x's documented formula is spelled out
below), nn.MultiheadAttention, and the recurrent cells and layers (LSTMCell, GRUCell, LSTM, GRU).
For each case: the inputs, the parameters (redrawn at random), random upstream gradients for
every output, the outputs, and the gradients of sum(output * upstream) over all outputs with
respect to every floating input and parameter. All float64; boolean masks are stored as int64.

Run with Debian's python3 (PyTorch 1.13): /usr/bin/python3 tests/golden/pytorch_sequence.py
It writes tests/golden/sequence.safetensors.
"""
import math
import os

import torch
from torch import nn

from pytorch_layers import HERE, save_safetensors


def record(tensors, name, fn, inputs, module=None):
    """inputs: name -> tensor; floating ones get gradients. fn returns a dict of outputs."""
    if module is not None:
        for key, parameter in module.named_parameters():
            with torch.no_grad():
                parameter.copy_(torch.randn_like(parameter) * 0.5)
            tensors[f"{name}.param.{key}"] = parameter.detach().clone()
    leaves = {}
    for key, value in inputs.items():
        if value.dtype == torch.bool:
            tensors[f"{name}.{key}"] = value.to(torch.int64)
            leaves[key] = value
        else:
            leaves[key] = value.clone().requires_grad_(value.is_floating_point())
            tensors[f"{name}.{key}"] = value
    outputs = fn(**leaves)
    total = 0
    for key, out in outputs.items():
        upstream = torch.randn_like(out)
        tensors[f"{name}.{key}"] = out.detach()
        tensors[f"{name}.upstream.{key}"] = upstream
        total = total + (out * upstream).sum()
    total.backward()
    for key, leaf in leaves.items():
        if leaf.dtype != torch.bool and leaf.is_floating_point():
            tensors[f"{name}.grad.{key}"] = leaf.grad
    if module is not None:
        for key, parameter in module.named_parameters():
            tensors[f"{name}.grad.{key}"] = parameter.grad


def sdpa(query, key, value, attn_mask=None, is_causal=False, scale=None):
    """torch 2.x's F.scaled_dot_product_attention, by its documented formula (no dropout)."""
    length, keys = query.size(-2), key.size(-2)
    scale_factor = 1 / math.sqrt(query.size(-1)) if scale is None else scale
    bias = torch.zeros(length, keys, dtype=query.dtype)
    if is_causal:
        bias = bias.masked_fill(torch.ones(length, keys, dtype=torch.bool).tril().logical_not(), float("-inf"))
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            bias = torch.where(attn_mask, bias, torch.tensor(float("-inf"), dtype=query.dtype))
        else:
            bias = attn_mask + bias
    weights = torch.softmax(query @ key.transpose(-2, -1) * scale_factor + bias, dim=-1)
    return weights @ value


def main():
    torch.manual_seed(0)
    torch.set_default_dtype(torch.float64)
    t = {}

    # ---- matmul with batch broadcasting ----
    record(t, "matmul_broadcast", lambda a, b: {"out": torch.matmul(a, b)},
           {"a": torch.randn(2, 1, 3, 4), "b": torch.randn(3, 4, 5)})
    record(t, "matmul_vector_batch", lambda a, b: {"out": torch.matmul(a, b)},
           {"a": torch.randn(4), "b": torch.randn(2, 3, 4, 5)})

    # ---- scaled dot-product attention ----
    q, k, v = torch.randn(2, 2, 3, 4), torch.randn(2, 2, 5, 4), torch.randn(2, 2, 5, 6)
    qkv = {"query": q, "key": k, "value": v}
    record(t, "sdpa_plain", lambda query, key, value: {"out": sdpa(query, key, value)}, qkv)
    record(t, "sdpa_scale", lambda query, key, value: {"out": sdpa(query, key, value, scale=0.3)}, qkv)
    record(t, "sdpa_causal", lambda query, key, value: {"out": sdpa(query, key, value, is_causal=True)}, qkv)
    record(t, "sdpa_float_mask", lambda query, key, value, mask: {"out": sdpa(query, key, value, mask)},
           dict(qkv, mask=torch.randn(3, 5)))
    allowed = torch.rand(2, 1, 3, 5) < 0.6
    allowed[..., 0] = True  # every query keeps a key
    record(t, "sdpa_bool_mask", lambda query, key, value, mask: {"out": sdpa(query, key, value, mask)},
           dict(qkv, mask=allowed))

    # ---- MultiheadAttention (bool masks: True = not allowed) ----
    mha = nn.MultiheadAttention(8, 2)
    padding = torch.tensor([[False, False, True, False], [False, True, False, False]])
    record(t, "mha", lambda query, key, value, key_padding_mask, attn_mask: dict(
        zip(("out", "weights"), mha(query, key, value, key_padding_mask=key_padding_mask, attn_mask=attn_mask))),
           {"query": torch.randn(3, 2, 8), "key": torch.randn(4, 2, 8), "value": torch.randn(4, 2, 8),
            "key_padding_mask": padding, "attn_mask": torch.randn(3, 4)}, mha)
    mha_bf = nn.MultiheadAttention(8, 2, batch_first=True)
    future = torch.ones(3, 3, dtype=torch.bool).triu(1)
    record(t, "mha_self_causal", lambda x, attn_mask: dict(
        zip(("out", "weights"), mha_bf(x, x, x, attn_mask=attn_mask, average_attn_weights=False))),
           {"x": torch.randn(2, 3, 8), "attn_mask": future}, mha_bf)
    mha_nobias = nn.MultiheadAttention(6, 3, bias=False)
    record(t, "mha_unbatched_nobias", lambda query, key, value: dict(
        zip(("out", "weights"), mha_nobias(query, key, value))),
           {"query": torch.randn(2, 6), "key": torch.randn(4, 6), "value": torch.randn(4, 6)}, mha_nobias)

    # ---- recurrent cells and layers ----
    cell = nn.LSTMCell(4, 3)
    record(t, "lstm_cell", lambda input, h0, c0: dict(zip(("h", "c"), cell(input, (h0, c0)))),
           {"input": torch.randn(2, 4), "h0": torch.randn(2, 3), "c0": torch.randn(2, 3)}, cell)
    gru_cell = nn.GRUCell(4, 3)
    record(t, "gru_cell", lambda input, h0: {"h": gru_cell(input, h0)},
           {"input": torch.randn(2, 4), "h0": torch.randn(2, 3)}, gru_cell)
    gru_cell_nobias = nn.GRUCell(4, 3, bias=False)
    record(t, "gru_cell_unbatched_nobias", lambda input, h0: {"h": gru_cell_nobias(input, h0)},
           {"input": torch.randn(4), "h0": torch.randn(3)}, gru_cell_nobias)

    lstm = nn.LSTM(4, 3, num_layers=2)
    record(t, "lstm", lambda input, h0, c0: dict(zip(("out", "h_n", "c_n"), (lambda o: (o[0], *o[1]))(
        lstm(input, (h0, c0))))), {"input": torch.randn(5, 2, 4), "h0": torch.randn(2, 2, 3),
                                   "c0": torch.randn(2, 2, 3)}, lstm)
    lstm_bi = nn.LSTM(4, 3, num_layers=2, batch_first=True, bidirectional=True)
    record(t, "lstm_bidirectional", lambda input: dict(zip(("out", "h_n", "c_n"), (lambda o: (o[0], *o[1]))(
        lstm_bi(input)))), {"input": torch.randn(2, 5, 4)}, lstm_bi)
    gru = nn.GRU(4, 3, num_layers=2)
    record(t, "gru", lambda input, h0: dict(zip(("out", "h_n"), gru(input, h0))),
           {"input": torch.randn(5, 2, 4), "h0": torch.randn(2, 2, 3)}, gru)
    gru_bi = nn.GRU(4, 3, bidirectional=True, bias=False)
    record(t, "gru_bidirectional_unbatched", lambda input: dict(zip(("out", "h_n"), gru_bi(input))),
           {"input": torch.randn(5, 4)}, gru_bi)

    save_safetensors(os.path.join(HERE, "sequence.safetensors"), t)


if __name__ == "__main__":
    main()
