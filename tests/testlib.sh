# testlib.sh: shared helpers for the shell tests (sourced). Automake's test driver reads
# exit status 77 as SKIP.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir/build}"
MXTRAIN=$top_builddir/mxtrain
MXPREDICT=$top_builddir/mxpredict
FMNIST=/usr/share/datasets/fashion-mnist
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mxtest.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
fails=0
passes=0

pass() { passes=$((passes + 1)); echo "PASS: $*"; }
fail() { fails=$((fails + 1)); echo "FAIL: $*"; }

# finish: prints the plain summary line and exits non-zero on any failure.
finish() {
	echo "$passes passed, $fails failed"
	[ "$fails" -eq 0 ]
}

need_fmnist() {
	if [ ! -f "$FMNIST/t10k-images-idx3-ubyte.gz" ]; then
		echo "SKIP: Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"
		exit 77
	fi
}

# A small MLP conf on 1000 test images (num_parts=10), writing checkpoints to $1.
small_conf() {
	cat <<CONF
data = {
  train = { iter = "mnist"; image = "$FMNIST/t10k-images-idx3-ubyte.gz"; label = "$FMNIST/t10k-labels-idx1-ubyte.gz";
            batch_size = 50; shuffle = true; seed = 3; num_parts = 10; part_index = 0; };
  eval  = { iter = "mnist"; image = "$FMNIST/t10k-images-idx3-ubyte.gz"; label = "$FMNIST/t10k-labels-idx1-ubyte.gz";
            batch_size = 100; num_parts = 10; part_index = 1; };
};
net = (
  { type = "fc"; name = "fc1"; num_hidden = 64; },
  { type = "Activation"; name = "relu1"; act_type = "relu"; },
  { type = "Dropout"; name = "drop1"; p = 0.2; },
  { type = "fc"; name = "fc2"; num_hidden = 10; },
  { type = "SoftmaxOutput"; name = "softmax"; }
);
solver = { lr = 0.1; momentum = 0.9; wd = 0.0001; num_epoch = 4; seed = 5; num_threads = 1;
           lr_scheduler = "factor"; lr_step = 30; lr_factor = 0.9; eval_metric = "accuracy,ce"; };
model = { dir = "$1"; prefix = "small"; save_period = 1; };
CONF
}
