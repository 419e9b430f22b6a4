#!/bin/bash
# tests/bench/bench_mlp.sh: training throughput of the Fashion-MNIST MLP 784-256-128-10 (batch
# 100, SGD momentum 0.9, 2 threads) in mxtrain, PyTorch and Apache MXNet 1.9.1, in one run.
# Each system runs R times, alternating, so that a busy machine slows all three alike; each run's
# figure is the median samples/sec over its 50-batch windows after the first (warm-up); the table
# shows the median of the R runs and mxtrain's ratio to each peer. On demand only (not make check).
set -euo pipefail

usage() {
	cat <<'EOF'
usage: tests/bench/bench_mlp.sh [-r R] [-s SYSTEMS] [-e EPOCHS] [-b BUILD_DIR] [-k]

  -r R        runs per system, alternating (default 3)
  -s SYSTEMS  comma-separated subset of mxtrain,torch,mxnet (default: all three)
  -e EPOCHS   epochs per run (default 1: 600 batches, 12 windows of 50)
  -b DIR      build directory holding mxtrain (default: ./build)
  -k          keep each run's output in BUILD_DIR/bench-logs/ (default: a temporary directory)

Needs: build/mxtrain (tools/bootstrap.sh build), Debian's PyTorch at /usr/bin/python3
(python3-torch), MXNet 1.9.1 in .venv-mxnet (tools/bootstrap.sh setup). A system that is not
available is reported as SKIP and left out of the table.
EOF
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH=$ROOT/tests/bench
BUILD=$ROOT/build
RUNS=3
EPOCHS=1
SYSTEMS=mxtrain,torch,mxnet
KEEP=0
THREADS=2
TORCH_PY=${TORCH_PYTHON:-/usr/bin/python3}
MXNET_PY=${MXTRAIN_PEER_PYTHON:-$ROOT/.venv-mxnet/bin/python}
CONF=$ROOT/confs/fmnist-mlp.conf

while getopts 'r:s:e:b:kh' opt; do
	case $opt in
	r) RUNS=$OPTARG ;;
	s) SYSTEMS=$OPTARG ;;
	e) EPOCHS=$OPTARG ;;
	b) BUILD=$(cd "$OPTARG" && pwd) ;;
	k) KEEP=1 ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "bench_mlp: -r wants a positive count" >&2; exit 2; }
[[ $EPOCHS =~ ^[1-9][0-9]*$ ]] || { echo "bench_mlp: -e wants a positive count" >&2; exit 2; }

. "$BENCH/benchlib.sh"
bench_logs bench_mlp


# Each run_SYSTEM writes its whole output to $1 and prints its samples/sec, or fails.

# mxtrain prints MXNet's Speedometer lines: "Epoch[0] Batch [50]\tSpeed: X samples/sec\t...".
# It trains in a scratch directory so its checkpoints land there, not in the tree.
run_mxtrain() {
	local out=$1 work
	work=$(mktemp -d "$LOGS/mxtrain-work.XXXXXX")
	(cd "$work" && "$BUILD/mxtrain" "$CONF" \
		solver.num_epoch="$EPOCHS" solver.num_threads="$THREADS") >"$out" 2>&1 || {
		rm -rf "$work"
		return 1
	}
	rm -rf "$work"
	grep -o 'Speed: [0-9.eE+-]* samples/sec' "$out" | awk '{print $2}' | tail -n +2 | median
}

