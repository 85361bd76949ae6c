// test_browser.mjs -- juggernaut.js in a real browser (headless Debian
// Chromium driven by playwright-core), against a private stack through
// lighttpd (tests/browser/stack.py). TAP on stdout.
//
// For each transport forced one at a time (sse, multipart, longpoll, jsonp,
// htmlfile): exact payloads in order, `except`, unsubscribe, delivery across
// a restart of lighttpd+worker and of the poller (nothing lost, nothing
// twice), connect/disconnect/reconnect events, staying up on an idle channel,
// explicit disconnect. Then the demo page end to end with two browsers and
// its transport selector. Every wait is bounded; a run takes about a minute.
//
// A busy machine (a CI runner with a load of 10 on 2 cores) must not fail
// them: each step waits for the condition it needs (an event of the page, a
// delivery, the session's queue in Redis), never for a fixed time, and a
// check that nothing more arrives publishes a marker and waits for it (one
// session's deliveries come in order, so anything extra would come first).
//
//   cd tests/browser && npm ci && JUG_BUILDDIR=/path/to/build node test_browser.mjs
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { fileURLToPath } from "node:url";
import {
  Redis, Stack, bailOut, check, chromiumOrSkip, diag, equal, launchChromium, out, runTest, sleep, until,
} from "./harness.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
// JUG_BROWSER_TRANSPORTS="multipart sse" runs only those (for debugging one).
const TRANSPORTS = (process.env.JUG_BROWSER_TRANSPORTS || "sse multipart longpoll jsonp htmlfile").split(/[ ,]+/);
const TIME_LIMIT_MS = 420000;


// ------------------------------------------------------------ skip checks

const chromium = await chromiumOrSkip();

// ------------------------------------------------------------ TAP

const tests = [];
const test = (name, fn) => tests.push({ name, fn });
let failed = 0;

// ------------------------------------------------------------ fixture state

const stack = new Stack(path.join(HERE, "stack.py"));
let info, redis, browser;
const consoleLog = [];
const netLog = [];

