"""mxnet_roundtrip.py: the MXNet 1.9.1 side of the checkpoint round trip.

  make-checkpoint PREFIX TRAIN_IMAGES TRAIN_LABELS  train a 784-16-10 MLP briefly in MXNet
                                                     and save_checkpoint(PREFIX, 1)
  predict PREFIX EPOCH IMAGES OUT.csv               mx.model.load_checkpoint + predict,
                                                     CSV as mxpredict writes it
  compare A.csv B.csv                               same top-1 for every row and
                                                     probabilities within 1e-4 (no MXNet needed)
Images are idx files (raw or .gz), scaled by 1/256 as MXNet's MNISTIter and mxtrain do.
"""
import gzip
import struct
import sys


def read_idx(path):
    import numpy as np
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, count = struct.unpack(">II", data[:8])
    if magic == 0x803:
        rows, cols = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, np.uint8, count * rows * cols, 16).reshape(count, 1, rows, cols)
    return np.frombuffer(data, np.uint8, count, 8)


def make_checkpoint(prefix, images, labels):
    import mxnet as mx
    import numpy as np
    x = read_idx(images)[:6000].astype(np.float32) / 256
    y = read_idx(labels)[:6000].astype(np.float32)
    data = mx.sym.Variable("data")
    net = mx.sym.FullyConnected(data, num_hidden=16, name="fc1")
    net = mx.sym.Activation(net, act_type="relu", name="relu1")
    net = mx.sym.FullyConnected(net, num_hidden=10, name="fc2")
    net = mx.sym.SoftmaxOutput(net, name="softmax")
    mx.random.seed(1)
    np.random.seed(1)
    it = mx.io.NDArrayIter(x, y, batch_size=100, shuffle=True, label_name="softmax_label")
    mod = mx.mod.Module(net, context=mx.cpu())
    mod.fit(it, num_epoch=2, optimizer="sgd", initializer=mx.init.Xavier(),
            optimizer_params={"learning_rate": 0.1, "momentum": 0.9})
    arg, aux = mod.get_params()
    mx.model.save_checkpoint(prefix, 1, net, arg, aux)


def predict(prefix, epoch, images, out):
    import mxnet as mx
    import numpy as np
    x = read_idx(images).astype(np.float32) / 256
    sym, arg, aux = mx.model.load_checkpoint(prefix, int(epoch))
    mod = mx.mod.Module(sym, context=mx.cpu(), label_names=["softmax_label"])
    mod.bind(data_shapes=[("data", (100,) + x.shape[1:])], for_training=False)
    mod.set_params(arg, aux, allow_missing=False)
    prob = mod.predict(mx.io.NDArrayIter(x, batch_size=100)).asnumpy()[: len(x)]
    write_csv(out, prob)


def write_csv(path, prob, k=5):
    import numpy as np
    k = min(k, prob.shape[1])
    with open(path, "w") as f:
        f.write("index," + ",".join("class%d" % (j + 1) for j in range(k)) + ","
                + ",".join("prob%d" % (j + 1) for j in range(k)) + "\n")
        for i, p in enumerate(prob):
            top = np.argsort(-p, kind="stable")[:k]
            f.write("%d,%s,%s\n" % (i, ",".join(str(c) for c in top),
                                   ",".join("%.6f" % p[c] for c in top)))


def compare(a, b):
    rows_a = open(a).read().split("\n")[1:]
    rows_b = open(b).read().split("\n")[1:]
    rows_a = [r.split(",") for r in rows_a if r]
    rows_b = [r.split(",") for r in rows_b if r]
    if len(rows_a) != len(rows_b):
        print("FAIL: %s has %d rows, %s has %d" % (a, len(rows_a), b, len(rows_b)))
        return 1
    k = (len(rows_a[0]) - 1) // 2
    worst = 0.0
    for ra, rb in zip(rows_a, rows_b):
        if ra[1] != rb[1]:
            print("FAIL: row %s: top-1 %s vs %s" % (ra[0], ra[1], rb[1]))
            return 1
        for j in range(k):
            if ra[1 + j] == rb[1 + j]:
                worst = max(worst, abs(float(ra[1 + k + j]) - float(rb[1 + k + j])))
    print("%d rows: same top-1 everywhere; max probability difference %.2e" % (len(rows_a), worst))
    return 0 if worst <= 1e-4 else 1


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "make-checkpoint":
        make_checkpoint(*args)
    elif cmd == "predict":
        predict(*args)
    elif cmd == "compare":
        sys.exit(compare(*args))
    else:
        sys.exit("unknown command " + cmd)
