#!/bin/bash
# tests/bench/overlap.sh: does training wait on data? One small conv net (overlap-net.conf)
# on 112x112 crops of ImageNet-sized JPEGs, timed three ways, alternating, R runs each:
#   data      mxtrain --test-io: the imagerec pipeline alone (decode, resize 128, random
#             crop 112, mirror, mean), no network
#   compute   the same net and solver fed by the synthetic iterator (random batches of the
#             same shape, no decoding): forward, backward and updates alone
#   together  the net trained from the .rec: the prefetch thread decodes while the engine
#             computes
# and prints the median epoch seconds of each and together / max(data, compute) (the issue's
# target: <= 1.10, i.e. an epoch no longer than the larger of the two plus 10%). The
# pipeline gets D decode threads and the net C operator threads (default 1 and 1): on a
# machine with D + C cores both can run at once. Each process's user+system CPU seconds are
# printed too: together's CPU should be about data's + compute's, its wall time their max.
# On demand only (not make check).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/benchlib.sh"

usage() {
	cat <<'EOF'
usage: tests/bench/overlap.sh [-n N] [-r R] [-e EPOCHS] [-D DECODE_THREADS] [-C COMPUTE_THREADS] [-b BUILD_DIR] [-d DATA_DIR]

  -n N   images (default 1024)          -r R   runs of each (default 3)
  -e E   epochs per run; the first is warm-up and not timed (default 3)
  -D D   preprocess_threads (default 1) -C C   solver.num_threads (default 1)
  -b DIR build directory (default ./build)
  -d DIR where the generated JPEGs are kept (default BUILD_DIR/bench-imagerec, shared with
         bench_imagerec.sh)
EOF
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH=$ROOT/tests/bench
BUILD=$ROOT/build
N=1024 RUNS=3 EPOCHS=3 DT=1 CT=1 DATA=
PY=${MAKE_JPEGS_PYTHON:-/usr/bin/python3}
while getopts 'n:r:e:D:C:b:d:h' opt; do
	case $opt in
	n) N=$OPTARG ;;
	r) RUNS=$OPTARG ;;
	e) EPOCHS=$OPTARG ;;
	D) DT=$OPTARG ;;
	C) CT=$OPTARG ;;
	b) BUILD=$(cd "$OPTARG" && pwd) ;;
	d) DATA=$OPTARG ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
for v in "$N" "$RUNS" "$EPOCHS" "$DT" "$CT"; do
	[[ $v =~ ^[1-9][0-9]*$ ]] || { echo "overlap: counts must be positive integers" >&2; exit 2; }
done
[ "$EPOCHS" -ge 2 ] || { echo "overlap: -e must be at least 2 (the first epoch is warm-up)" >&2; exit 2; }
for f in mxtrain im2rec; do
	[ -x "$BUILD/$f" ] || { echo "overlap: no $BUILD/$f (tools/bootstrap.sh build, or -b BUILD_DIR)" >&2; exit 1; }
done
DATA=${DATA:-$BUILD/bench-imagerec}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/overlap.XXXXXX")
trap '[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT

JPEGS=$DATA/jpegs-$N
if [ ! -d "$JPEGS" ]; then
	echo "generating $N JPEGs in $JPEGS"
	"$PY" "$BENCH/make_jpegs.py" -n "$N" "$JPEGS" > /dev/null
fi
# The original files, unchanged: the iterator decodes 400x300..640x480 JPEGs.
"$BUILD/im2rec" -q --list --recursive "$WORK/ov" "$JPEGS" > /dev/null
"$BUILD/im2rec" -q --pass-through --num-thread 2 "$WORK/ov" "$JPEGS" > /dev/null

cp "$BENCH/overlap-net.conf" "$WORK/"   # @include paths are relative to the including .conf
SHAPE="data_shape = [3, 112, 112]; batch_size = 64;"
cat > "$WORK/rec.conf" <<EOF
data = { train = { iter = "imagerec"; path_imgrec = "$WORK/ov.rec"; $SHAPE resize = 128;
  rand_crop = true; rand_mirror = true; mean_r = 123.68; mean_g = 116.779; mean_b = 103.939;
  preprocess_threads = $DT; prefetch_buffer = 4; }; };
