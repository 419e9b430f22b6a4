#!/bin/bash
# im2rec.sh: im2rec(1) on a small tree of JPEG and PNG images made here with PIL.
#  --list: labels, order and counts (--recursive, --no-shuffle, --exts, ratios, chunks);
#    the same lines as MXNet's tools/im2rec.py --list, shuffled or not (needs its cv2).
#  packing: every record read back by our own parser (framing, .idx offsets and keys,
#    IRHeader id/flag/labels against the .lst, content bytes, format and size) for
#    --pass-through, --resize, --center-crop, --color 0, --encoding .png, --pack-label;
#    --num-thread 1 and 3 give the same bytes; MXNet 1.9.1 (MXIndexedRecordIO, unpack,
#    imdecode) reads the same headers and sizes; im2rec.py --pass-through writes the same
#    bytes and, re-encoding, the same pixels (within rounding).
#  errors: missing root or list, unknown option, a corrupt or missing image (skipped with
#    a warning naming it, the rest packed, exit 0), an empty list, a bad list line.
. "$(dirname "$0")/testlib.sh"
IM2REC=$top_builddir/im2rec
PIL_PY=/usr/bin/python3
py=${MXTRAIN_PEER_PYTHON:-$top_srcdir/.venv-mxnet/bin/python}

if ! "$PIL_PY" -c 'import PIL' 2>/dev/null; then
	echo "SKIP: $PIL_PY has no PIL (apt-get install python3-pil) to make the test images"
	exit 77
fi

# The record reader (Debian python3 + PIL) and its MXNet twin; see the usage below.
cat > "$WORK/check.py" <<'PYEOF'
# usage: check.py ours|mxnet LST REC IDX ROOT [--pass-through] [--resize N] [--center-crop]
#        [--color C] [--encoding E] [--pack-label] [--skip PATH]...
# Prints "key id flag labels WIDTHxHEIGHT" per record; exits 1 after naming any problem.
import argparse
import struct
import sys

MAGIC = 0xCED7230A


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def read_lst(path):
    items = []
    with open(path) as f:
        for line in f:
            fields = [x.strip() for x in line.strip().split("\t")]
            if len(fields) < 3:
                continue
            try:
                items.append((int(fields[0]), fields[-1], [float(x) for x in fields[1:-1]]))
            except ValueError:
                continue
    return items


def fmt_labels(labels):
    return ",".join("%.6g" % float(x) for x in labels)


def expected_size(width, height, args):
    if args.center_crop:
        width = height = min(width, height)
    if args.resize:
        if height > width:
            width, height = args.resize, height * args.resize // width
        else:
            width, height = width * args.resize // height, args.resize
    return width, height


