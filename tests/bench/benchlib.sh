# tests/bench/benchlib.sh: helpers the bench scripts share (sourced, not run).

# bench_logs NAME: sets LOGS to BUILD/bench-logs when KEEP=1, else to a scratch folder that
# is removed at exit.
bench_logs() {
	if [ "${KEEP:-0}" = 1 ]; then
		LOGS=$BUILD/bench-logs
		mkdir -p "$LOGS"
	else
		LOGS=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
		trap 'rm -rf "$LOGS"' EXIT
	fi
}

# median [DECIMALS]: the median of the numbers on stdin, one a line, to DECIMALS places
# (default 1); nothing when there are none.
median() {
	sort -g | awk -v d="${1:-1}" '{v[NR] = $1} END {
		if (NR == 0) exit
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.*f\n", d, m }'
}

# The percentage of CPU time that was busy over the next second (all processes).
cpu_busy() {
	local a b c d e f g h t1 i1 t2 i2
	read -r _ a b c d e f g h _ </proc/stat
	t1=$((a + b + c + d + e + f + g + h)) i1=$((d + e))
	sleep 1
	read -r _ a b c d e f g h _ </proc/stat
	t2=$((a + b + c + d + e + f + g + h)) i2=$((d + e))
	echo $((100 - 100 * (i2 - i1) / (t2 - t1 > 0 ? t2 - t1 : 1)))
}

# warn_if_busy WHAT: a warning when more than 10% of the CPU was busy just before WHAT
# ("run 2"); counts such moments in BUSY_RUNS. Other work skews the figures, PyTorch's
# most: its OpenMP threads spin at every parallel region and lose the core they wait for.
BUSY_RUNS=0
warn_if_busy() {
	local busy
	busy=$(cpu_busy)
	if [ "$busy" -gt 10 ]; then
		echo "WARNING: $busy% of the CPU was busy before $1 (load average $(cut -d' ' -f1-3 /proc/loadavg)):" \
			"the figures are not reliable; measure on an idle machine"
		BUSY_RUNS=$((BUSY_RUNS + 1))
	fi
}

# available SYSTEM: whether mxtrain (with the conf $CONF), torch ($TORCH_PY) or mxnet
# ($MXNET_PY) can run here; prints a SKIP line and returns 1 when not. An unknown name
# exits 2, naming the script ($0).
available() {
	case $1 in
	mxtrain)
		[ -x "$BUILD/mxtrain" ] || { echo "SKIP: mxtrain: no $BUILD/mxtrain (run tools/bootstrap.sh build)"; return 1; }
		[ -f "$CONF" ] || { echo "SKIP: mxtrain: no ${CONF#"$ROOT"/}"; return 1; }
		;;
	torch)
		"$TORCH_PY" -c 'import torch' >/dev/null 2>&1 ||
			{ echo "SKIP: torch: $TORCH_PY cannot import torch (apt-get install python3-torch)"; return 1; }
		;;
	mxnet)
		"$MXNET_PY" -c 'import mxnet' >/dev/null 2>&1 ||
			{ echo "SKIP: mxnet: $MXNET_PY cannot import mxnet (tools/bootstrap.sh setup)"; return 1; }
		;;
	*) echo "$(basename "$0" .sh): unknown system '$1' (mxtrain, torch, mxnet)" >&2; exit 2 ;;
	esac
}
