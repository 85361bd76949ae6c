// test_socketio.mjs -- the original Juggernaut 2.1.1 demo page, unchanged, in
// headless Chromium against juggernaut.fcgi behind lighttpd, a shared host's
// Apache + mod_fcgid configured by .htaccess, and nginx with README's
// location for /socket.io/ (sio_stack.py installs the npm package at test
// time; nothing of it is committed). TAP.
//
// For xhr-polling and jsonp-polling forced as the original page allows
// (io.transports, set when application.js defines Juggernaut), and for the
// client's own choice (nginx: that one only): it connects, meta and
// subscribe reach Redis as server events, messages published with redis-cli
// (compact JSON as Node and Ruby send it, spaced as Python's json.dumps)
// arrive in order (escaping included), except with the page's jug.sessionID
// is honoured, a custom event reaches juggernaut:custom, the page carries on
// (same session, nothing lost) after the web server and the worker restart,
// unsubscribe publishes juggernaut:unsubscribe and stops that channel.
// Messages also come from real Ruby, Python and Node programs publishing as
// Juggernaut's README shows (publishers/; skipped where ruby, Debian's
// python3-redis or npm's redis is missing). The client's own choice is
// xhr-polling behind lighttpd and nginx and jsonp-polling on the shared host
// (the handshake offers it first there).
// Then, on each server: the page on another origin; the page with only its
// script tag swapped for this project's client served by the worker, and
// (not on the shared host) with a copy of juggernaut.js in the site; and
// htmlfile offered only where it streams.
//
//   cd tests/browser && npm ci && JUG_BUILDDIR=/path/to/build node test_socketio.mjs
import { spawnSync } from "node:child_process";
import http from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  Stack, bailOut, check, chromiumOrSkip, diag, equal, launchChromium, out, redisConnection, runTest, skip, sleep, until,
} from "./harness.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const MODES = ["xhr-polling", "jsonp-polling", "default"];
const WEBS = (process.env.JUG_SIO_WEBS || "lighttpd apache nginx").split(" ");
// nginx (README's location for /socket.io/): the client's own choice only.
const modesOf = (web) => (web === "nginx" ? ["default"] : MODES);
const TIME_LIMIT_MS = 420000;

const chromium = await chromiumOrSkip();

// ------------------------------------------------------------ Redis: server events, redis-cli

// Collects juggernaut:subscribe, :unsubscribe and :custom as they come.
class Events {
  constructor(socketPath) {
    this.got = [];
    this.acks = 0;
    this.sock = redisConnection(socketPath, (v) => {
      if (Array.isArray(v) && v[0] === "subscribe") this.acks++;
      if (Array.isArray(v) && v[0] === "message") this.got.push({ channel: v[1], data: JSON.parse(v[2]) });
    });
    const names = ["juggernaut:subscribe", "juggernaut:unsubscribe", "juggernaut:custom"];
    this.sock.write(`*${names.length + 1}\r\n$9\r\nSUBSCRIBE\r\n` +
      names.map((n) => `$${n.length}\r\n${n}\r\n`).join(""));
    this.ready = until(() => this.acks === names.length, 5000, "SUBSCRIBE to the server events");
  }

  of(channel, sid) {
    return this.got.filter((e) => e.channel === channel && e.data.session_id === sid).map((e) => e.data);
  }

  close() {
    this.sock.destroy();
  }
}

// PUBLISH with redis-cli, as the Juggernaut README's users do; text as given
// (the seed's Python snippet sends json.dumps' spaced form).
function publishText(text) {
  const r = spawnSync("redis-cli", ["-s", info.redis, "PUBLISH", "juggernaut", text],
    { encoding: "utf8", timeout: 10000 });
  check(r.status === 0, "redis-cli PUBLISH failed", r.stderr);
}
const publish = (message) => publishText(JSON.stringify(message));

// ------------------------------------------------------------ Ruby, Python, Node publishers

