"""The benchmarks of bench_core.cpp, bench_optim.cpp and bench_nn.cpp written in PyTorch, to compare both on the same machine in
the same minutes (timings on shared machines wander; ratios measured together do not). Needs
Debian's python3-torch; run with Debian's python: /usr/bin/python3 tests/bench/pytorch_reference.py
Not part of the build or the test suite."""
import statistics
import time

import torch


def median_seconds(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def recorded_op_chain(links=1000):
    w = torch.full((4,), 0.999, requires_grad=True)
    b = torch.full((4,), 0.001, requires_grad=True)
    x = torch.ones(4, requires_grad=True)
    y = x
    for _ in range(links):
        y = y * w + b
    y.sum().backward()


def beale(x, y):
    xy = x * y
    t1 = 1.5 - x + xy
    t2 = 2.25 - x + xy * y
    t3 = 2.625 - x + xy * y * y
    return t1 * t1 + t2 * t2 + t3 * t3


def beale_adam(steps=1000):
    x = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    y = torch.tensor(1.4, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([x, y], lr=0.01)
    previous = float("inf")
    for _ in range(steps):
        optimizer.zero_grad()
        f = beale(x, y)
        f.backward()
        optimizer.step()
        value = f.item()
        if abs(previous - value) < 1e-7:
            break
        previous = value
    return x.item(), y.item(), previous


def training_step_seconds(model, optimizer, images, labels, repeats=50):
    def step():
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()
    step()  # warm-up: optimizer state, allocator
    return median_seconds(step, repeats)


def mnist_mlp_step():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64), torch.nn.ReLU(),
                                torch.nn.Linear(64, 10))
    return training_step_seconds(model, torch.optim.Adam(model.parameters(), lr=1e-3), torch.randn(64, 784),
                                 torch.randint(0, 10, (64,)))


def fashion_cnn_step(batch):
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 5, padding=2),
                          nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(7 * 7 * 32, 10))
    return training_step_seconds(model, torch.optim.SGD(model.parameters(), lr=0.04), torch.randn(batch, 1, 28, 28),
                                 torch.randint(0, 10, (batch,)))


def main():
    torch.set_num_threads(2)
    chain = median_seconds(recorded_op_chain, 20)
    print(f"recorded op chain: {chain / 2001 * 1e9:.0f} ns per recorded op")
    seconds = median_seconds(beale_adam, 7)
    print(f"Beale, 1000 Adam steps: {seconds * 1e3:.1f} ms, ends at {beale_adam()}")
    print(f"MNIST MLP Adam step, batch 64: {mnist_mlp_step() * 1e6:.0f} us")
    for batch in (16, 128):
        print(f"FashionMNIST CNN SGD step, batch {batch}: {fashion_cnn_step(batch) * 1e3:.2f} ms")
    for n in (512, 1024):
        a, b = torch.rand(n, n), torch.rand(n, n)
        seconds = median_seconds(lambda: torch.mm(a, b), 20)
        print(f"mm {n}: {2 * n ** 3 / seconds / 1e9:.0f} GFLOP/s")


if __name__ == "__main__":
    main()
