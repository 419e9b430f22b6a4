#!/bin/bash
# tests/bench/bench_imagerec.sh: the image pipeline's throughput. N synthetic ImageNet-like
# JPEGs (make_jpegs.py) are packed once with our im2rec as an ImageNet pipeline packs them
# (--resize 256 --quality 90: shorter side 256), then, for each thread count T, alternating,
# R runs each:
#   raw     raw_decode.c: plain libjpeg-turbo decode of every JPEG of the .rec, T threads
#   mxtrain mxtrain --test-io imagerec-bench.conf: decode, 224x224 random crop, random mirror,
#           mean/std, float32 batches of 64, preprocess_threads T
#   mxnet   mxnet_imagerec.py: MXNet 1.9.1's mx.io.ImageRecordIter, the same settings
# and prints the median images/sec, mxtrain/raw (target >= 0.85), mxtrain T/1 (near-linear)
# and mxtrain/MXNet (target >= 1.0), by the wall clock and per CPU-second (the same images over
# the user + system time the process spent on them, which a busy machine hardly changes).
# Then the packing rate of im2rec and of MXNet's tools/im2rec.py (if cv2 is importable there),
# re-encoding and --pass-through, for each T. See README.md. On demand only (not make check).
set -euo pipefail

usage() {
	cat <<'EOF'
usage: tests/bench/bench_imagerec.sh [-n N] [-r R] [-e EPOCHS] [-t THREADS] [-P SECTIONS] [-b BUILD_DIR] [-d DATA_DIR] [-k]

  -n N        images (default 1024: 16 batches of 64, so no batch is padded)
  -r R        runs per system and thread count, alternating (default 3)
  -e EPOCHS   epochs per iterator run; the first is warm-up and not timed (default 4)
  -t THREADS  comma-separated thread counts (default 1,2)
  -P SECTIONS iter,pack (default both)
  -b DIR      build directory holding mxtrain, im2rec and libmxcore.a (default ./build)
  -d DIR      where the generated JPEGs are kept between runs (default BUILD_DIR/bench-imagerec)
  -k          keep the .rec files and each run's output in BUILD_DIR/bench-logs/

Needs: the build (tools/bootstrap.sh build), cc and libjpeg-turbo's headers, Debian's python3
with PIL and numpy (make_jpegs.py). MXNet 1.9.1 in .venv-mxnet (tools/bootstrap.sh setup) for
the peer; opencv-python-headless in that venv for MXNet's im2rec.py. What is missing is
reported as SKIP and left out.
EOF
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH=$ROOT/tests/bench
BUILD=$ROOT/build
CONF=$BENCH/imagerec-bench.conf
N=1024
RUNS=3
EPOCHS=4
THREAD_LIST=1,2
SECTIONS=iter,pack
DATA=
KEEP=0
PY=${MAKE_JPEGS_PYTHON:-/usr/bin/python3}
MXNET_PY=${MXTRAIN_PEER_PYTHON:-$ROOT/.venv-mxnet/bin/python}

while getopts 'n:r:e:t:P:b:d:kh' opt; do
	case $opt in
	n) N=$OPTARG ;;
	r) RUNS=$OPTARG ;;
	e) EPOCHS=$OPTARG ;;
	t) THREAD_LIST=$OPTARG ;;
	P) SECTIONS=$OPTARG ;;
	b) BUILD=$(cd "$OPTARG" && pwd) ;;
	d) DATA=$OPTARG ;;
	k) KEEP=1 ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "bench_imagerec: -n wants a positive count" >&2; exit 2; }
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "bench_imagerec: -r wants a positive count" >&2; exit 2; }
[[ $EPOCHS =~ ^[1-9][0-9]*$ ]] || { echo "bench_imagerec: -e wants a positive count" >&2; exit 2; }
[[ $THREAD_LIST =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || { echo "bench_imagerec: -t wants counts like 1,2" >&2; exit 2; }
IFS=, read -r -a THREADS <<<"$THREAD_LIST"
DATA=${DATA:-$BUILD/bench-imagerec}
# the timed epochs (all of them when there is only one)
TIMED=$((EPOCHS > 1 ? EPOCHS - 1 : 1))

. "$BENCH/benchlib.sh"
bench_logs bench_imagerec

has_section() { [[ ,$SECTIONS, == *,$1,* ]]; }
# ratio A B: A / B to 2 decimals, or n/a.
ratio() {
	if [ -n "${1:-}" ] && [ -n "${2:-}" ]; then awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; else echo "n/a"; fi
}
now() { date +%s.%N; }


# --- what is there ------------------------------------------------------------------------------
for f in mxtrain im2rec libmxcore.a; do
	[ -e "$BUILD/$f" ] || { echo "bench_imagerec: no $BUILD/$f (tools/bootstrap.sh build, or -b BUILD_DIR)" >&2; exit 1; }
done
"$PY" -c 'import PIL, numpy' 2>/dev/null ||
	{ echo "bench_imagerec: $PY cannot import PIL and numpy (apt-get install python3-pil python3-numpy)" >&2; exit 1; }
HAVE_MXNET=0 HAVE_CV2=0
if "$MXNET_PY" -c 'import mxnet' >/dev/null 2>&1; then
	HAVE_MXNET=1
	"$MXNET_PY" -c 'import cv2' >/dev/null 2>&1 && HAVE_CV2=1
else
	echo "SKIP: mxnet: $MXNET_PY cannot import mxnet (tools/bootstrap.sh setup)"
fi
IM2REC_PY=$(ls "$(dirname "$MXNET_PY")"/../lib/python3*/site-packages/mxnet/tools/im2rec.py 2>/dev/null | head -1 || true)
[ "$HAVE_CV2" = 1 ] && [ -z "$IM2REC_PY" ] && HAVE_CV2=0

# raw_decode reads the .rec with our recordio module; the other libraries cover whatever else
# the archive's objects pull in (only the objects that are needed are linked).
RAW=$LOGS/raw_decode
# shellcheck disable=SC2046
cc -O2 -I"$ROOT/src" -o "$RAW" "$BENCH/raw_decode.c" "$BUILD/libmxcore.a" -ljpeg -lpng -lz \
	$(pkg-config --libs libconfig jansson 2>/dev/null) -lpthread -lm ||
	{ echo "bench_imagerec: cannot build raw_decode.c" >&2; exit 1; }

# --- the data: generated once into DATA, then listed and packed into LOGS --------------------------
JPEGS=$DATA/jpegs-$N
if [ ! -f "$JPEGS/.complete" ]; then
	rm -rf "$JPEGS"
	echo "generating $N JPEGs into ${JPEGS#"$ROOT"/} (once; kept for later runs)"
	"$PY" "$BENCH/make_jpegs.py" "$JPEGS" -n "$N" >"$LOGS/make_jpegs.log" 2>&1 ||
		{ cat "$LOGS/make_jpegs.log"; exit 1; }
	touch "$JPEGS/.complete"
fi
JPEG_KB=$(find "$JPEGS" -name '*.jpg' -printf '%s\n' | awk '{s += $1} END {printf "%.1f", s / NR / 1024}')
"$BUILD/im2rec" -q --list --recursive "$LOGS/bench" "$JPEGS" >"$LOGS/list.log" 2>&1 ||
	{ cat "$LOGS/list.log"; exit 1; }
# the iterators' input: shorter side 256, quality 90 (untimed; the pack section times packing)
"$BUILD/im2rec" -q --resize 256 --quality 90 --num-thread 2 "$LOGS/bench" "$JPEGS" >"$LOGS/pack.log" 2>&1 ||
	{ cat "$LOGS/pack.log"; exit 1; }
REC=$LOGS/bench.rec
REC_KB=$(awk -v s="$(stat -c %s "$REC")" -v n="$N" 'BEGIN {printf "%.1f", s / n / 1024}')
echo "data: $N JPEGs of 400x300..640x480 ($JPEG_KB KB on average), packed with im2rec --resize 256" \
	"--quality 90 ($REC_KB KB a record)"

FAILED=0
declare -A SPEEDS CPUS MEDIAN

# --- the iterator runs -------------------------------------------------------------------------------
# Each writes its output to $1 and prints "IMAGES_PER_SEC IMAGES_PER_CPU_SECOND", or fails. The
# second figure divides the same images by the CPU time (user + system, every thread) the
# process spent over the timed part: other work on the machine stretches the wall clock but
# hardly the CPU time, so it still compares the cost of the work when the machine is busy.

run_raw() {
	"$RAW" -t "$2" -p "$TIMED" "$REC" >"$1" 2>&1 &&
		awk '/^raw-decode / { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
			if (v["cpu_seconds"] > 0) printf "%s %.1f\n", v["images_per_sec"], v["images"] / v["cpu_seconds"] }' "$1"
}

# mxtrain prints "Epoch[e] test-io: N images in B batches, S s, R images/sec, C s CPU" per epoch,
# C being the process's user + system time over the epoch (all threads); both figures are taken
# over the epochs after the first.
run_mxtrain() {
	(cd "$LOGS" && exec "$BUILD/mxtrain" --test-io "$CONF" data.train.path_imgrec="$REC" \
		data.train.preprocess_threads="$2" solver.num_epoch="$EPOCHS") >"$1" 2>&1 || return 1
	awk -v epochs="$EPOCHS" '
		/^Epoch\[[0-9]+\] test-io: / {
			e = substr($1, 7) + 0
			if (e > 0 || epochs == 1) { n += $3; s += $8; c += $(NF - 2) } }
		END { if (s > 0 && c > 0) printf "%.1f %.1f\n", n / s, n / c }' "$1"
}

# MXNet's ImageRecordIter caps preprocess_threads at max(cores / 2 - 1, 1) (1 on 2 cores): its
# log line says how many it used. The environment is MXNet's default (see README.md).
run_mxnet() {
	"$MXNET_PY" "$BENCH/mxnet_imagerec.py" --rec "$REC" --threads "$2" --epochs "$EPOCHS" >"$1" 2>&1 &&
		awk '/^mxnet-imagerec / { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
			if (v["cpu_seconds"] > 0) printf "%s %.1f\n", v["images_per_sec"], v["images"] / v["cpu_seconds"] }' "$1"
}

