#!/usr/bin/python3
"""make_conv_fixtures.py: writes tests/fixtures/conv/*.txt, small inputs with PyTorch's
Convolution and Pooling outputs and gradients, which tests/check_ops_conv.c compares
against; with --mxnet, the cases PyTorch has no twin for (lp pooling as MXNet computes it,
windows past the padded input under pooling_convention full, first-maximum routing on ties,
a grouped dilated strided convolution) from Apache MXNet 1.9.1 itself (files *_mx_*.txt).

Run with Debian's python (it has torch):  /usr/bin/python3 tests/peer/make_conv_fixtures.py
and with MXNet 1.9.1's:  /tmp/mxvenv/bin/python tests/peer/make_conv_fixtures.py --mxnet

The file format is make_op_fixtures.py's:
    <name> <ndim> <dim0> ... <dimN-1>
    <values, row-major, %.9g, whitespace separated>
Arrays: x (data), w and b (weight, bias: convolution), y (output), dy (the output's
gradient), dx, dw, db (the gradients). The layer's parameters live in check_ops_conv.c's
tables, next to each file's name; keep the two in step.
"""
import os
import sys

import numpy as np

if "--mxnet" not in sys.argv:
    import torch
    import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "conv")


def write(name, arrays, source):
    path = os.path.join(OUT, name + ".txt")
    with open(path, "w") as f:
        f.write("# %s: written by tests/peer/make_conv_fixtures.py (%s)\n" % (name, source))
        for key, t in arrays:
            if hasattr(t, "asnumpy"):
                t = t.asnumpy()
            elif hasattr(t, "detach"):
                t = t.detach().to(torch.float32).contiguous().numpy()
            t = np.asarray(t, dtype="float32")
            f.write("%s %d %s\n" % (key, t.ndim, " ".join(str(d) for d in t.shape)))
            vals = ["%.9g" % v for v in t.reshape(-1).tolist()]
            for i in range(0, len(vals), 8):
                f.write(" ".join(vals[i:i + 8]) + "\n")
    print("wrote", os.path.relpath(path), os.path.getsize(path), "bytes")


# ---------------------------------------------------------------- PyTorch

def leaf(t):
    return t.clone().requires_grad_(True)


