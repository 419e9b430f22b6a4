#!/bin/bash
# test_io.sh: `mxtrain --test-io` runs data.train's iterator alone for solver.num_epoch
# epochs, for every iterator kind (mnist, csv, synthetic, imagerec), and ends with one
# `test-io key=value ...` line whose counts are exact (images = examples per epoch x
# epochs); no network is built, so a network of 600 MB of weights costs no memory; the
# peak memory grows with prefetch_buffer by the batches it holds, not by the dataset, and
# a csv file costs its float count; bad data exit 2 with one line.
. "$(dirname "$0")/testlib.sh"

# run NAME ARGS...: mxtrain ARGS, output in $WORK/NAME.out and .err; returns its status.
run() {
	local name=$1
	shift
	"$MXTRAIN" "$@" > "$WORK/$name.out" 2> "$WORK/$name.err"
}

# field NAME KEY: KEY's value on the last line of $WORK/NAME.out.
field() { tail -1 "$WORK/$1.out" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# expect_counts NAME ITER EPOCHS BATCHES IMAGES: the last line is a test-io line with these
# exact counts, a positive rate, a peak memory between 1 MB and 1 GB and a CPU time.
expect_counts() {
	local name=$1 iter=$2 epochs=$3 batches=$4 images=$5 last
	last=$(tail -1 "$WORK/$name.out")
	if [[ $last != "test-io "* ]]; then
		fail "$name: the last line is not a test-io line: $last $(head -c 300 "$WORK/$name.err")"
	elif [ "$(field "$name" iter)" != "$iter" ] || [ "$(field "$name" epochs)" != "$epochs" ] ||
		[ "$(field "$name" batches)" != "$batches" ] || [ "$(field "$name" images)" != "$images" ]; then
		fail "$name: want iter=$iter epochs=$epochs batches=$batches images=$images: $last"
	elif ! awk -v r="$(field "$name" images_per_sec)" -v m="$(field "$name" peak_rss_mb)" \
		-v c="$(field "$name" cpu_seconds)" -v s="$(field "$name" seconds)" \
		'BEGIN { exit !(r > 0 && m > 1 && m < 1024 && c != "" && c >= 0 && c <= 64 * s + 0.05) }'; then
		fail "$name: images_per_sec, peak_rss_mb or cpu_seconds is not sensible: $last"
	elif [ "$(grep -c "^Epoch\[[0-9]*\] test-io: " "$WORK/$name.out")" -ne "$epochs" ]; then
		fail "$name: want $epochs per-epoch lines: $(cat "$WORK/$name.out")"
	else
		pass "$name: $last"
	fi
}

# expect_error NAME PATTERN ARGS...: status 2, one stderr line matching PATTERN, no test-io line.
expect_error() {
	local name=$1 pattern=$2 status
	shift 2
	run "$name" "$@"
	status=$?
	if [ "$status" -ne 2 ]; then
		fail "$name: exit status $status, want 2 ($(head -c 300 "$WORK/$name.err"))"
	elif [ "$(wc -l < "$WORK/$name.err")" -ne 1 ]; then
		fail "$name: want one line on stderr: $(cat "$WORK/$name.err")"
	elif ! grep -qE -- "$pattern" "$WORK/$name.err"; then
		fail "$name: the message does not match /$pattern/: $(cat "$WORK/$name.err")"
	elif grep -q '^test-io ' "$WORK/$name.out"; then
		fail "$name: a test-io line was printed after an error"
	else
		pass "$name: $(cat "$WORK/$name.err")"
	fi
}

# A network no iterator needs: 784 x 200000 weights (600 MB) if anything allocated them.
NET='net = ( { type = "fc"; num_hidden = 200000; }, { type = "SoftmaxOutput"; name = "softmax"; } );'

# --- mnist: a small share of Fashion-MNIST, then the whole LeNet conf ----------------------
if [ -f "$FMNIST/t10k-images-idx3-ubyte.gz" ]; then
	small_conf "$WORK/unused" > "$WORK/small.conf"
	# part 0 of 10 of t10k: 1000 images, 20 batches of 50 an epoch
	run small --test-io "$WORK/small.conf" solver.num_epoch=3
	expect_counts small mnist 3 60 3000
	if [ -e "$WORK/unused" ]; then
		fail "--test-io wrote into model.dir"
	else
		pass "--test-io writes no checkpoint"
	fi
	if [ -f "$FMNIST/train-images-idx3-ubyte.gz" ]; then
		# 60000 images, 938 batches of 64 (the last padded by 32)
		run lenet --test-io "$top_srcdir/confs/fmnist-lenet.conf" solver.num_epoch=2
		expect_counts lenet mnist 2 1876 120000
	fi
else
	echo "SKIP: mnist cases: Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"
fi

# --- csv: 1000 rows of 20 values, batches of 64 (16 an epoch, the last padded by 24) -------
awk 'BEGIN { for (i = 0; i < 1000; i++) { s = ""; for (k = 0; k < 20; k++) s = s (k ? "," : "") (i * 0.5 - k);
	print s } }' > "$WORK/d.csv"
