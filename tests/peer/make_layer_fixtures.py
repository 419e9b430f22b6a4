#!/usr/bin/python3
"""make_layer_fixtures.py: writes tests/fixtures/layers/*.txt, which tests/check_ops_layers.c
compares the CNN layer operators against.

With Debian's python (it has torch), PyTorch's forward and backward for what PyTorch has a
twin of: batch_norm (training and inference), local_response_norm, leaky_relu, prelu, elu,
selu, gelu, cat, softmax:
    /usr/bin/python3 tests/peer/make_layer_fixtures.py
With MXNet 1.9.1's python, MXNet's own numbers where PyTorch differs or has no twin
(files *_mx*): BatchNorm's moving averages after a training step (MXNet: biased variance;
PyTorch: unbiased), fix_gamma, use_global_stats, another axis, LRN's alpha convention, the
regression outputs, and the shapes Reshape's special codes give (reshape_mx.txt):
    /tmp/mxvenv/bin/python tests/peer/make_layer_fixtures.py --mxnet
MXNet runs with MXNET_MKLDNN_ENABLED=0: its reference CPU kernels, which mxtrain follows
(the MKL-DNN BatchNorm and LRN paths differ in corner cases, e.g. LRN with an even nsize).

Array files have the format of tests/peer/make_op_fixtures.py:
    <name> <ndim> <dim0> ... <dimN-1>
    <values, row-major, %.9g, whitespace separated>
The upstream gradient of the output is "dy". reshape_mx.txt has one case a line:
    <data shape> <key>=<value>... -> <output shape, or "error">
"""
import os
import sys

if "--mxnet" in sys.argv:
    os.environ["MXNET_MKLDNN_ENABLED"] = "0"
    os.environ["MXNET_STORAGE_FALLBACK_LOG_VERBOSE"] = "0"
    import numpy as np
else:
    import torch
    import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "layers")


def write(name, arrays, source):
    """arrays: (name, torch tensor or numpy array) pairs."""
    path = os.path.join(OUT, name + ".txt")
    with open(path, "w") as f:
        f.write("# %s: written by tests/peer/make_layer_fixtures.py (%s)\n" % (name, source))
        for key, t in arrays:
            if hasattr(t, "asnumpy"):  # an MXNet NDArray
                t = t.asnumpy()
            elif hasattr(t, "detach"):  # a torch tensor
                t = t.detach().to(torch.float32).contiguous().numpy()
            t = t.astype("float32")
            f.write("%s %d %s\n" % (key, t.ndim, " ".join(str(d) for d in t.shape)))
            vals = ["%.9g" % v for v in t.reshape(-1).tolist()]
            for i in range(0, len(vals), 8):
                f.write(" ".join(vals[i:i + 8]) + "\n")
    print("wrote", os.path.relpath(path), os.path.getsize(path), "bytes")


# ---------------------------------------------------------------- PyTorch

def leaf(t):
    return t.clone().requires_grad_(True)


def torch_write(name, arrays):
    write(name, arrays, "torch %s" % torch.__version__)


def bn_case(name, shape, training):
    c = shape[1]
    x = leaf(torch.randn(*shape) * 2 + 1)
    gamma = leaf(torch.rand(c) + 0.5)
    beta = leaf(torch.randn(c))
    mean = torch.randn(c) * 0.5
    var = torch.rand(c) + 0.5
    y = F.batch_norm(x, mean.clone(), var.clone(), gamma, beta, training=training, eps=1e-3)
    dy = torch.randn(*y.shape)
    y.backward(dy)
    torch_write(name, [("x", x), ("gamma", gamma), ("beta", beta), ("moving_mean", mean),
                       ("moving_var", var), ("y", y), ("dy", dy), ("dx", x.grad),
                       ("dgamma", gamma.grad), ("dbeta", beta.grad)])