if has_section iter; then
	SYSTEMS=(raw mxtrain)
	[ "$HAVE_MXNET" = 1 ] && SYSTEMS+=(mxnet)
	echo
	echo "== decode + augment: 224x224 random crop + mirror + mean/std, batch 64, $TIMED timed epochs" \
		"of $N images after 1 warm-up; $RUNS runs, alternating"
	for ((r = 1; r <= RUNS; r++)); do
		warn_if_busy "round $r"
		for t in "${THREADS[@]}"; do
			for s in "${SYSTEMS[@]}"; do
				out=$LOGS/iter-$s-t$t-$r.log
				if result=$("run_$s" "$out" "$t") && [ -n "$result" ]; then
					read -r speed per_cpu <<<"$result"
					extra=
					if [ "$s" = mxnet ]; then
						extra=$(sed -n 's/.*use \([0-9]*\) threads for decoding.*/(MXNet used \1 decode threads)/p' "$out" | head -1)
					fi
					printf '  run %d  T=%d  %-8s %8.1f images/sec  %8.1f images/CPU-second  %s\n' \
						"$r" "$t" "$s" "$speed" "$per_cpu" "$extra"
					SPEEDS[$s.$t]+="$speed "
					CPUS[$s.$t]+="$per_cpu "
				else
					printf '  run %d  T=%d  %-8s FAILED; its output:\n' "$r" "$t" "$s"
					tail -n 20 "$out" | sed 's/^/    | /'
					FAILED=1
				fi
			done
		done
	done
	for t in "${THREADS[@]}"; do
		for s in "${SYSTEMS[@]}"; do
			MEDIAN[$s.$t]=$(tr ' ' '\n' <<<"${SPEEDS[$s.$t]:-}" | grep . | median || true)
			MEDIAN[cpu.$s.$t]=$(tr ' ' '\n' <<<"${CPUS[$s.$t]:-}" | grep . | median || true)
		done
	done
	t1=${THREADS[0]}
	for what in wall cpu; do
		echo
		if [ "$what" = wall ]; then
			echo "images/sec (wall clock), median of $RUNS:"
			key=
		else
			echo "images per CPU-second (user + system time of every thread), median of $RUNS:"
			key=cpu.
		fi
		printf '%-8s %10s %10s %10s %12s %10s %14s %14s\n' threads raw mxtrain MXNet mxtrain/raw \
			"raw T/$t1" "mxtrain T/$t1" mxtrain/MXNet
		for t in "${THREADS[@]}"; do
			printf '%-8s %10s %10s %10s %12s %10s %14s %14s\n' "$t" "${MEDIAN[$key"raw.$t"]:-n/a}" \
				"${MEDIAN[$key"mxtrain.$t"]:-n/a}" "${MEDIAN[$key"mxnet.$t"]:-n/a}" \
				"$(ratio "${MEDIAN[$key"mxtrain.$t"]:-}" "${MEDIAN[$key"raw.$t"]:-}")" \
				"$(ratio "${MEDIAN[$key"raw.$t"]:-}" "${MEDIAN[$key"raw.$t1"]:-}")" \
				"$(ratio "${MEDIAN[$key"mxtrain.$t"]:-}" "${MEDIAN[$key"mxtrain.$t1"]:-}")" \
				"$(ratio "${MEDIAN[$key"mxtrain.$t"]:-}" "${MEDIAN[$key"mxnet.$t"]:-}")"
		done
	done
	echo "(targets: mxtrain/raw >= 0.85; mxtrain T/1 near T in wall clock on an idle machine, near 1 per" \
		"CPU-second; mxtrain/MXNet >= 1.0)"
	last=$(ls "$LOGS"/iter-mxtrain-t*-*.log 2>/dev/null | tail -1 || true)
	[ -n "$last" ] && echo "mxtrain peak memory: $(tail -1 "$last" | tr ' ' '\n' | grep -E '^(peak_rss_mb|queue_mb)=' | tr '\n' ' ')"
	last=$(ls "$LOGS"/iter-mxnet-t*-*.log 2>/dev/null | tail -1 || true)
	[ -n "$last" ] && echo "MXNet peak memory: $(tail -1 "$last" | tr ' ' '\n' | grep -E '^peak_rss_mb=' | tr '\n' ' ')"