async function newPage(label) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on("pageerror", (e) => consoleLog.push(`${label} pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") consoleLog.push(`${label} console.${m.type()}: ${m.text()}`);
  });
  // The page's requests to the worker, shown when a test fails.
  const at = () => new Date().toISOString().slice(11, 23);
  const short = (r) => `${r.method()} ${r.url().replace(/^https?:\/\/[^/]+/, "").slice(0, 120)}`;
  const juggernaut = (r) => r.url().includes("/juggernaut/");
  page.on("request", (r) => { if (juggernaut(r)) netLog.push(`${at()} ${label} ${short(r)}`); });
  page.on("response", (r) => { if (juggernaut(r.request())) netLog.push(`${at()} ${label} ${r.status()} ${short(r.request())}`); });
  page.on("requestfinished", (r) => { if (juggernaut(r)) netLog.push(`${at()} ${label} end ${short(r)}`); });
  page.on("requestfailed", (r) => {
    if (juggernaut(r)) netLog.push(`${at()} ${label} failed (${r.failure() && r.failure().errorText}) ${short(r)}`);
  });
  return { context, page };
}

// The client's backoff in these tests (the longest wait between two tries).
const CLIENT = { minDelay: 100, maxDelay: 1000 };
// A bound for what should happen at once: generous, a wait ends as soon as
// its condition holds.
const PROMPT_MS = 15000;
// The client drops a poll or stream that shows no sign of life for
// (poll_timeout + 15) s at most (juggernaut.js, _armIdle); a stream hears a
// keepalive every keepalive_interval s.
const idleMs = () => (info.settings.poll_timeout + 15) * 1000;
// From a server that is back to a page that reconnected: the client's next
// try comes within maxDelay; a try that went out while the server was
// coming up and hangs is dropped by the idle timer, and retried.
const reconnectMs = () => CLIENT.maxDelay + idleMs() + CLIENT.maxDelay + PROMPT_MS;

const T = (page, fn, arg) => page.evaluate(fn, arg);
const waitPage = (page, fn, arg, timeout, what) =>
  page.waitForFunction(fn, arg, { timeout, polling: 50 }).catch((e) => {
    throw new Error(`timed out after ${timeout / 1000} s waiting for ${what}: ${e.message.split("\n")[0]}`);
  });

async function sessionChannels(sid) {
  return (await redis.command("SMEMBERS", `${info.prefix}session:${sid}:channels`)).sort();
}

// Publishes a marker on channel and waits until the page has it: whatever
// was published to this session before has been delivered by then. Returns
// the marker (the data the page records for it).
let markers = 0;
async function drain(page, channel) {
  const marker = { marker: ++markers };
  await redis.publish({ channels: [channel], data: marker });
  await waitPage(page, ([c, m]) => T.data[c].some((d) => d !== null && typeof d === "object" && d.marker === m),
    [channel, marker.marker], PROMPT_MS, `marker ${marker.marker} on ${channel}`);
  return marker;
}

// ------------------------------------------------------------ per-transport tests

const PAYLOADS = [
  "hello",
  { a: 1, b: [true, null, "x"], nested: { deep: { er: [1.5, -2, 1e21] } } },
  "ünïcødé ✓ 日本語 \u{1F680}",
  "</script><script>window.pwned = 1</script><!--",
  "line1\nline2\r\nline3\n\ndata: fake\n\n",
  "--jugpart\r\nContent-Type: application/json\r\n\r\n{\"id\":99999}\r\n",
  "\u2028\u2029 separators",
  42,
  null,
  ["array", { "k": "v" }],
  "x".repeat(20000),
];

// Numbered messages across a restart of lighttpd+worker and of the poller,
// with some queued while no worker ran; the events the page saw meanwhile.
async function restartCase(s) {
  const step = (what) => s.trace.push(`${new Date().toISOString().slice(11, 23)} ${what}`);
  s.trace = [];
  const base = (await T(s.page, () => T.data.c1)).length;
  const events0 = await T(s.page, () => T.events.length);
  const seq = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => ({ seq: from + i }));
  const publishAll = async (list) => { for (const data of list) await redis.publish({ channels: ["c1"], data }); };
  const queuedSeqs = async () => (await redis.command("LRANGE", `${info.prefix}session:${s.sid}:queue`, 0, -1))
    .map((item) => JSON.parse(item).data).filter((d) => d !== null && typeof d === "object" && "seq" in d)
    .map((d) => d.seq);

  await publishAll(seq(1, 5));
  await waitPage(s.page, (n) => T.data.c1.length >= n, base + 5, PROMPT_MS, "messages 1-5");

  step("stop-web");
  await stack.command("stop-web");
  const stopped = Date.now();
  // A cut stream or poll is noticed at once, except a cut forever-iframe:
  // Chromium fires no load event for it, the client notices only through
  // its idle timer.
  await waitPage(s.page, (n) => T.events.length > n && T.events[T.events.length - 1].name === "disconnect",
    events0, (s.transport === "htmlfile" ? idleMs() : 0) + PROMPT_MS, "a disconnect event once lighttpd is gone");
  diag(`${s.transport}: disconnect event ${((Date.now() - stopped) / 1000).toFixed(1)} s after lighttpd stopped`);
  // Queued while no worker runs: the poller puts them into the queue. It
  // must have done so before it is stopped: what it has not read by then is
  // gone (no other poller runs). The queue also holds 1-5 until a request
  // acknowledges them, so it is its content that tells, not its length.
  step("disconnect seen; publishing 6-10");
  await publishAll(seq(6, 10));
  await until(async () => isDeepStrictEqual((await queuedSeqs()).filter((n) => n > 5), [6, 7, 8, 9, 10]), PROMPT_MS,
    "messages 6-10 in the session's queue");
  step("6-10 queued; stop-poller");
  await stack.command("stop-poller");
  await redis.publish({ channels: ["c1"], data: { lost: "published while no poller runs" } });
  await stack.command("start-web");
  step("lighttpd answers");
  await stack.command("start-poller");
  const back = Date.now();
  step("poller active");
  // The page reconnects (its connect event), then gets what was queued.
  await waitPage(s.page, (n) => T.events.slice(n).some((e) => e.name === "connect"), events0, reconnectMs(),
    "the page to reconnect after the restart");
  diag(`${s.transport}: reconnected ${((Date.now() - back) / 1000).toFixed(1)} s after the stack was back`);
  step("reconnected");
  await waitPage(s.page, (n) => T.data.c1.length >= n, base + 10, PROMPT_MS, "messages 6-10 after the reconnect");
  step("6-10 delivered");
  await publishAll(seq(11, 15));
  await waitPage(s.page, (n) => T.data.c1.length >= n, base + 15, PROMPT_MS, "messages 11-15");
  const marker = await drain(s.page, "c1");
  equal((await T(s.page, () => T.data.c1)).slice(base), [...seq(1, 15), marker], "numbered messages across the restart");

  const events = (await T(s.page, () => T.events)).slice(events0);
  const names = events.map((e) => e.name);
  check(names[0] === "disconnect", "the first event after the restart must be disconnect", names);
  check(names.includes("reconnect"), "a reconnect event must follow", names);
  check(names.includes("connect"), "a connect event must follow the disconnect", names);
  const rec = events.find((e) => e.name === "reconnect");
  equal(rec.info, { newSession: false }, "reconnect info (the session survived)");
  equal(await T(s.page, () => T.jug.sessionID), s.sid, "session id after the restart");
}

for (const transport of TRANSPORTS) {
  const s = { transport };       // state shared by this transport's tests

  test(`${s.transport}: connects with the transport forced and delivers exact payloads in order`, async () => {
    Object.assign(s, await newPage(transport));
    await s.page.goto(`${info.url}/test.html`);
    await T(s.page, (t) => {
      T.start({ transports: [t.transport], minDelay: t.minDelay, maxDelay: t.maxDelay });
      T.subscribe("c1");
      T.subscribe("c2");
    }, { transport, ...CLIENT });
    await waitPage(s.page, () => T.count("connect") === 1 && T.jug.sessionID, null, PROMPT_MS, "the connect event");
    s.sid = await T(s.page, () => T.jug.sessionID);
    equal(await T(s.page, () => T.jug.transport), transport, "jug.transport");
    await until(async () => isDeepStrictEqual(await sessionChannels(s.sid), ["c1", "c2"]), PROMPT_MS,
      "the session to be subscribed to c1 and c2");
    for (const data of PAYLOADS) await redis.publish({ channels: ["c1"], data });
    await redis.publish({ channels: ["c2"], data: "on c2" });
    await waitPage(s.page, (n) => T.data.c1.length >= n && T.data.c2.length >= 1, PAYLOADS.length, PROMPT_MS,
      `${PAYLOADS.length} deliveries on c1 and one on c2`);
    s.c1 = [...PAYLOADS, await drain(s.page, "c1")];   // anything extra would come before it
    equal(await T(s.page, () => T.data.c1), s.c1, "data received on c1");
    equal(await T(s.page, () => T.data.c2), ["on c2"], "data received on c2");
    equal(await T(s.page, () => window.pwned), undefined, "window.pwned (script injection)");
    s.ok = true;
  });

  test(`${transport}: "except" leaves out the page's own session`, async () => {
    check(s.ok, "not connected (see the first test)");
    await redis.publish({ channels: ["c1"], data: "excluded", except: s.sid });
    await redis.publish({ channels: ["c1"], data: "excluded too", except: ["someone-else", s.sid] });
    await redis.publish({ channels: ["c1"], data: "included", except: "someone-else" });
    await waitPage(s.page, () => T.data.c1.indexOf("included") >= 0, null, PROMPT_MS, "the message after the excluded ones");
    s.c1.push("included", await drain(s.page, "c1"));
    equal(await T(s.page, () => T.data.c1), s.c1, "data after the except test");
  });

  test(`${transport}: unsubscribe stops delivery on that channel only`, async () => {
    check(s.ok, "not connected (see the first test)");
    await T(s.page, () => T.jug.unsubscribe("c2"));
    await until(async () => isDeepStrictEqual(await sessionChannels(s.sid), ["c1"]), PROMPT_MS,
      "c2 to leave the session's channel set");
    await redis.publish({ channels: ["c2"], data: "after unsubscribe" });
    await redis.publish({ channels: ["c1", "c2"], data: "both" });
    await redis.publish({ channels: ["c1"], data: "marker" });
    await waitPage(s.page, () => T.data.c1.indexOf("marker") >= 0, null, PROMPT_MS, "the marker on c1");
    s.c1.push("both", "marker");
    equal(await T(s.page, () => T.data.c2), ["on c2"], "data on c2 after unsubscribing");
    equal(await T(s.page, () => T.data.c1), s.c1, "data on c1");
  });

  test(`${transport}: lighttpd+worker and poller restarted mid-stream: nothing lost, nothing repeated, events fire`, async () => {
    check(s.ok, "not connected (see the first test)");
    try {
      await restartCase(s);
    } catch (e) {
      const seen = await T(s.page, () => ({ state: T.jug.state, transport: T.jug.transport, lastId: T.jug._lastId,
        events: T.events.map((v) => `${new Date(v.at).toISOString().slice(11, 23)} ${v.name}`),
        errors: T.errors.map((v) => `${v.code}: ${v.message}`),
        c1: T.data.c1.slice(-12).map((v) => JSON.stringify(v).slice(0, 40)) })).catch((x) => x.message);
      diag("the page: " + JSON.stringify(seen));
      diag("steps: " + (s.trace || []).join("; "));
      throw e;
    } finally {
      await stack.command("ensure");   // the next tests need the whole stack
    }
  });

  test(`${transport}: stays up on an idle channel when the stream must open within 1 s`, async () => {
    const { context, page } = await newPage(transport + "-idle");
    try {
      await page.goto(`${info.url}/test.html`);
      await T(page, (t) => { T.start({ transports: [t], openTimeout: 1000 }); T.subscribe("idle"); }, transport);
      await waitPage(page, () => T.count("connect") === 1, null, PROMPT_MS, "the connect event");
      await sleep(3000);   // keepalive_interval is 2 s in the test config
      equal(await T(page, () => T.errors.map((e) => e.message)), [], "errors");
      equal(await T(page, () => T.events.map((e) => e.name)), ["connect"], "events");
    } finally {
      await context.close();
    }
  });

  test(`${transport}: disconnect() fires disconnect and ends the session's subscriptions`, async () => {
    check(s.ok, "not connected (see the first test)");
    const before = await T(s.page, () => T.count("disconnect"));
    await T(s.page, () => T.jug.disconnect());
    await waitPage(s.page, (n) => T.count("disconnect") > n, before, PROMPT_MS, "the disconnect event");
    await until(async () => (await redis.command("SISMEMBER", `${info.prefix}channel:c1`, s.sid)) === 0, PROMPT_MS,
      "the session to leave channel c1");
    equal(await T(s.page, () => T.errors.filter((e) => e.code === "page")), [], "page errors");
    await s.context.close();
  });
}

