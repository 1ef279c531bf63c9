"""The training of tapegrad's example programs mnist_mlp (A1) and fashion_augment (B1, setting "none") written in
PyTorch, timed the way those programs time themselves, so that tests/bench/compare_pytorch.sh can set one beside
the other. Reads the same IDX files as tapegrad (data/, see scripts/fetch_data.sh). Needs Debian's python3-torch;
run it with Debian's python: /usr/bin/python3 tests/bench/pytorch_training.py mnist_mlp --epochs 3
A development tool: not part of the build or the test suite.

Prints one machine-readable line per epoch (the training time, then the evaluation after it, timed apart as the
example programs time them apart):
  epoch_seconds 1 0.734
  eval_seconds 1 0.121
"""
import argparse
import ctypes
import gzip
import math
import os
import pathlib
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]

# fashion_augment's random streams: seed XOR (stream * golden ratio), as stream_seed() there. Only the seeds are
# shared, not the generators (tapegrad's differ from torch's), so the subsample and batches are alike in kind only.
GOLDEN = 0x9E3779B97F4A7C15
SUBSAMPLE_STREAM, SAMPLING_STREAM = 1, 2


def stream_seed(seed, stream):
    return (seed ^ (stream * GOLDEN)) & 0xFFFFFFFFFFFFFFFF


# ---- data: the IDX files of data/mnist and data/fashion-mnist, raw or gzipped (datasets/mnist.cpp's rule) ----

def data_dir(flag):
    if flag:
        return pathlib.Path(flag)
    env = os.environ.get("TAPEGRAD_DATA")
    return pathlib.Path(env) if env else REPO_ROOT / "data"


def idx_path(directory, folder, name):
    raw = directory / folder / name
    compressed = directory / folder / (name + ".gz")
    if compressed.is_file() and not raw.is_file():
        return compressed
    if not raw.is_file():
        sys.exit(f"pytorch_training.py: missing data file {raw} (or {compressed}); fetch the datasets with "
                 f"scripts/fetch_data.sh{'' if directory == REPO_ROOT / 'data' else ' --data-dir ' + str(directory)}")
    return raw


def read_idx(path):
    data = (gzip.open if path.suffix == ".gz" else open)(path, "rb").read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        sys.exit(f"pytorch_training.py: {path} is not an IDX file of unsigned bytes")
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    values = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims)
    if values.size != math.prod(shape):
        sys.exit(f"pytorch_training.py: {path} holds {values.size} bytes for shape {shape}")
    return torch.from_numpy(values.reshape(shape).copy())


def load_split(directory, folder, train):
    prefix = "train" if train else "t10k"
    images = read_idx(idx_path(directory, folder, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(idx_path(directory, folder, f"{prefix}-labels-idx1-ubyte")).to(torch.int64)
    return images, labels


def first(tensor_pair, limit):
    """The first `limit` examples (all when 0), as experiment::limit_dataset."""
    images, labels = tensor_pair
    return (images[:limit], labels[:limit]) if 0 < limit < images.shape[0] else (images, labels)


def llround(x):
    return math.floor(x + 0.5)


# ---- the loops of examples/experiment/training.cpp ----

def train_epoch(model, optimizer, batches, loss_function):
    """train_epoch(): forward, loss, loss.item() with the divergence check, zero_grad (set_to_none, as tapegrad's),
    backward, step, and the count of correct predictions, batch after batch."""
    model.train()
    loss_sum, correct, examples = 0.0, 0, 0
    for step, (x, y) in enumerate(batches):
        output = model(x)
        loss = loss_function(output, y)
        value = loss.item()
        if not math.isfinite(value):
            sys.exit(f"pytorch_training.py: the loss became {value} at step {step + 1}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += value * x.shape[0]
        correct += int((output.argmax(1) == y).sum().item())
        examples += x.shape[0]
    return loss_sum / max(examples, 1), correct / max(examples, 1)


@torch.no_grad()
def evaluate(model, images, labels, loss_function, prepare, batch_size):
    """evaluate(): eval mode, no recording, batch_size examples at a time."""
    model.eval()
    loss_sum, correct = 0.0, 0
    for begin in range(0, images.shape[0], batch_size):
        x, y = prepare(images[begin:begin + batch_size]), labels[begin:begin + batch_size]
        output = model(x)
        loss_sum += loss_function(output, y).item() * x.shape[0]
        correct += int((output.argmax(1) == y).sum().item())
    model.train()
    count = max(images.shape[0], 1)
    return loss_sum / count, correct / count


def report(epoch, train_seconds, eval_seconds, train_result, eval_text):
    print(f"epoch {epoch}  train loss {train_result[0]:.4f}  acc {train_result[1]:.4f}  {eval_text}")
    print(f"epoch_seconds {epoch} {train_seconds:.6f}")
    print(f"eval_seconds {epoch} {eval_seconds:.6f}", flush=True)


# ---- mnist_mlp (examples/mnist_mlp.cpp) ----

def mlp_inputs(pixels):
    """mlp_inputs(): pixels/255, then (x - 0.5) / 0.5, flattened; done per batch, the dataset stays uint8."""
    return pixels.to(torch.float32).div_(255).sub_(0.5).div_(0.5).reshape(pixels.shape[0], 28 * 28)


def run_mnist_mlp(args):
    directory = data_dir(args.data_dir)
    train_images, train_labels = first(load_split(directory, "mnist", True), args.limit_train)
    test_images, test_labels = first(load_split(directory, "mnist", False), args.limit_test)
    torch.manual_seed(args.seed)
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10),
                          nn.LogSoftmax(1))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)  # betas (0.9, 0.999), eps 1e-8 as tapegrad's
    batch = args.batch_size
    order_generator = torch.Generator().manual_seed(args.seed)
    print(f"mnist_mlp: {train_images.shape[0]} training images, {test_images.shape[0]} test images, batch {batch}, "
          f"Adam lr {args.lr}, {torch.get_num_threads()} threads")

    def shuffled_batches():  # DataLoader with shuffle, drop_last off: ceil(n / batch) batches
        order = torch.randperm(train_images.shape[0], generator=order_generator)
        for begin in range(0, order.shape[0], batch):
            indices = order[begin:begin + batch]
            yield mlp_inputs(train_images[indices]), train_labels[indices]

    for epoch in range(1, args.epochs + 1):
        # tapegrad's train_seconds: from the start of train_epoch (the loader's shuffle included) to its last step.
        start = time.perf_counter()
        trained = train_epoch(model, optimizer, shuffled_batches(), F.nll_loss)
        train_seconds = time.perf_counter() - start
        start = time.perf_counter()
        test = evaluate(model, test_images, test_labels, F.nll_loss, mlp_inputs, 1000)
        eval_seconds = time.perf_counter() - start
        report(epoch, train_seconds, eval_seconds, trained, f"test loss {test[0]:.4f}  acc {test[1]:.4f}")


