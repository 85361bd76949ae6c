/*
 * build-min.js -- writes juggernaut.min.js with uglify-js in its IE 6-8 safe
 * mode (quoted reserved property names, no ES5 output), keeping the licence
 * comment at the top. Usage: node build-min.js IN OUT
 */
"use strict";

var fs = require("fs");
var path = require("path");
var UglifyJS = require(path.join(__dirname, "node_modules", "uglify-js"));

var input = process.argv[2], output = process.argv[3];
if (!input || !output) {
  console.error("usage: node build-min.js IN OUT");
  process.exit(2);
}
var src = fs.readFileSync(input, "utf8");
var result = UglifyJS.minify(src, {
  ie: true,
  v8: false,
  compress: {passes: 2},
  mangle: true,
  output: {comments: false, preamble: "/* juggernaut.js (juggernaut-fcgi browser client), minified; see juggernaut.js for the options */", ascii_only: true}
});
if (result.error) {
  console.error("build-min.js: " + result.error.message);
  process.exit(1);
}
fs.writeFileSync(output + ".tmp", result.code + "\n");
fs.renameSync(output + ".tmp", output);