awk 'BEGIN { for (i = 0; i < 1000; i++) print i % 10 }' > "$WORK/l.csv"
csv_conf() {
	cat <<CONF
data = { train = { iter = "csv"; data_csv = "$1"; label_csv = "$2"; data_shape = [20];
                   batch_size = 64; shuffle = true; }; };
$NET
solver = { num_epoch = 3; };
CONF
}
csv_conf "$WORK/d.csv" "$WORK/l.csv" > "$WORK/csv.conf"
run csv --test-io "$WORK/csv.conf"
expect_counts csv csv 3 48 3000
# the same with a 1/4 share and no prefetching
run csv_part --test-io "$WORK/csv.conf" data.train.num_parts=4 data.train.part_index=3 \
	data.train.prefetch_buffer=0 solver.num_epoch=1
expect_counts csv_part csv 1 4 250
if awk -v m="$(field csv peak_rss_mb)" 'BEGIN { exit !(m < 300) }'; then
	pass "a 600 MB network allocates nothing under --test-io (peak $(field csv peak_rss_mb) MB)"
else
	fail "--test-io with a 600 MB network peaks at $(field csv peak_rss_mb) MB: was the network built?"
fi

# --- memory: prefetch_buffer 1 vs 8 over a 150 MB synthetic set ---------------------------
# 3200 examples of 3x64x64 floats (48 KB each, 150 MB in all), 64 a batch (3 MB): eight
# prefetched batches hold seven batches (21 MB) more than one, whatever the dataset's size.
cat > "$WORK/syn.conf" <<CONF
data = { train = { iter = "synthetic"; data_shape = [3, 64, 64]; batch_size = 64; num_examples = 3200; }; };
$NET
solver = { num_epoch = 1; };
CONF
run syn1 --test-io "$WORK/syn.conf" data.train.prefetch_buffer=1
run syn8 --test-io "$WORK/syn.conf" data.train.prefetch_buffer=8
expect_counts syn1 synthetic 1 50 3200
expect_counts syn8 synthetic 1 50 3200
p1=$(field syn1 peak_rss_mb)
p8=$(field syn8 peak_rss_mb)
q1=$(field syn1 queue_mb)
q8=$(field syn8 queue_mb)
if [ "$q1" = 6.000 ] && [ "$q8" = 27.002 ] && [ "$(field syn8 batch_mb)" = 3.000 ]; then
	pass "the queue bound is (prefetch_buffer + 1) x 3 MB batches: $q1 MB and $q8 MB"
else
	fail "queue_mb: want 6.000 and 27.002 (3 MB batches), got $q1 and $q8"
fi
if awk -v p1="$p1" -v p8="$p8" -v q1="$q1" -v q8="$q8" \
	'BEGIN { d = p8 - p1; want = q8 - q1; exit !(d > 0.7 * want && d < 1.3 * want + 2 && p8 < 150 / 2) }'; then
	pass "prefetch_buffer 8 peaks $(awk -v a="$p8" -v b="$p1" 'BEGIN { print a - b }') MB above 1 ($p8 vs $p1 MB), the 21 MB of 7 batches, not the 150 MB set"
else
	fail "peak memory: prefetch_buffer 1: $p1 MB, 8: $p8 MB; want a difference of about $q8 - $q1 MB, and under 75 MB"
