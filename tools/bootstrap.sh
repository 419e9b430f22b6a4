#!/bin/bash
# tools/bootstrap.sh: from a fresh Debian machine to a trained model or a tested tree.
# Installs only the Debian packages that are missing, builds out of tree in ./build, then runs
# the demo (train Fashion-MNIST, predict the test set) or the whole test suite (make check).
# Idempotent: a second run installs nothing, reconfigures nothing, and rebuilds only what changed.
set -euo pipefail

usage() {
	cat <<'EOF'
usage: tools/bootstrap.sh COMMAND

  demo    set up, build, train confs/fmnist-mlp.conf, mxpredict the Fashion-MNIST test set
  test    set up (with the PyTorch and MXNet 1.9.1 peers), build, run the test suite (make check)
  setup   only install what is missing (Debian packages, the peers' virtualenv)
  build   set up the build packages and build, nothing else

Environment: MXTRAIN_BUILD_DIR (default: ./build), MXTRAIN_SKIP_PEERS=1 (test without the
MXNet virtualenv: the peer tests then report SKIP).
EOF
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${MXTRAIN_BUILD_DIR:-$ROOT/build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
VENV=$ROOT/.venv-mxnet
DATA=/usr/share/datasets/fashion-mnist

# Debian packages: what the build, the tests and the demo need; the peers only for `test`.
BUILD_PACKAGES=(build-essential autoconf automake libtool pkg-config libconfig-dev
	libopenblas-dev check libsubunit-dev zlib1g-dev libjansson-dev libjpeg62-turbo-dev libpng-dev
	dataset-fashion-mnist)
PEER_PACKAGES=(python3-torch python3-venv python3-numpy python3-pil)
MXNET_PIP=(mxnet==1.9.1 "numpy<1.24" opencv-python-headless==4.11.0.86)

# ---------------------------------------------------------------------------------------------
# The demo's two commands, in this one place: adjust them here when the CLI changes.
demo_train() {
	"$BUILD/mxtrain" confs/fmnist-mlp.conf
}
demo_predict() {
	"$BUILD/mxpredict" --model model/fmnist-mlp --epoch 10 \
		--image "$DATA/t10k-images-idx3-ubyte.gz" \
		--label "$DATA/t10k-labels-idx1-ubyte.gz" \
		--output predictions.csv
}
# ---------------------------------------------------------------------------------------------

step() { printf '\n==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
warn() { printf 'bootstrap: warning: %s\n' "$*" >&2; }
die() { printf 'bootstrap: error: %s\n' "$*" >&2; exit 1; }

# Runs a command as root: directly when we are root (sudo may not even be installed), else sudo.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "need root to run '$*' and sudo is not installed: run this script as root"
	fi
}

# Prints the packages among "$@" that dpkg does not report as installed.
missing_packages() {
	local p
	for p in "$@"; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
			printf '%s\n' "$p"
		fi
	done
}

install_packages() {
	if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
		die "this script installs with apt-get (Debian 12); install by hand: $*"
	fi
	local missing
	mapfile -t missing < <(missing_packages "$@")
	if [ "${#missing[@]}" -eq 0 ]; then
		note "Debian packages: all ${#} present"
		return
	fi
	step "Installing missing Debian packages: ${missing[*]}"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"${missing[@]}" </dev/null
}

# The MXNet 1.9.1 peer lives in its own virtualenv (it needs numpy < 1.24, Debian has 1.24),
# with OpenCV pinned to a wheel that accepts that numpy.
# A failed pip install is a warning: the peer tests then report SKIP, they never pass silently.
MXNET_OK=0
setup_mxnet_venv() {
	local py=$VENV/bin/python version
	# cv2 is there for MXNet's own tools/im2rec.py, the peer of our im2rec.
	if [ -x "$py" ] && version=$("$py" -c 'import mxnet, cv2; print(mxnet.__version__)' 2>/dev/null); then
		note "MXNet peer: mxnet $version in .venv-mxnet"
		MXNET_OK=1
		return
	fi
	step "Creating the MXNet 1.9.1 virtualenv in .venv-mxnet"
	# --clear: a venv left half-made (or made by another python) is rebuilt from nothing.
	if ! /usr/bin/python3 -m venv --clear "$VENV"; then
		warn "could not create $VENV with /usr/bin/python3 -m venv"
		return
	fi
	if ! PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/pip" install -q "${MXNET_PIP[@]}" </dev/null; then
		warn "pip install ${MXNET_PIP[*]} failed"
		return
	fi
	if version=$("$py" -c 'import mxnet; print(mxnet.__version__)' 2>/dev/null); then
		note "MXNet peer: mxnet $version"
		MXNET_OK=1
	else
		warn "mxnet installed in $VENV but does not import:"
		"$py" -c 'import mxnet' 2>&1 | tail -n 3 >&2 || true
	fi
}

setup() {
	local with_peers=$1
	step "Set-up"
	if [ "$with_peers" = 1 ]; then
		install_packages "${BUILD_PACKAGES[@]}" "${PEER_PACKAGES[@]}"
		if [ "${MXTRAIN_SKIP_PEERS:-0}" = 1 ]; then
			note "MXTRAIN_SKIP_PEERS=1: not setting up the MXNet virtualenv"
		else
			setup_mxnet_venv
		fi
	else
		install_packages "${BUILD_PACKAGES[@]}"
	fi
}

# autoreconf only when the generated files are missing or older than their sources.
build() {
	step "Build in ${BUILD#"$ROOT"/}"
	cd "$ROOT"
	local regen=0 f
	for f in configure Makefile.in config.h.in; do
		[ -e "$f" ] || regen=1
	done
	if [ "$regen" = 0 ]; then
		for f in configure.ac Makefile.am; do
			if [ "$f" -nt configure ]; then regen=1; fi
		done
	fi
	if [ "$regen" = 1 ]; then
		note "autoreconf -fi"
		mkdir -p m4
		autoreconf -fi
	fi
	if [ -e config.status ]; then
		die "the source tree is configured in place ($ROOT/config.status): run 'make distclean' there first"
	fi
	mkdir -p "$BUILD"
	if [ ! -f "$BUILD/Makefile" ]; then
		note "configure"
		(cd "$BUILD" && "$ROOT/configure" -q)
	fi
	make -C "$BUILD" -s -j"$(nproc)"
}

demo() {
	setup 0
	build
	cd "$ROOT"
	step "Train: mxtrain confs/fmnist-mlp.conf"
	demo_train
	step "Predict the test set: mxpredict"
	demo_predict
	step "Demo done: model in model/, predictions in predictions.csv"
}

# Prints the failing tests' logs, the Check summary of every suite, SKIP reasons, and a closing
# 'N passed, N failed, N skipped' line counted from the test driver's .trs files.
report_tests() {
	local trs log res pass=0 fail=0 skip=0 failed=()
	shopt -s nullglob
	for trs in "$BUILD"/tests/*.trs; do
		log=${trs%.trs}.log
		res=$(sed -n 's/^:test-result: *//p' "$trs" | head -n 1)
		case $res in
		PASS | XFAIL) pass=$((pass + 1)) ;;
		SKIP)
			skip=$((skip + 1))
			printf 'SKIP: tests/%s: %s\n' "$(basename "${trs%.trs}")" \
				"$(grep -m1 -i 'skip' "$log" 2>/dev/null | sed 's/^SKIP: *//' || true)"
			;;
		*) fail=$((fail + 1)); failed+=("$log") ;;
		esac
	done
	for log in "${failed[@]}"; do
		printf '\n======== %s ========\n' "${log#"$BUILD"/}"
		cat "$log" 2>/dev/null || echo "(no log)"
	done
	if [ "${#failed[@]}" -eq 0 ] && [ "$pass" -eq 0 ] && [ -f "$BUILD/test-suite.log" ]; then
		cat "$BUILD/test-suite.log"
	fi
	step "Check summaries"
	for log in "$BUILD"/tests/check_*.log; do
		printf '%s:\n' "$(basename "${log%.log}")"
		grep -h '^[0-9]*%: Checks' "$log" || echo "(no Check summary: the suite did not finish)"
	done
	shopt -u nullglob
	printf '\ntests: %d passed, %d failed, %d skipped\n' "$pass" "$fail" "$skip"
}