def lrn_case(name, shape, size, alpha, beta, k):
    x = leaf(torch.randn(*shape) * 2)
    y = F.local_response_norm(x, size, alpha=alpha, beta=beta, k=k)
    dy = torch.randn(*y.shape)
    y.backward(dy)
    torch_write(name, [("x", x), ("y", y), ("dy", dy), ("dx", x.grad)])


def unary_case(name, fn, shape=(3, 4, 5)):
    x = torch.randn(*shape) * 2
    x = torch.where(x.abs() < 1e-2, torch.full_like(x, 0.5), x)  # away from the kink
    x = leaf(x)
    y = fn(x)
    dy = torch.randn(*y.shape)
    y.backward(dy)
    torch_write(name, [("x", x), ("y", y), ("dy", dy), ("dx", x.grad)])


def prelu_case(name, shape, shared):
    x = torch.randn(*shape) * 2
    x = leaf(torch.where(x.abs() < 1e-2, torch.full_like(x, 0.5), x))
    gamma = leaf(torch.rand(1 if shared else shape[1]) * 0.5)
    y = F.prelu(x, gamma)
    dy = torch.randn(*y.shape)
    y.backward(dy)
    torch_write(name, [("x", x), ("gamma", gamma), ("y", y), ("dy", dy), ("dx", x.grad),
                       ("dgamma", gamma.grad)])


def cat_case(name, shapes, dim):
    xs = [leaf(torch.randn(*s)) for s in shapes]
    y = torch.cat(xs, dim)
    dy = torch.randn(*y.shape)
    y.backward(dy)
    arrays = [("x%d" % i, x) for i, x in enumerate(xs)] + [("y", y), ("dy", dy)]
    arrays += [("dx%d" % i, x.grad) for i, x in enumerate(xs)]
    torch_write(name, arrays)


def softmax_case(name, shape, channel):
    x = leaf(torch.randn(*shape) * 2)
    if channel:
        y = torch.softmax(x, dim=1)
    else:
        y = torch.softmax(x.reshape(shape[0], -1), dim=1).reshape(shape)
    dy = torch.randn(*y.shape)
    y.backward(dy)
    torch_write(name, [("x", x), ("y", y), ("dy", dy), ("dx", x.grad)])


def torch_cases():
    torch.manual_seed(20240604)
    bn_case("bn_train", (4, 3, 5, 2), True)
    bn_case("bn_train_2d", (6, 4), True)
    bn_case("bn_global", (3, 4, 2, 3), False)
    lrn_case("lrn_5", (2, 7, 3, 4), 5, 0.3, 0.75, 2.0)
    lrn_case("lrn_3", (3, 4, 5), 3, 0.8, 0.6, 1.5)
    unary_case("leaky", lambda x: F.leaky_relu(x, 0.1))
    unary_case("elu", lambda x: F.elu(x, 0.7))
    unary_case("selu", F.selu)
    unary_case("gelu", F.gelu)
    prelu_case("prelu", (3, 4, 2, 3), False)
    prelu_case("prelu_shared", (2, 5, 3), True)
    cat_case("cat_d0", [(2, 3, 2, 2), (1, 3, 2, 2), (3, 3, 2, 2)], 0)
    cat_case("cat_d1", [(2, 3, 2, 2), (2, 1, 2, 2), (2, 4, 2, 2)], 1)
    cat_case("cat_d2", [(2, 3, 1, 2), (2, 3, 3, 2)], 2)
    cat_case("cat_d3", [(2, 2, 2, 3), (2, 2, 2, 1), (2, 2, 2, 2)], 3)
    softmax_case("softmax_instance", (3, 4, 2), False)
    softmax_case("softmax_channel", (2, 3, 2, 2), True)


# ---------------------------------------------------------------- MXNet