// Programs in publishers/ that publish as Juggernaut 2.1.1's README shows,
// each with its language's real Redis library: the juggernaut gem's publish
// (publishers/juggernaut.rb stands in for the gem) on Debian's ruby-redis,
// redis-py (Debian's python3-redis), node_redis (npm's redis@3).
const PUBLISHERS = path.join(HERE, "publishers");
const PYTHON = ["/usr/bin/python3", "python3"].find((p) => !p.startsWith("/") ||
  spawnSync(p, ["-c", "import redis"], { timeout: 10000 }).status === 0) || "python3";
const publishers = {
  ruby: { argv: (channel, data, except) => ["ruby", ["-I", PUBLISHERS, path.join(PUBLISHERS, "publish.rb"),
    channel, data, ...(except ? [except] : [])]], probe: ["ruby", ["-e", "require 'redis'"]] },
  python: { argv: (channel, data) => [PYTHON, [path.join(PUBLISHERS, "publish.py"), info.redis, channel, data]],
    probe: [PYTHON, ["-c", "import redis"]] },
  node: { argv: (channel, data) => [process.execPath, [path.join(PUBLISHERS, "publish.cjs"), info.redis, channel,
    data]], probe: () => createRequire(import.meta.url).resolve("redis") },
};
const missingPublishers = Object.entries(publishers).filter(([, p]) => {
  if (typeof p.probe === "function") {
    try {
      return !p.probe();
    } catch {
      return true;
    }
  }
  return spawnSync(p.probe[0], p.probe[1], { timeout: 10000 }).status !== 0;
}).map(([name]) => name);

function publishWith(lang, data, except) {
  const [cmd, args] = publishers[lang].argv("channel1", JSON.stringify(data), except);
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 20000,
    env: { ...process.env, REDIS_URL: `unix://${info.redis}` } });
  check(r.status === 0, `the ${lang} publisher failed (${r.status})`, r.stderr, r.error);
}

// The request of a session that a worker holds open, or "" (docs/PROTOCOL.md, 2).
function holderOf(sid) {
  const r = spawnSync("redis-cli", ["-s", info.redis, "HGET", `${info.prefix}session:${sid}`, "holder"],
    { encoding: "utf8", timeout: 10000 });
  check(r.status === 0, "redis-cli HGET failed", r.stderr);
  return r.stdout.trim();
}

// ------------------------------------------------------------ the page

const tests = [];
let failed = 0;
let stack, info, events, browser;
const consoleLog = [];

// The page's socket.io handshakes: how many are in flight, and the session
// the last answered one gave. Under mod_fcgid a slow handshake makes the 0.8
// client send a second one; its answer moves the connected page to another
// session (the first one's poll holds the old one), after the test may have
// read jug.sessionID.
function trackHandshakes(page) {
  const t = { inflight: 0, sid: null, answers: [] };
  const isHandshake = (r) => /\/socket\.io\/1\/\?/.test(r.url());
  page.on("request", (r) => { if (isHandshake(r)) t.inflight++; });
  page.on("requestfailed", (r) => { if (isHandshake(r)) t.inflight--; });
  page.on("requestfinished", async (r) => {
    if (!isHandshake(r)) return;
    try {
      const res = await r.response();
      const m = res && res.status() === 200 ? /([A-Za-z0-9_-]{22}):\d+:\d+:/.exec(await res.text()) : null;
      if (m) t.answers.push(t.sid = m[1]);
    } finally {
      t.inflight--;
    }
  });
  return t;
}

// Wait until the page is on one session: no handshake in flight, and the
// socket, its transport and jug.sessionID all on the one the last gave.
// Returns that session.
async function settled(s) {
  await until(async () => {
    const sid = s.handshakes.sid;
    return s.handshakes.inflight === 0 && sid !== null && await s.page.evaluate((sid) => {
      const so = window.jug.io.socket;
      return so.connected && so.sessionid === sid && so.transport.sessid === sid && window.jug.sessionID === sid;
    }, sid);
  }, 15000, "the page on the session of its last handshake");
  return s.handshakes.sid;
}

