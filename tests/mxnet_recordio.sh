#!/bin/bash
# mxnet_recordio.sh: .rec/.idx files cross between mxtrain and Apache MXNet 1.9.1 both ways.
#  (a) MXNet's MXIndexedRecordIO writes random records (empty ones, the magic at aligned and
#      unaligned offsets, payload = the magic, a 300 KB one, IRHeader records with one label
#      and with several) under shuffled keys; our reader (fuzz_recordio --dump) reads the same
#      bytes at the same offsets, in file order and through the .idx.
#  (b) Our writer (fuzz_recordio --write) writes the same records; MXNet reads them back with
#      the same keys, offsets and bytes (IRHeaders unpacked by mx.recordio.unpack), and our
#      .rec and .idx are byte for byte the files MXNet wrote.
# Sharding is not compared: MXNet has no Python reader for a raw .rec shard.
. "$(dirname "$0")/testlib.sh"
FUZZ=$top_builddir/tests/fuzz_recordio
py=${MXTRAIN_PEER_PYTHON:-$top_srcdir/.venv-mxnet/bin/python}

if [ ! -x "$FUZZ" ]; then
	fail "$FUZZ is not built"
	finish
	exit 1
fi
# (find_spec, not import: importing MXNet takes seconds, so the test imports it only twice)
if ! "$py" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("mxnet") is None)' 2>/dev/null; then
	echo "SKIP: RecordIO exchange with MXNet 1.9.1: no MXNet at $py (tools/bootstrap.sh test installs it)"
	exit 77
fi

cat > "$WORK/peer.py" <<'PY'
"""gen SEED N SPEC REC IDX FILE_ORDER IDX_ORDER | check SPEC REC IDX"""
import random
import struct
import sys

import mxnet as mx
import numpy as np

MAGIC = struct.pack("<I", 0xCED7230A)


def gen(seed, n, spec):
    """Writes SPEC ("key<TAB>hex" lines) and SPEC.ir (the IRHeader each packed record holds)."""
    rng = random.Random(seed)
    keys = rng.sample(range(10**6), n)
    with open(spec, "w") as f, open(spec + ".ir", "w") as g:
        for i, key in enumerate(keys):
            kind = i % 9
            size = rng.choice([0, 1, 2, 3, 5, 17, 100, 3000])
            body = bytes(rng.getrandbits(8) for _ in range(size))
            if kind == 0:
                payload = b""
            elif kind == 1:  # magic at aligned and unaligned offsets
                at = [rng.randrange(0, 40) for _ in range(4)]
                payload = bytearray(body + bytes(48))
                for j, a in enumerate(at):
                    a = a & ~3 if j % 2 == 0 else a
                    payload[a:a + 4] = MAGIC
                payload = bytes(payload)
            elif kind == 2:
                payload = MAGIC * rng.randrange(1, 4)
            elif kind == 3:  # single-label IRHeader
                label, hid = float(np.float32(rng.uniform(-5, 5))), rng.randrange(2**40)
                payload = mx.recordio.pack(mx.recordio.IRHeader(0, label, hid, 0), b"\xff\xd8" + body)
                g.write("%d 0 %r %d 0 %d\n" % (key, label, hid, len(body) + 2))
            elif kind == 4:  # multi-label IRHeader whose content holds the magic
                labels = np.array([rng.uniform(-1, 1) for _ in range(rng.randrange(1, 6))], dtype=np.float32)
                hid2 = rng.randrange(2**63)
                payload = mx.recordio.pack(mx.recordio.IRHeader(0, labels, key, hid2), MAGIC + body + MAGIC)
                g.write("%d %d 0.0 %d %d %d %s\n" % (key, labels.size, key, hid2, len(body) + 8,
                                                      " ".join(repr(float(v)) for v in labels)))
            elif kind == 5 and i < 10:
                payload = bytes(rng.getrandbits(8) for _ in range(300 * 1024 + 3))
            else:
                payload = body
            f.write("%d\t%s\n" % (key, payload.hex() or "-"))


def read_spec(spec):
    out = []
    for line in open(spec):
        key, hexs = line.split()
        out.append((int(key), b"" if hexs == "-" else bytes.fromhex(hexs)))
    return out


