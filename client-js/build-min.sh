#!/bin/sh
# build-min.sh -- make juggernaut.min.js: minify with uglify-js when
# client-js/node_modules has it (npm ci), else copy the source unchanged so
# the build never needs node or the network.  Usage: build-min.sh IN OUT
in="$1"
out="$2"
here=$(dirname "$0")
if command -v node >/dev/null 2>&1 && test -d "$here/node_modules/uglify-js"; then
  if node "$here/build-min.js" "$in" "$out"; then
    exit 0
  fi
  echo "build-min.sh: minifier failed, copying $in unminified" >&2
fi
cp "$in" "$out.tmp" && mv "$out.tmp" "$out"