// How many jsonp-polling answers had the browser wait before its next GET
// (no hold slot free on a shared host, docs/PROTOCOL.md "socket.io").
function countWaits(page) {
  const w = { waits: 0, answers: 0 };
  page.on("response", async (r) => {
    if (!/\/jsonp-polling\//.test(r.url()) || r.request().method() !== "GET") return;
    try {
      const text = await r.text();
      w.answers++;
      if (text.startsWith("setTimeout(")) w.waits++;
    } catch {
      // the page went away
    }
  });
  return w;
}

async function openPage(mode) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const handshakes = trackHandshakes(page);
  const jsonp = countWaits(page);
  page.on("pageerror", (e) => consoleLog.push(`${mode} pageerror: ${e.message}`));
  page.on("console", (m) => consoleLog.push(`${mode} console.${m.type()}: ${m.text()}`));
  if (mode !== "default") {
    // The original page cannot be told which transport to use; a page that
    // wants one sets io.transports before it constructs Juggernaut. Here
    // that happens the moment application.js defines Juggernaut.
    await page.addInitScript((t) => {
      let J;
      Object.defineProperty(window, "Juggernaut", {
        configurable: true,
        get() { return J; },
        set(v) { window.io.transports = [t]; J = v; },
      });
    }, mode);
  }
  // Not "load": a JSONP poll held while the page loads would hold that back.
  await page.goto(`${info.url}/index.html`, { waitUntil: "domcontentloaded" });
  return { context, page, handshakes, jsonp };
}

const logLines = async (page) => (await page.$eval("#log", (e) => e.value)).split("\n").filter(Boolean);
const gotData = async (page) => (await logLines(page)).filter((l) => l.startsWith("Got data: ")).map((l) => l.slice(10));
const waitLog = (page, pred, timeout, what) => until(async () => pred(await logLines(page)), timeout, what);