# PyTorch at its best on 2 cores: torch's 2 OpenMP threads, OpenBLAS single-threaded. Run
# twice, with libgomp's default wait policy (threads spin between parallel regions) and with
# OMP_WAIT_POLICY=PASSIVE (they sleep), and the faster counts: when anything else runs on the
# machine, spinning threads lose their core and the figure falls 5-10x (tests/bench/README.md).
# Prints "SPEED (policy...)" where policy names the faster one.
run_torch() {
	local out=$1 passive=${1%.log}-passive.log a b
	a=$(env OMP_NUM_THREADS="$THREADS" OPENBLAS_NUM_THREADS=1 \
		"$TORCH_PY" "$BENCH/torch_mlp.py" --threads "$THREADS" --epochs "$EPOCHS" 2>&1 |
		tee "$out" | sed -n 's/^median_samples_per_sec=//p')
	b=$(env OMP_NUM_THREADS="$THREADS" OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE \
		"$TORCH_PY" "$BENCH/torch_mlp.py" --threads "$THREADS" --epochs "$EPOCHS" 2>&1 |
		tee "$passive" | sed -n 's/^median_samples_per_sec=//p')
	[ -n "$a$b" ] || return 1
	awk -v a="${a:-0}" -v b="${b:-0}" 'BEGIN {
		if (a >= b) printf "%s (spinning; passive: %s)\n", a, b
		else printf "%s (OMP_WAIT_POLICY=PASSIVE; spinning: %s)\n", b, a }'
}

# MXNet at its best on 2 cores: 2 engine workers, each operator on 1 thread; the Module API.
run_mxnet() {
	env MXNET_CPU_WORKER_NTHREADS="$THREADS" OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
		"$MXNET_PY" "$BENCH/mxnet_mlp.py" --threads "$THREADS" --epochs "$EPOCHS" >"$1" 2>&1 &&
		sed -n 's/^median_samples_per_sec=//p' "$1"
}

run_system() {
	case $1 in
	mxtrain) run_mxtrain "$2" ;;
	torch) run_torch "$2" ;;
	mxnet) run_mxnet "$2" ;;
	esac
}



ACTIVE=()
IFS=, read -r -a WANTED <<<"$SYSTEMS"
for s in "${WANTED[@]}"; do
	if available "$s"; then ACTIVE+=("$s"); fi
done
[ "${#ACTIVE[@]}" -gt 0 ] || { echo "bench_mlp: no system to measure" >&2; exit 1; }

echo "MLP 784-256-128-10, batch 100, $THREADS threads, $EPOCHS epoch(s) a run, $RUNS runs each: ${ACTIVE[*]}"
declare -A SPEEDS
FAILED=0
for ((r = 1; r <= RUNS; r++)); do
	warn_if_busy "run $r"
	for s in "${ACTIVE[@]}"; do
		out=$LOGS/$s-$r.log
		if result=$(run_system "$s" "$out") && read -r speed note <<<"$result" && [ -n "$speed" ]; then
			printf '  run %d  %-8s %10.1f samples/sec%s\n' "$r" "$s" "$speed" "${note:+ $note}"
			SPEEDS[$s]+="$speed "
		else
			printf '  run %d  %-8s FAILED; its output:\n' "$r" "$s"
			tail -n 20 "$out" | sed 's/^/    | /'
			FAILED=1
		fi
	done
done

declare -A MEDIAN
for s in "${ACTIVE[@]}"; do
	MEDIAN[$s]=$(tr ' ' '\n' <<<"${SPEEDS[$s]:-}" | grep . | median || true)
done
ratio() {
	local a=${MEDIAN[$1]:-} b=${MEDIAN[$2]:-}
	if [ -n "$a" ] && [ -n "$b" ]; then awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", a / b}'; else echo "n/a"; fi
}

echo
printf '%-10s %16s  %s\n' system "samples/sec" "runs"
for s in "${ACTIVE[@]}"; do
	printf '%-10s %16s  %s\n' "$s" "${MEDIAN[$s]:-n/a}" "${SPEEDS[$s]:-}"
done
echo
echo "mxtrain/PyTorch: $(ratio mxtrain torch)"
echo "mxtrain/MXNet:   $(ratio mxtrain mxnet)"
if [ "$BUSY_RUNS" -gt 0 ]; then echo "WARNING: the machine was busy before $BUSY_RUNS of $RUNS rounds"; fi
if [ "$KEEP" = 1 ]; then echo "logs: ${LOGS#"$ROOT"/}/"; fi
exit "$FAILED"
