#!/usr/bin/env python
"""check_mxnet_loads.py: the real MXNet (1.9.1) loads checkpoints that mxtrain's writers
(src/net/symbol_json.c, src/net/ndarray_io.c) made.

    /tmp/mxvenv/bin/python tests/peer/check_mxnet_loads.py [path/to/tests/check_formats]

It runs the "peer" case of check_formats, which writes ours-symbol.json/ours-0001.params
(data -> fc1(16) -> relu -> fc2(10) -> softmax, built as a .conf builds it) and
branchy-symbol.json/branchy-0001.params (Flatten, FullyConnected without bias, Dropout,
add_n, SoftmaxOutput), then checks with mx.model.load_checkpoint: list_arguments(), every
parameter's name, shape and value, MXNet's own tojson() of the loaded symbol (it must be
our text unchanged), and a forward pass against numpy. Exit status 0 when all hold.
"""
import os
import subprocess
import sys
import tempfile

import mxnet as mx
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures", "mxnet")


def peer_value(k, shape):
    """What check_formats.c's peer_value() put at each flat index of the k-th array."""
    i = np.arange(int(np.prod(shape)), dtype=np.int64)
    return (((i * 7 + k * 3) % 23 - 11) * 0.0625 + k).astype(np.float32).reshape(shape)


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def mlp_numpy(x, p):
    h = np.maximum(x @ p["fc1_weight"].T + p["fc1_bias"], 0)
    return softmax(h @ p["fc2_weight"].T + p["fc2_bias"])


def branchy_numpy(x, p):
    s = x @ p["fc_a_weight"].T + x @ p["fc_b_weight"].T + p["fc_b_bias"]  # Dropout: identity
    return softmax(s @ p["fc_out_weight"].T + p["fc_out_bias"])


CASES = [
    ("ours", ["data", "fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias", "softmax_label"],
     [("fc1_weight", (16, 8)), ("fc1_bias", (16,)), ("fc2_weight", (10, 16)), ("fc2_bias", (10,))],
     mlp_numpy),
    ("branchy", None,  # MXNet's own list for this graph, from the fixture
     [("fc_a_weight", (6, 8)), ("fc_b_weight", (6, 8)), ("fc_b_bias", (6,)),
      ("fc_out_weight", (3, 6)), ("fc_out_bias", (3,))],
     branchy_numpy),
]


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    return bool(cond)


def main():
    exe = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.environ.get("top_builddir", os.path.join(HERE, "..", "..")), "tests", "check_formats")
    ok = True
    with tempfile.TemporaryDirectory() as out:
        env = dict(os.environ, MXTRAIN_PEER_DIR=out, CK_RUN_CASE="peer")
        run = subprocess.run([exe], env=env, capture_output=True, text=True)
        if not check(run.returncode == 0, "check_formats (peer case) wrote the files"):
            print(run.stdout + run.stderr)
            return 1
        x = np.random.default_rng(7).standard_normal((4, 8)).astype(np.float32)
        for prefix, want_args, params, reference in CASES:
            if want_args is None:
                with open(os.path.join(FIXTURES, prefix + "-arguments.txt")) as f:
                    want_args = f.read().split()
            sym, args, aux = mx.model.load_checkpoint(os.path.join(out, prefix), 1)
            ok &= check(sym.list_arguments() == want_args,
                        "%s: list_arguments() = %s" % (prefix, sym.list_arguments()))
            ok &= check(sorted(args) == sorted(n for n, _ in params) and not aux,
                        "%s: arg_params %s, aux_params %s" % (prefix, sorted(args), sorted(aux)))
            values = {}
            for k, (name, shape) in enumerate(params):
                got = args[name].asnumpy()
                values[name] = got
                ok &= check(got.shape == shape and got.dtype == np.float32 and
                            np.array_equal(got, peer_value(k, shape)),
                            "%s: %s %s float32, values exact" % (prefix, name, got.shape))
            with open(os.path.join(out, prefix + "-symbol.json")) as f:
                ok &= check(sym.tojson() == f.read(), "%s: MXNet's tojson() is our text unchanged" % prefix)
            arg_shapes, out_shapes, _ = sym.infer_shape(data=x.shape)
            ok &= check(out_shapes[0] == (4, reference(x, values).shape[1]),
                        "%s: infer_shape(data=%s) -> %s" % (prefix, x.shape, out_shapes))
            feed = dict(args, data=mx.nd.array(x))
            label = [a for a in want_args if a.endswith("_label")][0]
            feed[label] = mx.nd.zeros((x.shape[0],))
            ex = sym.bind(mx.cpu(), args=feed, aux_states=aux, grad_req="null")
            got = ex.forward(is_train=False)[0].asnumpy()
            err = float(np.abs(got - reference(x, values)).max())
            ok &= check(err < 1e-5, "%s: MXNet forward matches numpy (max |diff| %.2g)" % (prefix, err))
    print("PASS" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