fi

# --- memory: a csv file costs its floats ---------------------------------------------------
# 40000 rows of 100 values: 4 M floats, 15.3 MB (the text is about 22 MB).
awk 'BEGIN { for (i = 0; i < 40000; i++) { s = ""; for (k = 0; k < 100; k++) s = s (k ? "," : "") ((i + k) % 997) / 8;
	print s } }' > "$WORK/big.csv"
head -64 "$WORK/big.csv" > "$WORK/small.csv"
cat > "$WORK/big.conf" <<CONF
data = { train = { iter = "csv"; data_csv = "$WORK/big.csv"; data_shape = [100]; batch_size = 64; }; };
$NET
solver = { num_epoch = 1; };
CONF
run big --test-io "$WORK/big.conf"
run tiny --test-io "$WORK/big.conf" data.train.data_csv="$WORK/small.csv"
expect_counts big csv 1 625 40000
expect_counts tiny csv 1 1 64
pb=$(field big peak_rss_mb)
pt=$(field tiny peak_rss_mb)
if awk -v b="$pb" -v t="$pt" 'BEGIN { d = b - t; exit !(d > 0.8 * 15.26 && d < 1.3 * 15.26) }'; then
	pass "a csv file of 4 M values peaks $(awk -v a="$pb" -v b="$pt" 'BEGIN { print a - b }') MB above one of 6400 (its 15.3 MB of floats)"
else
	fail "csv memory: 4 M values: $pb MB, 6400 values: $pt MB; want about 15.3 MB more"
fi

# --- imagerec: a few 40x40 JPEGs packed as MXNet does --------------------------------------
if ! /usr/bin/python3 -c 'import PIL' 2> /dev/null; then
	echo "SKIP: imagerec case: /usr/bin/python3 has no PIL (apt-get install python3-pil)"
else
	/usr/bin/python3 - "$WORK/img.rec" <<'PY'
import io, struct, sys
from PIL import Image
with open(sys.argv[1], "wb") as f:
    for i in range(30):
        img = Image.new("RGB", (40, 40), (i * 8, 255 - i * 8, 100))
        jpeg = io.BytesIO()
        img.save(jpeg, "JPEG", quality=90)
        payload = struct.pack("<IfQQ", 0, float(i % 3), i, 0) + jpeg.getvalue()
        f.write(struct.pack("<II", 0xCED7230A, len(payload)) + payload + b"\0" * (-len(payload) % 4))
PY
	cat > "$WORK/rec.conf" <<CONF
data = { train = { iter = "imagerec"; path_imgrec = "$WORK/img.rec"; data_shape = [3, 32, 32]; batch_size = 8; }; };
$NET
solver = { num_epoch = 2; };
CONF
	run rec --test-io "$WORK/rec.conf"
	# 30 images, 4 batches of 8 an epoch
	expect_counts rec imagerec 2 8 60
fi

# --- errors: one line, status 2 -------------------------------------------------------------
expect_error missing_csv "data\.train: $WORK/nope\.csv: No such file or directory" \
	--test-io "$WORK/csv.conf" data.train.data_csv="$WORK/nope.csv"
printf '1,2\n3,4,5\n' > "$WORK/bad.csv"
expect_error bad_csv "data\.train: $WORK/bad\.csv:1: expected 20 values, found 2" \
	--test-io "$WORK/csv.conf" data.train.data_csv="$WORK/bad.csv"
head -999 "$WORK/l.csv" > "$WORK/l999.csv"
expect_error short_labels "$WORK/d\.csv: 1000 rows but $WORK/l999\.csv has 999" \
	--test-io "$WORK/csv.conf" data.train.label_csv="$WORK/l999.csv"
expect_error bad_key 'data\.train: unknown key "data_cvs" \(did you mean "data_csv"\?\)' \
	--test-io "$WORK/csv.conf" data.train.data_cvs=x
printf 'data = { eval = { iter = "csv"; data_csv = "x"; data_shape = [1]; batch_size = 1; }; };\n%s\n' "$NET" \
	> "$WORK/notrain.conf"
expect_error no_train 'no data\.train section' --test-io "$WORK/notrain.conf"

finish