def conv_case(name, x_shape, w_shape, bias=True, stride=1, padding=0, dilation=1, groups=1):
    nd = len(x_shape) - 2
    fn = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nd]
    x = leaf(torch.randn(*x_shape))
    w = leaf(torch.randn(*w_shape) * 0.5)
    b = leaf(torch.randn(w_shape[0])) if bias else None
    y = fn(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    dy = torch.randn(*y.shape)
    y.backward(dy)
    arrays = [("x", x), ("w", w)] + ([("b", b)] if bias else [])
    arrays += [("y", y), ("dy", dy), ("dx", x.grad), ("dw", w.grad)]
    if bias:
        arrays.append(("db", b.grad))
    write(name, arrays, "torch %s" % torch.__version__)


def pool_case(name, x_shape, kind, kernel, stride=None, padding=0, ceil_mode=False,
              count_include_pad=True):
    nd = len(x_shape) - 2
    x = leaf(torch.randn(*x_shape))
    if kind == "max":
        fn = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[nd]
        y = fn(x, kernel, stride, padding, ceil_mode=ceil_mode)
    elif kind == "avg":
        fn = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[nd]
        y = fn(x, kernel, stride, padding, ceil_mode=ceil_mode,
               count_include_pad=count_include_pad)
    else:  # sum: the average times the window, padding counted as zeros
        fn = {2: F.avg_pool2d, 3: F.avg_pool3d}[nd]
        y = fn(x, kernel, stride, padding, ceil_mode=ceil_mode, divisor_override=1)
    dy = torch.randn(*y.shape)
    y.backward(dy)
    write(name, [("x", x), ("y", y), ("dy", dy), ("dx", x.grad)], "torch %s" % torch.__version__)


def torch_cases():
    torch.manual_seed(20240504)
    conv_case("conv_basic", (2, 3, 7, 7), (4, 3, 3, 3))
    conv_case("conv_stride_pad", (2, 3, 9, 8), (5, 3, 3, 2), stride=(2, 3), padding=(1, 2))
    conv_case("conv_dilate", (1, 2, 9, 9), (3, 2, 3, 3), padding=1, dilation=2)
    conv_case("conv_group", (2, 4, 6, 6), (6, 2, 3, 3), padding=1, groups=2)
    conv_case("conv_1x1_nobias", (2, 5, 4, 4), (3, 5, 1, 1), bias=False)
    conv_case("conv_1d", (2, 3, 10), (4, 3, 3), stride=2, padding=1)
    conv_case("conv_3d", (1, 2, 5, 5, 4), (3, 2, 3, 3, 2), stride=(1, 2, 1), padding=(1, 0, 1))
    conv_case("conv_5x5", (3, 6, 10, 10), (8, 6, 5, 5))
    pool_case("pool_max_2x2", (2, 3, 6, 19), "max", 2, 2)
    pool_case("pool_max_3x3_s2_p1", (2, 2, 7, 7), "max", 3, 2, 1)
    pool_case("pool_max_full", (1, 2, 8, 8), "max", 3, 2, ceil_mode=True)
    pool_case("pool_avg_pad", (2, 2, 6, 6), "avg", 3, 2, 1)
    pool_case("pool_avg_pad_exclude", (2, 2, 6, 6), "avg", 3, 2, 1, count_include_pad=False)
    pool_case("pool_avg_full", (1, 2, 8, 8), "avg", 3, 2, 1, ceil_mode=True)
    pool_case("pool_sum", (2, 2, 5, 6), "sum", (2, 3), (1, 2))
    pool_case("pool_global_avg", (2, 3, 5, 4), "avg", (5, 4), 1)
    pool_case("pool_max_1d", (2, 3, 9), "max", 3, 2, 1)
    pool_case("pool_avg_3d", (1, 2, 4, 5, 6), "avg", 2, 2)


# ---------------------------------------------------------------- MXNet

def mxnet_cases():
    """Cases run through MXNet's own executor; keys must match check_ops_conv.c's tables."""
    import mxnet as mx
    rs = np.random.RandomState(11)

    def run(name, op, inputs, attrs, dy=None):
        data = mx.sym.Variable("data")
        if op == "Convolution":
            sym = mx.sym.Convolution(data, name="conv", **attrs)
        else:
            sym = mx.sym.Pooling(data, name="pool", **attrs)
        shapes = {k: v.shape for k, v in inputs}
        ex = sym.simple_bind(mx.cpu(), **shapes)
        for k, v in inputs:
            ex.arg_dict[k][:] = v
        ex.forward(is_train=True)
        y = ex.outputs[0].asnumpy()
        if dy is None:
            dy = rs.randn(*y.shape).astype("float32")
        ex.backward(mx.nd.array(dy))
        arrays = [("x", inputs[0][1])]
        if op == "Convolution":
            arrays += [("w", inputs[1][1]), ("b", inputs[2][1])]
        arrays += [("y", y), ("dy", dy), ("dx", ex.grad_dict["data"])]
        if op == "Convolution":
            arrays += [("dw", ex.grad_dict["conv_weight"]), ("db", ex.grad_dict["conv_bias"])]
        write(name, arrays, "mxnet %s" % mx.__version__)

    x = rs.randn(2, 4, 9, 9).astype("float32")
    w = (rs.randn(6, 2, 3, 3) * 0.5).astype("float32")
    b = rs.randn(6).astype("float32")
    run("conv_mx_group_dilate", "Convolution",
        [("data", x), ("conv_weight", w), ("conv_bias", b)],
        dict(kernel=(3, 3), stride=(2, 2), dilate=(2, 2), pad=(2, 2), num_filter=6, num_group=2))

    x = rs.randn(2, 2, 5, 5).astype("float32")
    for p in (1, 2, 3):
        run("pool_mx_lp%d" % p, "Pooling", [("data", x)],
            dict(kernel=(2, 2), stride=(2, 2), pad=(1, 1), pool_type="lp", p_value=p))
    # windows past the padded input: max gives -FLT_MAX there, avg 0, no gradient
    x = rs.randn(1, 2, 4, 4).astype("float32")
    for kind in ("max", "avg"):
        run("pool_mx_full_edge_%s" % kind, "Pooling", [("data", x)],
            dict(kernel=(2, 2), stride=(3, 3), pad=(1, 1), pool_type=kind,
                 pooling_convention="full"))
    x = rs.randn(1, 2, 7, 7).astype("float32")
    run("pool_mx_full_avg_exclude", "Pooling", [("data", x)],
        dict(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="avg",
             pooling_convention="full", count_include_pad=False))
    # ties: small integers, so most windows hold several equal maxima
    x = rs.randint(0, 3, size=(2, 2, 6, 19)).astype("float32")
    run("pool_mx_ties_2x2", "Pooling", [("data", x)], dict(kernel=(2, 2), stride=(2, 2)))
    run("pool_mx_ties_3x3", "Pooling", [("data", x)], dict(kernel=(3, 3), stride=(1, 1)))
    run("pool_mx_ties_pad", "Pooling", [("data", x)], dict(kernel=(2, 2), stride=(1, 1), pad=(1, 1)))
    x = rs.randn(2, 3, 5, 4).astype("float32")
    run("pool_mx_global_sum", "Pooling", [("data", x)],
        dict(kernel=(2, 2), pad=(1, 1), global_pool=True, pool_type="sum"))
    x = rs.randn(2, 3, 8).astype("float32")
    run("pool_mx_1d_full_max", "Pooling", [("data", x)],
        dict(kernel=(3,), stride=(2,), pooling_convention="full"))


def main():
    os.makedirs(OUT, exist_ok=True)
    if "--mxnet" in sys.argv:
        mxnet_cases()
    else:
        torch_cases()
    return 0


if __name__ == "__main__":
    sys.exit(main())
