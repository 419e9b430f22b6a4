#!/bin/bash
# tests/bench/bench_lenet.sh: LeNet (confs/fmnist-lenet.conf) throughput in mxtrain, PyTorch and
# Apache MXNet 1.9.1 (MKL-DNN), 2 threads: training on the Fashion-MNIST training images at batch
# 64, and inference at batch 256; then the GFLOP/s that a training step of mxtrain reaches, over
# the machine's measured sgemm rate at 1 and 2 threads, for LeNet and for a VGG-style block
# (tests/bench/vgg-block.conf). Each system runs R times, alternating, so that a busy machine slows
# all alike; a run's figure is the median samples/sec over its windows after the first (warm-up);
# the tables give the median of the R runs and mxtrain's ratio to each peer. On demand only.
set -euo pipefail

usage() {
	cat <<'EOF'
usage: tests/bench/bench_lenet.sh [-r R] [-s SYSTEMS] [-p PARTS] [-a API] [-P SECTIONS] [-b BUILD_DIR] [-k]

  -r R        runs per system, alternating (default 3)
  -s SYSTEMS  comma-separated subset of mxtrain,torch,mxnet (default: all three)
  -p PARTS    train on 1/PARTS of the 60,000 images (default 3: 313 batches of 64, 6 windows of 50)
  -a API      MXNet's API: module or gluon (default: module, the faster here; see README.md)
  -P SECTIONS sections to run: train,infer,gflops (default: all)
  -b DIR      build directory holding mxtrain and mxpredict (default: ./build)
  -k          keep each run's output in BUILD_DIR/bench-logs/ (default: a temporary directory)

Needs: build/mxtrain (tools/bootstrap.sh build), Debian's PyTorch at /usr/bin/python3
(python3-torch), MXNet 1.9.1 in .venv-mxnet (tools/bootstrap.sh setup). A system that is not
available is reported as SKIP and left out of the tables.
EOF
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH=$ROOT/tests/bench
BUILD=$ROOT/build
CONF=$ROOT/confs/fmnist-lenet.conf
VGG=$BENCH/vgg-block.conf
FMNIST=/usr/share/datasets/fashion-mnist
RUNS=3
PARTS=3
SYSTEMS=mxtrain,torch,mxnet
SECTIONS=train,infer,gflops
MXNET_API=module
KEEP=0
THREADS=2
BATCH=64
INFER_BATCH=256
TORCH_PY=${TORCH_PYTHON:-/usr/bin/python3}
MXNET_PY=${MXTRAIN_PEER_PYTHON:-$ROOT/.venv-mxnet/bin/python}
[ -x "$MXNET_PY" ] || MXNET_PY=/tmp/mxvenv/bin/python

while getopts 'r:s:p:a:P:b:kh' opt; do
	case $opt in
	r) RUNS=$OPTARG ;;
	s) SYSTEMS=$OPTARG ;;
	p) PARTS=$OPTARG ;;
	a) MXNET_API=$OPTARG ;;
	P) SECTIONS=$OPTARG ;;
	b) BUILD=$(cd "$OPTARG" && pwd) ;;
	k) KEEP=1 ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "bench_lenet: -r wants a positive count" >&2; exit 2; }
[[ $PARTS =~ ^[1-9][0-9]*$ ]] || { echo "bench_lenet: -p wants a positive count" >&2; exit 2; }
[[ $MXNET_API =~ ^(module|gluon)$ ]] || { echo "bench_lenet: -a wants module or gluon" >&2; exit 2; }
# Batches a training run makes: the mnist iterator keeps the last partial batch (padded).
BATCHES=$(( (60000 / PARTS + BATCH - 1) / BATCH ))

. "$BENCH/benchlib.sh"
bench_logs bench_lenet

has_section() { [[ ,$SECTIONS, == *,$1,* ]]; }

# --- the runs: each writes its whole output to $1 and prints its samples/sec, or fails --------

