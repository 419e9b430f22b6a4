"""mxnet_memory.py: MXNet 1.9.1's own memory figures for a network, to compare with
`mxtrain --plan`. Binds the symbol JSON with simple_bind (grad_req write for training,
null for inference) and prints the total that the executor's debug_str() reports, twice:
as MXNet runs by default (its pip build's MKLDNN backend fuses, in inference,
Convolution with the BatchNorm, ReLU and elementwise sum after it), and for the graph as
written (MXNET_SUBGRAPH_BACKEND=NONE), the same graph that mxtrain plans.

  python mxnet_memory.py SYMBOL.json BATCH C H W
prints lines "mxnet mode=train batch=64 total_mb=N unfused_mb=M".
"""
import os
import re
import sys

import mxnet as mx


def total_mb(sym, shape, train, backend):
    # GraphExecutor reads the variable when it is created, so setting it here applies.
    if backend is None:
        os.environ.pop("MXNET_SUBGRAPH_BACKEND", None)
    else:
        os.environ["MXNET_SUBGRAPH_BACKEND"] = backend
    ex = sym.simple_bind(mx.cpu(), data=shape, grad_req="write" if train else "null")
    m = re.search(r"Total (\d+) MB allocated", ex.debug_str())
    return int(m.group(1)) if m else -1


def main():
    path, batch = sys.argv[1], int(sys.argv[2])
    dims = tuple(int(x) for x in sys.argv[3:])
    sym = mx.sym.load(path)
    for train in (True, False):
        for b in ((batch,) if train else (batch, 1)):
            shape = (b,) + dims
            print("mxnet mode=%s batch=%d total_mb=%d unfused_mb=%d" % (
                "train" if train else "inference", b, total_mb(sym, shape, train, None),
                total_mb(sym, shape, train, "NONE")))


if __name__ == "__main__":
    main()