fi

# --- packing: im2rec and MXNet's im2rec.py on the same list -------------------------------------------

# timed OUT CMD...: runs CMD with its output in OUT and prints "WALL_SECONDS CPU_SECONDS" (user +
# system time of the command and the processes it waited for: im2rec.py's workers).
timed() {
	local out=$1 t0 t1
	shift
	t0=$(now)
	/usr/bin/time -f 'cpu %U %S' -o "$out.time" "$@" >"$out" 2>&1 || return 1
	t1=$(now)
	awk -v a="$t0" -v b="$t1" '$1 == "cpu" { printf "%.3f %.3f\n", b - a, $2 + $3 }' "$out.time"
}

# pack_run OUT TOOL MODE T: packs a copy of bench.lst in a folder of its own (both tools pack
# every prefix*.lst they find); prints "WALL_SECONDS CPU_SECONDS".
pack_run() {
	local out=$1 tool=$2 mode=$3 t=$4 prefix args result
	mkdir -p "$LOGS/pack-$tool-$mode-t$t"
	prefix=$LOGS/pack-$tool-$mode-t$t/bench
	cp "$LOGS/bench.lst" "$prefix.lst"
	rm -f "$prefix.rec" "$prefix.idx"
	if [ "$mode" = reencode ]; then args=(--resize 256 --quality 90); else args=(--pass-through); fi
	if [ "$tool" = im2rec ]; then
		result=$(timed "$out" "$BUILD/im2rec" -q "${args[@]}" --num-thread "$t" "$prefix" "$JPEGS") || return 1
	else
		result=$(timed "$out" "$MXNET_PY" "$IM2REC_PY" "${args[@]}" --num-thread "$t" "$prefix" "$JPEGS") || return 1
	fi
	# a tool that skipped images would look faster than it is
	[ "$(wc -l <"$prefix.idx")" -eq "$N" ] || { echo "packed $(wc -l <"$prefix.idx") of $N images" >>"$out"; return 1; }
	[ "$KEEP" = 1 ] || rm -f "$prefix.rec"
	echo "$result"
}

