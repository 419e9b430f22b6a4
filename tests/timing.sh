#!/bin/bash
# timing.sh: `mxtrain --time` prints a row per layer and the totals, runs on random inputs
# without reading the dataset, honours overrides and inference mode, and turns bad input
# into one error line with status 2.
. "$(dirname "$0")/testlib.sh"
need_fmnist

CONF=$top_srcdir/confs/fmnist-mlp.conf
FAST=(--time-iters 3 --time-warmup 1 solver.num_threads=1)

# run NAME ARGS...: runs mxtrain ARGS, output in $WORK/NAME.out and .err; returns its status.
run() {
	local name=$1
	shift
	"$MXTRAIN" "$@" > "$WORK/$name.out" 2> "$WORK/$name.err"
}

# row NAME FILE: the table row of layer NAME (first field).
row() { awk -v n="$1" '$1 == n' "$2"; }

# --- the fmnist MLP, training -------------------------------------------------------------
if run mlp --time "$CONF" "${FAST[@]}"; then
	pass "--time on confs/fmnist-mlp.conf exits 0"
else
	fail "--time on confs/fmnist-mlp.conf exits $?: $(head -c 300 "$WORK/mlp.err")"
fi

# Each layer: name, type, output shape, then forward and backward ms as numbers.
for spec in "fc1 FullyConnected (100,256)" "relu1 Activation (100,256)" "fc2 FullyConnected (100,128)" \
	"relu2 Activation (100,128)" "fc3 FullyConnected (100,10)" "softmax SoftmaxOutput (100,10)"; do
	read -r name type shape <<<"$spec"
	line=$(row "$name" "$WORK/mlp.out")
	if [ -z "$line" ]; then
		fail "the table has no row for layer $name"
	elif ! awk -v t="$type" -v s="$shape" '$2 == t && $3 == s && $4 ~ /^[0-9]+\.[0-9]+$/ && $5 ~ /^[0-9]+\.[0-9]+$/ {ok = 1}
		END {exit !ok}' <<<"$line"; then
		fail "layer $name's row is not '$name $type $shape <fwd ms> <bwd ms> ...': $line"
	else
		pass "layer $name's row: $line"
	fi
done

# The total row sums the layer rows (to the rounding of three decimals per row).
total=$(row total "$WORK/mlp.out")
if [ -z "$total" ]; then
	fail "the table has no total row"
elif awk '$1 ~ /^(fc|relu|softmax)/ && $4 ~ /^[0-9.]+$/ {f += $4; b += $5} $1 == "total" {tf = $2; tb = $3}
	END {exit !(tf > 0 && tb > 0 && (f - tf) ^ 2 < 1e-4 && (b - tb) ^ 2 < 1e-4)}' "$WORK/mlp.out"; then
	pass "the total row sums the layers: $total"
else
	fail "the total row does not sum the layers: $total"
fi

for pattern in '^per batch \(mean of 3\): forward [0-9.]+ ms, backward [0-9.]+ ms, update [0-9.]+ ms, total [0-9.]+ ms' \
	'^images/sec: [0-9]+\.[0-9]' '^achieved: [0-9.]+ GFLOP/s' '^sgemm 1024x1024x1024 \(median of 5\): [0-9.]+ GFLOP/s at 1 thread' \
	'^achieved/sgemm: [0-9.]+ at 1 thread'; do
	if grep -qE "$pattern" "$WORK/mlp.out"; then
		pass "a line matches /$pattern/"
	else
		fail "no line matches /$pattern/"
	fi
done
# images/sec is the batch over the mean total time.
if awk '/^per batch/ {for (i = 1; i <= NF; i++) if ($i == "total") t = $(i + 1)} /^images\/sec:/ {s = $2}
	END {exit !(t > 0 && (s - 100 / (t / 1000)) ^ 2 < (0.01 * s) ^ 2)}' "$WORK/mlp.out"; then
	pass "images/sec is 100 / the mean total time"
else
	fail "images/sec does not match the total time: $(grep -E '^(per batch|images)' "$WORK/mlp.out")"
fi

# fc1's flops: 2 * 100 * 784 * 256 forward; backward once that (the weight's gradient; its
# data is the network's input, whose gradient nobody computes).
gflop=$(row fc1 "$WORK/mlp.out" | awk '{print $6, $7}')
if [ "${gflop%% *}" = "-" ]; then
	echo "NOTE: FullyConnected declares no flops (op->flops is NULL); its GFLOP columns are not checked"
elif awk -v g="$gflop" 'BEGIN {split(g, v, " "); exit !((v[1] - 0.0401) ^ 2 < 1e-8 && (v[2] - 0.0401) ^ 2 < 1e-8)}'; then
	pass "fc1 counts 0.0401 GFLOP forward and 0.0401 backward"
else
	fail "fc1's GFLOP are '$gflop', want 0.0401 0.0401"
fi

