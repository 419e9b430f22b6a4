#!/bin/bash
# confs.sh: every example network in confs/ loads, infers its shapes and trains a little:
# one epoch of two tiny batches (synthetic data) or of a 1/60 shard (Fashion-MNIST), with
# checkpoints written to a scratch folder, then again with no memory sharing, which must
# give the same weights bit for bit. A conf whose data are not here is skipped with the reason.
. "$(dirname "$0")/testlib.sh"

# Overrides that make a conf's run small, from its train iterator: prints them, or returns
# 1 with the reason on stdout when it cannot run here.
tiny_overrides() {
	local conf=$1 name iter
	name=$(basename "$conf" .conf)
	iter=$(sed -n '/^ *train *= *{/,/}/s/^ *iter *= *"\([a-z]*\)".*/\1/p' "$conf" | head -1)
	case $iter in
	mnist)
		[ -f "$FMNIST/train-images-idx3-ubyte.gz" ] || { echo "Fashion-MNIST is not installed"; return 1; }
		echo "data.train.num_parts=60 data.eval.num_parts=10" ;;
	imagerec)
		# A 1000/500-image JPEG copy of Fashion-MNIST packed by im2rec, made once per run.
		[ -f "$FMNIST/train-images-idx3-ubyte.gz" ] || { echo "Fashion-MNIST is not installed"; return 1; }
		/usr/bin/python3 -c 'import PIL' 2> /dev/null || { echo "/usr/bin/python3 has no PIL (python3-pil)"; return 1; }
		if [ ! -f "$WORK/fmnist/fmnist_test.rec" ] && ! {
			/usr/bin/python3 "$top_srcdir/tools/fmnist-to-jpeg.py" --limit 1000 "$WORK/fmnist" &&
				"$top_builddir/im2rec" -q --list --recursive "$WORK/fmnist/fmnist_train" "$WORK/fmnist/train" &&
				"$top_builddir/im2rec" -q --list --recursive --no-shuffle "$WORK/fmnist/fmnist_test" "$WORK/fmnist/test" &&
				"$top_builddir/im2rec" -q "$WORK/fmnist/fmnist_train" "$WORK/fmnist/train" &&
				"$top_builddir/im2rec" -q "$WORK/fmnist/fmnist_test" "$WORK/fmnist/test"; } > "$WORK/im2rec.log" 2>&1; then
			echo "could not make the JPEG .rec files: $(tail -1 "$WORK/im2rec.log")"; return 1
		fi
		echo "data.train.path_imgrec=$WORK/fmnist/fmnist_train.rec data.eval.path_imgrec=$WORK/fmnist/fmnist_test.rec" ;;
	synthetic)
		# VGG-16 is 15.5 G multiply-adds per 224x224 image forward and 138 M weights to
		# initialise and save: one image per batch keeps it to seconds.
		if [ "$name" = vgg16 ]; then
			echo "data.train.num_examples=2 data.train.batch_size=1"
		else
			echo "data.train.num_examples=4 data.train.batch_size=2"
		fi ;;
	*)
		echo "iter \"$iter\" needs a dataset that is not here"; return 1 ;;
	esac
}

start=$SECONDS
for conf in "$top_srcdir"/confs/*.conf; do
	name=$(basename "$conf" .conf)
	if ! extra=$(tiny_overrides "$conf"); then
		echo "SKIP: $name: $extra"
		continue
	fi
	t0=$SECONDS
	# shellcheck disable=SC2086 # $extra is a list of words
	if "$MXTRAIN" -q "$conf" solver.num_epoch=1 model.dir="$WORK/$name" model.save_period=1 $extra \
		> "$WORK/$name.log" 2>&1; then
		pass "$name ($((SECONDS - t0)) s: $extra)"
	else
		fail "$name: exit status $?: $(tail -3 "$WORK/$name.log" | tr '\n' ' ')"
		continue
	fi
	# The memory plan must not change a single bit: the same run with every array in a
	# buffer of its own (no in-place, no co-sharing) ends with the same weights.
	# shellcheck disable=SC2086
	if MXNET_EXEC_ENABLE_INPLACE=0 MXTRAIN_EXEC_COSHARE=0 "$MXTRAIN" -q "$conf" solver.num_epoch=1 \
		model.dir="$WORK/$name-unplanned" model.save_period=1 $extra > "$WORK/$name-unplanned.log" 2>&1 &&
		cmp -s "$WORK/$name/"*-0001.params "$WORK/$name-unplanned/"*-0001.params; then
		pass "$name: planned and unplanned memory give bit-identical weights"
	else
		fail "$name: planned and unplanned memory give different weights"
	fi
	rm -rf "$WORK/$name" "$WORK/$name-unplanned"
done
echo "all confs in $((SECONDS - start)) s"
finish
