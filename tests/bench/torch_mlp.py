#!/usr/bin/python3
"""tests/bench/torch_mlp.py: PyTorch training throughput of the Fashion-MNIST MLP 784-256-128-10
(ReLU, cross-entropy, SGD momentum 0.9, batch 100), for comparison with mxtrain.

Run with Debian's PyTorch: /usr/bin/python3 tests/bench/torch_mlp.py [--threads 2].
The data is loaded once into a tensor (no DataLoader); the timing excludes set-up and reports
the median samples/sec over windows of 50 batches after the first window (warm-up).
Prints one 'median_samples_per_sec=X' line last."""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_env import argv_threads  # noqa: E402  (imports nothing that reads the threads)

# Threads must be fixed before torch (and its BLAS) is loaded. The best configuration found on
# 2 cores: torch's own 2 threads, BLAS single-threaded (see tests/bench/README.md).
def _early_threads():
    threads = argv_threads("2")
    os.environ.setdefault("OMP_NUM_THREADS", threads)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


_early_threads()

import torch  # noqa: E402
from torch import nn  # noqa: E402

from fmnist import DATA_DIR, load_train, torch_train  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--frequent", type=int, default=50, help="batches per timing window")
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--wd", type=float, default=0.0001)
    ap.add_argument("--data-dir", default=DATA_DIR)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x_np, y_np = load_train(args.data_dir)
    x = torch.from_numpy(x_np)
    y = torch.from_numpy(y_np)
    n_batches = x.shape[0] // args.batch_size

    model = nn.Sequential(
        nn.Linear(784, 256), nn.ReLU(),
        nn.Linear(256, 128), nn.ReLU(),
        nn.Linear(128, 10),
    )
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum,
                          weight_decay=args.wd)
    print(f"torch {torch.__version__}: threads={torch.get_num_threads()} "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')} "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}", flush=True)

    torch_train(model, opt, loss_fn, x, y, n_batches, args)


if __name__ == "__main__":
    main()