# mxtrain prints MXNet's Speedometer lines ("Epoch[0] Batch [50]\tSpeed: X samples/sec"). It
# trains in a scratch directory, one epoch on 1/PARTS of the images, and evaluates on 1/10 of
# the test images (after the timed windows).
train_mxtrain() {
	local out=$1 work
	work=$(mktemp -d "$LOGS/mxtrain-work.XXXXXX")
	(cd "$work" && "$BUILD/mxtrain" "$CONF" solver.num_epoch=1 solver.num_threads="$THREADS" \
		data.train.batch_size="$BATCH" data.train.num_parts="$PARTS" data.eval.num_parts=10) >"$out" 2>&1 || {
		rm -rf "$work"
		return 1
	}
	rm -rf "$work"
	grep -o 'Speed: [0-9.eE+-]* samples/sec' "$out" | awk '{print $2}' | tail -n +2 | median
}

# PyTorch at its best on 2 cores: torch's 2 OpenMP threads, OpenBLAS single-threaded.
train_torch() {
	env OMP_NUM_THREADS="$THREADS" OPENBLAS_NUM_THREADS=1 "$TORCH_PY" "$BENCH/torch_lenet.py" --mode train \
		--threads "$THREADS" --batch-size "$BATCH" --max-batches "$BATCHES" >"$1" 2>&1 &&
		sed -n 's/^median_samples_per_sec=//p' "$1"
}

# MXNet at its best on 2 cores: one engine worker, operators on 2 OpenMP threads.
train_mxnet() {
	env OMP_NUM_THREADS="$THREADS" MXNET_CPU_WORKER_NTHREADS=1 OPENBLAS_NUM_THREADS=1 \
		"$MXNET_PY" "$BENCH/mxnet_lenet.py" --api "$MXNET_API" --mode train --threads "$THREADS" \
		--batch-size "$BATCH" --max-batches "$BATCHES" >"$1" 2>&1 &&
		sed -n 's/^median_samples_per_sec=//p' "$1"
}

# mxtrain's inference figure is `mxtrain --time-inference`: the forward pass of a prediction
# binding (no backward, Dropout/BatchNorm in inference mode) at batch 256 on random inputs, 40
# timed batches after 5 warm-up ones; images/sec = 256 / the mean batch time. It leaves out
# reading and decoding the images, as the peers' figures do (they predict preloaded arrays).
infer_mxtrain() {
	"$BUILD/mxtrain" --time-inference "$CONF" --time-iters 40 --time-warmup 5 solver.num_threads="$THREADS" \
		data.train.batch_size="$INFER_BATCH" >"$1" 2>&1 &&
		sed -n 's/^images\/sec: \([0-9.]*\).*/\1/p' "$1"
}

infer_torch() {
	env OMP_NUM_THREADS="$THREADS" OPENBLAS_NUM_THREADS=1 "$TORCH_PY" "$BENCH/torch_lenet.py" --mode infer \
		--threads "$THREADS" --infer-batch-size "$INFER_BATCH" >"$1" 2>&1 &&
		sed -n 's/^median_infer_samples_per_sec=//p' "$1"
}

infer_mxnet() {
	env OMP_NUM_THREADS="$THREADS" MXNET_CPU_WORKER_NTHREADS=1 OPENBLAS_NUM_THREADS=1 \
		"$MXNET_PY" "$BENCH/mxnet_lenet.py" --api "$MXNET_API" --mode infer --threads "$THREADS" \
		--infer-batch-size "$INFER_BATCH" >"$1" 2>&1 &&
		sed -n 's/^median_infer_samples_per_sec=//p' "$1"
}


[ -f "$FMNIST/train-images-idx3-ubyte.gz" ] ||
	{ echo "bench_lenet: no Fashion-MNIST in $FMNIST (apt-get install dataset-fashion-mnist)" >&2; exit 1; }
ACTIVE=()
IFS=, read -r -a WANTED <<<"$SYSTEMS"
for s in "${WANTED[@]}"; do
	if available "$s"; then ACTIVE+=("$s"); fi
done
[ "${#ACTIVE[@]}" -gt 0 ] || { echo "bench_lenet: no system to measure" >&2; exit 1; }

FAILED=0
declare -A SPEEDS MEDIAN