# ---- the CNN of fashion_augment --settings none (examples/fashion_augment.cpp) ----

def standardized_fashion(args):
    """load_data(): a random subsample of the training set, its per-pixel mean and (unbiased) std, and
    (x - mean) / (std + 1e-6) on train and test; images [N, 1, 28, 28] float32."""
    directory = data_dir(args.data_dir)
    images, labels = load_split(directory, "fashion-mnist", True)
    count = llround(args.train_fraction * images.shape[0])
    chosen = torch.randperm(images.shape[0], generator=torch.Generator().manual_seed(
        stream_seed(args.seed, SUBSAMPLE_STREAM)))[:count]
    train_images, train_labels = first((images[chosen], labels[chosen]), args.limit_train)
    test_images, test_labels = first(load_split(directory, "fashion-mnist", False), args.limit_test)
    train_x = train_images.to(torch.float32).div_(255).unsqueeze(1)
    test_x = test_images.to(torch.float32).div_(255).unsqueeze(1)
    as_double = train_x.to(torch.float64)
    mean = as_double.mean(0).to(torch.float32)
    std = as_double.std(0, unbiased=True).to(torch.float32)
    return (train_x - mean) / (std + 1e-6), train_labels, (test_x - mean) / (std + 1e-6), test_labels


def make_cnn():
    return nn.Sequential(nn.Conv2d(1, 16, 5, 1, 2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 5, 1, 2), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(7 * 7 * 32, 10))


def run_cnn(args):
    train_x, train_y, test_x, test_y = standardized_fashion(args)
    n, batch = train_x.shape[0], args.batch_size
    steps = llround(n / batch)  # pass_sampling(): round(n / batch) steps of `batch` indices drawn with replacement
    if steps < 1:
        sys.exit(f"pytorch_training.py: --batch-size {batch} is more than twice the {n} training images; lower it")
    torch.manual_seed(args.seed)
    model = make_cnn()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    sampling = torch.Generator().manual_seed(stream_seed(args.seed, SAMPLING_STREAM))
    print(f"cnn: {n} training images, {test_x.shape[0]} test images, {steps} steps of {batch} per pass, "
          f"SGD lr {args.lr}, {torch.get_num_threads()} threads")

    def sampled_batches():
        indices = torch.randint(0, n, (steps * batch,), generator=sampling)
        for step in range(steps):
            chosen = indices[step * batch:(step + 1) * batch]
            yield train_x[chosen], train_y[chosen]

    for epoch in range(1, args.epochs + 1):
        # tapegrad's train_seconds: from the pass's start (its DataLoader built, the draw of indices) to the last step.
        start = time.perf_counter()
        trained = train_epoch(model, optimizer, sampled_batches(), F.cross_entropy)
        train_seconds = time.perf_counter() - start
        # eval_seconds: evaluate_clean(), the whole training subsample then the test set, both clean, 128 at a time.
        start = time.perf_counter()
        train_eval = evaluate(model, train_x, train_y, F.cross_entropy, lambda x: x, 128)
        test = evaluate(model, test_x, test_y, F.cross_entropy, lambda x: x, 128)
        eval_seconds = time.perf_counter() - start
        # The progress line reports the clean evaluation of the training set, as fashion_augment's does.
        report(epoch, train_seconds, eval_seconds, train_eval, f"test loss {test[0]:.4f}  acc {test[1]:.4f}")
        if train_eval[1] >= 1:  # fashion_augment stops once every training image is classified correctly
            print(f"every training image classified correctly after pass {epoch}; stopping")
            break


