#!/bin/sh
# test-summary.sh -- print the closing "N passed, N failed" line of a test run.
#
# Usage: test-summary.sh [BUILDDIR]. Counts every TAP test point that the
# automake harness recorded in the .trs files of the last "make check".
set -eu
dir=${1:-.}
find "$dir" -name '*.trs' -exec cat {} + 2>/dev/null | awk '
  /^:test-result: (PASS|XFAIL)/ { pass++ }
  /^:test-result: (FAIL|XPASS|ERROR)/ { fail++ }
  /^:test-result: SKIP/ { skip++ }
  END { printf "%d passed, %d failed", pass, fail; if (skip) printf ", %d skipped", skip; printf "\n" }'
