#!/bin/bash
# mxnet_peer.sh: checkpoints cross between mxtrain and Apache MXNet 1.9.1 both ways.
#  1. Always: mxpredict reads a checkpoint that MXNet saved (tests/fixtures/mxnet-mlp)
#     and agrees with the predictions MXNet made with it (stored beside it).
#  2. With MXNet installed ($MXTRAIN_PEER_PYTHON or .venv-mxnet): MXNet loads a checkpoint
#     that mxtrain wrote and predicts the test set as mxpredict does; and a checkpoint
#     MXNet saves now is read by mxpredict with the same predictions.
# Agreement: the same top-1 class for every image, probabilities within 1e-4.
. "$(dirname "$0")/testlib.sh"
need_fmnist
fix=$top_srcdir/tests/fixtures/mxnet-mlp
script=$top_srcdir/tests/peer/mxnet_roundtrip.py
py=${MXTRAIN_PEER_PYTHON:-$top_srcdir/.venv-mxnet/bin/python}
compare_py=$(command -v python3)

# The first 200 test images as an idx file of their own (header count 200 = 0xc8).
{ printf '\x00\x00\x08\x03\x00\x00\x00\xc8\x00\x00\x00\x1c\x00\x00\x00\x1c'
  zcat "$FMNIST/t10k-images-idx3-ubyte.gz" | tail -c +17 | head -c 156800; } > "$WORK/img200"

if "$MXPREDICT" --model "$fix/mlp" --epoch 1 --image "$WORK/img200" --output "$WORK/fixture.csv" > "$WORK/p.log" 2>&1 &&
	"$compare_py" "$script" compare "$fix/mxnet-predictions.csv" "$WORK/fixture.csv" > "$WORK/cmp.log"; then
	pass "mxpredict on MXNet's saved checkpoint (fixture): $(cat "$WORK/cmp.log")"
else
	fail "mxpredict on MXNet's fixture checkpoint: $(cat "$WORK/p.log" "$WORK/cmp.log" 2>/dev/null | tail -2)"
fi

if ! "$py" -c 'import mxnet' 2>/dev/null; then
	echo "SKIP: live comparison with MXNet 1.9.1: no MXNet at $py (tools/bootstrap.sh test installs it)"
	finish || exit 1
	exit 77
fi

# mxtrain -> MXNet
small_conf "$WORK/ours" > "$WORK/ours.conf"
"$MXTRAIN" -q "$WORK/ours.conf" solver.num_epoch=1 > "$WORK/train.log" 2>&1 || fail "mxtrain: $(tail -1 "$WORK/train.log")"
"$MXPREDICT" --model "$WORK/ours/small" --epoch 1 --image "$FMNIST/t10k-images-idx3-ubyte.gz" --output "$WORK/ours.csv" > /dev/null 2>&1 &&
	"$py" "$script" predict "$WORK/ours/small" 1 "$FMNIST/t10k-images-idx3-ubyte.gz" "$WORK/ours-mxnet.csv" > "$WORK/mx.log" 2>&1 &&
	"$py" "$script" compare "$WORK/ours-mxnet.csv" "$WORK/ours.csv" > "$WORK/cmp.log" 2>&1 &&
	pass "MXNet loads mxtrain's checkpoint; 10000 test images: $(cat "$WORK/cmp.log")" ||
	fail "mxtrain -> MXNet: $(tail -3 "$WORK/mx.log" "$WORK/cmp.log" 2>/dev/null)"

# MXNet -> mxpredict
"$py" "$script" make-checkpoint "$WORK/theirs" "$FMNIST/train-images-idx3-ubyte.gz" "$FMNIST/train-labels-idx1-ubyte.gz" > "$WORK/mk.log" 2>&1 &&
	"$py" "$script" predict "$WORK/theirs" 1 "$FMNIST/t10k-images-idx3-ubyte.gz" "$WORK/theirs-mxnet.csv" >> "$WORK/mk.log" 2>&1 &&
	"$MXPREDICT" --model "$WORK/theirs" --epoch 1 --image "$FMNIST/t10k-images-idx3-ubyte.gz" --output "$WORK/theirs.csv" >> "$WORK/mk.log" 2>&1 &&
	"$py" "$script" compare "$WORK/theirs-mxnet.csv" "$WORK/theirs.csv" > "$WORK/cmp.log" 2>&1 &&
	pass "mxpredict loads a checkpoint MXNet just saved; 10000 test images: $(cat "$WORK/cmp.log")" ||
	fail "MXNet -> mxpredict: $(tail -3 "$WORK/mk.log" "$WORK/cmp.log" 2>/dev/null)"
finish
