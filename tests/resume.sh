#!/bin/bash
# resume.sh: a run killed after epoch k and resumed with --resume ends with the same
# weights, bit for bit, as an uninterrupted run; a fixed seed gives identical runs.
. "$(dirname "$0")/testlib.sh"
need_fmnist

small_conf "$WORK/a" > "$WORK/a.conf"
small_conf "$WORK/b" > "$WORK/b.conf"
small_conf "$WORK/c" > "$WORK/c.conf"

"$MXTRAIN" -q "$WORK/a.conf" > "$WORK/a.log" 2>&1 || fail "uninterrupted run: $(tail -1 "$WORK/a.log")"

# Run b is killed (SIGKILL, no chance to clean up) in the middle of epoch 2 (update 30 of
# 20 per epoch), after epoch 1's checkpoint was written.
MXTRAIN_DEBUG_KILL_AT_UPDATE=30 "$MXTRAIN" -q "$WORK/b.conf" > "$WORK/b.log" 2>&1
status=$?
[ "$status" -eq 137 ] && [ -f "$WORK/b/small-0001.states" ] && [ ! -f "$WORK/b/small-0002.params" ] &&
	pass "run b was killed by SIGKILL during epoch 2" || fail "run b was not killed mid-epoch 2 (status $status)"
"$MXTRAIN" -q --resume "$WORK/b.conf" > "$WORK/b2.log" 2>&1 || fail "resume: $(tail -1 "$WORK/b2.log")"
if cmp -s "$WORK/a/small-0004.params" "$WORK/b/small-0004.params" &&
	cmp -s "$WORK/a/small-0004.states" "$WORK/b/small-0004.states"; then
	pass "killed after epoch 1 and resumed: epoch-4 weights and states are bit-identical"
else
	fail "resumed run differs from the uninterrupted one"
fi

# Stop cleanly after 2 epochs, then resume to 4.
"$MXTRAIN" -q "$WORK/c.conf" solver.num_epoch=2 > "$WORK/c.log" 2>&1 || fail "two epochs: $(tail -1 "$WORK/c.log")"
"$MXTRAIN" -q --resume "$WORK/c.conf" > "$WORK/c2.log" 2>&1 || fail "resume from 2: $(tail -1 "$WORK/c2.log")"
if cmp -s "$WORK/a/small-0004.params" "$WORK/c/small-0004.params"; then
	pass "2 epochs + resume to 4 equals 4 epochs"
else
	fail "2 epochs + resume differs from 4 epochs"
fi
grep -q "Epoch\[2\]" "$WORK/c2.log" && ! grep -q "Epoch\[1\]" "$WORK/c2.log" &&
	pass "the resumed run starts at epoch 2" || fail "the resumed run did not start at epoch 2"

# Same seed, same everything: identical log metrics and weights.
"$MXTRAIN" -q "$WORK/c.conf" model.dir="$WORK/d" > "$WORK/d.log" 2>&1
if cmp -s "$WORK/a/small-0004.params" "$WORK/d/small-0004.params"; then
	pass "a fixed seed gives identical weights run to run"
else
	fail "two runs with the same seed differ"
fi
grep -q 'Validation-accuracy=' "$WORK/a.log" && pass "validation accuracy is logged" || fail "no Validation-accuracy line"
finish
