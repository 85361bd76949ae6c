// harness.mjs -- what the browser tests share: the private stack driven
// over stdin/stdout (stack.py, sio_stack.py), a tiny Redis client, TAP output
// and bounded waits.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { createInterface } from "node:readline";
import { isDeepStrictEqual, inspect } from "node:util";

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const out = (line) => process.stdout.write(line + "\n");
export const diag = (text) => String(text).replace(/\n+$/, "").split("\n").forEach((l) => out("# " + l));

// ------------------------------------------------------------ Chromium

const CHROMIUM = process.env.JUG_CHROMIUM || "/usr/bin/chromium";
// Without the background-networking flags Chromium keeps trying to reach
// hosts this machine's closed network refuses.
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
  "--no-first-run", "--disable-background-networking", "--disable-component-update",
  "--disable-sync"];

// playwright-core's chromium; when it or the browser is missing, a TAP skip
// and exit.
export async function chromiumOrSkip() {
  let chromium;
  try {
    ({ chromium } = await import("playwright-core"));
  } catch (e) {
    out("1..0 # SKIP playwright-core is not installed (cd tests/browser && npm ci)");
    process.exit(0);
  }
  if (!existsSync(CHROMIUM)) {
    out(`1..0 # SKIP ${CHROMIUM} is missing (Debian: apt-get install chromium)`);
    process.exit(0);
  }
  return chromium;
}

// A headless Chromium with a fresh temporary user-data-dir of its own;
// every newContext() of it is isolated like an incognito window.
export function launchChromium(chromium) {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60000 });
}

// ------------------------------------------------------------ the private stack

export class Stack {
  // script: a stack.py-like program (first line: its info, then one JSON
  // line per command), run with args.
  constructor(script, args = []) {
    this.script = script;
    this.args = args;
  }

  start() {
    this.proc = spawn("python3", [this.script, ...this.args], {
      stdio: ["pipe", "pipe", "inherit"],
      env: process.env,
    });
    this.lines = [];
    this.waiters = [];
    this.exited = new Promise((resolve) => this.proc.on("exit", resolve));
    createInterface({ input: this.proc.stdout }).on("line", (line) => {
      if (!line.startsWith("{")) {
        if (line.trim()) diag("stack: " + line.replace(/^# /, ""));
        return;
      }
      const w = this.waiters.shift();
      if (w) w(JSON.parse(line));
      else this.lines.push(JSON.parse(line));
    });
    return this.next(60000);   // a loaded machine starts a sanitizer build slowly
  }

  next(timeout) {
    if (this.lines.length) return Promise.resolve(this.lines.shift());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${path.basename(this.script)} did not answer in time`)), timeout);
      this.waiters.push((obj) => { clearTimeout(timer); resolve(obj); });
    });
  }

  async command(name, timeout = 30000) {
    this.proc.stdin.write(name + "\n");
    const r = await this.next(timeout);
    if (!r.ok) throw new Error(`${path.basename(this.script)} ${name}: ${r.error}`);
    return r;
  }

  // Ends it (stdin EOF); returns its last report ({stopped, sanitizer}).
  async stop() {
    if (!this.proc || this.stopped) return null;
    this.stopped = true;
    this.proc.stdin.end();
    let last = null;
    try {
      last = await this.next(30000);
    } catch (e) {
      this.proc.kill("SIGTERM");
    }
    await Promise.race([this.exited, sleep(10000)]);
    return last;
  }
}

// ------------------------------------------------------------ a tiny RESP client

// A connection to Redis's unix socket that calls onReply(value) for each
// reply (or pub/sub message) as it arrives.
export function redisConnection(socketPath, onReply) {
  const sock = net.createConnection(socketPath);
  let buf = Buffer.alloc(0);
  sock.on("data", (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      const r = parseReply(buf, 0);
      if (!r) break;
      buf = buf.subarray(r.end);
      onReply(r.value);
    }
  });
  return sock;
}

export class Redis {
  constructor(socketPath) {
    this.pending = [];
    this.sock = redisConnection(socketPath, (value) => {
      const p = this.pending.shift();
      if (p) (value instanceof Error ? p.reject : p.resolve)(value);
    });
    this.sock.on("error", (e) => { for (const p of this.pending.splice(0)) p.reject(e); });
  }

  command(...args) {
    const parts = [`*${args.length}\r\n`];
    for (const a of args) {
      const b = Buffer.from(String(a));
      parts.push(`$${b.length}\r\n`, b, "\r\n");
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.sock.write(Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p)))));
    });
  }

  publish(message) {
    return this.command("PUBLISH", "juggernaut", JSON.stringify(message));
  }

  close() {
    this.sock.destroy();
  }
}

// One RESP2 reply at buf[at]: {value, end}, or null if incomplete.
export function parseReply(buf, at) {
  const nl = buf.indexOf("\r\n", at);
  if (nl < 0) return null;
  const kind = String.fromCharCode(buf[at]);
  const line = buf.toString("utf8", at + 1, nl);
  const end = nl + 2;
  if (kind === "+") return { value: line, end };
  if (kind === "-") return { value: new Error(line), end };
  if (kind === ":") return { value: Number(line), end };
  if (kind === "$") {
    const n = Number(line);
    if (n < 0) return { value: null, end };
    if (buf.length < end + n + 2) return null;
    return { value: buf.toString("utf8", end, end + n), end: end + n + 2 };
  }
  if (kind === "*") {
    const n = Number(line);
    const items = [];
    let pos = end;
    for (let i = 0; i < n; i++) {
      const r = parseReply(buf, pos);
      if (!r) return null;
      items.push(r.value);
      pos = r.end;
    }
    return { value: n < 0 ? null : items, end: pos };
  }
  return { value: new Error("bad RESP line " + line), end };
}

// ------------------------------------------------------------ assertions

export function check(cond, what, ...details) {
  if (!cond) throw new Error(what + details.map((d) => "\n  " + inspect(d, { depth: 6 })).join(""));
}

export function equal(got, want, what) {
  if (!isDeepStrictEqual(got, want)) {
    throw new Error(`${what} differs\n  want: ${inspect(want, { depth: 6 })}\n  got:  ${inspect(got, { depth: 6 })}`);
  }
}

export async function until(cond, timeout, what, interval = 50) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout / 1000} s waiting for ${what}` + (last ? ` (${last.message})` : ""));
    }
    await sleep(interval);
  }
}


// Run one test and print its TAP line; 1 if it failed (onFail adds diagnostics).
// The TAP line for an exception that ends a test file early.
export function bailOut(e) {
  out("Bail out! " + (e.message || e).toString().split("\n")[0]);
  diag(e.stack || String(e));
}

// A test that cannot run here throws skip(reason): TAP "ok ... # SKIP reason".
export function skip(reason) {
  return Object.assign(new Error(reason), { skip: reason });
}

export async function runTest(number, t, onFail) {
  const started = Date.now();
  try {
    await t.fn();
    out(`ok ${number} - ${t.name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    return 0;
  } catch (e) {
    if (e && e.skip) {
      out(`ok ${number} - ${t.name} # SKIP ${e.skip}`);
      return 0;
    }
    out(`not ok ${number} - ${t.name}`);
    diag(e.stack || String(e));
    if (onFail) await onFail(e);
    return 1;
  }
}
