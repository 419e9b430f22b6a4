#!/usr/bin/env python
"""make_recordio_fixtures.py: writes tests/fixtures/recordio/ with the real MXNet (1.9.1).

Run with the MXNet virtualenv:  .venv-mxnet/bin/python tests/peer/make_recordio_fixtures.py
MXNet's own mx.recordio (MXIndexedRecordIO, pack) writes mxnet.rec and mxnet.idx; the files
are small (a few KB) and committed, so tests/check_recordio.c checks our reader against them
without MXNet. expected.txt lists every record, in file order, as text:

    rec <key> <offset> <length> <payload as hex, or - when empty>
    ir <flag> <label %.9g> <id> <id2> <content length> <label %.9g>...   (IRHeader records only)

The "ir" line, when present, is MXNet's own mx.recordio.unpack of the record just above.
"""
import os
import random
import struct

import mxnet as mx
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "recordio")
MAGIC = struct.pack("<I", 0xCED7230A)


def records():
    """(key, payload, is_irheader) in write order; keys are neither sorted nor 0..n-1."""
    rng = random.Random(5)
    pack, IRHeader = mx.recordio.pack, mx.recordio.IRHeader
    return [
        (5, b"", False),
        (3, pack(IRHeader(0, 3.0, 7, 0), b"\xff\xd8 single label"), True),
        (10, pack(IRHeader(0, [1.0, 2.5], 7, 0), b"\xff\xd8 two labels"), True),
        (1, b"ABCD" + MAGIC + b"EF", False),
        (42, pack(IRHeader(0, np.array([0.25, -7.0, 1e-3], dtype=np.float32), 123456789012, 0),
                  MAGIC + b"\x89PNG" + MAGIC + b"x" + MAGIC + b"tail" + MAGIC), True),
        (7, MAGIC, False),
        (0, MAGIC * 3 + b"z" + MAGIC + b"unaligned", False),
        (2, bytes(rng.getrandbits(8) for _ in range(3001)), False),
        (100, pack(IRHeader(0, -1.5, 2**63 + 5, 99), b""), True),
        (64, b"Q", False),
    ]


def main():
    os.makedirs(OUT, exist_ok=True)
    rec_path, idx_path = os.path.join(OUT, "mxnet.rec"), os.path.join(OUT, "mxnet.idx")
    w = mx.recordio.MXIndexedRecordIO(idx_path, rec_path, "w")
    for key, payload, _ in records():
        w.write_idx(key, payload)
    w.close()

    r = mx.recordio.MXIndexedRecordIO(idx_path, rec_path, "r")
    lines = []
    for key, payload, is_ir in records():
        got = r.read_idx(key)
        assert got == payload, key
        lines.append("rec %d %d %d %s" % (key, r.idx[key], len(got), got.hex() or "-"))
        if is_ir:
            h, content = mx.recordio.unpack(got)
            labels = np.atleast_1d(np.asarray(h.label, dtype=np.float32)) if h.flag else []
            scalar = 0.0 if h.flag else h.label
            lines.append("ir %d %.9g %d %d %d%s" % (h.flag, scalar, h.id, h.id2, len(content),
                                                    "".join(" %.9g" % v for v in labels)))
    r.close()
    with open(os.path.join(OUT, "expected.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %s (%d bytes), %s, expected.txt" % (rec_path, os.path.getsize(rec_path), idx_path))


if __name__ == "__main__":
    main()
