#!/bin/sh
# tsan_engine.sh: builds the engine's Check suite with ThreadSanitizer in its own
# directory (the engine and the error module only, straight from the sources) and runs
# it; exits non-zero on a failed test or any report (a race, a lock-order inversion).
#   usage: tests/tsan_engine.sh [build dir]     default: build-tsan-engine at the top
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/build-tsan-engine}
mkdir -p "$out"
${CC:-gcc} -std=gnu11 -g -O1 -fsanitize=thread -pthread -I"$top/src" -I"$top/kernels" \
	-o "$out/check_engine" "$top/tests/check_engine.c" "$top/src/engine/engine.c" \
	"$top/src/engine/engine_threaded.c" "$top/src/error.c" $(pkg-config --cflags --libs check) -lm
# Each test runs in a forked child (Check's timeouts stay on); a report makes that
# child exit with 66, which Check counts as an error.
TSAN_OPTIONS="exitcode=66 second_deadlock_stack=1 ${TSAN_OPTIONS:-}" \
	CK_VERBOSITY=${CK_VERBOSITY:-normal} "$out/check_engine" 2>&1 | tee "$out/tsan.log"
# The pipe hides the suite's status: judge by the log.
if grep -q "WARNING: ThreadSanitizer" "$out/tsan.log"; then
	echo "tsan_engine: ThreadSanitizer reports above (log: $out/tsan.log)" >&2
	exit 1
fi
grep -q "Failures: 0, Errors: 0" "$out/tsan.log"
