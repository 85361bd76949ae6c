#!/bin/sh
# build-min.sh -- make juggernaut.min.js: minify with uglify-js from
# client-js/node_modules (npm ci) when there is one, else with the uglifyjs
# command in $UGLIFYJS (configure finds it; Debian package uglifyjs), both in
# the IE 6-8 safe mode; without either, copy the source unchanged (and say
# so) so that the build never needs node or the network.
# Usage: [UGLIFYJS=/usr/bin/uglifyjs] build-min.sh IN OUT
in="$1"
out="$2"
here=$(dirname "$0")
preamble="/* juggernaut.js (juggernaut-fcgi browser client), minified; see juggernaut.js for the options */"
if command -v node >/dev/null 2>&1 && test -d "$here/node_modules/uglify-js"; then
  if node "$here/build-min.js" "$in" "$out"; then
    exit 0
  fi
  echo "build-min.sh: minifier failed" >&2
elif test -n "$UGLIFYJS"; then
  # The options of build-min.js, spelled for the command line.
  if { echo "$preamble" && "$UGLIFYJS" "$in" --ie -c passes=2 -m -O ascii_only=true; } > "$out.tmp"; then
    mv "$out.tmp" "$out" && exit 0
  fi
  echo "build-min.sh: $UGLIFYJS failed" >&2
fi
echo "build-min.sh: WARNING: $out is an unminified copy (apt-get install uglifyjs, or npm ci in client-js, then make again)" >&2
cp "$in" "$out.tmp" && mv "$out.tmp" "$out"
