#!/bin/sh
# run-node.sh -- the LOG_COMPILER of the client-js tests in "make check":
# runs one test file under node (TAP), or reports a TAP skip without node.
if ! command -v node >/dev/null 2>&1; then
  echo "1..0 # SKIP node not found"
  exit 0
fi
exec node "$@"