for (const web of WEBS) for (const mode of modesOf(web)) {
  const s = {};
  const test = (name, fn) => tests.push({ web, name: `${web}: ${name}`, fn });
  const chosen = mode !== "default" ? mode : web === "apache" ? "jsonp-polling" : "xhr-polling";
  test(`${mode}: the unchanged 2.1.1 page connects, subscribes (server event), and uses ${chosen}`, async () => {
    Object.assign(s, await openPage(mode));
    await waitLog(s.page, (l) => l.includes("Connected"), 15000, "Connected in the page's log");
    const transport = await s.page.evaluate(() => window.jug.io.socket.transport.name);
    equal(transport, chosen, "transport in use");
    s.sid = await s.page.evaluate(() => window.jug.sessionID);
    check(/^[A-Za-z0-9_-]{22}$/.test(s.sid), "jug.sessionID is the project's session id", s.sid);
    await until(() => events.of("juggernaut:subscribe", s.sid).length >= 1, 5000, "juggernaut:subscribe");
    equal(events.of("juggernaut:subscribe", s.sid)[0], { channel: "channel1", session_id: s.sid, meta: null },
      "subscribe event");
  });

  test(`${mode}: meta set by the page comes with the next subscribe`, async () => {
    await s.page.evaluate(() => {
      window.jug.meta = { user_id: 7 };
      window.jug.writeMeta();
      window.jug.subscribe("channel2", (d) => window.log("c2: " + d));
    });
    await until(() => events.of("juggernaut:subscribe", s.sid).length >= 2, 5000, "juggernaut:subscribe channel2");
    equal(events.of("juggernaut:subscribe", s.sid)[1], { channel: "channel2", session_id: s.sid, meta: { user_id: 7 } },
      "subscribe event with meta");
  });

  test(`${mode}: messages published with redis-cli arrive in order, escaping intact`, async () => {
    const want = ["m1", "m2", "café \u{1F600} \u2028\u2029 </script><!--", "m4", "m5", "from python",
      "[object Object]"];
    for (const data of want.slice(0, 5)) publish({ channels: ["channel1"], data });
    publishText('{"channels": ["channel1"], "data": "from python"}');          // Python: json.dumps(msg)
    publish({ channels: ["channel1"], data: { some: "data" } });               // Ruby: Juggernaut.publish("channel1", {:some => "data"})
    await until(async () => (await gotData(s.page)).length >= want.length, 10000, "seven messages");
    await sleep(300);
    equal(await gotData(s.page), want, "the page's log");
  });

  test(`${mode}: except with the page's jug.sessionID is honoured`, async () => {
    const before = (await gotData(s.page)).length;
    publish({ channels: ["channel1"], data: "not for this page", except: s.sid });
    publish({ channels: ["channel1"], data: "after except" });
    await until(async () => (await gotData(s.page)).includes("after except"), 10000, "the message after");
    equal((await gotData(s.page)).slice(before), ["after except"], "only the message without except");
  });

  test(`${mode}: messages published from Ruby, Python and Node programs arrive in order, except honoured`, async () => {
    if (missingPublishers.length) {
      throw skip(`no ${missingPublishers.join(", ")} publisher here (ruby + ruby-redis, python3-redis, npm ci)`);
    }
    const before = (await gotData(s.page)).length;
    publishWith("ruby", "from ruby");
    publishWith("python", "from python");
    publishWith("node", "from node \u{1F600}");
    publishWith("ruby", { some: "data" });                         // Juggernaut.publish("channel1", {:some => "data"})
    publishWith("ruby", "not for this page", s.sid);               // Juggernaut.publish(..., :except => sid)
    publishWith("python", "python again");
    const want = ["from ruby", "from python", "from node \u{1F600}", "[object Object]", "python again"];
    await until(async () => (await gotData(s.page)).length >= before + want.length, 15000, "five messages");
    await sleep(300);
    equal((await gotData(s.page)).slice(before), want, "the page's log");
  });

  test(`${mode}: a custom event (Juggernaut.Message of type event) reaches juggernaut:custom`, async () => {
    await s.page.evaluate(() => {
      const m = new window.Juggernaut.Message();
      m.type = "event";
      m.data = { custom: "from the page" };
      window.jug.write(m);
    });
    await until(() => events.of("juggernaut:custom", s.sid).length >= 1, 5000, "juggernaut:custom");
    equal(events.of("juggernaut:custom", s.sid)[0],
      { session_id: s.sid, meta: { user_id: 7 }, data: { custom: "from the page" } }, "custom event");
  });

  // lighttpd ends the held poll at once, and the page comes back with one
  // handshake: it resumes its session (cookie), and what was published
  // while it was away arrives. Under mod_fcgid the page may send a second,
  // overlapping handshake while the first one's poll holds the session; that
  // one gets a new session, as with the original server (README, "Coming
  // from Juggernaut"): the page still carries on. Its answer may come after
  // the message, so the page's session is read once no handshake is in flight.
  // A jsonp-polling page on the shared host may not notice the restart at
  // all: waiting in the browser (no hold slot, no request open), it polls
  // the restarted worker as before, same session, nothing lost.
  test(`${mode}: after the web server and the worker restart the page carries on${web !== "apache" ? ", same session, nothing lost" : ""}`, async () => {
    const before = (await gotData(s.page)).length;
    const logBefore = (await logLines(s.page)).length;
    const eventsBefore = events.got.length;
    const answersBefore = s.handshakes.answers.length;
    await stack.command("restart-web");
    // Published before the page is back: it waits in the session's queue.
    publish({ channels: ["channel1"], data: "while away" });
    await until(async () => {
      const l = (await logLines(s.page)).slice(logBefore);
      return l.includes("Connected") ||
        (!l.includes("Disconnected") && (await gotData(s.page)).slice(before).includes("while away"));
    }, 30000, "Connected again, or the page carrying on unaware");
    publish({ channels: ["channel1"], data: "after restart" });
    await until(async () => (await gotData(s.page)).includes("after restart"), 15000, "a message after the restart");
    // A second handshake may still be on its way: read the session only
    // once the page is on the one it keeps.
    const early = await s.page.evaluate(() => window.jug.sessionID);
    const sid = await settled(s);
    if (sid !== early) diag(`${web} ${mode}: the page moved from ${early} to ${sid} after the message arrived`);
    const lines = (await logLines(s.page)).slice(logBefore);
    if (!lines.includes("Disconnected")) {
      check(s.jsonp.waits > 0, "the page missed the restart though no answer had it wait in the browser", lines);
      diag(`${web} ${mode}: the page was waiting in the browser during the restart and carried on unaware`);
      check(!lines.includes("Connected"), "Connected without Disconnected", lines);
    }
    const got = (await gotData(s.page)).slice(before);
    if (web !== "apache" || sid === s.sid) {
      equal(sid, s.sid, "the session was resumed (cookie)");
      let seen = got;
      if (web === "apache" && got.some((d, i) => i > 0 && d === got[i - 1])) {
        // The overlapping second handshake (see above) made a second session,
        // subscribed to channel1 too: the page's second socket got its own
        // copy. Or it resumed the session too (before the first one's poll
        // held it): a resume sends again what was handed out unconfirmed.
        const others = events.got.slice(eventsBefore).filter((e) => e.channel === "juggernaut:subscribe" &&
          e.data.channel === "channel1" && e.data.session_id !== s.sid);
        const resumes = s.handshakes.answers.slice(answersBefore).filter((a) => a === s.sid).length;
        check(others.length > 0 || resumes > 1, "a message came twice though the session was resumed once " +
          "and no second session was subscribed", got);
        diag(`${web} ${mode}: ` + (others.length ? `a second session (${others[0].data.session_id}) got its own copy`
          : `the session was resumed ${resumes} times: what the first resume handed out came again`));
        seen = got.filter((d, i) => i === 0 || d !== got[i - 1]);
      }
      equal(seen, ["while away", "after restart"], "messages across the restart");
    } else {
      diag(`${web} ${mode}: a new session after the restart (overlapping handshakes)`);
      equal(got.slice(-1), ["after restart"], "messages after the restart");
      s.sid = sid;
      await until(() => events.of("juggernaut:subscribe", sid).length >= 1, 5000, "channel1 subscribed again");
      if (events.of("juggernaut:subscribe", sid)[0].meta === null) {
        // The page wrote its meta on "connect", first; socket.io-client 0.8.7
        // sent it through the first handshake's transport, then flushed what
        // it had buffered meanwhile (the subscribe) through the second's.
        // The original server splits it the same way. Written again, as a
        // page that sets meta later does.
        diag(`${web} ${mode}: the page's meta went to the first handshake's session`);
        await s.page.evaluate(() => window.jug.writeMeta());
      }
      // 2.1.1's client does not repeat a subscribe made after connecting.
      await s.page.evaluate(() => window.jug.subscribe("channel2", () => {}));
    }
  });

  test(`${mode}: unsubscribe publishes juggernaut:unsubscribe and stops the channel`, async () => {
    // The session the page settled on after the restart (under mod_fcgid
    // that may be a new one, which has no channel2 yet: subscribing again is
    // harmless on the old one).
    const sid = await s.page.evaluate(() => {
      const id = window.jug.sessionID;
      window.jug.subscribe("channel2", (d) => window.log("c2: " + d));
      window.jug.unsubscribe("channel1");
      return id;
    });
    await until(() => events.of("juggernaut:unsubscribe", sid).length >= 1, 5000, "juggernaut:unsubscribe");
    equal(events.of("juggernaut:unsubscribe", sid)[0], { channel: "channel1", session_id: sid, meta: { user_id: 7 } },
      "unsubscribe event");
    if (web !== "apache") equal(sid, s.sid, "the session of the whole test");
    const before = (await gotData(s.page)).length;
    publish({ channels: ["channel1"], data: "after unsubscribe" });
    publish({ channels: ["channel2"], data: "still here" });
    await waitLog(s.page, (l) => l.includes("c2: still here"), 10000, "channel2's message");
    equal((await gotData(s.page)).slice(before), [], "nothing more on channel1");
    if (s.jsonp.answers) diag(`${web} ${mode}: ${s.jsonp.waits} of ${s.jsonp.answers} jsonp-polling answers had the browser wait`);
    await s.context.close();
  });
}