def ours(args, items, problems):
    import io
    from PIL import Image
    data = open(args.rec, "rb").read()
    records, pos = [], 0
    while pos < len(data):
        start, parts = pos, []
        while True:
            if pos + 8 > len(data):
                problems.append("record at %d: truncated part header" % start)
                return
            magic, lrec = struct.unpack_from("<II", data, pos)
            if magic != MAGIC:
                problems.append("offset %d: magic 0x%08x" % (pos, magic))
                return
            cflag, n = lrec >> 29, lrec & ((1 << 29) - 1)
            parts.append(data[pos + 8:pos + 8 + n])
            if any(data[pos + 8 + n:pos + 8 + ((n + 3) & ~3)]):
                problems.append("offset %d: padding is not zero" % pos)
            pos += 8 + ((n + 3) & ~3)
            if cflag in (0, 3):
                break
        records.append((start, struct.pack("<I", MAGIC).join(parts)))
    idx = [tuple(int(x) for x in line.split("\t")) for line in open(args.idx)]
    if [o for _, o in idx] != [o for o, _ in records]:
        problems.append(".idx offsets %s differ from the record heads %s" % ([o for _, o in idx][:5], [o for o, _ in records][:5]))
    if len(items) != len(records):
        problems.append("%d records for %d list items" % (len(records), len(items)))
    for (key, _), (_, payload), (lst_id, path, labels) in zip(idx, records, items):
        flag, label, rid, rid2 = struct.unpack_from("<IfQQ", payload)
        stored = list(struct.unpack_from("<%df" % flag, payload, 24)) if flag else [label]
        content = payload[24 + 4 * flag:]
        want = [f32(x) for x in labels] if args.pack_label and len(labels) > 1 else [f32(labels[0])]
        if key != lst_id or rid != lst_id or rid2 != 0:
            problems.append("%s: key %d, id %d, id2 %d; the list says %d" % (path, key, rid, rid2, lst_id))
        if stored != want or (flag and label != 0.0) or flag != (len(want) if len(want) > 1 else 0):
            problems.append("%s: flag %d labels %s, want %s" % (path, flag, stored, want))
        original = open(path if path.startswith("/") else args.root + "/" + path, "rb").read()
        with Image.open(io.BytesIO(original)) as im:
            width, height = im.size
        img = Image.open(io.BytesIO(content))
        if args.pass_through:
            if content != original:
                problems.append("%s: --pass-through changed the bytes" % path)
        else:
            magic = b"\xff\xd8\xff" if args.encoding == ".jpg" else b"\x89PNG\r\n\x1a\n"
            if not content.startswith(magic):
                problems.append("%s: content is not %s" % (path, args.encoding))
            if img.size != expected_size(width, height, args):
                problems.append("%s: %dx%d, want %dx%d" % ((path,) + img.size + expected_size(width, height, args)))
            want_mode = {1: ("RGB",), 0: ("L",), -1: ("L", "RGB")}[args.color]
            if img.mode not in want_mode:
                problems.append("%s: mode %s, want %s" % (path, img.mode, want_mode))
        print("%d %d %d %s %dx%d" % (key, rid, flag, fmt_labels(stored), img.size[0], img.size[1]))


def mxnet(args, items, problems):
    import mxnet as mx
    rec = mx.recordio.MXIndexedRecordIO(args.idx, args.rec, "r")
    if len(rec.keys) != len(items):
        problems.append("%d keys for %d list items" % (len(rec.keys), len(items)))
    for key in rec.keys:
        header, content = mx.recordio.unpack(rec.read_idx(key))
        labels = header.label if header.flag else [header.label]
        img = mx.image.imdecode(content, flag=0 if args.color == 0 else 1)
        print("%d %d %d %s %dx%d" % (key, header.id, header.flag, fmt_labels(labels), img.shape[1], img.shape[0]))


def check(argv):
    p = argparse.ArgumentParser()
    p.add_argument("reader", choices=["ours", "mxnet"])
    for name in ("lst", "rec", "idx", "root"):
        p.add_argument(name)
    p.add_argument("--pass-through", action="store_true")
    p.add_argument("--center-crop", action="store_true")
    p.add_argument("--pack-label", action="store_true")
    p.add_argument("--resize", type=int, default=0)
    p.add_argument("--color", type=int, default=1)
    p.add_argument("--encoding", default=".jpg")
    p.add_argument("--skip", action="append", default=[])
    args = p.parse_args(argv)
    items = [it for it in read_lst(args.lst) if it[1] not in args.skip]
    problems = []
    (ours if args.reader == "ours" else mxnet)(args, items, problems)
    for line in problems[:10]:
        print("PROBLEM: " + line, file=sys.stderr)
    return 1 if problems else 0


