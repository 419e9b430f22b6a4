#!/usr/bin/python3
"""make_op_fixtures.py: writes tests/fixtures/ops/*.txt, small inputs with PyTorch's
outputs and gradients, which tests/check_ops.c compares against; with --mxnet, the
SoftmaxOutput options PyTorch has no twin for (multi_output, preserve_shape, use_ignore,
normalization, smooth_alpha) from Apache MXNet itself (files softmax_mx_*.txt).

Run with Debian's python (it has torch):  /usr/bin/python3 tests/peer/make_op_fixtures.py
and with MXNet 1.9.1's:  /tmp/mxvenv/bin/python tests/peer/make_op_fixtures.py --mxnet

File format (text, one array after another):
    <name> <ndim> <dim0> ... <dimN-1>
    <values, row-major, %.9g, whitespace separated>
The upstream gradient for every visible output is the array "dy"; losses have none.
"""
import os
import sys

if "--mxnet" not in sys.argv:
    import torch
    import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "ops")


def write(name, arrays, source=None):
    """arrays: (name, torch tensor or numpy array) pairs."""
    path = os.path.join(OUT, name + ".txt")
    if source is None:
        source = "torch %s" % torch.__version__
    with open(path, "w") as f:
        f.write("# %s: written by tests/peer/make_op_fixtures.py (%s)\n" % (name, source))
        for key, t in arrays:
            if hasattr(t, "detach"):
                t = t.detach().to(torch.float32).contiguous().numpy()
            t = t.astype("float32")
            f.write("%s %d %s\n" % (key, t.ndim, " ".join(str(d) for d in t.shape)))
            vals = ["%.9g" % v for v in t.reshape(-1).tolist()]
            for i in range(0, len(vals), 8):
                f.write(" ".join(vals[i:i + 8]) + "\n")
    print("wrote", os.path.relpath(path), os.path.getsize(path), "bytes")


def leaf(t):
    return t.clone().requires_grad_(True)


def fc_case(name, data_shape, num_hidden, bias=True, flatten=True):
    x = leaf(torch.randn(*data_shape))
    in_features = 1
    if flatten:
        for d in data_shape[1:]:
            in_features *= d
    else:
        in_features = data_shape[-1]
    w = leaf(torch.randn(num_hidden, in_features) * 0.5)
    b = leaf(torch.randn(num_hidden)) if bias else None
    xin = x.reshape(data_shape[0], -1) if flatten else x
    y = F.linear(xin, w, b)
    dy = torch.randn(*y.shape)
    y.backward(dy)
    arrays = [("x", x), ("w", w)] + ([("b", b)] if bias else [])
    arrays += [("y", y), ("dy", dy), ("dx", x.grad), ("dw", w.grad)]
    if bias:
        arrays.append(("db", b.grad))
    write(name, arrays)


def act_case(act):
    x = torch.randn(4, 7) * 2
    # keep clear of relu's kink so the gradient is well defined
    x = torch.where(x.abs() < 1e-2, torch.full_like(x, 0.5), x)
    x = leaf(x)
    fn = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
          "softrelu": F.softplus, "softsign": F.softsign}[act]
    y = fn(x)
    dy = torch.randn(*y.shape)
    y.backward(dy)
    write("act_" + act, [("x", x), ("y", y), ("dy", dy), ("dx", x.grad)])


def softmax_ce_case(name, reduction):
    x = leaf(torch.randn(6, 5) * 2)
    label = torch.randint(0, 5, (6,))
    y = torch.softmax(x, dim=1)
    loss = F.cross_entropy(x, label, reduction=reduction)
    loss.backward()
    write(name, [("x", x), ("label", label.to(torch.float32)), ("y", y), ("dx", x.grad)])


def mxnet_softmax_cases():
    """SoftmaxOutput under MXNet's own executor; keys must match check_ops.c's table."""
    import mxnet as mx
    import numpy as np
    rs = np.random.RandomState(7)
    cases = [
        ("softmax_mx_multi_batch", (2, 3, 4), (2, 4),
         dict(multi_output=True, use_ignore=True, normalization="batch")),
        ("softmax_mx_multi_null", (2, 3, 2, 2), (2, 2, 2), dict(multi_output=True)),
        ("softmax_mx_preserve_batch", (2, 3, 4), (2, 3),
         dict(preserve_shape=True, normalization="batch")),
        ("softmax_mx_smooth_valid", (5, 4), (5,),
         dict(smooth_alpha=0.2, use_ignore=True, normalization="valid", grad_scale=3.0)),
    ]
    for name, dshape, lshape, attrs in cases:
        x = (rs.randn(*dshape) * 2).astype("float32")
        classes = dshape[1] if attrs.get("multi_output") else dshape[-1]
        label = rs.randint(0, classes, size=lshape).astype("float32")
        if attrs.get("use_ignore"):
            label.reshape(-1)[1::3] = -1
        sym = mx.sym.SoftmaxOutput(mx.sym.Variable("data"), mx.sym.Variable("label"), **attrs)
        ex = sym.simple_bind(mx.cpu(), data=dshape, label=lshape)
        ex.arg_dict["data"][:] = x
        ex.arg_dict["label"][:] = label
        ex.forward(is_train=True)
        ex.backward()
        write(name, [("x", x), ("label", label), ("y", ex.outputs[0].asnumpy()),
                     ("dx", ex.grad_dict["data"].asnumpy())], "mxnet %s" % mx.__version__)


def main():
    os.makedirs(OUT, exist_ok=True)
    if "--mxnet" in sys.argv:
        mxnet_softmax_cases()
        return 0
    torch.manual_seed(20240501)
    fc_case("fc_bias", (5, 6), 4)
    fc_case("fc_nobias", (5, 6), 3, bias=False)
    fc_case("fc_flatten", (3, 2, 4), 5)
    fc_case("fc_noflatten", (2, 3, 4), 5, flatten=False)
    for act in ("relu", "sigmoid", "tanh", "softrelu", "softsign"):
        act_case(act)
    softmax_ce_case("softmax_ce_sum", "sum")     # SoftmaxOutput normalization=null
    softmax_ce_case("softmax_ce_mean", "mean")   # SoftmaxOutput normalization=batch
    return 0


if __name__ == "__main__":
    sys.exit(main())