// A variant of the 2.1.1 page (url, or a file of the stack's site) loaded
// in a fresh context, once it says Connected: fn(page, sid) with the
// session's subscribe event seen, then the context is closed.
async function withPage(url, fn) {
  const context = await browser.newContext();
  const page = await context.newPage();
  if (!url.includes("/")) url = `${info.url}/${url}`;
  page.on("pageerror", (e) => consoleLog.push(`${url} pageerror: ${e.message}`));
  try {
    await page.goto(url, { waitUntil: "domcontentloaded" });
    await waitLog(page, (l) => l.includes("Connected"), 15000, "Connected in the page's log");
    const sid = await page.evaluate(() => window.jug.sessionID);
    await until(() => events.of("juggernaut:subscribe", sid).length >= 1, 5000, "juggernaut:subscribe");
    await fn(page, sid);
  } finally {
    await context.close();
  }
}

// The unchanged client on a page of another origin (the page from localhost,
// Juggernaut at 127.0.0.1): socket.io 0.8.7 uses cross-origin XHR there,
// which the original's CORS answers allow (no cookie, so no resume).
for (const web of WEBS) {
  tests.push({ web, name: `${web}: the 2.1.1 client on a page of another origin connects, subscribes and gets messages`,
    fn: () => withPage(`${info.url.replace("127.0.0.1", "localhost")}/cross.html`, async (page) => {
      check(await page.evaluate(() => window.jug.io.socket.isXDomain()), "the page is cross-origin to the worker");
      publish({ channels: ["channel1"], data: "across origins" });
      await until(async () => (await gotData(page)).includes("across origins"), 10000, "a message");
      diag(`${web}: the cross-origin page uses ${await page.evaluate(() => window.jug.io.socket.transport.name)}`);
    }) });
}

