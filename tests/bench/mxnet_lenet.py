#!/usr/bin/env python3
"""tests/bench/mxnet_lenet.py: Apache MXNet 1.9.1 (MKL-DNN) throughput of LeNet on Fashion-MNIST
(confs/fmnist-lenet.conf: conv 5x5x20, relu, max-pool 2, conv 5x5x50, relu, max-pool 2, fc 500, relu,
fc 10, SoftmaxOutput; Xavier init, SGD lr 0.02 momentum 0.9 wd 0.0005),
training at batch 64 and inference at batch 256, for comparison with mxtrain
(tests/bench/bench_lenet.sh).

Run in the MXNet virtualenv: .venv-mxnet/bin/python tests/bench/mxnet_lenet.py [--api module|gluon]
[--mode train|infer|both]. --api module runs Module.fit over an mx.io.NDArrayIter with a
Speedometer-like callback (MXNet's example/image-classification); --api gluon runs a hybridized
HybridSequential (static_alloc, static_shape) with a Trainer. Both update their training metrics
every batch, as mxtrain does. Training: the median samples/sec over windows of 50 batches after
the first (warm-up), printed as 'median_samples_per_sec=X'. Inference (the 10,000 test images in
batches of 256, several passes, outputs read back every batch): the median over windows of 10
batches after the first, as 'median_infer_samples_per_sec=X'."""

import argparse
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_env import argv_threads  # noqa: E402  (imports nothing that reads the threads)