# rate SECONDS_LIST [LESS]: N / (the median of the seconds - LESS), images per second; LESS is
# im2rec.py's start-up, for its "once started" rows. Nothing (n/a) when the start-up is more
# than half the run: what is left is too small to measure.
rate() {
	local list=$1 less=${2:-0}
	tr ' ' '\n' <<<"$list" | grep . | sort -g | awk -v n="$N" -v less="$less" '{v[NR] = $1} END {
		if (NR == 0) exit
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		if (m - less > 0.5 * m) printf "%.1f\n", n / (m - less) }'
}
seconds_median() { tr ' ' '\n' <<<"$1" | grep . | median || true; }

if has_section pack; then
	TOOLS=(im2rec)
	if [ "$HAVE_CV2" = 1 ]; then
		TOOLS+=(im2rec.py)
	elif [ "$HAVE_MXNET" = 1 ]; then
		echo "SKIP: MXNet's im2rec.py: $MXNET_PY cannot import cv2 (.venv-mxnet/bin/pip install opencv-python-headless)"
	fi
	[ -x /usr/bin/time ] || { echo "bench_imagerec: packing needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
	declare -A WALL CPU
	echo
	echo "== im2rec packing: $N JPEGs, re-encoded (--resize 256 --quality 90) and --pass-through;" \
		"$RUNS runs, alternating"
	for ((r = 1; r <= RUNS; r++)); do
		warn_if_busy "packing round $r"
		if [ "$HAVE_CV2" = 1 ]; then
			# im2rec.py's fixed cost, paid once a run: starting Python, importing mxnet and cv2
			if result=$(timed "$LOGS/startup-$r.log" "$MXNET_PY" "$IM2REC_PY" --help); then
				read -r w c <<<"$result"
				WALL[startup]+="$w " CPU[startup]+="$c "
			fi
		fi
		for t in "${THREADS[@]}"; do
			for mode in reencode pass-through; do
				for tool in "${TOOLS[@]}"; do
					out=$LOGS/pack-$tool-$mode-t$t-$r.log
					if result=$(pack_run "$out" "$tool" "$mode" "$t"); then
						read -r w c <<<"$result"
						printf '  run %d  T=%d  %-10s %-13s %8.1f images/sec  %8.1f images/CPU-second\n' "$r" "$t" \
							"$tool" "$mode" "$(awk -v n="$N" -v w="$w" 'BEGIN {print n / w}')" \
							"$(awk -v n="$N" -v c="$c" 'BEGIN {print (c > 0 ? n / c : 0)}')"
						WALL[$tool.$mode.$t]+="$w " CPU[$tool.$mode.$t]+="$c "
					else
						printf '  run %d  T=%d  %-10s %-13s FAILED; its output:\n' "$r" "$t" "$tool" "$mode"
						tail -n 20 "$out" | sed 's/^/    | /'
						FAILED=1
					fi
				done
			done
		done
	done
	SW=$(seconds_median "${WALL[startup]:-}")
	SC=$(seconds_median "${CPU[startup]:-}")
	echo
	echo "images/sec (wall clock) and images per CPU-second, median of $RUNS:"
	printf '%-22s %-8s %12s %12s %14s %12s\n' tool threads re-encode "(per CPU-s)" pass-through "(per CPU-s)"
	for tool in "${TOOLS[@]}"; do
		for t in "${THREADS[@]}"; do
			for mode in reencode pass-through; do
				MEDIAN[pack.$tool.$mode.$t]=$(rate "${WALL[$tool.$mode.$t]:-}")
				MEDIAN[packcpu.$tool.$mode.$t]=$(rate "${CPU[$tool.$mode.$t]:-}")
				if [ "$tool" = im2rec.py ] && [ -n "$SW" ]; then
					MEDIAN[pack.started.$mode.$t]=$(rate "${WALL[$tool.$mode.$t]:-}" "$SW")
					MEDIAN[packcpu.started.$mode.$t]=$(rate "${CPU[$tool.$mode.$t]:-}" "$SC")
				fi
			done
			printf '%-22s %-8s %12s %12s %14s %12s\n' "$tool" "$t" \
				"${MEDIAN[pack.$tool.reencode.$t]:-n/a}" "${MEDIAN[packcpu.$tool.reencode.$t]:-n/a}" \
				"${MEDIAN[pack.$tool.pass-through.$t]:-n/a}" "${MEDIAN[packcpu.$tool.pass-through.$t]:-n/a}"
		done
	done
	if [ "$HAVE_CV2" = 1 ] && [ -n "$SW" ]; then
		for t in "${THREADS[@]}"; do
			printf '%-22s %-8s %12s %12s %14s %12s\n' "im2rec.py once started" "$t" \
				"${MEDIAN[pack.started.reencode.$t]:-n/a}" "${MEDIAN[packcpu.started.reencode.$t]:-n/a}" \
				"${MEDIAN[pack.started.pass-through.$t]:-n/a}" "${MEDIAN[packcpu.started.pass-through.$t]:-n/a}"
		done
		echo "(im2rec.py's start-up, Python importing mxnet and cv2: $SW s wall, $SC s CPU a run; the last" \
			"rows leave it out)"
		for t in "${THREADS[@]}"; do
			echo "im2rec/im2rec.py at T=$t, re-encode: $(ratio "${MEDIAN[pack.im2rec.reencode.$t]:-}" \
				"${MEDIAN[pack.im2rec.py.reencode.$t]:-}") (once started $(ratio "${MEDIAN[pack.im2rec.reencode.$t]:-}" \
				"${MEDIAN[pack.started.reencode.$t]:-}"), per CPU-s $(ratio "${MEDIAN[packcpu.im2rec.reencode.$t]:-}" \
				"${MEDIAN[packcpu.started.reencode.$t]:-}")); pass-through: $(ratio \
				"${MEDIAN[pack.im2rec.pass-through.$t]:-}" "${MEDIAN[pack.im2rec.py.pass-through.$t]:-}")" \
				"(once started $(ratio "${MEDIAN[pack.im2rec.pass-through.$t]:-}" "${MEDIAN[pack.started.pass-through.$t]:-}"))"
		done
	fi
fi

[ "$BUSY_RUNS" -gt 0 ] && echo "WARNING: the machine was busy before $BUSY_RUNS round(s): compare ratios, not absolute figures"
[ "$KEEP" = 1 ] && echo "logs and .rec files: ${LOGS#"$ROOT"/}/"
exit "$FAILED"