// The 2.1.1 page with only its script tag swapped for this project's client
// as the worker serves it (application.js): its {secure, host, port} options
// must lead the client to the worker, on a shared host too.
for (const web of WEBS) {
  tests.push({ web, name: `${web}: the 2.1.1 page with only its script tag swapped chats through the worker`,
    fn: () => withPage("swapped.html", async (page, sid) => {
      const url = await page.evaluate(() => window.jug.url);
      equal(url, `${info.url}${web === "apache" ? "/cgi-bin/juggernaut.fcgi" : "/juggernaut"}`,
        "the client's worker URL, from the served script and the page's host/port");
      if (web === "apache") {
        // A stock shared host (mod_fcgid buffers output): the automatic client
        // goes straight to long-poll, the transport the worker offers first.
        equal(await page.evaluate(() => window.jug.transport), "longpoll", "transport on the shared host");
      }
      if (web === "apache") {
        // A poll is held there only while another live worker process stays
        // free (docs/PROTOCOL.md, 4): a host left with one or two processes
        // by the tests before has the page poll instead.
        const r = await stack.command("fcgid-processes", 90000);
        check(r.live >= 3, `mod_fcgid runs ${r.live} worker processes, want 3`);
      }
      // Once the page's poll is held, a message reaches it within 2 s.
      await until(() => holderOf(sid) !== "", 10000, "the page's poll to be held");
      const sent = Date.now();
      publish({ channels: ["channel1"], data: "to the swapped page" });
      await until(async () => (await gotData(page)).includes("to the swapped page"), 10000, "a message");
      const ms = Date.now() - sent;
      diag(`${web}: the swapped page got the message ${ms} ms after it was published`);
      check(ms < 2000, `the message took ${ms} ms to reach the page (held poll)`);
      equal(await page.evaluate(() => typeof window.Juggernaut.Message), "function", "Juggernaut.Message");
    }) });
}

// A copy of juggernaut.js kept with the site's files finds the worker at the
// documented default, /juggernaut on the page's host and port (README,
// "Where the client finds the worker"); a shared host's worker is not there,
// and such a page passes url (not tested here).
for (const web of WEBS.filter((w) => w !== "apache")) {
  tests.push({ web, name: `${web}: the 2.1.1 page with a copy of juggernaut.js in javascripts/ finds the worker at /juggernaut`,
    fn: () => withPage("copied.html", async (page) => {
      equal(await page.evaluate(() => window.jug.url), `${info.url}/juggernaut`, "the client's worker URL");
      publish({ channels: ["channel1"], data: "to the copy" });
      await until(async () => (await gotData(page)).includes("to the copy"), 10000, "a message");
    }) });
}