def pixels(a_prefix, b_prefix):
    """Two packings of one list: the same headers and shapes, pixels within rounding."""
    import mxnet as mx, numpy as np
    a = mx.recordio.MXIndexedRecordIO(a_prefix + ".idx", a_prefix + ".rec", "r")
    b = mx.recordio.MXIndexedRecordIO(b_prefix + ".idx", b_prefix + ".rec", "r")
    if a.keys != b.keys:
        return "PROBLEM: keys differ"
    worst = 0
    for k in a.keys:
        ha, ia = mx.recordio.unpack_img(a.read_idx(k))
        hb, ib = mx.recordio.unpack_img(b.read_idx(k))
        if ha != hb or ia.shape != ib.shape:
            return "PROBLEM: key %d: %s %s against %s %s" % (k, ha, ia.shape, hb, ib.shape)
        d = np.abs(ia.astype(int) - ib.astype(int))
        if d.mean() >= 1.0:
            return "PROBLEM: key %d: mean pixel difference %.2f" % (k, d.mean())
        worst = max(worst, d.max())
    return "%d images, largest pixel difference %d" % (len(a.keys), worst)


def batch(tool, jobs):
    """Runs many jobs in one process (MXNet takes seconds to import). Lines of jobs:
    tool OUT ARGS...: MXNet's im2rec.py ARGS, its output in OUT;
    check OUT ERR ARGS...: check() with ARGS, stdout in OUT, problems in ERR;
    pixels OUT A B: pixels(A, B) into OUT."""
    import contextlib, runpy
    for line in open(jobs):
        kind, out, *rest = line.split()
        with open(out, "w") as f, contextlib.redirect_stdout(f):
            if kind == "tool":
                sys.argv = [tool] + rest
                with contextlib.redirect_stderr(f):
                    try:
                        names = runpy.run_path(tool, run_name="__main__")
                        if "record" in names:
                            names["record"].close()  # a process of its own closes it at exit
                    except SystemExit:
                        pass
            elif kind == "check":
                with open(rest[0], "w") as err, contextlib.redirect_stderr(err):
                    if check(rest[1:]):
                        print("PROBLEM: exit 1", file=err)
            else:
                print(pixels(*rest))


if __name__ == "__main__":
    if sys.argv[1] == "batch":
        batch(sys.argv[2], sys.argv[3])
    else:
        sys.exit(check(sys.argv[1:]))
PYEOF