// ------------------------------------------------------------ the demo page

test("demo: two browsers chat, see the roster and share records", async () => {
  const a = await newPage("alice");
  const b = await newPage("bob");
  const demo = { a, b };
  test.demo = demo;
  await a.page.goto(`${info.url}/demo/?name=Alice`);
  await b.page.goto(`${info.url}/demo/?name=Bob`);
  for (const [who, p] of [["Alice", a.page], ["Bob", b.page]]) {
    await waitPage(p, () => window.demo && demo.state === "connected", null, PROMPT_MS, `${who}'s page to connect`);
    await waitPage(p, () => demo.roster.map((u) => u.name).sort().join() === "Alice,Bob", null, PROMPT_MS,
      `${who}'s roster to show Alice and Bob`);
  }
  equal(await a.page.locator("#roster li").count(), 2, "roster entries on Alice's page");

  await a.page.fill("#text", "hello from alice");
  await a.page.press("#text", "Enter");
  await waitPage(b.page, () => demo.lines.some((l) => l.text === "hello from alice"), null, PROMPT_MS, "Bob to see Alice's line");
  await b.page.fill("#text", "hi from bob");
  await b.page.click("#say button");
  await waitPage(a.page, () => demo.lines.some((l) => l.text === "hi from bob"), null, PROMPT_MS, "Alice to see Bob's line");
  // A last line each way: a second copy of an earlier line would come before it.
  await a.page.fill("#text", "bye from alice");
  await a.page.press("#text", "Enter");
  await waitPage(b.page, () => demo.lines.some((l) => l.text === "bye from alice"), null, PROMPT_MS, "Bob to see Alice's last line");
  await b.page.fill("#text", "bye from bob");
  await b.page.press("#text", "Enter");
  await waitPage(a.page, () => demo.lines.some((l) => l.text === "bye from bob"), null, PROMPT_MS, "Alice to see Bob's last line");
  const lines = async (p) => (await T(p, () => demo.lines)).filter((l) => l.kind !== "system")
    .map((l) => `${l.kind} ${l.who}: ${l.text}`);
  equal(await lines(a.page), ["mine Alice: hello from alice", "theirs Bob: hi from bob", "mine Alice: bye from alice",
    "theirs Bob: bye from bob"], "Alice's chat lines");
  equal(await lines(b.page), ["theirs Alice: hello from alice", "mine Bob: hi from bob", "theirs Alice: bye from alice",
    "mine Bob: bye from bob"], "Bob's chat lines");
  equal(await a.page.locator("#lines .line.mine .text").first().textContent(), "hello from alice", "the line Alice sees");

  // Records: created by Alice, renamed by Bob, deleted by Alice; both apply each.
  const recs = (p) => T(p, () => [...demo.records.values()].map((r) => [r.id, r.title, r.version]));
  await a.page.click("#create");
  for (const p of [a.page, b.page]) await waitPage(p, () => demo.records.size === 1, null, PROMPT_MS, "the created record");
  equal(await recs(b.page), await recs(a.page), "records after create");
  await b.page.click("#records li .edit");
  for (const p of [a.page, b.page]) {
    await waitPage(p, () => [...demo.records.values()][0].version === 2, null, PROMPT_MS, "the renamed record");
  }
  equal(await recs(a.page), await recs(b.page), "records after update");
  equal(await b.page.locator("#records li .title").textContent(), (await recs(a.page))[0][1], "title shown");
  await a.page.click("#records li .destroy");
  for (const p of [a.page, b.page]) {
    await waitPage(p, () => demo.records.size === 0 && !document.querySelector("#records li"), null, PROMPT_MS,
      "the record to go");
  }
});