// htmlfile (old IE only: Chromium has no ActiveXObject("htmlfile")) is
// offered where the host streams, and there its stream really streams
// through the web server as configured: the connect packet comes long before
// the stream's end (stream_max_duration). The shared host offers none.
function httpGet(url, onData, timeoutMs) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => {
        body += chunk;
        if (onData && onData(body)) {
          req.destroy();
          resolve({ status: res.statusCode, headers: res.headers, body });
        }
      });
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer from ${url} in ${timeoutMs} ms`)));
  });
}

for (const web of WEBS) {
  tests.push({ web, name: `${web}: htmlfile is offered only where it streams${web === "apache" ? " (not here)" : ", and streams"}`,
    fn: async () => {
      const hs = await httpGet(`${info.url}/socket.io/1/?t=1`, null, 10000);
      equal(hs.status, 200, "handshake status");
      const [sid, , , transports] = hs.body.split(":");
      if (web === "apache") {
        equal(transports, "jsonp-polling,xhr-polling", "transports on the shared host");
        return;
      }
      equal(transports, "htmlfile,xhr-polling,jsonp-polling", "transports");
      const started = Date.now();
      const r = await httpGet(`${info.url}/socket.io/1/htmlfile/${sid}?t=2`, (b) => b.includes('<script>_("1::");</script>'),
        10000);
      const ms = Date.now() - started;
      check(r.body.includes('<script>_("1::");</script>'), "the connect packet in the stream", r.body.slice(0, 400));
      check(ms < 5000, `the connect packet took ${ms} ms: the stream is buffered`);
      equal(r.headers["content-type"], "text/html; charset=UTF-8", "Content-Type");
    } });
}

// ------------------------------------------------------------ run

async function main() {
  out(`1..${tests.length + WEBS.length}`);
  const bail = setTimeout(async () => {
    out(`Bail out! time limit of ${TIME_LIMIT_MS / 1000} s exceeded`);
    if (browser) await Promise.race([browser.close().catch(() => {}), sleep(5000)]);
    if (stack) await stack.stop().catch(() => {});
    process.exit(1);
  }, TIME_LIMIT_MS);
  let number = 0;
  try {
    for (const web of WEBS) {
      const mine = tests.filter((t) => t.web === web);
      stack = new Stack(path.join(HERE, "sio_stack.py"), ["--web", web]);
      info = await stack.start();
      if (info.skip) {
        for (const t of mine) out(`ok ${++number} - ${t.name} # SKIP ${info.skip}`);
        out(`ok ${++number} - ${web}: no sanitizer reports # SKIP ${info.skip}`);
        await stack.stop();
        continue;
      }
      if (!info.url) throw new Error("sio_stack.py failed: " + JSON.stringify(info, null, 1));
      events = new Events(info.redis);
      await events.ready;
      if (!browser) {
        browser = await launchChromium(chromium);
      }
      for (const t of mine) {
        failed += await runTest(++number, t, async () => {
          if (consoleLog.length) diag("browser console:\n" + consoleLog.slice(-40).join("\n"));
          const logs = await stack.command("logs", 5000).catch(() => null);
          if (logs) for (const [p, text] of Object.entries(logs.logs)) diag(`---- ${p}\n${text}`);
        });
        consoleLog.length = 0;
      }
      events.close();
      events = null;
      const last = await stack.stop();
      number++;
      if (last && last.sanitizer && last.sanitizer.length) {
        failed++;
        out(`not ok ${number} - ${web}: no sanitizer reports in the logs`);
        last.sanitizer.forEach(diag);
      } else {
        out(`ok ${number} - ${web}: no sanitizer reports in the logs`);
      }
    }
  } catch (e) {
    failed++;
    bailOut(e);
  } finally {
    clearTimeout(bail);
    if (browser) await browser.close().catch(() => {});
    if (events) events.close();
    if (stack) await stack.stop().catch(() => {});
  }
  return failed ? 1 : 0;
}

process.exit(await main());
