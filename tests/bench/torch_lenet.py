#!/usr/bin/python3
"""tests/bench/torch_lenet.py: PyTorch throughput of LeNet on Fashion-MNIST (confs/fmnist-lenet.conf:
conv 5x5x20, relu, max-pool 2, conv 5x5x50, relu, max-pool 2, fc 500, relu, fc 10, softmax
cross-entropy; Xavier init, SGD lr 0.02 momentum 0.9 wd 0.0005), training at batch 64 and
inference at batch 256, for comparison with mxtrain (tests/bench/bench_lenet.sh).

Run with Debian's PyTorch: /usr/bin/python3 tests/bench/torch_lenet.py [--mode train|infer].
The data is loaded once into a tensor (no DataLoader). Training: the median samples/sec over windows
of 50 batches after the first (warm-up), printed last as 'median_samples_per_sec=X'. Inference
(model.eval(), torch.inference_mode(), the 10,000 test images in batches of 256, several passes):
the median over windows of 10 batches after the first, as 'median_infer_samples_per_sec=X'.
It also prints 'mkldnn_conv=True|False': whether the convolutions ran through oneDNN (MKL-DNN),
read from the autograd profiler's operator names."""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_env import argv_threads  # noqa: E402  (imports nothing that reads the threads)


# Threads must be fixed before torch (and its BLAS) is loaded. The best configuration on 2 cores
# (tests/bench/README.md): torch's own 2 OpenMP threads, OpenBLAS single-threaded.
def _early_threads():
    threads = argv_threads("2")
    os.environ.setdefault("OMP_NUM_THREADS", threads)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


_early_threads()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from fmnist import DATA_DIR, Speedometer, load_train, read_idx, torch_train  # noqa: E402

ACTS = {"none": None, "relu": nn.ReLU, "tanh": nn.Tanh}


def lenet(conv_act, fc_act):
    """conv 5x5x20 [act] pool 2 conv 5x5x50 [act] pool 2 fc 500 [act] fc 10, as the conf."""
    layers = [nn.Conv2d(1, 20, 5)]
    if ACTS[conv_act]:
        layers.append(ACTS[conv_act]())
    layers += [nn.MaxPool2d(2, 2), nn.Conv2d(20, 50, 5)]
    if ACTS[conv_act]:
        layers.append(ACTS[conv_act]())
    layers += [nn.MaxPool2d(2, 2), nn.Flatten(), nn.Linear(50 * 4 * 4, 500)]
    if ACTS[fc_act]:
        layers.append(ACTS[fc_act]())
    layers.append(nn.Linear(500, 10))
    net = nn.Sequential(*layers)
    # MXNet's Xavier (uniform, avg, magnitude 3) is xavier_uniform_ with gain 1; biases 0.
    for m in net:
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    return net


def uses_mkldnn_conv(model, x):
    """True when a forward and backward of model on x calls oneDNN's convolution."""
    with torch.autograd.profiler.profile() as prof:
        model(x).sum().backward()
    names = {e.key for e in prof.key_averages()}
    model.zero_grad(set_to_none=True)
    return any("mkldnn_convolution" in n for n in names), sorted(n for n in names if "conv" in n)


def train(args, model):
    x_np, y_np = load_train(args.data_dir)
    x = torch.from_numpy(x_np).reshape(-1, 1, 28, 28)
    y = torch.from_numpy(y_np)
    n_batches = x.shape[0] // args.batch_size
    if args.max_batches:
        n_batches = min(n_batches, args.max_batches)
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum, weight_decay=args.wd)
    mkldnn, convs = uses_mkldnn_conv(model, x[:args.batch_size])
    print(f"mkldnn_conv={mkldnn} (convolution operators seen: {', '.join(convs)})", flush=True)
    torch_train(model, opt, loss_fn, x, y, n_batches, args)


def infer(args, model):
    images = read_idx(f"{args.data_dir}/t10k-images-idx3-ubyte.gz")
    x = torch.from_numpy(images.reshape(-1, 1, 28, 28).astype(np.float32) * np.float32(1.0 / 256))
    bs = args.infer_batch_size
    n_batches = x.shape[0] // bs
    model.eval()
    with torch.inference_mode():
        mkldnn, convs = False, []
        with torch.autograd.profiler.profile() as prof:
            model(x[:bs])
        convs = sorted({e.key for e in prof.key_averages() if "conv" in e.key})
        mkldnn = any("mkldnn_convolution" in n for n in convs)
        print(f"mkldnn_conv={mkldnn} (inference; convolution operators seen: {', '.join(convs)})", flush=True)
        meter = Speedometer(bs, args.infer_frequent, label="infer ")
        for p in range(args.infer_passes):
            for b in range(n_batches):
                out = model(x[b * bs:(b + 1) * bs])
                out.argmax(1)  # the predicted classes, as mxpredict writes them
                meter.tick(p)
    print(f"median_infer_samples_per_sec={meter.median():.1f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=["train", "infer", "both"], default="train")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--frequent", type=int, default=50, help="batches per timing window (training)")
    ap.add_argument("--max-batches", type=int, default=0, help="training batches per epoch (0: all)")
    ap.add_argument("--infer-batch-size", type=int, default=256)
    ap.add_argument("--infer-passes", type=int, default=4, help="passes over the 10,000 test images")
    ap.add_argument("--infer-frequent", type=int, default=10, help="batches per timing window (inference)")
    ap.add_argument("--conv-act", choices=sorted(ACTS), default="relu", help="activation after each conv")
    ap.add_argument("--fc-act", choices=sorted(ACTS), default="relu", help="activation after fc 500")
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--wd", type=float, default=0.0005)
    ap.add_argument("--data-dir", default=DATA_DIR)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = lenet(args.conv_act, args.fc_act)
    print(f"torch {torch.__version__}: threads={torch.get_num_threads()} "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')} "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')} "
          f"mkldnn available={torch.backends.mkldnn.is_available()} enabled={torch.backends.mkldnn.enabled}",
          flush=True)
    if args.mode in ("train", "both"):
        train(args, model)
    if args.mode in ("infer", "both"):
        infer(args, model)


if __name__ == "__main__":
    main()