def _early_env():
    # MXNet reads these when its engine starts, i.e. at import. On 2 cores one engine worker whose
    # operators use 2 OpenMP threads is MXNet's best setting (tests/bench/README.md).
    threads = argv_threads("2")
    os.environ.setdefault("OMP_NUM_THREADS", threads)
    os.environ.setdefault("MXNET_CPU_WORKER_NTHREADS", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


_early_env()

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402

from fmnist import DATA_DIR, Speedometer, gluon_train, load_train, read_idx  # noqa: E402


def lenet_symbol(conv_act, fc_act):
    """conv 5x5x20 [act] pool 2 conv 5x5x50 [act] pool 2 fc 500 [act] fc 10, as the conf."""
    x = mx.sym.Variable("data")
    x = mx.sym.Convolution(x, name="conv1", kernel=(5, 5), num_filter=20)
    if conv_act != "none":
        x = mx.sym.Activation(x, name="act1", act_type=conv_act)
    x = mx.sym.Pooling(x, name="pool1", pool_type="max", kernel=(2, 2), stride=(2, 2))
    x = mx.sym.Convolution(x, name="conv2", kernel=(5, 5), num_filter=50)
    if conv_act != "none":
        x = mx.sym.Activation(x, name="act2", act_type=conv_act)
    x = mx.sym.Pooling(x, name="pool2", pool_type="max", kernel=(2, 2), stride=(2, 2))
    x = mx.sym.Flatten(x, name="flatten")
    x = mx.sym.FullyConnected(x, name="fc1", num_hidden=500)
    if fc_act != "none":
        x = mx.sym.Activation(x, name="act3", act_type=fc_act)
    x = mx.sym.FullyConnected(x, name="fc2", num_hidden=10)
    return mx.sym.SoftmaxOutput(x, name="softmax")


def lenet_gluon(conv_act, fc_act):
    from mxnet.gluon import nn
    act = {"none": None, "relu": "relu", "tanh": "tanh"}
    net = nn.HybridSequential()
    net.add(nn.Conv2D(20, 5, activation=act[conv_act]), nn.MaxPool2D(2, 2),
            nn.Conv2D(50, 5, activation=act[conv_act]), nn.MaxPool2D(2, 2),
            nn.Flatten(), nn.Dense(500, activation=act[fc_act]), nn.Dense(10))
    return net


def test_images(data_dir):
    images = read_idx(f"{data_dir}/t10k-images-idx3-ubyte.gz")
    return images.reshape(-1, 1, 28, 28).astype(np.float32) * np.float32(1.0 / 256)


def train_module(args, x, y):
    it = mx.io.NDArrayIter(x, y.astype(np.float32), batch_size=args.batch_size, shuffle=False,
                           last_batch_handle="discard", label_name="softmax_label")
    mod = mx.mod.Module(lenet_symbol(args.conv_act, args.fc_act), context=mx.cpu())
    meter = Speedometer(args.batch_size, args.frequent)
    mod.fit(it, num_epoch=args.epochs, eval_metric=mx.metric.create(["acc", "ce"]),
            initializer=mx.init.Xavier(), optimizer="sgd",
            optimizer_params={"learning_rate": args.lr, "momentum": args.momentum, "wd": args.wd},
            batch_end_callback=lambda p: meter.tick(p.epoch))
    return meter


def train_gluon(args, x, y):
    net = lenet_gluon(args.conv_act, args.fc_act)
    net.initialize(mx.init.Xavier(), ctx=mx.cpu())
    net.hybridize(static_alloc=True, static_shape=True)
    return gluon_train(net, x, y, args)


def infer_module(args, xt):
    bs = args.infer_batch_size
    mod = mx.mod.Module(lenet_symbol(args.conv_act, args.fc_act), context=mx.cpu())
    mod.bind(data_shapes=[("data", (bs, 1, 28, 28))], label_shapes=[("softmax_label", (bs,))],
             for_training=False)
    mod.init_params(mx.init.Xavier())
    meter = Speedometer(bs, args.infer_frequent, label="infer ")
    batches = [mx.nd.array(xt[b * bs:(b + 1) * bs]) for b in range(xt.shape[0] // bs)]
    label = mx.nd.zeros((bs,))  # not read in inference; Module wants the array
    for p in range(args.infer_passes):
        for d in batches:
            mod.forward(mx.io.DataBatch([d], [label]), is_train=False)
            mod.get_outputs()[0].argmax(axis=1).wait_to_read()
            meter.tick(p)
    return meter


def infer_gluon(args, xt):
    bs = args.infer_batch_size
    net = lenet_gluon(args.conv_act, args.fc_act)
    net.initialize(mx.init.Xavier(), ctx=mx.cpu())
    net.hybridize(static_alloc=True, static_shape=True)
    meter = Speedometer(bs, args.infer_frequent, label="infer ")
    batches = [mx.nd.array(xt[b * bs:(b + 1) * bs]) for b in range(xt.shape[0] // bs)]
    for p in range(args.infer_passes):
        for d in batches:
            net(d).argmax(axis=1).wait_to_read()
            meter.tick(p)
    return meter


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--api", choices=["module", "gluon"], default="module")
    ap.add_argument("--mode", choices=["train", "infer", "both"], default="train")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--frequent", type=int, default=50, help="batches per timing window (training)")
    ap.add_argument("--max-batches", type=int, default=0, help="training batches per epoch (0: all)")
    ap.add_argument("--infer-batch-size", type=int, default=256)
    ap.add_argument("--infer-passes", type=int, default=4, help="passes over the 10,000 test images")
    ap.add_argument("--infer-frequent", type=int, default=10, help="batches per timing window (inference)")
    ap.add_argument("--conv-act", choices=["none", "relu", "tanh"], default="relu")
    ap.add_argument("--fc-act", choices=["none", "relu", "tanh"], default="relu")
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--wd", type=float, default=0.0005)
    ap.add_argument("--data-dir", default=DATA_DIR)
    args = ap.parse_args()

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    mx.random.seed(0)
    feats = mx.runtime.Features()
    print(f"mxnet {mx.__version__} ({args.api}): MKLDNN={feats.is_enabled('MKLDNN')} "
          f"MXNET_MKLDNN_ENABLED={os.environ.get('MXNET_MKLDNN_ENABLED', '1 (default)')} "
          f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']} "
          f"MXNET_CPU_WORKER_NTHREADS={os.environ['MXNET_CPU_WORKER_NTHREADS']}", flush=True)
    if args.mode in ("train", "both"):
        x, y = load_train(args.data_dir)
        x = x.reshape(-1, 1, 28, 28)
        if args.max_batches:
            x, y = x[:args.max_batches * args.batch_size], y[:args.max_batches * args.batch_size]
        meter = (train_module if args.api == "module" else train_gluon)(args, x, y)
        print(f"median_samples_per_sec={meter.median():.1f}", flush=True)
    if args.mode in ("infer", "both"):
        meter = (infer_module if args.api == "module" else infer_gluon)(args, test_images(args.data_dir))
        print(f"median_infer_samples_per_sec={meter.median():.1f}")


if __name__ == "__main__":
    main()