# --- a small CNN on synthetic data: conv flops, the backward rule, and the achieved rate ----
cat > "$WORK/cnn.conf" <<'CONF'
data = { train = { iter = "synthetic"; data_shape = [16, 32, 32]; num_classes = 5; batch_size = 8; }; };
net = (
  { type = "Convolution"; name = "conv1"; kernel = [3, 3]; num_filter = 32; },
  { type = "Activation"; name = "relu1"; act_type = "relu"; },
  { type = "Convolution"; name = "conv2"; kernel = [3, 3]; num_filter = 32; },
  { type = "Pooling"; name = "pool"; pool_type = "max"; kernel = [2, 2]; stride = [2, 2]; },
  { type = "Flatten"; name = "flat"; },
  { type = "FullyConnected"; name = "fc"; num_hidden = 5; },
  { type = "SoftmaxOutput"; name = "softmax"; }
);
solver = { lr = 0.1; num_threads = 1; };
CONF
# conv1: 2 * 8 * 32 * 30 * 30 * 16 * 9 forward, backward 1x (its data is the input);
# conv2: 2 * 8 * 32 * 28 * 28 * 32 * 9 forward, backward 2x; pool: 8 * 32 * 14 * 14 * 4, 1x.
# Achieved GFLOP/s = the GFLOP per batch over the mean total time.
if run cnn --time "$WORK/cnn.conf" --time-iters 3 --time-warmup 1; then
	awk '$1 == "conv1" {c1 = ($3 == "(8,32,30,30)" && ($6 - 0.0664) ^ 2 < 1e-8 && ($7 - 0.0664) ^ 2 < 1e-8)}
	     $1 == "conv2" {c2 = ($3 == "(8,32,28,28)" && ($6 - 0.1156) ^ 2 < 1e-8 && ($7 - 0.2312) ^ 2 < 1e-8)}
	     $1 == "pool" {p = (($6 - 0.0002) ^ 2 < 1e-8 && $7 == $6)}
	     $1 == "relu1" {r = ($6 == "-")}
	     /^per batch/ {for (i = 1; i <= NF; i++) if ($i == "total") t = $(i + 1)}
	     /^GFLOP per batch:/ {g = $4}
	     /^achieved:/ {a = $2}
	     END {ok = c1 && c2 && p && r && t > 0 && (a - g / (t / 1000)) ^ 2 < (0.01 * a) ^ 2; exit !ok}' \
		"$WORK/cnn.out" &&
		pass "conv1 0.0664/0.0664, conv2 0.1156/0.2312, pool 1x GFLOP; achieved = GFLOP per batch / total time" ||
		fail "conv GFLOP or achieved rate wrong: $(grep -E '^(conv|pool|relu1|GFLOP|achieved|per batch)' "$WORK/cnn.out")"
else
	fail "--time on a small CNN exits $?: $(head -c 300 "$WORK/cnn.err")"
fi

# --- the dataset is not read: an images file that is only its 16-byte header --------------
printf '\x00\x00\x08\x03\x00\x00\xea\x60\x00\x00\x00\x1c\x00\x00\x00\x1c' > "$WORK/header-only"
if run header --time "$CONF" "${FAST[@]}" data.train.image="$WORK/header-only" data.train.label="$WORK/no-labels" &&
	row fc1 "$WORK/header.out" | grep -q '(100,256)'; then
	pass "--time needs only the images header (no pixels, no labels file)"
else
	fail "--time with a header-only images file: $(head -c 300 "$WORK/header.err")"
fi

# --- overrides and modes --------------------------------------------------------------------
if run batch32 --time "$CONF" "${FAST[@]}" data.train.batch_size=32 data.train.flat=true &&
	grep -q 'batch 32, data (32,784)' "$WORK/batch32.out" && row fc2 "$WORK/batch32.out" | grep -q '(32,128)'; then
	pass "data.train.batch_size=32 flat=true gives data (32,784) and fc2 (32,128)"
else
	fail "batch 32 flat: $(head -3 "$WORK/batch32.out") $(head -c 300 "$WORK/batch32.err")"
fi

if run infer --time-inference "$CONF" "${FAST[@]}" &&
	grep -q 'inference (forward only)' "$WORK/infer.out" &&
	row fc1 "$WORK/infer.out" | awk '$5 == "-" {ok = 1} END {exit !ok}' &&
	grep -qE '^per batch \(mean of 3\): forward [0-9.]+ ms, total' "$WORK/infer.out"; then
	pass "--time-inference times the forward pass only"
else
	fail "--time-inference: $(head -4 "$WORK/infer.out") $(head -c 300 "$WORK/infer.err")"
fi

# --- bad input: one line on stderr, status 2 --------------------------------------------------
# expect_error NAME PATTERN ARGS...
expect_error() {
	local name=$1 pattern=$2 status
	shift 2
	run err "$@"
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
sed 's/num_hidden = 256/num_hiden = 256/' "$CONF" > "$WORK/badkey.conf"
expect_error "misspelled layer key" 'badkey\.conf:[0-9]+: .*fc1.*"num_hiden".*did you mean "num_hidden"' \
	--time "$WORK/badkey.conf" "${FAST[@]}"
expect_error "misspelled iterator key" 'data\.train.*"batch_sise".*did you mean "batch_size"' \
	--time "$CONF" "${FAST[@]}" data.train.batch_sise=5
expect_error "missing images file" 'no-such-images' --time "$CONF" "${FAST[@]}" data.train.image=/nonexistent/no-such-images.gz
expect_error "zero timed iterations" '--time-iters needs a count from 1' --time "$CONF" --time-iters 0
expect_error "missing count" '--time-warmup needs a count from 0' --time "$CONF" --time-warmup

finish
