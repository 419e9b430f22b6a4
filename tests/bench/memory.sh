#!/bin/bash
# memory.sh: internal memory of large networks, mxtrain's plan against MXNet 1.9.1's.
# For each conf: `mxtrain --plan` at batch 64 (training, inference) and batch 1
# (inference), and MXNet's simple_bind total for the same symbol JSON (mxtrain writes it
# with solver.num_epoch=0), as MXNet runs by default (mxnet_MB: its MKLDNN build fuses
# operators in inference) and for the unfused graph (unfused_MB, the graph mxtrain plans).
# ours/mx compares with the default figure. Run from the repo root after building:
#   tests/bench/memory.sh [conf ...]        (BATCH=32 for another batch size)
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
mxtrain=${MXTRAIN:-$root/build/mxtrain}
py=${MXTRAIN_PEER_PYTHON:-$root/.venv-mxnet/bin/python}
batch=${BATCH:-64}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
confs=${*:-vgg16 inception-bn resnet50}

printf '%-14s %-9s %5s %10s %10s %10s %10s %6s %9s %10s %8s\n' net mode batch none_MB inplace_MB coshare_MB both_MB both/none mxnet_MB unfused_MB ours/mx
for c in $confs; do
	conf=$root/confs/$c.conf
	"$mxtrain" --plan "$conf" data.train.batch_size="$batch" > "$work/plan" 2>&1 || { echo "$c: $(tail -1 "$work/plan")"; continue; }
	"$mxtrain" -q "$conf" solver.num_epoch=0 data.train.batch_size=2 data.train.num_examples=2 \
		model.dir="$work/$c" model.prefix=net > /dev/null 2>&1
	shape=$(grep -o 'data_shape = ([0-9, ]*)' "$conf" | head -1 | tr -dc '0-9 ,' | tr ',' ' ')
	mx=""
	if [ -f "$work/$c/net-symbol.json" ] && "$py" -c 'import mxnet' 2>/dev/null; then
		"$py" "$root/tests/bench/mxnet_memory.py" "$work/$c/net-symbol.json" "$batch" $shape > "$work/mx" 2>/dev/null
		mx=$(cat "$work/mx")
	fi
	grep '^plan ' "$work/plan" | while read -r _ mode b none inplace coshare both _rest; do
		mode=${mode#mode=}; b=${b#batch=}
		none=${none#none_mb=}; inplace=${inplace#inplace_mb=}; coshare=${coshare#coshare_mb=}; both=${both#both_mb=}
		theirs=$(echo "$mx" | grep "mode=$mode batch=$b " | sed 's/.*total_mb=\([0-9-]*\).*/\1/')
		unfused=$(echo "$mx" | grep "mode=$mode batch=$b " | sed 's/.*unfused_mb=//')
		ratio=$(awk -v a="$both" -v b="$none" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')
		vs=$(awk -v a="$both" -v b="${theirs:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }')
		printf '%-14s %-9s %5s %10s %10s %10s %10s %6s %9s %10s %8s\n' "$c" "$mode" "$b" "$none" "$inplace" "$coshare" "$both" \
			"$ratio" "${theirs:--}" "${unfused:--}" "$vs"
	done
done
echo "MXNet's figures are debug_str()'s 'Total N MB allocated' (its internal arrays, rounded down to MB)."
