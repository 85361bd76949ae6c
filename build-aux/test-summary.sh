#!/bin/sh
# test-summary.sh -- print the closing "N passed, N failed" line of a test run
# (after a line with the number skipped, if any).
#
# Usage: test-summary.sh [BUILDDIR | LOG]... Sums the TAP test points the
# automake harness recorded in each argument: a build directory counts the
# .trs files of its last "make check"; a file is the saved output of a
# "make check" or "make distcheck" (whose build tree is gone once it passed)
# and counts its "Testsuite summary". Default: the current directory.
set -eu
[ $# -gt 0 ] || set -- .
for arg; do
    if [ -d "$arg" ]; then
        find "$arg" -name '*.trs' -exec cat {} + 2>/dev/null
    elif [ -f "$arg" ]; then
        # "# PASS:  12" lines, after the harness's "Testsuite summary" title.
        awk '/^Testsuite summary/ { on = 1; next }
             on && /^# [A-Z]+: +[0-9]+$/ { sub(/:$/, "", $2); print ":count: " $2 " " $3; next }
             on && /^=+$/ && seen++ { on = 0; seen = 0 }' "$arg"
    else
        echo "test-summary.sh: $arg: no such build directory or log" >&2
    fi
done | awk '
  /^:test-result: / { n[$2]++ }
  /^:count: / { n[$2] += $3 }
  END {
    # The skipped first: the last line is exactly "N passed, N failed".
    if (n["SKIP"]) printf "%d skipped\n", n["SKIP"]
    printf "%d passed, %d failed\n", n["PASS"] + n["XFAIL"], n["FAIL"] + n["XPASS"] + n["ERROR"]
  }'
