#!/usr/bin/env python3
"""tests/bench/mxnet_mlp.py: Apache MXNet 1.9.1 training throughput of the Fashion-MNIST MLP
784-256-128-10 (ReLU, SoftmaxOutput, SGD momentum 0.9, batch 100), for comparison with mxtrain.

Run in the MXNet virtualenv: .venv-mxnet/bin/python tests/bench/mxnet_mlp.py [--api module|gluon].
--api module (the default: faster than Gluon on 2 cores, see tests/bench/README.md) runs
Module.fit over an mx.io.NDArrayIter with a Speedometer-like callback, as MXNet's own
example/image-classification does; --api gluon runs a hybridized HybridSequential with a Trainer.
Both update their training metrics every batch, as mxtrain does. The median samples/sec over windows
of 50 batches after the first (warm-up) is printed last as 'median_samples_per_sec=X'."""

import argparse
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_env import argv_threads  # noqa: E402  (imports nothing that reads the threads)


def _early_env():
    # MXNet reads these when its engine starts, i.e. at import. On 2 cores its best setting was
    # 2 engine workers running single-threaded operators: about twice the samples/sec of one
    # worker whose operators use 2 OpenMP threads (tests/bench/README.md).
    threads = argv_threads("2")
    os.environ.setdefault("MXNET_CPU_WORKER_NTHREADS", threads)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


_early_env()

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402

from fmnist import DATA_DIR, Speedometer, gluon_train, load_train  # noqa: E402


def mlp_symbol():
    data = mx.sym.Variable("data")
    fc1 = mx.sym.FullyConnected(data, name="fc1", num_hidden=256)
    act1 = mx.sym.Activation(fc1, name="relu1", act_type="relu")
    fc2 = mx.sym.FullyConnected(act1, name="fc2", num_hidden=128)
    act2 = mx.sym.Activation(fc2, name="relu2", act_type="relu")
    fc3 = mx.sym.FullyConnected(act2, name="fc3", num_hidden=10)
    return mx.sym.SoftmaxOutput(fc3, name="softmax")


def run_module(args, x, y):
    it = mx.io.NDArrayIter(x, y.astype(np.float32), batch_size=args.batch_size, shuffle=False,
                           last_batch_handle="discard", label_name="softmax_label")
    mod = mx.mod.Module(mlp_symbol(), context=mx.cpu())
    meter = Speedometer(args.batch_size, args.frequent)
    # accuracy and cross-entropy, the metrics confs/fmnist-mlp.conf has mxtrain compute.
    mod.fit(it, num_epoch=args.epochs, eval_metric=mx.metric.create(["acc", "ce"]),
            initializer=mx.init.Xavier(magnitude=2.0),
            optimizer="sgd",
            optimizer_params={"learning_rate": args.lr, "momentum": args.momentum,
                              "wd": args.wd},
            batch_end_callback=lambda p: meter.tick(p.epoch))
    return meter


def run_gluon(args, x, y):
    from mxnet.gluon import nn

    net = nn.HybridSequential()
    net.add(nn.Dense(256, activation="relu"), nn.Dense(128, activation="relu"), nn.Dense(10))
    net.initialize(mx.init.Xavier(magnitude=2.0), ctx=mx.cpu())
    net.hybridize(static_alloc=True, static_shape=True)
    return gluon_train(net, x, y, args)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--api", choices=["module", "gluon"], default="module")
    ap.add_argument("--threads", type=int, default=2,
                    help="engine workers (MXNET_CPU_WORKER_NTHREADS unless set)")
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--frequent", type=int, default=50, help="batches per timing window")
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--wd", type=float, default=0.0001)
    ap.add_argument("--data-dir", default=DATA_DIR)
    args = ap.parse_args()

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    mx.random.seed(0)
    x, y = load_train(args.data_dir)
    print(f"mxnet {mx.__version__} ({args.api}): OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']} "
          f"MXNET_CPU_WORKER_NTHREADS={os.environ['MXNET_CPU_WORKER_NTHREADS']}", flush=True)
    meter = (run_module if args.api == "module" else run_gluon)(args, x, y)
    print(f"median_samples_per_sec={meter.median():.1f}")


if __name__ == "__main__":
    main()