test("demo: the transport selector forces each transport and the page shows it", async () => {
  const { context, page } = await newPage("selector");
  try {
    await page.goto(`${info.url}/demo/?name=Carol`);
    await waitPage(page, () => window.demo && demo.state === "connected", null, PROMPT_MS, "the page to connect");
    for (const transport of TRANSPORTS) {
      await Promise.all([page.waitForNavigation({ timeout: PROMPT_MS }), page.selectOption("#transport-select", transport)]);
      await waitPage(page, () => window.demo && demo.state === "connected" && demo.roster.some((u) => u.name === "Carol"),
        null, PROMPT_MS, `the page to connect with ${transport} and list Carol`);
      equal(await page.locator("#transport").textContent(), transport, "transport shown");
      equal(new URL(page.url()).searchParams.get("transport"), transport, "transport in the URL");
      await page.fill("#text", `via ${transport}`);
      await page.press("#text", "Enter");
      await waitPage(test.demo.a.page, (t) => demo.lines.some((l) => l.text === `via ${t}`), transport, PROMPT_MS,
        `Alice to see Carol's line sent with ${transport}`);
    }
  } finally {
    await context.close();
  }
});

test("demo: a closed page leaves the other page's roster", async () => {
  const demo = test.demo;
  check(demo, "no demo pages (see the previous test)");
  const started = Date.now();
  await demo.b.context.close();
  // At once through the client's beacon; else within session_ttl.
  await waitPage(demo.a.page, () => demo.roster.map((u) => u.name).join() === "Alice", null,
    info.settings.session_ttl * 1000 + PROMPT_MS,
    "Bob to leave Alice's roster");
  diag(`Bob left the roster ${((Date.now() - started) / 1000).toFixed(1)} s after his page closed`);
  equal(await demo.a.page.locator("#roster li").count(), 1, "roster entries on Alice's page");
  await demo.a.context.close();
});