def write(spec, rec, idx, file_order, idx_order):
    records = read_spec(spec)
    w = mx.recordio.MXIndexedRecordIO(idx, rec, "w")
    for key, payload in records:
        w.write_idx(key, payload)
    w.close()
    r = mx.recordio.MXIndexedRecordIO(idx, rec, "r")
    with open(file_order, "w") as a, open(idx_order, "w") as b:
        for key, payload in records:
            off = r.idx[key]
            a.write("%d\t%d\t%s\n" % (off, len(payload), payload.hex() or "-"))
            b.write("%d\t%d\t%d\t%s\n" % (key, off, len(payload), payload.hex() or "-"))
    r.close()


def check(spec, rec, idx):
    records = read_spec(spec)
    r = mx.recordio.MXIndexedRecordIO(idx, rec, "r")
    assert r.keys == [k for k, _ in records], "keys differ"
    assert all(r.idx[k] % 4 == 0 for k in r.keys), "offsets not multiples of 4"
    for key, payload in records:
        got = r.read_idx(key)
        assert got == payload, "key %d: MXNet read %d bytes, we wrote %d" % (key, len(got), len(payload))
    irs = multi = 0
    for line in open(spec + ".ir"):
        f = line.split()
        h, content = mx.recordio.unpack(r.read_idx(int(f[0])))
        labels = [np.float32(float(v)) for v in f[6:]]
        want = (int(f[1]), np.float32(float(f[2])), int(f[3]), int(f[4]), int(f[5]))
        assert (h.flag, np.float32(0 if h.flag else h.label), h.id, h.id2, len(content)) == want, \
            "key %s: header %r, want %r" % (f[0], h, want)
        if h.flag:
            assert list(np.asarray(h.label, dtype=np.float32)) == labels, "key %s: labels" % f[0]
            multi += 1
        irs += 1
    r.close()
    seq = mx.recordio.MXRecordIO(rec, "r")
    n = 0
    while True:
        item = seq.read()
        if item is None:
            break
        assert item == records[n][1], "sequential record %d differs" % n
        n += 1
    seq.close()
    assert n == len(records), "sequential read gave %d of %d records" % (n, len(records))
    print("%d records, %d keys, %d IRHeaders (%d multi-label) as packed" % (n, len(records), irs, multi))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "gen":  # random records, then MXNet writes them
        gen(int(args[0]), int(args[1]), args[2])
        write(*args[2:])
    else:
        check(*args)
PY

cd "$WORK" || exit 1
n=200
# (a) MXNet writes, we read
if "$py" peer.py gen 11 $n spec.txt mx.rec mx.idx want-file.txt want-idx.txt > py.log 2>&1; then
	if "$FUZZ" --dump mx.rec > ours-file.txt 2> dump.err && cmp -s want-file.txt ours-file.txt; then
		pass "our reader reads MXNet's $n records ($(wc -c < mx.rec) bytes) identically, in file order"
	else
		fail "our reader on MXNet's .rec: $(cat dump.err; diff want-file.txt ours-file.txt | head -c 300)"
	fi
	if "$FUZZ" --dump mx.rec mx.idx > ours-idx.txt 2> dump.err && cmp -s want-idx.txt ours-idx.txt; then
		pass "our .idx reader finds MXNet's keys and offsets, and seeking there gives the same records"
	else
		fail "our reader through MXNet's .idx: $(cat dump.err; diff want-idx.txt ours-idx.txt | head -c 300)"
	fi
else
	fail "MXNet writing: $(tail -3 py.log)"
fi

# (b) we write, MXNet reads
if "$FUZZ" --write ours.rec ours.idx < spec.txt 2> write.err; then
	if "$py" peer.py check spec.txt ours.rec ours.idx > py.log 2>&1; then
		pass "MXNet's MXIndexedRecordIO and MXRecordIO read our file: $(tail -1 py.log)"
	else
		fail "MXNet reading our file: $(tail -3 py.log)"
	fi
	if cmp -s ours.rec mx.rec && cmp -s ours.idx mx.idx; then
		pass "our .rec and .idx are byte for byte the files MXNet wrote"
	else
		fail "our files differ from MXNet's: $(cmp ours.rec mx.rec; cmp ours.idx mx.idx)"
	fi
else
	fail "fuzz_recordio --write: $(cat write.err)"
fi
finish