# The tree: a top-level image, classes with JPEG, PNG, gray and RGBA files, a nested class,
# folders without images, and files that are not images.
"$PIL_PY" - "$WORK/tree" <<'PYEOF'
import os, sys, random
from PIL import Image
root = sys.argv[1]
rnd = random.Random(7)
def image(path, size, mode="RGB"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    w, h = size
    im = Image.new(mode, size)
    im.putdata([tuple((x * 255 // w, y * 255 // h, rnd.randrange(256), 200)[:len(mode)]) if mode != "L"
                else (x * 7 + y * 3 + rnd.randrange(40)) % 256 for y in range(h) for x in range(w)])
    im.save(path, quality=92) if path.lower().endswith(("jpg", "jpeg")) else im.save(path)
image(root + "/top.jpg", (40, 30))
image(root + "/cat/Z.png", (21, 34))
image(root + "/cat/a.jpg", (33, 47))
image(root + "/cat/b.png", (50, 20))
image(root + "/cat/c.JPG", (28, 28))
image(root + "/cat/d.png", (30, 40), "L")
image(root + "/dog/e.jpg", (64, 48))
image(root + "/dog/f.png", (25, 35), "RGBA")
image(root + "/zoo/z1.jpeg", (45, 45))
image(root + "/zoo/zebra/x.jpg", (20, 60))
image(root + "/zoo/zebra/y.png", (52, 26))
os.makedirs(root + "/empty")
os.makedirs(root + "/misc")
for p in ("readme.txt", "misc/notes.txt", "cat/.jpg", "dog/e.jpg.bak"):
    open(root + "/" + p, "w").write("not an image\n")
PYEOF
[ -f "$WORK/tree/zoo/zebra/y.png" ] || { fail "could not make the test images"; finish; exit 1; }
cd "$WORK" || exit 1
T=$(printf '\t')

# run NAME COMMAND...: runs it, keeping stdout in NAME.out and stderr in NAME.err.
run() {
	local name=$1
	shift
	"$@" > "$WORK/$name.out" 2> "$WORK/$name.err"
}

# expect_error NAME PATTERN COMMAND...: exit status 2 and one stderr line matching PATTERN.
expect_error() {
	local name=$1 pattern=$2 status
	shift 2
	"$@" > "$WORK/err.out" 2> "$WORK/err.err"
	status=$?
	if [ "$status" -ne 2 ]; then
		fail "$name: exit status $status, want 2 ($(head -c 300 "$WORK/err.err"))"
	elif [ "$(wc -l < "$WORK/err.err")" -ne 1 ]; then
		fail "$name: want one line on stderr: $(cat "$WORK/err.err")"
	elif ! grep -qE -- "$pattern" "$WORK/err.err"; then
		fail "$name: message does not match /$pattern/: $(cat "$WORK/err.err")"
	else
		pass "$name: $(cat "$WORK/err.err")"
	fi
}

# check_pack NAME PREFIX [checker options]: our reader accepts PREFIX.rec/.idx against PREFIX.lst.
check_pack() {
	local name=$1 prefix=$2
	shift 2
	if "$PIL_PY" check.py ours "$prefix.lst" "$prefix.rec" "$prefix.idx" tree "$@" > "$prefix.ours" 2> "$prefix.problems"; then
		pass "$name: $(wc -l < "$prefix.ours") records read back and checked"
	else
		fail "$name: $(head -3 "$prefix.problems")"
	fi
}

# ---- --list ----------------------------------------------------------------------------
cat > want.lst <<EOF
0${T}0.000000${T}top.jpg
1${T}1.000000${T}cat/Z.png
2${T}1.000000${T}cat/a.jpg
3${T}1.000000${T}cat/b.png
4${T}1.000000${T}cat/c.JPG
5${T}1.000000${T}cat/d.png
6${T}2.000000${T}dog/e.jpg
7${T}2.000000${T}dog/f.png
8${T}3.000000${T}zoo/z1.jpeg
9${T}4.000000${T}zoo/zebra/x.jpg
10${T}4.000000${T}zoo/zebra/y.png
EOF
printf '. 0\ncat 1\ndog 2\nzoo 3\nzoo/zebra 4\n' > want.classes

if run sorted "$IM2REC" --list --recursive --no-shuffle sorted tree && cmp -s sorted.lst want.lst; then
	pass "--list --recursive --no-shuffle: one label per folder in walk order, byte order of names"
else
	fail "--list --recursive --no-shuffle: $(cat sorted.err; diff want.lst sorted.lst | head -5)"
fi
if cmp -s sorted.out want.classes; then
	pass "--list --recursive prints each folder and its label"
else
	fail "--list --recursive printed: $(cat sorted.out)"
fi

run shuffled "$IM2REC" --list --recursive shuffled tree
if [ "$(sort shuffled.lst)" = "$(sort want.lst)" ] && ! cmp -s shuffled.lst want.lst; then
	pass "--list shuffles by default: the same lines in another order"
else
	fail "--list without --no-shuffle: $(head -3 shuffled.lst)"
fi
run shuffled2 "$IM2REC" -q --list --rec shuffled2 tree
if cmp -s shuffled.lst shuffled2.lst; then
	pass "the shuffle is seeded: a second run writes the same order"
else
	fail "two shuffled runs differ"
fi

run flat "$IM2REC" --list --no-shuffle flat tree
if [ "$(cat flat.lst)" = "0${T}0.000000${T}top.jpg" ] && [ ! -s flat.out ]; then
	pass "--list without --recursive: only root's own images, label 0"
else
	fail "--list without --recursive: $(cat flat.lst flat.err)"
fi

run pngs "$IM2REC" --list --recursive --no-shuffle --exts .png pngs tree
if [ "$(cut -f3 pngs.lst | tr '\n' ' ')" = "cat/Z.png cat/b.png cat/d.png dog/f.png zoo/zebra/y.png " ] &&
	[ "$(cut -f2 pngs.lst | tr '\n' ' ')" = "0.000000 0.000000 0.000000 1.000000 2.000000 " ]; then
	pass "--exts .png: only PNG files; labels count only folders with a match"
else
	fail "--exts .png: $(cat pngs.lst pngs.err)"
fi

run split "$IM2REC" --list --recursive --no-shuffle --chunks 2 --train-ratio 0.5 --test-ratio 0.2 split tree
# chunk_size = 6: test = int(6*0.2) = 1 line, train = int(6*0.5) = 3 lines, val = the rest.
counts=""
for c in 0 1; do
	for part in test train val; do
		counts="$counts $(wc -l < "split_${c}_$part.lst" 2>/dev/null || echo missing)"
	done
done
if [ "$counts" = " 1 3 2 1 3 1" ] && [ ! -e split.lst ] &&
	[ "$(cat split_0_test.lst split_0_train.lst split_0_val.lst split_1_test.lst split_1_train.lst split_1_val.lst | sort)" = "$(sort want.lst)" ]; then
	pass "--chunks 2 --train-ratio 0.5 --test-ratio 0.2: test/train/val of 1/3/2 and 1/3/1 lines, all images once"
else
	fail "--chunks/--train-ratio/--test-ratio: counts$counts; $(ls split* 2>&1 | tr '\n' ' ')"
fi
run trainval "$IM2REC" --list --recursive --no-shuffle --train-ratio 0.8 tv tree
if [ "$(wc -l < tv_train.lst) $(wc -l < tv_val.lst)" = "8 3" ] && [ ! -e tv_test.lst ] &&
	[ "$(cat tv_train.lst tv_val.lst)" = "$(cat want.lst)" ]; then
	pass "--train-ratio 0.8: tv_train.lst holds the first 8, tv_val.lst the other 3, no test list"
else
	fail "--train-ratio 0.8: $(ls tv* 2>&1 | tr '\n' ' ')"
fi

# Many files: a longer shuffle, compared with im2rec.py below.
mkdir -p many/a many/b many/c
for i in $(seq 100 399); do : > "many/$(printf '%s' abc | cut -c$((i % 3 + 1)))/img$i.jpg"; done
"$IM2REC" -q --list --recursive many many > /dev/null 2>&1

# ---- packing -----------------------------------------------------------------------------
cp sorted.lst pass.lst
if run pass "$IM2REC" --pass-through pass tree && [ -s pass.rec ] && [ -s pass.idx ]; then
	check_pack "--pass-through" pass --pass-through
else
	fail "--pass-through: $(cat pass.err)"
fi
if grep -qE '^pass\.lst: 11 images packed into pass\.rec, 0 skipped, 0 bad list lines, [0-9.]+ s, [0-9]+ images/s$' pass.out; then
	pass "the summary line: $(cat pass.out)"
else
	fail "summary line: $(cat pass.out)"
fi
if ls ./*.tmp > /dev/null 2>&1; then
	fail "temporary files left behind: $(ls ./*.tmp)"
else
	pass "no temporary files are left behind"
fi

cp shuffled.lst jpg.lst
run jpg "$IM2REC" jpg tree && check_pack "re-encoded as JPEG (quality 95)" jpg
cp shuffled.lst resize.lst
run resize "$IM2REC" --resize 20 resize tree && check_pack "--resize 20: shorter side 20, aspect kept" resize --resize 20
cp shuffled.lst crop.lst
run crop "$IM2REC" --center-crop --resize 16 crop tree && check_pack "--center-crop --resize 16: 16x16" crop --center-crop --resize 16
cp shuffled.lst gray.lst
run gray "$IM2REC" --color 0 gray tree && check_pack "--color 0: one channel" gray --color 0
cp shuffled.lst png.lst
run png "$IM2REC" --encoding .png --resize 30 png tree && check_pack "--encoding .png (level 95 read as 9)" png --encoding .png --resize 30
cp shuffled.lst asis.lst
run asis "$IM2REC" --color -1 asis tree && check_pack "--color -1: gray stays gray, RGBA becomes RGB" asis --color -1
if grep -q 'alpha' asis.err; then
	pass "--color -1 warns that alpha channels are not kept"
else
	fail "--color -1 gave no warning: $(cat asis.err)"
fi

# Multi-label lines: all labels with --pack-label, the first without.
awk -F'\t' -v OFS='\t' '{ print $1, $2, $1 * 0.5, -$1, $3 }' sorted.lst > multi.lst
cp multi.lst first.lst
run multi "$IM2REC" --pack-label --pass-through multi tree && check_pack "--pack-label: flag 3 and three labels" multi --pass-through --pack-label
run first "$IM2REC" --pass-through first tree && check_pack "three labels without --pack-label: flag 0, the first label" first --pass-through
if grep -q ' 3 [0-9.]*,[-0-9.e]*,[-0-9.e]* ' multi.ours && grep -q '^10 10 0 4 ' first.ours; then
	pass "--pack-label stores $(sed -n 11p multi.ours | cut -d' ' -f4)"
else
	fail "--pack-label records: $(head -2 multi.ours) / $(head -2 first.ours)"
fi

# Threads: the same bytes for 1 and 3 threads on a longer list (each image 20 times).
for r in $(seq 0 19); do awk -F'\t' -v OFS='\t' -v r="$r" '{ print $1 + 100 * r, $2, $3 }' shuffled.lst; done > t1.lst
cp t1.lst t3.lst
run t1 "$IM2REC" --resize 24 --num-thread 1 t1 tree
run t3 "$IM2REC" --resize 24 --num-thread 3 t3 tree
if [ -s t1.rec ] && cmp -s t1.rec t3.rec && cmp -s t1.idx t3.idx && [ "$(wc -l < t3.idx)" -eq 220 ]; then
	pass "--num-thread 3 writes the same .rec and .idx bytes as --num-thread 1 (220 images)"
else
	fail "--num-thread 1 vs 3 differ: $(ls -l t1.rec t3.rec 2>&1 | tr '\n' ' ')"
fi

# prefix naming a folder: every .lst in it.
mkdir -p lists
cp sorted.lst lists/one.lst
cp shuffled.lst lists/two.lst
if run folder "$IM2REC" --pass-through lists tree && [ -s lists/one.rec ] && [ -s lists/two.idx ] &&
	[ "$(grep -c 'images packed' folder.out)" -eq 2 ]; then
	pass "a prefix that names a folder packs every .lst in it"
else
	fail "prefix folder: $(cat folder.out folder.err)"
fi
# prefix p packs p.lst and p_*.lst (as im2rec.py: every file starting with the prefix).
if run splitpack "$IM2REC" --pass-through split tree && [ "$(ls split_*.rec | wc -l)" -eq 6 ]; then
	pass "prefix split packs all six split_*.lst lists"
else
	fail "prefix split: $(ls split_* | tr '\n' ' ') $(cat splitpack.err)"
fi

# ---- errors --------------------------------------------------------------------------------
expect_error "unknown option" 'unknown option --recursve.*did you mean --recursive' "$IM2REC" --list --recursve x tree
expect_error "missing image folder (--list)" 'nosuch.*does not exist' "$IM2REC" --list x nosuch
expect_error "missing image folder (packing)" 'nosuch.*does not exist' "$IM2REC" sorted nosuch
expect_error "missing list" 'no list nolist\*\.lst found' "$IM2REC" nolist tree
expect_error "bad --color" '--color: 2 is out of range' "$IM2REC" --color 2 sorted tree
expect_error "bad --encoding" 'invalid choice "\.jpeg".*did you mean "\.jpg"' "$IM2REC" --encoding .jpeg sorted tree
expect_error "missing root argument" 'missing root' "$IM2REC" --list x
expect_error "ambiguous abbreviation" 'ambiguous option --t could match --train-ratio, --test-ratio' "$IM2REC" --t 0.5 x tree

head -c 300 tree/dog/e.jpg > tree/truncated.jpg
echo "not a picture" > tree/fake.jpg
{
	sed -n 1,3p sorted.lst
	printf '20\t1.000000\ttruncated.jpg\n'
	printf 'x7\t1.000000\tcat/a.jpg\n'
	printf '21\t1.000000\tfake.jpg\n'
	printf '22\t1.000000\tno/such.png\n'
	sed -n 4,5p sorted.lst
} > bad.lst
run bad "$IM2REC" bad tree
status=$?
if [ "$status" -eq 0 ] && grep -q 'bad\.lst:4: truncated\.jpg: .*skipped' bad.err && grep -q 'bad\.lst:6: fake\.jpg: .*skipped' bad.err &&
	grep -q 'bad\.lst:7: no/such\.png: .*No such file.*skipped' bad.err && grep -q 'bad\.lst:5: the index "x7"' bad.err &&
	grep -q '5 images packed into bad.rec, 3 skipped, 1 bad list line' bad.out; then
	pass "corrupt and missing images are skipped with a warning naming list line and file; exit 0"
	check_pack "the other images of bad.lst are packed" bad --skip truncated.jpg --skip fake.jpg --skip no/such.png
else
	fail "corrupt images: exit $status: $(cat bad.err bad.out)"
fi
printf '0\t1.0\tfake.jpg\n' > allbad.lst
"$IM2REC" -q allbad tree > allbad.out 2> allbad.err
status=$?
if [ "$status" -eq 2 ] && [ "$(tail -1 allbad.err)" = "im2rec: allbad.lst: none of its 1 images could be packed (is tree the right image folder?)" ]; then
	pass "no image of the list can be packed: exit 2, $(tail -1 allbad.err)"
else
	fail "no image of the list can be packed: exit $status: $(cat allbad.err)"
fi
if [ ! -e allbad.rec ] && [ ! -e allbad.idx ]; then
	pass "a failed list leaves no .rec or .idx"
else
	fail "allbad.rec or allbad.idx was left"
fi
: > empty.lst
if run empty "$IM2REC" empty tree && [ -e empty.rec ] && [ ! -s empty.rec ] && [ -e empty.idx ] && [ ! -s empty.idx ] &&
	grep -q 'empty\.lst lists no images' empty.err; then
	pass "an empty list: a warning, empty .rec and .idx, exit 0"
else
	fail "empty list: $(cat empty.err)"
fi

# ---- MXNet 1.9.1 -----------------------------------------------------------------------------
if ! "$py" -c 'import mxnet' 2>/dev/null; then
	echo "SKIP: comparison with MXNet 1.9.1: no MXNet at $py (tools/bootstrap.sh test installs it)"
	finish || exit 1
	exit 77
fi
tool=$("$py" -c 'import mxnet, os; print(os.path.join(os.path.dirname(mxnet.__file__), "tools", "im2rec.py"))')
has_tool=1
if ! "$py" -c 'import cv2' 2>/dev/null || [ ! -f "$tool" ]; then
	has_tool=0
fi

# Every MXNet job in one process (see batch() in check.py): read our records back; run
# im2rec.py --list on the tree and pack the same lists with it.
list_cases=("--recursive --no-shuffle" "--recursive" "--recursive --chunks 2 --train-ratio 0.5 --test-ratio 0.2"
	"--exts .png --recursive --no-shuffle" "")
pack_cases=("pass --pass-through" "jpg" "resize --resize 20" "crop --center-crop --resize 16" "gray --color 0"
	"png --encoding .png --resize 30" "multi --pass-through --pack-label" "bad --skip truncated.jpg --skip fake.jpg --skip no/such.png")
pixel_cases=("resize --resize 20" "crop --center-crop --resize 16" "png --encoding .png --resize 30")
mkdir -p py
{
	for case in "${pack_cases[@]}"; do
		set -- $case
		p=$1
		shift
		echo "check $p.mxnet $p.mxerr mxnet $p.lst $p.rec $p.idx tree $*"
	done
	if [ "$has_tool" -eq 1 ]; then
		for i in "${!list_cases[@]}"; do
			mkdir -p "py/l$i" "ours$i"
			"$IM2REC" -q --list ${list_cases[$i]} "ours$i/l" tree > "ours$i/out" 2>&1
			echo "tool py/l$i/out --list ${list_cases[$i]} py/l$i/l tree"
		done
		mkdir -p py/many py/pass
		echo "tool py/many/out --list --recursive py/many/many many"
		cp sorted.lst py/pass/pass.lst
		echo "tool py/pass/out --pass-through py/pass/pass tree"
		for case in "${pixel_cases[@]}"; do
			set -- $case
			p=$1
			shift
			mkdir -p "py/$p"
			cp "$p.lst" "py/$p/$p.lst"
			echo "tool py/$p/out $* py/$p/$p tree"
			echo "pixels py/$p.cmp py/$p/$p $p"
		done
	fi
} > py/jobs
"$py" check.py batch "$tool" py/jobs > py/batch.log 2>&1 || fail "the MXNet jobs failed: $(tail -3 py/batch.log)"

for case in "${pack_cases[@]}"; do
	set -- $case
	p=$1
	if [ -f "$p.mxerr" ] && [ ! -s "$p.mxerr" ] && cmp -s "$p.mxnet" "$p.ours"; then
		pass "MXNet reads $p.rec: the same keys, ids, flags, labels and sizes"
	else
		fail "MXNet on $p.rec: $(head -3 "$p.mxerr" 2>&1; diff "$p.ours" "$p.mxnet" 2>&1 | head -4)"
	fi
done

if [ "$has_tool" -eq 0 ]; then
	echo "SKIP: comparison with MXNet's im2rec.py: no cv2 in $py (pip install opencv-python-headless)"
	finish
	exit
fi
for i in "${!list_cases[@]}"; do
	(cd "py/l$i" && ls) | grep -v '^out$' > "py/l$i.files"
	(cd "ours$i" && ls) | grep -v '^out$' > "ours$i.files"
	bad=""
	cmp -s "py/l$i.files" "ours$i.files" || bad="files $(tr '\n' ' ' < "ours$i.files"), want $(tr '\n' ' ' < "py/l$i.files")"
	for f in $(cat "py/l$i.files"); do
		cmp -s "py/l$i/$f" "ours$i/$f" || bad="$bad $f differs: $(diff "py/l$i/$f" "ours$i/$f" | head -3)"
	done
	cmp -s "py/l$i/out" "ours$i/out" || bad="$bad folder lines differ: $(head -3 "py/l$i/out")"
	if [ -z "$bad" ]; then
		pass "--list ${list_cases[$i]:-(flat, shuffled)}: the same files, lines and folder lines as im2rec.py"
	else
		fail "--list ${list_cases[$i]} against im2rec.py: $bad"
	fi
done
if cmp -s py/many/many.lst many.lst; then
	pass "300 files shuffled in im2rec.py's exact order (random.seed(100), random.shuffle)"
else
	fail "the 300-file shuffle differs from im2rec.py's: $(diff py/many/many.lst many.lst 2>&1 | head -3)"
fi
if cmp -s py/pass/pass.rec pass.rec && cmp -s py/pass/pass.idx pass.idx; then
	pass "--pass-through: .rec and .idx byte-identical to im2rec.py's"
else
	fail "--pass-through differs from im2rec.py: $(tail -2 py/pass/out)"
fi
for case in "${pixel_cases[@]}"; do
	set -- $case
	p=$1
	shift
	if [ -s "py/$p.cmp" ] && ! grep -q PROBLEM "py/$p.cmp"; then
		pass "$p ($*): the same headers and sizes as im2rec.py, pixels within rounding: $(cat "py/$p.cmp")"
	else
		fail "$p ($*) against im2rec.py: $(cat "py/$p.cmp" 2>&1; tail -2 "py/$p/out")"
	fi
done

finish
