#!/usr/bin/python3
"""Writes the PyTorch reference for tests/test_pytorch_parity.cpp: a small CNN and an MLP with
BatchNorm (float64), their state as PyTorch initialized it, an input batch, and what PyTorch
computes from them: training-mode outputs and loss, every parameter's gradient, the running
statistics after that step, and evaluation-mode outputs.

Run with Debian's python3 (PyTorch 1.13): /usr/bin/python3 tests/golden/pytorch_layers.py
It writes tests/golden/*.safetensors with a minimal safetensors writer (the safetensors package
is not needed), which is also what shows that PyTorch-side files load in tapegrad.
"""
import json
import os
import struct

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.uint8: "U8"}


def save_safetensors(path, tensors):
    header, chunks, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, tensor in tensors.items():
        data = tensor.detach().contiguous().numpy().tobytes()
        header[name] = {"dtype": DTYPES[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def reference(name, model, x, target):
    state = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    out = model(x)
    loss = nn.functional.cross_entropy(out, target)
    loss.backward()
    io = {"input": x, "target": target, "train_output": out, "loss": loss.reshape([])}
    for k, p in model.named_parameters():
        io["grad." + k] = p.grad
    for k, b in model.named_buffers():
        io["after." + k] = b
    model.eval()
    io["eval_output"] = model(x)
    save_safetensors(os.path.join(HERE, name + "_state.safetensors"), state)
    save_safetensors(os.path.join(HERE, name + "_io.safetensors"), io)


def main():
    torch.manual_seed(0)
    cnn = nn.Sequential(nn.Conv2d(2, 3, 3, stride=1, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(3, 4, 2, stride=2, padding=1, dilation=2), nn.Flatten(), nn.Linear(4 * 2 * 2, 5)
                        ).double()
    reference("cnn", cnn, torch.randn(6, 2, 8, 8, dtype=torch.float64), torch.randint(0, 5, (6,)))
    mlp = nn.Sequential(nn.Linear(10, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 6), nn.Tanh(), nn.Linear(6, 3),
                        nn.LogSoftmax(1)).double()
    reference("mlp", mlp, torch.randn(7, 10, dtype=torch.float64), torch.randint(0, 3, (7,)))


if __name__ == "__main__":
    main()