# measure WHAT: R alternating runs of WHAT_<system> for each active system; fills MEDIAN[WHAT.s].
measure() {
	local what=$1 r s out speed
	for ((r = 1; r <= RUNS; r++)); do
		for s in "${ACTIVE[@]}"; do
			out=$LOGS/$what-$s-$r.log
			if speed=$("${what}_$s" "$out") && [ -n "$speed" ]; then
				printf '  run %d  %-8s %10.1f samples/sec  (load %s)\n' "$r" "$s" "$speed" "$(cut -d' ' -f1 /proc/loadavg)"
				SPEEDS[$what.$s]+="$speed "
			else
				printf '  run %d  %-8s FAILED; its output:\n' "$r" "$s"
				tail -n 20 "$out" | sed 's/^/    | /'
				FAILED=1
			fi
		done
	done
	for s in "${ACTIVE[@]}"; do
		MEDIAN[$what.$s]=$(tr ' ' '\n' <<<"${SPEEDS[$what.$s]:-}" | grep . | median || true)
	done
}

ratio() {
	local a=${MEDIAN[$1.$2]:-} b=${MEDIAN[$1.$3]:-}
	if [ -n "$a" ] && [ -n "$b" ]; then awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", a / b}'; else echo "n/a"; fi
}

table() {
	local what=$1 s
	echo
	printf '%-10s %16s  %s\n' system "samples/sec" "runs"
	for s in "${ACTIVE[@]}"; do
		printf '%-10s %16s  %s\n' "$s" "${MEDIAN[$what.$s]:-n/a}" "${SPEEDS[$what.$s]:-}"
	done
	echo "mxtrain/PyTorch: $(ratio "$what" mxtrain torch)    mxtrain/MXNet: $(ratio "$what" mxtrain mxnet)"
	echo
}

echo "LeNet (confs/fmnist-lenet.conf), $THREADS threads, $RUNS runs each, MXNet API $MXNET_API: ${ACTIVE[*]}"
if has_section train; then
	echo "== training, batch $BATCH, $BATCHES batches of the Fashion-MNIST training images a run (windows of 50)"
	measure train
	table train
fi
if has_section infer; then
	echo "== inference, batch $INFER_BATCH (mxtrain: --time-inference on random inputs; peers: preloaded test images)"
	measure infer
	table infer
fi

# --- GFLOP/s of a training step, over sgemm ------------------------------------------------------
# `mxtrain --time` prints the GFLOP per batch (from each op's flop count), the achieved GFLOP/s
# (GFLOP per batch / mean batch time) and the sgemm rate at 1 and at solver.num_threads threads.
gflops_row() {
	local name=$1 conf=$2 threads=$3 out=$LOGS/gflops-$1-$3.log
	if "$BUILD/mxtrain" --time "$conf" --time-iters "$4" --time-warmup 2 solver.num_threads="$threads" >"$out" 2>&1; then
		awk -v name="$name" -v th="$threads" '
			/^GFLOP per batch:/ {g = $4}
			/^images\/sec:/ {ips = $2}
			/^achieved:/ {a = $2}
			/^sgemm / {for (i = 1; i < NF; i++) if ($(i + 1) ~ /^GFLOP/) {if ($(i + 3) == 1) s1 = $i; else sn = $i}
				if (th == 1) sn = s1}
			END {printf "%-10s %7d %10.4f %10.1f %10.2f %10.2f %10.2f %8.3f %8.3f\n",
				name, th, g, ips, a, s1, sn, a / s1, a / sn}' "$out"
	else
		echo "$name: mxtrain --time failed:"
		tail -n 5 "$out" | sed 's/^/    | /'
		FAILED=1
	fi
}
if has_section gflops && [[ " ${ACTIVE[*]} " == *" mxtrain "* ]]; then
	echo "== mxtrain training step: achieved GFLOP/s over the measured sgemm 1024^3 rate"
	printf '%-10s %7s %10s %10s %10s %10s %10s %8s %8s\n' net threads GFLOP/b img/s GFLOP/s sgemm1T sgemmNT "/1T" "/NT"
	for threads in 1 2; do
		gflops_row lenet "$CONF" "$threads" 30
		gflops_row vgg-block "$VGG" "$threads" 5
	done
	echo "(sgemmNT: sgemm at the row's thread count; GFLOP/b counts ops that declare their flops)"
fi
[ "$KEEP" = 1 ] && echo "logs: ${LOGS#"$ROOT"/}/"
exit "$FAILED"