@include "overlap-net.conf"
EOF
cat > "$WORK/syn.conf" <<EOF
data = { train = { iter = "synthetic"; $SHAPE num_examples = $N; prefetch_buffer = 4; }; };
@include "overlap-net.conf"
EOF
common="solver.num_epoch=$EPOCHS solver.num_threads=$CT"

# Mean of the timed epochs' "Time cost" lines (all but the first).
epoch_seconds() { awk -F= '/Time cost=/ { if (n++) { s += $2; k++ } } END { if (k) printf "%.4f\n", s / k }' "$1"; }
# Per-epoch seconds of --test-io: the "Epoch[e] test-io: ... S s," lines, all but the first.
io_seconds() {
	awk '/test-io: / { for (i = 1; i <= NF; i++) if ($(i + 1) == "s,") t = $i; if (n++) { s += t; k++ } }
		END { if (k) printf "%.4f\n", s / k }' "$1"
}

: > "$WORK/data.txt"; : > "$WORK/compute.txt"; : > "$WORK/together.txt"
: > "$WORK/data.cpu"; : > "$WORK/compute.cpu"; : > "$WORK/together.cpu"
for ((r = 1; r <= RUNS; r++)); do
	# shellcheck disable=SC2086 # $common is a list of words
	/usr/bin/time -f 'cpu %U %S' -o "$WORK/t" "$BUILD/mxtrain" --test-io "$WORK/rec.conf" $common > "$WORK/log" 2>&1
	io_seconds "$WORK/log" >> "$WORK/data.txt"
	awk '{ printf "%.2f\n", ($2 + $3) / '"$((EPOCHS))"' }' "$WORK/t" >> "$WORK/data.cpu"
	# shellcheck disable=SC2086
	/usr/bin/time -f 'cpu %U %S' -o "$WORK/t" "$BUILD/mxtrain" -q "$WORK/syn.conf" model.save_period=0 $common > "$WORK/log" 2>&1
	epoch_seconds "$WORK/log" >> "$WORK/compute.txt"
	awk '{ printf "%.2f\n", ($2 + $3) / '"$((EPOCHS))"' }' "$WORK/t" >> "$WORK/compute.cpu"
	# shellcheck disable=SC2086
	/usr/bin/time -f 'cpu %U %S' -o "$WORK/t" "$BUILD/mxtrain" -q "$WORK/rec.conf" model.save_period=0 $common > "$WORK/log" 2>&1
	epoch_seconds "$WORK/log" >> "$WORK/together.txt"
	awk '{ printf "%.2f\n", ($2 + $3) / '"$((EPOCHS))"' }' "$WORK/t" >> "$WORK/together.cpu"
	echo "run $r: data $(tail -1 "$WORK/data.txt") s, compute $(tail -1 "$WORK/compute.txt") s, together $(tail -1 "$WORK/together.txt") s per epoch"
done
d=$(median 3 < "$WORK/data.txt") c=$(median 3 < "$WORK/compute.txt") t=$(median 3 < "$WORK/together.txt")
echo
echo "$N images, batch 64, 112x112 crops, $DT decode thread(s), $CT compute thread(s), median of $RUNS:"
printf '  %-9s %8s s/epoch   (CPU %s s/epoch incl. start-up)\n' data "$d" "$(median 2 < "$WORK/data.cpu")" \
	compute "$c" "$(median 2 < "$WORK/compute.cpu")" together "$t" "$(median 2 < "$WORK/together.cpu")"
awk -v d="$d" -v c="$c" -v t="$t" 'BEGIN { m = d > c ? d : c
	printf "together / max(data, compute) = %.2f (target <= 1.10); together / (data + compute) = %.2f\n", t / m, t / (d + c) }'