def mx_bn_case(mx, rs, name, shape, axis=1, train=True, **attrs):
    c = shape[axis]
    x = (rs.randn(*shape) * 2 + 1).astype("float32")
    gamma = (rs.rand(c) + 0.5).astype("float32")
    beta = rs.randn(c).astype("float32")
    mean = (rs.randn(c) * 0.5).astype("float32")
    var = (rs.rand(c) + 0.5).astype("float32")
    dy = rs.randn(*shape).astype("float32")
    sym = mx.sym.BatchNorm(mx.sym.Variable("data"), name="bn", axis=axis, **attrs)
    ex = sym.simple_bind(mx.cpu(), data=shape)
    ex.arg_dict["data"][:] = x
    ex.arg_dict["bn_gamma"][:] = gamma
    ex.arg_dict["bn_beta"][:] = beta
    ex.aux_dict["bn_moving_mean"][:] = mean
    ex.aux_dict["bn_moving_var"][:] = var
    ex.forward(is_train=train)
    y = ex.outputs[0].asnumpy()
    arrays = [("x", x), ("gamma", gamma), ("beta", beta), ("moving_mean", mean),
              ("moving_var", var), ("y", y)]
    if train:
        ex.backward([mx.nd.array(dy)])
        arrays += [("dy", dy), ("dx", ex.grad_dict["data"]), ("dgamma", ex.grad_dict["bn_gamma"]),
                   ("dbeta", ex.grad_dict["bn_beta"]),
                   ("new_mean", ex.aux_dict["bn_moving_mean"]),
                   ("new_var", ex.aux_dict["bn_moving_var"])]
    write(name, arrays, "mxnet %s, %s" % (mx.__version__, attrs or "defaults"))


def mx_io_case(mx, name, sym, feeds, label=None, dy=None):
    shapes = {k: v.shape for k, v in feeds.items()}
    ex = sym.simple_bind(mx.cpu(), **shapes)
    for k, v in feeds.items():
        ex.arg_dict[k][:] = v
    ex.forward(is_train=True)
    ex.backward([mx.nd.array(dy)] if dy is not None else None)
    arrays = [("x", feeds["data"])]
    if "label" in feeds:
        arrays.append(("label", feeds["label"]))
    arrays += [("y", ex.outputs[0])]
    if dy is not None:
        arrays.append(("dy", dy))
    arrays.append(("dx", ex.grad_dict["data"]))
    write(name, arrays, "mxnet %s" % mx.__version__)


RESHAPE_CASES = [
    ((2, 3, 4), dict(shape=(4, 0, 2))),
    ((2, 3, 4), dict(shape=(2, 0, 0))),
    ((2, 3, 4), dict(shape=(6, 1, -1))),
    ((2, 3, 4), dict(shape=(3, -1, 8))),
    ((2, 3, 4), dict(shape=(-1,))),
    ((2, 3, 4), dict(shape=(-2,))),
    ((2, 3, 4), dict(shape=(2, -2))),
    ((2, 3, 4), dict(shape=(-2, 1, 1))),
    ((2, 3, 4), dict(shape=(-3, 4))),
    ((2, 3, 4, 5), dict(shape=(-3, -3))),
    ((2, 3, 4), dict(shape=(0, -3))),
    ((2, 3, 4), dict(shape=(-3, -2))),
    ((2, 3, 4), dict(shape=(-4, 1, 2, -2))),
    ((2, 3, 4), dict(shape=(2, -4, -1, 3, -2))),
    ((6,), dict(shape=(-4, 2, 3))),
    ((6,), dict(shape=(-4, -1, 3))),
    ((2, 12), dict(shape=(0, -4, 3, -1))),
    ((10, 5, 4), dict(shape=(-1, 0))),
    ((10, 5, 4), dict(shape=(-1, 0), reverse=True)),
    ((2, 3, 4), dict(shape=(0, -1), reverse=True)),
    ((2, 3, 4, 5), dict(shape=(-2, -3), reverse=True)),
    ((2, 3, 4), dict(shape=(6, 0), reverse=True)),
    ((2, 3, 4), dict(target_shape=(0, 4))),
    ((2, 3, 4), dict(target_shape=(0, 3, 0), keep_highest=True)),
    ((2, 3, 4), dict(shape=(5, -1))),
    ((2, 3, 4), dict(shape=(-1, -1))),
    ((2, 3, 4), dict(shape=(7,))),
    ((2, 3, 4), dict(shape=(0, 0, 0, 0))),
    ((2, 3, 4), dict(shape=(-4, -1, -1, 0, 0))),
    ((2, 3, 4), dict(shape=(-4, 5, -1, 0, 0))),
    ((2, 3), dict(shape=(-3, -3))),
]


