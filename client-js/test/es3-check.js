/*
 * es3-check.js -- proves juggernaut.js (and the minified build, if made)
 * loads in ECMAScript 3 engines (IE 6-8): parses it with acorn at
 * ecmaVersion 3 with reserved words banned as property names, then looks for
 * what an ES3 parser accepts but old IE gets wrong (trailing commas in array
 * literals) or lacks (ES5 library calls such as forEach or JSON without a
 * feature check). TAP output; "1..0 # SKIP" without acorn (npm ci).
 */
"use strict";

var fs = require("fs");
var path = require("path");

var acorn;
try {
  acorn = require(path.join(__dirname, "..", "node_modules", "acorn"));
} catch (e) {
  console.log("1..0 # SKIP acorn not installed (run npm ci in client-js/)");
  process.exit(0);
}

/* ES5+ library calls that IE 6-8 lack; the client must not use them. */
var BANNED_METHODS = ["forEach", "map", "filter", "reduce", "reduceRight", "some", "every",
  "trim", "keys", "isArray", "now", "create", "defineProperty", "getPrototypeOf", "freeze",
  "bind"];
var BANNED_GLOBALS = ["JSON", "Promise", "Symbol", "Map", "Set", "WeakMap"];

function walk(node, visit) {
  if (!node || typeof node.type !== "string") return;
  visit(node);
  Object.keys(node).forEach(function (k) {
    var v = node[k];
    if (Array.isArray(v)) v.forEach(function (c) { walk(c, visit); });
    else if (v && typeof v.type === "string") walk(v, visit);
  });
}

function check(file) {
  var src = fs.readFileSync(file, "utf8"), problems = [], ast, tokens = [];
  try {
    ast = acorn.parse(src, {ecmaVersion: 3, allowReserved: "never", locations: true,
      onToken: tokens});
  } catch (e) {
    return ["not ES3: " + e.message];
  }
  for (var i = 0; i + 1 < tokens.length; i++) {
    if (tokens[i].type.label === "," && tokens[i + 1].type.label === "]") {
      problems.push("trailing comma in array literal at line " + tokens[i].loc.start.line);
    }
  }
  walk(ast, function (n) {
    if (n.type === "CallExpression" && n.callee.type === "MemberExpression" && !n.callee.computed &&
        BANNED_METHODS.indexOf(n.callee.property.name) >= 0) {
      problems.push("ES5 method ." + n.callee.property.name + "() at line " + n.loc.start.line);
    }
    if (n.type === "Identifier" && BANNED_GLOBALS.indexOf(n.name) >= 0) {
      problems.push("unguarded global " + n.name + " at line " + n.loc.start.line);
    }
  });
  /* Identifiers that are properties (env.JSON) are fine: drop those. */
  walk(ast, function (n) {
    if (n.type === "MemberExpression" && !n.computed && BANNED_GLOBALS.indexOf(n.property.name) >= 0) {
      var line = "unguarded global " + n.property.name + " at line " + n.property.loc.start.line;
      var at = problems.indexOf(line);
      if (at >= 0) problems.splice(at, 1);
    }
  });
  return problems;
}

/* A deliberately bad snippet proves the checker can fail. */
function selfTest() {
  var tmp = path.join(require("os").tmpdir(), "jug-es3-selftest-" + process.pid + ".js");
  fs.writeFileSync(tmp, "var a = [1, 2,]; a.forEach(function () {}); JSON.parse('1');\n");
  var p = check(tmp);
  fs.unlinkSync(tmp);
  return p.length === 3;
}

var files = [path.join(__dirname, "..", "juggernaut.js")];
var builddir = process.env.JUG_BUILDDIR;
var candidates = [path.join(__dirname, "..", "juggernaut.min.js")];
if (builddir) candidates.unshift(path.join(builddir, "client-js", "juggernaut.min.js"));
for (var c = 0; c < candidates.length; c++) {
  if (fs.existsSync(candidates[c])) { files.push(candidates[c]); break; }
}

console.log("1.." + (files.length + 1));
var failed = 0;
console.log((selfTest() ? "ok" : "not ok") + " 1 - checker rejects ES5 constructs");
if (!selfTest()) failed++;
files.forEach(function (f, i) {
  var problems = check(f);
  var name = path.basename(f);
  if (problems.length) {
    failed++;
    console.log("not ok " + (i + 2) + " - " + name + " is ES3");
    problems.forEach(function (p) { console.log("# " + p); });
  } else {
    console.log("ok " + (i + 2) + " - " + name + " is ES3");
  }
});
process.exit(failed ? 1 : 0);
