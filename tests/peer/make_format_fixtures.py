#!/usr/bin/env python
"""make_format_fixtures.py: writes tests/fixtures/mxnet/ with the real MXNet (1.9.1).

Run with the MXNet virtualenv:  /tmp/mxvenv/bin/python tests/peer/make_format_fixtures.py
The files are small (a few KB) and committed, so the C tests (tests/check_formats.c) run
without MXNet. expected.txt lists every array in them as text that parses back exactly:

    <file> <index> <name or -> <dtype> <ndim> <dim>... <value>...

float32 values as %.9g, float64 as %.17g (both round-trip exactly), float16 as the raw
16-bit pattern in decimal, integers in decimal.
"""
import os
import sys

import mxnet as mx
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "mxnet")


def values(dtype, rng, shape):
    n = int(np.prod(shape))
    if np.issubdtype(dtype, np.floating):
        # Values that need all bits: not just small integers or halves.
        return (rng.standard_normal(n) * 3).astype(dtype).reshape(shape)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, n, dtype=dtype, endpoint=True).reshape(shape)


def fmt(a):
    a = a.reshape(-1)
    if a.dtype == np.float32:
        return ["%.9g" % v for v in a]
    if a.dtype == np.float64:
        return ["%.17g" % v for v in a]
    if a.dtype == np.float16:
        return [str(v) for v in a.view(np.uint16)]
    return [str(int(v)) for v in a]


def describe(lines, fname, arrays, names):
    for i, a in enumerate(arrays):
        a = a.asnumpy() if hasattr(a, "asnumpy") else a
        name = names[i] if names else "-"
        shape = a.shape if a.ndim else (1,)  # a 0-d array is read as shape (1)
        lines.append(" ".join([fname, str(i), name, str(a.dtype), str(len(shape))]
                              + [str(d) for d in shape] + fmt(a)))


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20240501)
    lines = []

    # 1. A dict of float32 arrays (arg:/aux: names; 1-d, 2-d, 4-d): mx.nd.save writes V2.
    d = {
        "arg:fc1_weight": values(np.float32, rng, (3, 4)),
        "arg:fc1_bias": values(np.float32, rng, (3,)),
        "arg:conv0_weight": values(np.float32, rng, (2, 1, 2, 3)),
        "aux:bn0_moving_var": values(np.float32, rng, (2,)),
    }
    mx.nd.save(os.path.join(OUT, "dict_f32.params"), {k: mx.nd.array(v) for k, v in d.items()})
    describe(lines, "dict_f32.params", list(d.values()), list(d.keys()))

    # 2. A list (no names).
    lst = [values(np.float32, rng, (5,)), values(np.float32, rng, (2, 3))]
    mx.nd.save(os.path.join(OUT, "list_f32.params"), [mx.nd.array(v) for v in lst])
    describe(lines, "list_f32.params", lst, None)

    # 3. Other dtypes.
    types = {"f64": np.float64, "i32": np.int32, "f16": np.float16, "u8": np.uint8,
             "i8": np.int8, "i64": np.int64}
    dt = {k: values(t, rng, (2, 3) if k in ("f64", "i32") else (4,)) for k, t in types.items()}
    mx.nd.save(os.path.join(OUT, "dtypes.params"),
               {k: mx.nd.array(v, dtype=v.dtype) for k, v in dt.items()})
    describe(lines, "dtypes.params", list(dt.values()), list(dt.keys()))

    # 4. A row_sparse array between two dense ones: mxtrain must refuse it by name.
    dense = values(np.float32, rng, (2,))
    sp = mx.nd.array(values(np.float32, rng, (4, 2))).tostype("row_sparse")
    mx.nd.save(os.path.join(OUT, "sparse.params"),
               {"dense0": mx.nd.array(dense), "arg:emb_weight": sp, "dense1": mx.nd.array(dense)})

    # 5. Numpy semantics: V3 records, including a 0-d (scalar) array.
    v3 = [values(np.float32, rng, (2, 2)), np.array(2.5, dtype=np.float32)]
    with mx.util.np_shape(True):
        mx.nd.save(os.path.join(OUT, "v3_np.params"),
                   {"a": mx.nd.array(v3[0]), "scalar": mx.nd.array(v3[1])})
    describe(lines, "v3_np.params", v3, ["a", "scalar"])

    # 6. A small MLP: symbol JSON and a checkpoint (8 inputs -> 16 -> relu -> 10 -> softmax).
    data = mx.sym.Variable("data")
    fc1 = mx.sym.FullyConnected(data, num_hidden=16, name="fc1")
    act = mx.sym.Activation(fc1, act_type="relu", name="relu1")
    fc2 = mx.sym.FullyConnected(act, num_hidden=10, name="fc2")
    net = mx.sym.SoftmaxOutput(fc2, name="softmax")
    shapes, _, _ = net.infer_shape(data=(1, 8))
    args = {}
    for name, shape in zip(net.list_arguments(), shapes):
        if name not in ("data", "softmax_label"):
            args[name] = mx.nd.array(values(np.float32, rng, shape))
    mx.model.save_checkpoint(os.path.join(OUT, "mlp"), 3, net, args, {})
    names = ["arg:" + k for k in args]
    describe(lines, "mlp-0003.params", [v.asnumpy() for v in args.values()], names)

    # 7. Every supported op, no_bias, a hidden variable key, a shared data variable:
    # data -> Flatten -> fc_a (no bias) -> Dropout --+
    #              \--> fc_b -------------------------+-> add_n -> fc_out (weight lr_mult 2) -> softmax
    flat = mx.sym.Flatten(data, name="flat")
    fa = mx.sym.FullyConnected(flat, num_hidden=6, no_bias=True, name="fc_a")
    drop = mx.sym.Dropout(fa, p=0.25, name="drop")
    fb = mx.sym.FullyConnected(flat, num_hidden=6, name="fc_b")
    s = mx.sym.add_n(drop, fb, name="sum")
    w = mx.sym.Variable("fc_out_weight", lr_mult=2.0)
    fo = mx.sym.FullyConnected(s, weight=w, num_hidden=3, name="fc_out")
    net2 = mx.sym.SoftmaxOutput(fo, name="out", normalization="batch")
    with open(os.path.join(OUT, "branchy-symbol.json"), "w") as f:
        f.write(net2.tojson())
    with open(os.path.join(OUT, "branchy-arguments.txt"), "w") as f:
        f.write("\n".join(net2.list_arguments()) + "\n")

    with open(os.path.join(OUT, "expected.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    total = sum(os.path.getsize(os.path.join(OUT, x)) for x in os.listdir(OUT))
    print("wrote %s (%d bytes)" % (OUT, total), file=sys.stderr)


if __name__ == "__main__":
    main()