def shape_text(s):
    return "(" + ",".join(str(d) for d in s) + ")"


def mx_reshape_cases(mx):
    path = os.path.join(OUT, "reshape_mx.txt")
    with open(path, "w") as f:
        f.write("# reshape_mx: written by tests/peer/make_layer_fixtures.py (mxnet %s)\n"
                % mx.__version__)
        for dshape, attrs in RESHAPE_CASES:
            sym = mx.sym.Reshape(mx.sym.Variable("data"), **attrs)
            try:
                _, out, _ = sym.infer_shape(data=dshape)
                result = shape_text(out[0])
            except Exception:  # MXNet refuses the shape
                result = "error"
            keys = " ".join("%s=%s" % (k, shape_text(v) if isinstance(v, tuple) else v)
                            for k, v in sorted(attrs.items()))
            f.write("%s %s -> %s\n" % (shape_text(dshape), keys, result))
    print("wrote", os.path.relpath(path), os.path.getsize(path), "bytes")


def mxnet_cases():
    import mxnet as mx
    rs = np.random.RandomState(11)
    mx_bn_case(mx, rs, "bn_mx_train", (4, 3, 5, 2), fix_gamma=False)
    mx_bn_case(mx, rs, "bn_mx_fix_gamma", (3, 2, 3, 3), momentum=0.8)
    mx_bn_case(mx, rs, "bn_mx_global", (3, 4, 2, 2), fix_gamma=False, use_global_stats=True)
    mx_bn_case(mx, rs, "bn_mx_axis", (3, 2, 2, 4), axis=-1, fix_gamma=False, eps=1e-4)
    mx_bn_case(mx, rs, "bn_mx_infer", (2, 3, 2, 2), train=False, fix_gamma=False)

    d = mx.sym.Variable("data")
    x = (rs.randn(2, 7, 3, 3) * 2).astype("float32")
    mx_io_case(mx, "lrn_mx", mx.sym.LRN(d, nsize=5, alpha=0.3, beta=0.75, knorm=2.0),
               {"data": x}, dy=rs.randn(2, 7, 3, 3).astype("float32"))

    lab = mx.sym.Variable("label")
    x = rs.randn(5, 1).astype("float32")
    mx_io_case(mx, "linear_mx", mx.sym.LinearRegressionOutput(d, lab, grad_scale=2.0),
               {"data": x, "label": rs.randn(5).astype("float32")})
    x = (rs.randn(4, 3) * 2).astype("float32")
    mx_io_case(mx, "logistic_mx", mx.sym.LogisticRegressionOutput(d, lab),
               {"data": x, "label": (rs.rand(4, 3) > 0.5).astype("float32")})
    x = rs.randn(4, 3).astype("float32")
    label = rs.randn(4, 3).astype("float32")
    label[0, 1] = x[0, 1]  # a zero difference: MXNet's sign is -1 there
    mx_io_case(mx, "mae_mx", mx.sym.MAERegressionOutput(d, lab, grad_scale=0.5),
               {"data": x, "label": label})
    x = rs.randn(3, 2, 4).astype("float32")
    mx_io_case(mx, "linear_mx_3d", mx.sym.LinearRegressionOutput(d, lab),
               {"data": x, "label": rs.randn(3, 2, 4).astype("float32")})
    mx_reshape_cases(mx)


def main():
    os.makedirs(OUT, exist_ok=True)
    if "--mxnet" in sys.argv:
        mxnet_cases()
    else:
        torch_cases()
    return 0


if __name__ == "__main__":
    sys.exit(main())