// ------------------------------------------------------------ run

async function main() {
  out(`1..${tests.length + 1}`);
  const bail = setTimeout(async () => {
    out(`Bail out! time limit of ${TIME_LIMIT_MS / 1000} s exceeded`);
    if (browser) await Promise.race([browser.close().catch(() => {}), sleep(5000)]);
    await stack.stop().catch(() => {});
    process.exit(1);
  }, TIME_LIMIT_MS);
  let number = 0;
  try {
    info = await stack.start();
    if (info.skip) {
      for (const t of tests) out(`ok ${++number} - ${t.name} # SKIP ${info.skip}`);
      out(`ok ${++number} - no sanitizer reports # SKIP ${info.skip}`);
      return 0;
    }
    if (!info.url) throw new Error("stack.py failed: " + JSON.stringify(info, null, 1));
    redis = new Redis(info.redis);
    browser = await launchChromium(chromium);
    for (const t of tests) {
      failed += await runTest(++number, t, () => {
        if (consoleLog.length) diag("browser console:\n" + consoleLog.join("\n"));
        if (netLog.length) diag("the pages' last requests to the worker:\n" + netLog.slice(-40).join("\n"));
      });
      consoleLog.length = 0;
      netLog.length = 0;
    }
  } catch (e) {
    failed++;
    bailOut(e);
  } finally {
    clearTimeout(bail);
    if (failed) await stack.command("keep", 5000).catch(() => {});
    if (browser) await browser.close().catch(() => {});
    if (redis) redis.close();
    const last = await stack.stop();
    if (number === tests.length && last) {
      number++;
      if (last.sanitizer && last.sanitizer.length) {
        failed++;
        out(`not ok ${number} - no sanitizer reports in the logs`);
        last.sanitizer.forEach(diag);
      } else {
        out(`ok ${number} - no sanitizer reports in the logs`);
      }
    }
  }
  return failed ? 1 : 0;
}

process.exit(await main());
