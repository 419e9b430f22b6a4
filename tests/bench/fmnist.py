"""tests/bench/fmnist.py: shared helpers of the peer benchmarks: Fashion-MNIST from Debian's
idx.gz files, and the Speedometer-style window timing that mxtrain and MXNet print."""

import gzip
import statistics
import struct
import time

import numpy as np

DATA_DIR = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    """Returns the array stored in an idx(.gz) file (uint8), shaped as its header says."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not a uint8 idx file (magic {raw[:4].hex()})")
    dims = struct.unpack(">" + "I" * ndim, raw[4 : 4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_train(data_dir=DATA_DIR, seed=1):
    """Returns (images float32 [N,784] scaled by 1/256 like MXNet's MNISTIter, labels int64 [N]),
    shuffled once, as MNISTIter with shuffle=true does at load time."""
    images = read_idx(f"{data_dir}/train-images-idx3-ubyte.gz")
    labels = read_idx(f"{data_dir}/train-labels-idx1-ubyte.gz")
    order = np.random.default_rng(seed).permutation(images.shape[0])
    x = images.reshape(images.shape[0], -1)[order].astype(np.float32) * np.float32(1.0 / 256)
    return np.ascontiguousarray(x), labels[order].astype(np.int64)


class Speedometer:
    """Times windows of `frequent` batches, as mx.callback.Speedometer does: call tick() after
    each batch; every `frequent` batches it prints and records samples/sec for that window."""

    def __init__(self, batch_size, frequent=50, label=""):
        self.batch_size = batch_size
        self.frequent = frequent
        self.label = label
        self.speeds = []
        self.count = 0
        self.tic = time.perf_counter()

    def tick(self, epoch=0):
        self.count += 1
        if self.count % self.frequent == 0:
            now = time.perf_counter()
            speed = self.frequent * self.batch_size / (now - self.tic)
            self.speeds.append(speed)
            print(f"{self.label}Epoch[{epoch}] Batch [{self.count}]\tSpeed: {speed:.2f} samples/sec",
                  flush=True)
            self.tic = time.perf_counter()

    def median(self):
        """Median samples/sec over the windows after the first (the warm-up window)."""
        speeds = self.speeds[1:] if len(self.speeds) > 1 else self.speeds
        if not speeds:
            raise RuntimeError("no full timing window: run more batches")
        return statistics.median(speeds)


def torch_train(model, opt, loss_fn, x, y, n_batches, args):
    """The timed PyTorch loop of torch_mlp.py and torch_lenet.py: args.epochs epochs of
    n_batches slices of x, y; the training accuracy and cross-entropy every batch, as
    mxtrain's metrics compute them; ends by printing median_samples_per_sec=."""
    meter = Speedometer(args.batch_size, args.frequent)
    for epoch in range(args.epochs):
        correct, loss_sum = 0, 0.0
        for b in range(n_batches):
            xb = x[b * args.batch_size:(b + 1) * args.batch_size]
            yb = y[b * args.batch_size:(b + 1) * args.batch_size]
            opt.zero_grad(set_to_none=True)
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            opt.step()
            correct += int((out.argmax(1) == yb).sum())
            loss_sum += float(loss)
            meter.tick(epoch)
        print(f"Epoch[{epoch}] Train-accuracy={correct / (n_batches * args.batch_size):.4f}\t"
              f"Train-cross-entropy={loss_sum / n_batches:.4f}", flush=True)
    print(f"median_samples_per_sec={meter.median():.1f}")


def gluon_train(net, x, y, args):
    """The timed Gluon loop of mxnet_mlp.py and mxnet_lenet.py for an initialised, hybridized
    net: SGD with args.lr/momentum/wd, the training accuracy every batch (one sync per
    batch). Returns the Speedometer. mxnet is imported by the caller, after its thread
    settings are in the environment."""
    import logging
    import mxnet as mx
    from mxnet import autograd, gluon
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = gluon.Trainer(net.collect_params(), "sgd",
                            {"learning_rate": args.lr, "momentum": args.momentum, "wd": args.wd})
    it = mx.io.NDArrayIter(x, y.astype(np.float32), batch_size=args.batch_size, shuffle=False,
                           last_batch_handle="discard")
    metric = mx.metric.Accuracy()
    meter = Speedometer(args.batch_size, args.frequent)
    for epoch in range(args.epochs):
        it.reset()
        metric.reset()
        for batch in it:
            data, label = batch.data[0], batch.label[0]
            with autograd.record():
                out = net(data)
                loss = loss_fn(out, label)
            loss.backward()
            trainer.step(args.batch_size)
            metric.update([label], [out])
            meter.tick(epoch)
        logging.info("Epoch[%d] Train-%s=%f", epoch, *metric.get())
    return meter