# ---- what this PyTorch runs on ----

def mapped_libraries(name_start):
    """The shared objects mapped into this process whose file name starts with `name_start`."""
    paths = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            if len(fields) >= 6 and os.path.basename(fields[-1]).startswith(name_start) and fields[-1] not in paths:
                paths.append(fields[-1])
    return paths


def run_info(args):
    torch.mm(torch.ones(64, 64), torch.ones(64, 64))  # loads the BLAS behind torch, if it is loaded lazily
    print(f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads, "
          f"{torch.get_num_interop_threads()} inter-op threads, parallel backend "
          f"{torch.__config__.parallel_info().splitlines()[-1].split(':')[-1].strip()}")
    print(f"torch.backends.mkldnn.is_available() = {torch.backends.mkldnn.is_available()}"
          f" (oneDNN runs float32 Conv2d on the CPU; Linear goes to BLAS sgemm)")
    keys = ("BLAS", "LAPACK", "MKL", "DNN", "CPU capability", "OpenMP")
    for line in torch.__config__.show().splitlines():
        line = line.strip().lstrip("- ")
        if line.startswith("Build settings"):
            for setting in line.split(":", 1)[1].split(","):
                if any(key in setting for key in ("BLAS_INFO", "LAPACK_INFO", "USE_MKLDNN", "USE_OPENMP")):
                    print(f"  {setting.strip()}")
        elif any(key in line for key in keys):
            print(f"  {line}")
    for path in mapped_libraries("libblas.so"):
        print(f"libblas.so.3 (torch's sgemm): {path}")
    openblas = mapped_libraries("libopenblas")
    for path in openblas:
        library = ctypes.CDLL(path)  # the copy already mapped: dlopen returns its handle
        library.openblas_get_corename.restype = ctypes.c_char_p
        print(f"OpenBLAS {path}: core {library.openblas_get_corename().decode()}, "
              f"{library.openblas_get_num_threads()} thread(s) of its own "
              f"(OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')})")
    if not openblas:
        print("OpenBLAS: not loaded in this process (libblas.so.3 is another BLAS: see update-alternatives "
              "--display libblas.so.3-x86_64-linux-gnu)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work", choices=["mnist_mlp", "cnn_pass", "cnn_epoch", "info"],
                        help="mnist_mlp: A1's MLP, Adam, batch 64. cnn_pass: B1's CNN, SGD, batch 16 drawn with "
                             "replacement from 12%% of FashionMNIST train. cnn_epoch: the same CNN on all 60,000 "
                             "images, batch 128 (= cnn_pass --train-fraction 1 --batch-size 128). info: the torch "
                             "build and the BLAS it runs on")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                        help="intra-op threads, torch.set_num_threads (default: the usable cores); inter-op: 1")
    parser.add_argument("--epochs", type=int, default=3, help="epochs (passes) to run (default 3)")
    parser.add_argument("--data-dir", help="folder with mnist/ and fashion-mnist/ (default: $TAPEGRAD_DATA, else "
                                           "the checkout's data/)")
    parser.add_argument("--batch-size", type=int, help="default: 64 (mnist_mlp), 16 (cnn_pass), 128 (cnn_epoch)")
    parser.add_argument("--lr", type=float, help="default: 1e-3 (mnist_mlp, Adam), 0.04 (CNN, SGD)")
    parser.add_argument("--train-fraction", type=float,
                        help="CNN: fraction of FashionMNIST train drawn without replacement (default 0.12; "
                             "cnn_epoch: 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit-train", type=int, default=0, help="only the first N training examples (0: all)")
    parser.add_argument("--limit-test", type=int, default=0, help="only the first N test examples (0: all)")
    args = parser.parse_args()
    if args.threads < 1 or args.epochs < 1:
        parser.error("--threads and --epochs must be at least 1")

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)  # before any inter-op work; the training loop is sequential
    defaults = {"mnist_mlp": (64, 1e-3, None), "cnn_pass": (16, 0.04, 0.12), "cnn_epoch": (128, 0.04, 1.0),
                "info": (None, None, None)}[args.work]
    args.batch_size = args.batch_size or defaults[0]
    args.lr = args.lr or defaults[1]
    args.train_fraction = defaults[2] if args.train_fraction is None else args.train_fraction
    if args.work == "info":
        run_info(args)
    elif args.work == "mnist_mlp":
        run_mnist_mlp(args)
    else:
        if not 0 < args.train_fraction <= 1:
            parser.error("--train-fraction must lie in (0, 1]")
        run_cnn(args)


if __name__ == "__main__":
    main()
