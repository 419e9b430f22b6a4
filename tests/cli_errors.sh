#!/bin/bash
# cli_errors.sh: bad input as a new user would give it. Each case must print exactly one
# line naming the place, exit with status 2 (not a crash), and leave existing
# checkpoints untouched.
. "$(dirname "$0")/testlib.sh"
need_fmnist

ck="$WORK/ck"
small_conf "$ck" > "$WORK/good.conf"
"$MXTRAIN" -q "$WORK/good.conf" solver.num_epoch=1 > "$WORK/good.log" 2>&1 ||
	{ fail "the good conf does not train: $(tail -1 "$WORK/good.log")"; finish; exit 1; }
before=$(cd "$ck" && md5sum ./*)

# expect_error NAME PATTERN COMMAND...: status 2, one stderr line matching PATTERN.
expect_error() {
	local name=$1 pattern=$2 status lines
	shift 2
	"$@" > "$WORK/out" 2> "$WORK/err"
	status=$?
	lines=$(wc -l < "$WORK/err")
	if [ "$status" -ne 2 ]; then
		fail "$name: exit status $status, want 2 ($(head -c 300 "$WORK/err"))"
	elif [ "$lines" -ne 1 ]; then
		fail "$name: $lines lines on stderr, want 1: $(cat "$WORK/err")"
	elif ! grep -qE -- "$pattern" "$WORK/err"; then
		fail "$name: message does not match /$pattern/: $(cat "$WORK/err")"
	else
		pass "$name: $(cat "$WORK/err")"
	fi
}

# variant NAME SED-EXPRESSION: a copy of the good conf with one edit.
variant() { sed "$2" "$WORK/good.conf" > "$WORK/$1.conf"; }

variant semicolon 's/num_hidden = 64; },/num_hidden = 64 },/'
expect_error "missing semicolon" "semicolon\.conf:[0-9]+: missing ';' after \"num_hidden = \.\.\.\"" "$MXTRAIN" "$WORK/semicolon.conf"
variant comma 's/num_hidden = 64; },/num_hidden = 64; }/'
expect_error "missing comma between layers" "comma\.conf:[0-9]+: .*syntax error" "$MXTRAIN" "$WORK/comma.conf"

variant badtype 's/type = "fc"; name = "fc2"/type = "FullyConected"; name = "fc2"/'
expect_error "unknown layer type" 'badtype\.conf:[0-9]+: .*"FullyConected".*did you mean "FullyConnected"' "$MXTRAIN" "$WORK/badtype.conf"

variant badkey 's/num_hidden = 64/num_hiden = 64/'
expect_error "misspelled key" 'badkey\.conf:[0-9]+: .*fc1.*"num_hiden".*did you mean "num_hidden"' "$MXTRAIN" "$WORK/badkey.conf"

variant badsolver 's/momentum = 0.9/momentun = 0.9/'
expect_error "misspelled solver key" 'badsolver\.conf:[0-9]+: solver: .*did you mean "momentum"' "$MXTRAIN" "$WORK/badsolver.conf"

variant badvalue 's/num_hidden = 64/num_hidden = "many"/'
expect_error "wrong value type" 'badvalue\.conf:[0-9]+: .*num_hidden' "$MXTRAIN" "$WORK/badvalue.conf"

variant badshape 's/{ type = "fc"; name = "fc2"; num_hidden = 10; },/{ type = "fc"; name = "fc2"; num_hidden = 10; },\n  { type = "ElementWiseSum"; name = "sum"; inputs = ["fc1", "fc2"]; },/'
expect_error "input shapes that do not fit" 'layer sum .*\(50,64\).*\(50,10\)|layer sum .*\(50,10\).*\(50,64\)' "$MXTRAIN" "$WORK/badshape.conf"

variant nofile "s#t10k-images-idx3-ubyte.gz\"; label#no-such-images.gz\"; label#"
expect_error "missing data file" 'no-such-images\.gz' "$MXTRAIN" "$WORK/nofile.conf"

zcat "$FMNIST/t10k-images-idx3-ubyte.gz" | head -c 100000 > "$WORK/short-images"
variant truncated "s#$FMNIST/t10k-images-idx3-ubyte.gz\"; label#$WORK/short-images\"; label#"
expect_error "truncated idx file" 'short-images.*byte' "$MXTRAIN" "$WORK/truncated.conf"

expect_error "override without a value" 'solver\.lr' "$MXTRAIN" "$WORK/good.conf" solver.lr
expect_error "unknown option" 'unknown option' "$MXTRAIN" --frobnicate "$WORK/good.conf"
expect_error "missing conf file" 'no-such\.conf' "$MXTRAIN" "$WORK/no-such.conf"

# A truncated .params: mxpredict names the file and the byte offset.
mkdir -p "$WORK/trunc"
cp "$ck/small-symbol.json" "$WORK/trunc/"
head -c 5000 "$ck/small-0001.params" > "$WORK/trunc/small-0001.params"
expect_error "truncated .params (mxpredict)" 'small-0001\.params.*byte' "$MXPREDICT" --model "$WORK/trunc/small" \
	--image "$FMNIST/t10k-images-idx3-ubyte.gz"
# ... and --resume does too, without touching the checkpoint.
cp "$ck/small-0001.states" "$WORK/trunc/"
small_conf "$WORK/trunc" > "$WORK/trunc.conf"
expect_error "truncated .params (--resume)" 'small-0001\.params.*byte' "$MXTRAIN" --resume "$WORK/trunc.conf"
expect_error "mxpredict without a checkpoint" 'nothing-here' "$MXPREDICT" --model "$WORK/nothing-here" \
	--image "$FMNIST/t10k-images-idx3-ubyte.gz"

# Runs that fail against the good checkpoint directory leave it as it was.
for c in badtype badkey badshape truncated; do
	"$MXTRAIN" --resume "$WORK/$c.conf" > /dev/null 2>&1
done
after=$(cd "$ck" && md5sum ./*)
[ "$before" = "$after" ] && pass "failed runs left the checkpoints untouched" || fail "a failed run changed the checkpoints"
finish
