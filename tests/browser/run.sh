#!/bin/sh
# run.sh -- how "make check" runs tests/browser/*.mjs (the MJS log compiler):
# with node, or as a TAP "1..0 # SKIP" when node, playwright-core (npm ci in
# tests/browser/) or Chromium (/usr/bin/chromium, or $JUG_CHROMIUM) is missing.
test_file=$1
dir=$(dirname "$test_file")
chromium=${JUG_CHROMIUM:-/usr/bin/chromium}
if ! command -v node >/dev/null 2>&1; then
    echo "1..0 # SKIP node is not installed"
    exit 0
fi
if [ ! -f "$dir/node_modules/playwright-core/package.json" ]; then
    echo "1..0 # SKIP playwright-core is not installed (cd tests/browser && npm ci)"
    exit 0
fi
if [ ! -x "$chromium" ]; then
    echo "1..0 # SKIP $chromium is missing (Debian: apt-get install chromium)"
    exit 0
fi
exec node "$test_file"