run_tests() {
	setup 1
	build
	cd "$ROOT"
	if [ "$MXNET_OK" = 1 ]; then
		export MXTRAIN_PEER_PYTHON=$VENV/bin/python
	else
		unset MXTRAIN_PEER_PYTHON
		echo "SKIP: MXNet 1.9.1 peer tests: no working .venv-mxnet (see the warnings above)"
	fi
	if /usr/bin/python3 -c 'import torch' >/dev/null 2>&1; then
		export TORCH_PYTHON=/usr/bin/python3
	else
		unset TORCH_PYTHON
		echo "SKIP: PyTorch peer tests: /usr/bin/python3 cannot import torch (python3-torch)"
	fi
	step "make check"
	local rc=0
	# Stale results would be reported as this run's if a suite fails to compile.
	rm -f "$BUILD"/tests/*.log "$BUILD"/tests/*.trs "$BUILD"/test-suite.log
	make -C "$BUILD" -j"$(nproc)" check || rc=$?
	report_tests
	[ "$rc" -eq 0 ] || die "make check failed (exit $rc); full logs in ${BUILD#"$ROOT"/}/test-suite.log"
}

case ${1:-} in
demo) demo ;;
test) run_tests ;;
setup) setup 1 ;;
build) setup 0 && build ;;
-h | --help | help) usage ;;
*) usage >&2; exit 2 ;;
esac
