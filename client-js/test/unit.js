/*
 * unit.js -- Node unit tests of juggernaut.js against fake XHR, EventSource,
 * DOM and timers (no network, no real waiting): lazy connect, dedupe by id,
 * ack, backoff, session renewal, malformed answers, multipart parsing,
 * transports and their fallback, JSONP, base URL. Plain TAP output.
 */
"use strict";

var path = require("path");
var Juggernaut = require(path.join(__dirname, "..", "juggernaut.js"));

/* ---- a tiny TAP harness ---- */

var tests = [], count = 0, failed = 0;
function test(name, fn) { tests.push({name: name, fn: fn}); }
function run() {
  tests.forEach(function (t) {
    var errors = [];
    var assert = {
      ok: function (v, msg) { if (!v) errors.push(msg || "not ok"); },
      eq: function (a, b, msg) {
        var sa = JSON.stringify(a), sb = JSON.stringify(b);
        if (sa !== sb) errors.push((msg || "eq") + ": got " + sa + ", want " + sb);
      }
    };
    try { t.fn(assert); } catch (e) { errors.push("threw: " + (e && e.stack || e)); }
    count++;
    if (errors.length) {
      failed++;
      console.log("not ok " + count + " - " + t.name);
      errors.forEach(function (e) { console.log("# " + String(e).split("\n").join("\n# ")); });
    } else {
      console.log("ok " + count + " - " + t.name);
    }
  });
  console.log("1.." + count);
  process.exit(failed ? 1 : 0);
}

/* ---- fakes ---- */

function makeEnv(opt) {
  opt = opt || {};
  var env = {now: 0, timers: [], seq: 0, xhrs: [], sources: [], thrown: [], JSON: JSON,
    random: function () { return 0.5; },
    location: {protocol: "http:", host: "example.com", hostname: "example.com"}};
  env.setTimeout = function (fn, ms) {
    var id = ++env.seq;
    env.timers.push({id: id, at: env.now + (ms || 0), fn: fn});
    return id;
  };
  env.clearTimeout = function (id) {
    env.timers = env.timers.filter(function (t) { return t.id !== id; });
  };
  /* Runs every timer due within ms, in time order, including new ones. */
  env.advance = function (ms) {
    var until = env.now + (ms || 0);
    for (var guard = 0; guard < 10000; guard++) {
      var next = null;
      env.timers.forEach(function (t) { if (t.at <= until && (!next || t.at < next.at)) next = t; });
      if (!next) break;
      env.timers.splice(env.timers.indexOf(next), 1);
      env.now = next.at;
      try { next.fn(); } catch (e) { env.thrown.push(e); }
    }
    env.now = until;
  };
  function FakeXHR() {
    this.readyState = 0; this.status = 0; this.responseText = "";
    this.headers = {};
    env.xhrs.push(this);
  }
  if (opt.cors !== false) FakeXHR.prototype.withCredentials = false;
  FakeXHR.prototype.open = function (m, u) { this.method = m; this.url = u; this.readyState = 1; };
  FakeXHR.prototype.setRequestHeader = function (k, v) { this.headers[k] = v; };
  FakeXHR.prototype.send = function (b) { this.body = b; };
  FakeXHR.prototype.abort = function () { this.aborted = true; };
  FakeXHR.prototype.respond = function (status, text) {
    this.done = true; this.status = status; this.responseText = text; this.readyState = 4;
    this.onreadystatechange();
  };
  FakeXHR.prototype.chunk = function (text) {
    this.status = 200; this.responseText += text; this.readyState = 3;
    this.onreadystatechange();
  };
  FakeXHR.prototype.finish = function () { this.done = true; this.readyState = 4; this.onreadystatechange(); };
  env.XMLHttpRequest = FakeXHR;
  if (opt.eventSource) {
    var FakeES = function (url) {
      this.url = url; this.listeners = {}; this.closed = false;
      env.sources.push(this);
    };
    FakeES.prototype.addEventListener = function (type, fn) { this.listeners[type] = fn; };
    FakeES.prototype.close = function () { this.closed = true; };
    FakeES.prototype.fireOpen = function () { this.onopen({}); };
    FakeES.prototype.message = function (data, id) { this.onmessage({data: data, lastEventId: id || ""}); };
    FakeES.prototype.emit = function (type, data) { this.listeners[type]({data: data}); };
    FakeES.prototype.fail = function () { this.onerror({}); };
    env.EventSource = FakeES;
  }
  if (opt.dom) {
    var head = {children: [], insertBefore: function (el) { el.parentNode = head; head.children.push(el); },
      removeChild: function (el) { head.children.splice(head.children.indexOf(el), 1); el.parentNode = null; }};
    env.document = {
      head: head,
      scripts: opt.scripts || [],
      createElement: function (tag) { return {tagName: tag, style: {}}; },
      getElementsByTagName: function (tag) { return tag === "head" ? [head] : tag === "script" ? env.document.scripts : []; }
    };
  }
  return env;
}

function qs(url) {
  var out = {}, q = url.indexOf("?") >= 0 ? url.substring(url.indexOf("?") + 1) : url;
  q.split("&").forEach(function (kv) {
    if (!kv) return;
    var p = kv.split("="), k = decodeURIComponent(p[0]), v = decodeURIComponent(p[1] || "");
    if (out[k] === undefined) out[k] = v; else out[k] = [].concat(out[k], v);
  });
  return out;
}

function open(env, endpoint) {
  return env.xhrs.filter(function (x) {
    return x.url && !x.done && !x.aborted && x.url.split("?")[0].split("/").pop() === endpoint;
  });
}

function only(assert, env, endpoint) {
  var list = open(env, endpoint);
  assert.eq(list.length, 1, "one " + endpoint + " request open");
  return list[0] || {respond: function () {}, chunk: function () {}, finish: function () {}, url: "", body: ""};
}

function record(jug) {
  var log = [];
  ["connect", "disconnect", "reconnect", "error"].forEach(function (ev) {
    jug.on(ev, function (a) { log.push(ev === "error" ? "error:" + a.code : ev === "reconnect" ? "reconnect:" + a.newSession : ev); });
  });
  return log;
}

function connected(opt) {
  var env = makeEnv(opt), received = [];
  var jug = new Juggernaut({env: env, url: "/juggernaut", transports: (opt && opt.transports) || ["longpoll"]});
  var log = record(jug);
  jug.subscribe("a", function (d) { received.push("a:" + JSON.stringify(d)); });
  jug.subscribe("b", function (d) { received.push("b:" + JSON.stringify(d)); });
  env.advance(0);
  var c = open(env, "connect")[0];
  c.respond(200, '{"session_id":"S1","poll_timeout":25,"session_ttl":60,"channels":["a","b"]}');
  return {env: env, jug: jug, log: log, received: received};
}

function msgs(list) { return JSON.stringify({messages: list}); }

/* ---- tests ---- */

test("lazy connect sends every channel subscribed right away in one request", function (assert) {
  var env = makeEnv(), jug = new Juggernaut({env: env, url: "/juggernaut", transports: ["longpoll"]});
  var log = record(jug);
  jug.meta = {user_id: 1};
  jug.subscribe("a", function () {});
  jug.subscribe("b");
  assert.eq(env.xhrs.filter(function (x) { return x.url; }).length, 0, "nothing sent before the timer runs");
  env.advance(0);
  var c = only(assert, env, "connect");
  assert.eq(c.method, "POST", "connect is a POST");
  assert.eq(c.url, "/juggernaut/connect", "connect URL");
  assert.eq(qs(c.body), {channel: ["a", "b"], meta: '{"user_id":1}'}, "connect body");
  c.respond(200, '{"session_id":"S1","poll_timeout":20,"channels":["a","b"]}');
  assert.eq(jug.sessionID, "S1", "sessionID");
  assert.eq(log, ["connect"], "connect event");
  var p = only(assert, env, "poll");
  assert.eq(qs(p.url), {session_id: "S1", ack: "0", timeout: "20"}, "first poll");
  assert.eq(jug.transport, "longpoll", "transport name");
});

test("deliveries are deduplicated by id and every poll acks the highest id", function (assert) {
  var s = connected(), env = s.env, all = [], data = [];
  s.jug.on("message", function (m) { all.push(m.id); });
  s.jug.on("data", function (ch, d) { data.push(ch + "=" + d); });
  only(assert, env, "poll").respond(200, msgs([{id: 1, channel: "a", data: "x"}, {id: 2, channel: "b", data: "y"}]));
  assert.eq(open(env, "poll").length, 0, "no second poll while handling");
  env.advance(0);
  var p = only(assert, env, "poll");
  assert.eq(qs(p.url).ack, "2", "ack after first answer");
  p.respond(200, msgs([{id: 2, channel: "b", data: "y"}, {id: 1, channel: "a", data: "x"}, {id: 3, channel: "a", data: {k: [1]}}]));
  env.advance(0);
  assert.eq(qs(only(assert, env, "poll").url).ack, "3", "ack after repeats");
  assert.eq(all, [1, 2, 3], "message events");
  assert.eq(data, ["a=x", "b=y", "a=[object Object]"], "data events");
  assert.eq(s.received, ['a:"x"', 'b:"y"', 'a:{"k":[1]}'], "subscribe callbacks, once each");
  var maxOpen = 0;
  env.xhrs.forEach(function () { maxOpen = Math.max(maxOpen, open(env, "poll").length); });
  assert.ok(maxOpen <= 1, "never two polls in flight");
});

test("records without an id, control records and nudges are not delivered", function (assert) {
  var s = connected(), env = s.env, errors = [];
  s.jug.on("error", function (e) { errors.push(e.code); });
  only(assert, env, "poll").respond(200, msgs([{id: 0}, {event: "keepalive"}, {channel: "a", data: 1}, "junk", {id: 4, channel: "a", data: 2}]));
  env.advance(0);
  assert.eq(s.received, ["a:2"], "only the real delivery");
  assert.eq(errors, ["bad_response", "bad_response"], "odd records reported");
  assert.eq(qs(only(assert, env, "poll").url).ack, "4", "ack");
});

test("malformed or truncated answers never throw, are reported and retried with the same ack", function (assert) {
  var s = connected(), env = s.env, errors = [];
  s.jug.on("error", function (e) { errors.push(e.code); });
  only(assert, env, "poll").respond(200, msgs([{id: 7, channel: "a", data: 1}]));
  env.advance(0);
  ['{"messages":[{"id":8,"chan', "<html>proxy error</html>", '{"messages":5}', "null"].forEach(function (body, i) {
    var p = only(assert, env, "poll");
    assert.eq(qs(p.url).ack, "7", "ack kept " + i);
    p.respond(200, body);
    assert.eq(open(env, "poll").length, 0, "backs off " + i);
    env.advance(30000);
  });
  assert.eq(errors, ["bad_response", "bad_response", "bad_response", "bad_response"], "reported");
  assert.eq(env.thrown.length, 0, "nothing thrown");
  assert.eq(s.received, ["a:1"], "delivered once");
});

test("failures back off exponentially with jitter up to 30 s, then recover", function (assert) {
  var s = connected(), env = s.env, delays = [];
  for (var i = 0; i < 10; i++) {
    only(assert, env, "poll").respond(0, "");
    var t0 = env.now, guard = 0;
    while (!open(env, "poll").length && guard++ < 100000) env.advance(1);
    delays.push(env.now - t0);
  }
  /* random() = 0.5: 3/4 of 250 * 2^(n-1), capped at 30000 */
  assert.eq(delays, [188, 375, 750, 1500, 3000, 6000, 12000, 22500, 22500, 22500], "delays");
  assert.eq(s.log, ["connect", "disconnect"], "one disconnect for the outage");
  only(assert, env, "poll").respond(200, msgs([]));
  assert.eq(s.log, ["connect", "disconnect", "connect", "reconnect:false"], "connect + reconnect after recovery");
  env.advance(0);
  only(assert, env, "poll").respond(503, '{"error":"unavailable","message":"redis"}');
  env.advance(187);
  assert.eq(open(env, "poll").length, 0, "backoff restarted from the first step");
  env.advance(1);
  assert.eq(open(env, "poll").length, 1, "retry after 188 ms");
});

test("a jitter of 0 and 1 stays within half and all of the step", function (assert) {
  var env = makeEnv();
  var lo = new Juggernaut({env: env, random: function () { return 0; }});
  var hi = new Juggernaut({env: env, random: function () { return 0.999999; }});
  assert.eq([lo._delay(1), lo._delay(3), lo._delay(20)], [125, 500, 15000], "low");
  assert.eq([hi._delay(1), hi._delay(3), hi._delay(20)], [250, 1000, 30000], "high");
});

test("session_expired opens a new session with every channel and fires reconnect", function (assert) {
  var s = connected(), env = s.env;
  only(assert, env, "poll").respond(200, msgs([{id: 9, channel: "a", data: 1}]));
  env.advance(0);
  s.jug.subscribe("c");
  only(assert, env, "poll").respond(410, '{"error":"session_expired","message":"gone"}');
  var c = only(assert, env, "connect");
  assert.eq(qs(c.body).channel, ["a", "b", "c"], "all channels again");
  c.respond(200, '{"session_id":"S2","poll_timeout":25,"channels":["a","b","c"]}');
  assert.eq(s.jug.sessionID, "S2", "new session id");
  assert.eq(open(env, "subscribe").length, 0, "no separate subscribe: connect carried it");
  var p = only(assert, env, "poll");
  assert.eq(qs(p.url), {session_id: "S2", ack: "0", timeout: "25"}, "new session polls from 0");
  assert.eq(s.log, ["connect", "reconnect:true"], "reconnect with newSession");
  p.respond(200, msgs([{id: 1, channel: "c", data: "new"}]));
  assert.eq(s.received, ["a:1"], "c has no callback");
  env.advance(0);
  assert.eq(qs(only(assert, env, "poll").url).ack, "1", "ack in the new session");
});

test("a connect failure backs off and retries", function (assert) {
  var env = makeEnv(), jug = new Juggernaut({env: env, transports: ["longpoll"]}), log = record(jug);
  jug.subscribe("a");
  env.advance(0);
  only(assert, env, "connect").respond(503, '{"error":"unavailable"}');
  assert.eq(open(env, "connect").length, 0, "waits");
  env.advance(188);
  only(assert, env, "connect").respond(200, "garbage");
  env.advance(375);
  only(assert, env, "connect").respond(200, '{"session_id":"S1","channels":["a"]}');
  assert.eq(log, ["connect"], "connected once, transient errors not reported");
});

test("control requests: subscribe, unsubscribe, meta, event, serialized and coalesced", function (assert) {
  var s = connected(), env = s.env, jug = s.jug;
  jug.subscribe("c");
  jug.subscribe("d");
  jug.unsubscribe("a");
  jug.setMeta({n: 2});
  jug.write({hello: "world"});
  env.advance(0);
  var sub = only(assert, env, "subscribe");
  assert.eq(qs(sub.body), {session_id: "S1", channel: ["c", "d"]}, "one subscribe for both");
  assert.eq(open(env, "unsubscribe").length, 0, "one control request at a time");
  sub.respond(200, '{"ok":true,"channels":["a","b","c","d"]}');
  var unsub = only(assert, env, "unsubscribe");
  assert.eq(qs(unsub.body).channel, "a", "unsubscribe a");
  unsub.respond(500, '{"error":"internal"}');
  env.advance(188);
  only(assert, env, "unsubscribe").respond(200, '{"ok":true}');
  var meta = only(assert, env, "meta");
  assert.eq(qs(meta.body).meta, '{"n":2}', "meta JSON");
  meta.respond(200, '{"ok":true}');
  var ev = only(assert, env, "event");
  assert.eq(qs(ev.body), {session_id: "S1", data: '{"hello":"world"}'}, "event data JSON");
  ev.respond(200, '{"ok":true}');
  assert.eq(jug.channels, ["b", "c", "d"], "channels");
  only(assert, env, "poll").respond(200, msgs([{id: 1, channel: "a", data: "late"}, {id: 2, channel: "b", data: "ok"}]));
  assert.eq(s.received, ['b:"ok"'], "unsubscribed channel not dispatched");
});

test("a 400 on a control request is reported and dropped; a 410 renews the session", function (assert) {
  var s = connected(), env = s.env, jug = s.jug;
  jug.subscribe("bad channel");
  env.advance(0);
  only(assert, env, "subscribe").respond(400, '{"error":"bad_request","message":"bad channel name"}');
  assert.eq(s.log, ["connect", "error:bad_request"], "reported");
  jug.write(1);
  env.advance(0);
  only(assert, env, "event").respond(410, '{"error":"session_expired"}');
  assert.eq(open(env, "poll").length, 0, "poll aborted");
  only(assert, env, "connect").respond(200, '{"session_id":"S9","channels":["a","b","bad channel"]}');
  var ev = only(assert, env, "event");
  assert.eq(qs(ev.body), {session_id: "S9", data: "1"}, "event re-sent in the new session");
});

test("subscribes and unsubscribes made while connect was out are reconciled", function (assert) {
  var env = makeEnv(), jug = new Juggernaut({env: env, transports: ["longpoll"]});
  jug.subscribe("a");
  jug.subscribe("b");
  env.advance(0);
  jug.subscribe("c");
  jug.unsubscribe("b");
  only(assert, env, "connect").respond(200, '{"session_id":"S1","channels":["a","b"]}');
  var u = only(assert, env, "unsubscribe");
  assert.eq(qs(u.body).channel, "b", "unsubscribe b");
  u.respond(200, "{}");
  assert.eq(qs(only(assert, env, "subscribe").body).channel, "c", "subscribe c");
});

test("a handler that throws does not break delivery; the exception is rethrown apart", function (assert) {
  var s = connected(), env = s.env, after = [];
  s.jug.on("data:a", function () { throw new Error("page bug"); });
  s.jug.on("data:a", function (d) { after.push(d); });
  only(assert, env, "poll").respond(200, msgs([{id: 1, channel: "a", data: 1}, {id: 2, channel: "a", data: 2}]));
  assert.eq(after, [1, 2], "later handlers still run");
  env.advance(0);
  assert.eq(env.thrown.map(function (e) { return e.message; }), ["page bug", "page bug"], "rethrown on timers");
  assert.eq(qs(only(assert, env, "poll").url).ack, "2", "polling goes on");
});

test("a handler may disconnect while a batch is being delivered", function (assert) {
  var s = connected(), env = s.env, got = [];
  s.jug.on("message", function (m) { got.push(m.id); s.jug.disconnect(); });
  only(assert, env, "poll").respond(200, msgs([{id: 1, channel: "a", data: 1}, {id: 2, channel: "a", data: 2}]));
  assert.eq(got, [1], "stops after disconnect");
  var d = only(assert, env, "disconnect");
  assert.eq(qs(d.body).session_id, "S1", "disconnect sent");
  env.advance(60000);
  assert.eq(open(env, "poll").length, 0, "no more polls");
  assert.eq(s.log, ["connect", "disconnect"], "events");
});

test("a poll that hangs past its timeout is dropped and retried", function (assert) {
  var s = connected(), env = s.env;
  var p = only(assert, env, "poll");
  env.advance(40000);
  assert.ok(p.aborted, "aborted after poll_timeout + 15 s");
  env.advance(188);
  only(assert, env, "poll");
});

test("multipart parser takes complete parts only, from any chunking", function (assert) {
  var parts = ['{"id":1,"channel":"a","data":"x\\r\\ny"}', '{"event":"keepalive"}', '{"id":2,"channel":"b","data":[1,2]}'];
  var text = new Array(2049).join(" ");
  parts.forEach(function (p) { text += "--jugpart\r\nContent-Type: application/json\r\n\r\n" + p + "\r\n"; });
  text += "--jugpart--\r\n";
  var whole = Juggernaut.parseMultipart(text, 0);
  assert.eq(whole.records, parts, "whole text");
  for (var cut = 2000; cut < text.length; cut += 7) {
    var a = Juggernaut.parseMultipart(text.substring(0, cut), 0);
    var b = Juggernaut.parseMultipart(text, a.offset);
    assert.eq(a.records.concat(b.records), parts, "cut at " + cut);
  }
  assert.eq(Juggernaut.parseMultipart("--jugpart\r\nContent-Type: application/json\r\n\r\n{\"id\":1", 0).records, [], "unterminated part waits");
});

test("multipart transport parses parts progressively and resumes with the last id", function (assert) {
  var s = connected({transports: ["multipart"]}), env = s.env;
  var x = only(assert, env, "multipart");
  assert.eq(qs(x.url), {session_id: "S1", ack: "0"}, "stream URL");
  x.chunk(new Array(2049).join(" "));
  x.chunk('--jugpart\r\nContent-Type: application/json\r\n\r\n{"id":5,"chan');
  assert.eq(s.received, [], "partial part not delivered");
  x.chunk('nel":"a","data":"hi"}\r\n--jugpart\r\nContent-Type: application/json\r\n\r\n{"event":"keepalive"}\r\n');
  x.chunk('--jugpart\r\nContent-Type: application/json\r\n\r\n{not json}\r\n');
  assert.eq(s.received, ['a:"hi"'], "delivered at readyState 3");
  assert.eq(s.log, ["connect", "error:bad_response"], "bad part reported, stream kept");
  x.finish();
  env.advance(0);
  var y = only(assert, env, "multipart");
  assert.eq(qs(y.url).ack, "5", "reconnect with ack");
  y.chunk(" ");
  y.chunk('--jugpart\r\nContent-Type: application/json\r\n\r\n{"event":"reconnect"}\r\n');
  assert.ok(y.aborted, "reconnect record ends the stream");
  var z = only(assert, env, "multipart");
  z.respond(410, '{"error":"session_expired"}');
  only(assert, env, "connect");
  assert.eq(s.jug.transport, "multipart", "stays on multipart");
});

test("sse transport: ids, reconnect event, juggernaut-error, no browser auto-reconnect", function (assert) {
  var s = connected({eventSource: true, transports: ["sse"]}), env = s.env;
  assert.eq(env.sources.length, 1, "one EventSource");
  var es = env.sources[0];
  assert.eq(qs(es.url), {session_id: "S1", ack: "0"}, "sse URL");
  es.fireOpen();
  es.message('{"id":3,"channel":"a","data":1}', "3");
  es.message('{"id":3,"channel":"a","data":1}', "3");
  es.message('{"channel":"b","data":2}', "4");
  assert.eq(s.received, ["a:1", "b:2"], "deduped, id from the id field");
  es.emit("reconnect", "");
  assert.ok(es.closed, "old stream closed");
  assert.eq(env.sources.length, 2, "new stream at once");
  assert.eq(qs(env.sources[1].url).ack, "4", "ack");
  env.sources[1].fireOpen();
  env.sources[1].emit("juggernaut-error", '{"error":"session_expired"}');
  assert.ok(env.sources[1].closed, "closed on error");
  only(assert, env, "connect").respond(200, '{"session_id":"S2","channels":["a","b"]}');
  assert.eq(qs(env.sources[2].url), {session_id: "S2", ack: "0"}, "new session stream");
  env.sources[2].fireOpen();
  env.sources[2].fail();
  assert.ok(env.sources[2].closed, "closed on error: we resume ourselves");
  env.advance(188);
  only(assert, env, "poll").respond(200, msgs([]));
  env.advance(0);
  assert.eq(env.sources.length, 4, "reopened after backoff and a probe poll");
  assert.eq(s.log, ["connect", "reconnect:true", "disconnect"], "events");
});

test("sse that never opens falls back to multipart, which is then kept", function (assert) {
  var s = connected({eventSource: true, transports: ["sse", "multipart", "longpoll"]}), env = s.env;
  assert.eq(s.jug.transport, "sse", "sse first");
  env.advance(4999);
  assert.ok(!env.sources[0].closed, "still waiting");
  env.advance(1);
  assert.ok(env.sources[0].closed, "given up after openTimeout");
  assert.eq(s.jug.transport, "multipart", "next transport");
  var x = only(assert, env, "multipart");
  x.chunk(" ");
  x.chunk('--jugpart\r\nContent-Type: application/json\r\n\r\n{"id":1,"channel":"a","data":0}\r\n');
  x.respond(0, "");
  env.advance(30000);
  assert.eq(s.jug.transport, "multipart", "a failure after working keeps it");
  assert.eq(open(env, "multipart").length, 1, "one stream");
});

test("a stream erroring twice before any record moves on (with a probe poll between)", function (assert) {
  var s = connected({eventSource: true, transports: ["sse", "longpoll"]}), env = s.env;
  env.sources[0].fail();
  env.advance(188);
  var probe = only(assert, env, "poll");
  assert.eq(qs(probe.url).timeout, "0", "probe poll does not block");
  probe.respond(200, msgs([{id: 2, channel: "a", data: "p"}]));
  assert.eq(s.received, ['a:"p"'], "probe delivers");
  env.advance(0);
  assert.eq(env.sources.length, 2, "sse tried again");
  assert.eq(qs(env.sources[1].url).ack, "2", "with ack");
  env.sources[1].fail();
  env.advance(0);
  assert.eq(s.jug.transport, "longpoll", "fell back");
  assert.eq(qs(only(assert, env, "poll").url).timeout, "25", "long poll");
});

test("transport choice follows support: no EventSource, no CORS XHR", function (assert) {
  var env = makeEnv({cors: false});
  var jug = new Juggernaut({env: env});
  assert.eq(jug._transports, ["longpoll"], "same origin, old XHR, no DOM");
  env = makeEnv({eventSource: true, dom: true});
  jug = new Juggernaut({env: env});
  assert.eq(jug._transports, ["sse", "multipart", "htmlfile", "longpoll", "jsonp"], "modern");
  jug = new Juggernaut({env: env, url: "http://push.example.org/juggernaut"});
  assert.eq(jug._transports, ["sse", "multipart", "longpoll", "jsonp"], "cross-origin: no htmlfile");
  jug = new Juggernaut({env: makeEnv({cors: false, dom: true}), url: "http://push.example.org/juggernaut"});
  assert.eq(jug._transports, ["jsonp"], "cross-origin without CORS");
  jug = new Juggernaut({env: env, transports: ["longpoll"]});
  assert.eq(jug.transport, "longpoll", "forced");
});

function scriptCall(assert, env, endpoint) {
  var list = env.document.head.children.filter(function (el) { return el.src.split("?")[0].split("/").pop() === endpoint; });
  assert.eq(list.length, 1, "one " + endpoint + " script");
  var el = list[0] || {src: "?callback=none"};
  var name = qs(el.src).callback;
  return {el: el, name: name, query: qs(el.src), answer: function (obj) { env[name](obj); }};
}

test("JSONP: control and polls through script tags, unique callbacks, cleaned up", function (assert) {
  var env = makeEnv({cors: false, dom: true}), names = {};
  var jug = new Juggernaut({env: env, host: "push.example.org", port: 8080});
  assert.eq(jug.url, "http://push.example.org:8080/juggernaut", "url from host and port");
  var got = [];
  jug.subscribe("a", function (d) { got.push(d); });
  env.advance(0);
  var c = scriptCall(assert, env, "connect");
  assert.ok(/^http:\/\/push\.example\.org:8080\/juggernaut\/connect\?/.test(c.el.src), "connect URL");
  assert.eq(c.query.channel, "a", "channel");
  assert.ok(/^[A-Za-z_$][A-Za-z0-9_$]{0,63}$/.test(c.name), "valid callback name");
  names[c.name] = 1;
  c.answer({session_id: "S1", channels: ["a"]});
  assert.ok(!(c.name in env), "callback removed");
  assert.ok(!c.el.parentNode, "script removed");
  assert.eq(jug.transport, "jsonp", "jsonp transport");
  for (var i = 1; i <= 3; i++) {
    var p = scriptCall(assert, env, "poll");
    assert.ok(!names[p.name], "unique name " + i);
    names[p.name] = 1;
    assert.eq(p.query.ack, String(i - 1), "ack " + i);
    p.answer({messages: [{id: i, channel: "a", data: i}]});
    env.advance(0);
  }
  assert.eq(got, [1, 2, 3], "delivered");
  var q = scriptCall(assert, env, "poll");
  q.el.onerror();
  assert.eq(typeof env[q.name], "function", "a stub stays for a late answer");
  env[q.name]({messages: [{id: 99, channel: "a", data: "late"}]});
  assert.eq(got, [1, 2, 3], "late answer ignored");
  env.advance(188);
  scriptCall(assert, env, "poll").answer({error: "session_expired"});
  scriptCall(assert, env, "connect").answer({session_id: "S2", channels: ["a"]});
  assert.eq(scriptCall(assert, env, "poll").query.session_id, "S2", "renewed over JSONP");
});

test("cross-origin XHR refused (status 0) switches to JSONP", function (assert) {
  var env = makeEnv({dom: true});
  var jug = new Juggernaut({env: env, url: "http://push.example.org/juggernaut", transports: ["sse", "longpoll", "jsonp"]});
  jug.subscribe("a");
  env.advance(0);
  only(assert, env, "connect").respond(0, "");
  env.advance(188);
  scriptCall(assert, env, "connect").answer({session_id: "S1", channels: ["a"]});
  assert.eq(jug.transport, "jsonp", "jsonp mode");
});

test("htmlfile (iframe without ActiveX): records through the per-client callback", function (assert) {
  var env = makeEnv({dom: true});
  env.document.body = {children: [], appendChild: function (el) { el.parentNode = this; this.children.push(el); },
    removeChild: function (el) { this.children.splice(this.children.indexOf(el), 1); }};
  var s = connectedWith(env, ["htmlfile"]);
  var frame = env.document.body.children[0];
  var q = qs(frame.src);
  assert.eq(q.session_id, "S1", "session");
  assert.ok(/^jugHtmlfile_\d+$/.test(q.callback), "callback per client");
  env[q.callback]({event: "keepalive"});
  env[q.callback]({id: 3, channel: "a", data: "f"});
  assert.eq(s.received, ['a:"f"'], "delivered");
  frame.onload();
  env.advance(0);
  var frame2 = env.document.body.children[env.document.body.children.length - 1];
  assert.ok(frame2 !== frame, "new iframe after the stream ended");
  assert.eq(qs(frame2.src).ack, "3", "ack");
});

function connectedWith(env, transports) {
  var received = [];
  var jug = new Juggernaut({env: env, url: "/juggernaut", transports: transports});
  jug.subscribe("a", function (d) { received.push("a:" + JSON.stringify(d)); });
  env.advance(0);
  open(env, "connect")[0].respond(200, '{"session_id":"S1","channels":["a"]}');
  return {jug: jug, received: received};
}

/* juggernaut.js as the worker serves it: its base path written over the mark. */
function servedCopy(base) {
  var fs = require("fs"), os = require("os");
  var text = fs.readFileSync(path.join(__dirname, "..", "juggernaut.js"), "utf8");
  if (text.indexOf('"@JUGGERNAUT_BASE@"') < 0) throw new Error("juggernaut.js lost its base mark");
  var file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "jugserved-")), "juggernaut.js");
  fs.writeFileSync(file, text.replace('"@JUGGERNAUT_BASE@"', JSON.stringify(base)));
  var J = require(file);
  fs.rmSync(path.dirname(file), {recursive: true});
  return J;
}

test("base URL: served from the worker, a copy in the site, explicit url, host/port/secure, action parameter", function (assert) {
  var Served = servedCopy("/cgi-bin/juggernaut.fcgi");
  var scripts = [{src: "http://example.com/app.js"}, {src: "http://example.com/cgi-bin/juggernaut.fcgi/application.js?v=1"}];
  var env = makeEnv({dom: true, scripts: scripts});
  assert.eq(new Served({env: env}).url, "http://example.com/cgi-bin/juggernaut.fcgi", "served: the worker's path");
  assert.eq(new Served({env: env, host: "example.com", port: 80, secure: false}).url,
    "http://example.com:80/cgi-bin/juggernaut.fcgi", "2.1.1's index.html options keep the worker's path");
  assert.eq(new Served({env: env, host: "example.com", port: 80, secure: true}).url,
    "https://example.com/cgi-bin/juggernaut.fcgi", "secure with port 80 (location.port || 80): the default port");
  assert.eq(new Served({env: env, port: 8080}).url, "http://example.com:8080/cgi-bin/juggernaut.fcgi", "port only");
  var other = makeEnv({dom: true, scripts: [{src: "http://push.example.org/cgi-bin/juggernaut.fcgi/juggernaut.min.js"}]});
  assert.eq(new Served({env: other}).url, "http://push.example.org/cgi-bin/juggernaut.fcgi", "served from another origin");
  var copied = makeEnv({dom: true, scripts: [{src: "http://example.com/javascripts/juggernaut.js"}]});
  assert.eq(new Juggernaut({env: copied}).url, "/juggernaut", "a copy in the site: the documented default");
  assert.eq(new Juggernaut({env: makeEnv({dom: true})}).url, "/juggernaut", "default path");
  assert.eq(new Juggernaut({env: env, url: "/push/"}).url, "/push", "explicit url");
  assert.eq(new Juggernaut({env: env, host: "h", secure: true}).url, "https://h/juggernaut", "secure");
  assert.eq(new Juggernaut({env: env, port: 8080}).url, "http://example.com:8080/juggernaut", "port only");
  var j = new Juggernaut({env: env, url: "/j.fcgi", actionParam: true});
  assert.eq(j._url("poll", {session_id: "x"}), "/j.fcgi?action=poll&session_id=x", "action parameter");
  assert.ok(new Juggernaut({env: env, url: "http://example.com:80/j"})._sameOrigin, "default port is same origin");
});

test("Juggernaut 2.1.1 surface: Message, fn, proxy, write(Message), <channel>:data, subscribe without channel", function (assert) {
  var s = connected(), env = s.env, jug = s.jug, got = [];
  assert.ok(Juggernaut.fn === Juggernaut.prototype, "Juggernaut.fn");
  assert.eq(jug.proxy(function () { return this === jug; })(), true, "proxy binds this");
  var m = Juggernaut.Message.fromJSON('{"channel":"a","data":{"x":1}}');
  assert.ok(m instanceof Juggernaut.Message && m.channel === "a" && m.data.x === 1, "Message.fromJSON");
  assert.eq(JSON.parse(m.toJSON()), {channel: "a", data: {x: 1}}, "Message#toJSON");
  jug.on("a:data", function (d) { got.push(d); });
  only(assert, env, "poll").respond(200, msgs([{id: 1, channel: "a", data: "x"}]));
  assert.eq(got, ["x"], "<channel>:data fires with the data");
  var ev = new Juggernaut.Message({type: "event", data: {k: 2}});
  jug.write(ev);
  env.advance(0);
  var e = only(assert, env, "event");
  assert.eq(qs(e.body).data, '{"k":2}', "write(Message event) sends its data as the event");
  e.respond(200, '{"ok":true}');
  var sub = new Juggernaut.Message;
  sub.type = "subscribe";
  sub.channel = "c";
  jug.write(sub);
  assert.ok(jug.channels.indexOf("c") >= 0, "write(Message subscribe) subscribes");
  var threw = null;
  try { jug.write(new Juggernaut.Message({type: "nonsense"})); } catch (x) { threw = String(x.message); }
  assert.ok(/nonsense.*subscribe, unsubscribe, meta and event/.test(threw), "unknown type: a clear error: " + threw);
  threw = null;
  try { jug.subscribe(); } catch (x) { threw = String(x.message); }
  assert.eq(threw, "Must provide a channel", "subscribe() without a channel throws as 2.1.1 did");
  jug.unsubscribe("a");
  got = [];
  jug.trigger("a:data", "y");
  assert.eq(got, [], "unsubscribe unbinds <channel>:data");
  assert.eq(typeof jug.writeMeta, "function", "writeMeta");
});

test("fallback JSON (no native JSON, old IE) encodes, decodes and refuses code", function (assert) {
  var v = {a: [1, "two\n\"\u2028", null, true, {b: -1.5e3}], c: "\u0001"};
  assert.eq(JSON.parse(Juggernaut.encodeJSON(v)), v, "encode round trip");
  assert.eq(Juggernaut.encodeJSON({u: undefined, f: function () {}, n: NaN}), '{"n":null}', "skips");
  assert.eq(Juggernaut.decodeJSON('{"messages":[{"id":1,"data":"x\\"y"}]}'), {messages: [{id: 1, data: 'x"y'}]}, "decode");
  ["alert(1)", "{a:1}", "", '{"a":1}; x()', "[1,2](0)"].forEach(function (bad) {
    var threw = false;
    try { Juggernaut.decodeJSON(bad); } catch (e) { threw = true; }
    assert.ok(threw, "refuses " + bad);
  });
  var env = makeEnv();
  delete env.JSON;
  var s = connectedWith(env, ["longpoll"]);
  only(assert, env, "poll").respond(200, msgs([{id: 1, channel: "a", data: {x: 1}}]));
  assert.eq(s.received, ['a:{"x":1}'], "works without native JSON");
});

test("unbind, bind alias, Juggernaut() without new, disconnect when idle", function (assert) {
  var env = makeEnv(), jug = Juggernaut({env: env}), n = 0;
  var f = function () { n++; };
  jug.bind("connect", f);
  jug.trigger("connect");
  jug.unbind("connect", f);
  jug.trigger("connect");
  assert.eq(n, 1, "unbound");
  jug.disconnect();
  assert.eq(env.xhrs.filter(function (x) { return x.url; }).length, 0, "nothing sent");
});

/* ---- what the server says: offered transports, retry, superseded, missed ---- */

/* Connected with connect's answer extended by `extra` (e.g. transports). */
function connectedOffer(opt, extra) {
  var env = makeEnv(opt), received = [], o = {env: env, url: "/juggernaut"};
  if (opt.transports) o.transports = opt.transports;
  var jug = new Juggernaut(o), log = record(jug);
  jug.subscribe("a", function (d) { received.push("a:" + JSON.stringify(d)); });
  env.advance(0);
  var answer = {session_id: "S1", poll_timeout: 25, channels: ["a"]}, k;
  for (k in extra) answer[k] = extra[k];
  only(assert0, env, "connect").respond(200, JSON.stringify(answer));
  return {env: env, jug: jug, log: log, received: received};
}
var assert0 = {eq: function () {}, ok: function () {}};

function streamsOpened(env) {
  return env.sources.length + open(env, "multipart").length;
}

test("connect's transports: the automatic client goes straight to the first one offered", function (assert) {
  var s = connectedOffer({eventSource: true, dom: true}, {transports: ["longpoll", "jsonp"]});
  assert.eq(s.jug._transports, ["longpoll", "jsonp"], "only what is offered, in the server's order");
  assert.eq(s.jug.transport, "longpoll", "transport");
  assert.eq(streamsOpened(s.env), 0, "no stream tried");
  assert.eq(qs(only(assert, s.env, "poll").url).timeout, "25", "a long poll at once");
  s = connectedOffer({eventSource: true, dom: true}, {transports: ["multipart", "bogus", "sse"]});
  assert.eq(s.jug._transports, ["multipart", "sse"], "server order, unknown names skipped");
  s = connectedOffer({eventSource: true, dom: true}, {});
  assert.eq(s.jug._transports, ["sse", "multipart", "htmlfile", "longpoll", "jsonp"], "no list: the client's own");
});

test("a forced transport the server does not offer gives way at once to an offered one", function (assert) {
  var s = connectedOffer({eventSource: true, dom: true, transports: ["multipart"]}, {transports: ["longpoll", "jsonp"]});
  assert.eq(s.jug.transport, "longpoll", "forced multipart not offered");
  assert.eq(open(s.env, "multipart").length, 0, "multipart never requested");
  only(assert, s.env, "poll");
  s = connectedOffer({eventSource: true, dom: true, transports: ["sse", "jsonp", "longpoll"]},
    {transports: ["longpoll", "multipart", "jsonp"]});
  assert.eq(s.jug._transports, ["jsonp", "longpoll"], "the page's order among the offered ones");
});

test("a renewed session keeps the fallback it reached when the offer still has it", function (assert) {
  var s = connectedOffer({eventSource: true}, {transports: ["sse", "longpoll"]}), env = s.env;
  env.advance(5000);                                   /* sse never opens */
  assert.eq(s.jug.transport, "longpoll", "fell back");
  only(assert, env, "poll").respond(410, '{"error":"session_expired"}');
  only(assert, env, "connect").respond(200, '{"session_id":"S2","channels":["a"],"transports":["sse","longpoll"]}');
  assert.eq(s.jug.transport, "longpoll", "kept");
  assert.eq(env.sources.length, 1, "sse not tried again");
});

test("a poll answered with retry waits exactly that long; without, polls at once", function (assert) {
  var s = connectedOffer({}, {transports: ["longpoll"]}), env = s.env;
  only(assert, env, "poll").respond(200, '{"messages":[{"id":1,"channel":"a","data":1}],"retry":1500}');
  assert.eq(s.received, ["a:1"], "messages of a retry answer are delivered");
  env.advance(1499);
  assert.eq(open(env, "poll").length, 0, "no poll before retry ms");
  env.advance(1);
  var p = only(assert, env, "poll");
  assert.eq(qs(p.url).ack, "1", "acks");
  p.respond(200, '{"messages":[],"retry":700}');
  env.advance(699);
  assert.eq(open(env, "poll").length, 0, "second wait");
  env.advance(1);
  only(assert, env, "poll").respond(200, msgs([]));
  env.advance(0);
  only(assert, env, "poll");
  assert.eq(s.log, ["connect"], "polling is not an outage");
});

test("a connect answered with retry makes the first poll wait that long; without, it polls at once", function (assert) {
  var s = connectedOffer({}, {transports: ["longpoll"], retry: 1800}), env = s.env;
  assert.eq(s.log, ["connect"], "connected");
  assert.eq(open(env, "poll").length, 0, "no poll at once: it would only be refused");
  env.advance(1799);
  assert.eq(open(env, "poll").length, 0, "no poll before retry ms");
  env.advance(1);
  only(assert, env, "poll").respond(200, msgs([{id: 1, channel: "a", data: 1}]));
  assert.eq(s.received, ["a:1"], "delivered");
  env.advance(0);
  assert.eq(qs(only(assert, env, "poll").url).ack, "1", "then polls as usual");
  var t = connectedOffer({}, {transports: ["longpoll"]});
  only(assert, t.env, "poll");
});

test("a 503 poll with retry waits that long; disconnect clears a pending retry", function (assert) {
  var s = connectedOffer({}, {transports: ["longpoll"]}), env = s.env;
  only(assert, env, "poll").respond(503, '{"error":"unavailable","message":"busy","retry":2000}');
  env.advance(1999);
  assert.eq(open(env, "poll").length, 0, "waits the server's retry, not the backoff");
  env.advance(1);
  only(assert, env, "poll").respond(200, '{"messages":[],"retry":3000}');
  s.jug.disconnect();
  var sent = env.xhrs.length;
  env.advance(60000);
  assert.eq(env.xhrs.length, sent, "nothing sent after disconnect");
  assert.eq(env.timers.length, 0, "no timer left");
});

test("a connect refused with retry waits that long", function (assert) {
  var env = makeEnv(), jug = new Juggernaut({env: env, url: "/juggernaut"});
  jug.subscribe("a");
  env.advance(0);
  only(assert, env, "connect").respond(503, '{"error":"unavailable","retry":4000}');
  env.advance(3999);
  assert.eq(open(env, "connect").length, 0, "not before retry ms");
  env.advance(1);
  only(assert, env, "connect");
});

test("a superseded poll stops the client without reconnecting", function (assert) {
  var s = connectedOffer({}, {transports: ["longpoll"]}), env = s.env, errors = [];
  s.jug.on("error", function (e) { errors.push(e.code); });
  only(assert, env, "poll").respond(200, '{"messages":[{"id":3,"channel":"a","data":"x"}],"superseded":true}');
  env.advance(120000);
  assert.eq(open(env, "poll").length + open(env, "connect").length, 0, "no poll, no connect");
  assert.eq(s.received, [], "the superseded answer's messages belong to the newer request");
  assert.eq(s.jug.state, "superseded", "state");
  assert.eq(s.jug.sessionID, null, "session given up");
  assert.eq(errors, ["superseded"], "reported once");
  assert.eq(s.log, ["connect", "disconnect", "error:superseded"], "events");
  s.jug.disconnect();
  assert.eq(open(env, "disconnect").length, 0, "the other holder's session is not disconnected");
  s.jug.connect();
  env.advance(0);
  only(assert, env, "connect");
});

test("a stream ended with error superseded stops without reconnecting (sse and multipart)", function (assert) {
  var s = connectedOffer({eventSource: true}, {transports: ["sse", "longpoll"]}), env = s.env;
  var es = env.sources[0];
  es.fireOpen();
  es.emit("juggernaut-error", '{"error":"superseded","message":"newer request"}');
  assert.ok(es.closed, "event source closed");
  env.advance(120000);
  assert.eq(env.sources.length, 1, "sse not reopened");
  assert.eq(open(env, "poll").length, 0, "no probe poll");
  assert.eq(s.jug.state, "superseded", "sse: state");
  s = connectedOffer({}, {transports: ["multipart", "longpoll"]});
  var x = only(assert, s.env, "multipart");
  x.chunk('--jugpart\r\nContent-Type: application/json\r\n\r\n{"event":"error","error":"superseded"}\r\n');
  assert.ok(x.aborted, "multipart request dropped");
  s.env.advance(120000);
  assert.eq(open(s.env, "multipart").length + open(s.env, "poll").length, 0, "multipart: nothing reopened");
});

test("missed: n fires the missed event before the answer's messages", function (assert) {
  var s = connectedOffer({}, {transports: ["longpoll"]}), env = s.env, seen = [];
  s.jug.on("missed", function (n) { seen.push("missed:" + n); });
  s.jug.on("message", function (m) { seen.push("id:" + m.id); });
  only(assert, env, "poll").respond(200, '{"messages":[{"id":9,"channel":"a","data":1}],"missed":4}');
  env.advance(0);
  only(assert, env, "poll").respond(200, '{"messages":[],"missed":0}');
  env.advance(0);
  assert.eq(seen, ["missed:4", "id:9"], "order, and no event for 0");
  only(assert, env, "poll");
});

test("missed: true (Redis lost data) fires missed with null", function (assert) {
  var s = connectedOffer({}, {transports: ["longpoll"]}), env = s.env, seen = [];
  s.jug.on("missed", function (n) { seen.push(n); });
  only(assert, env, "poll").respond(200, '{"messages":[],"missed":true}');
  env.advance(0);
  assert.eq(seen, [null], "one missed event, count unknown");
});

test("a stream's missed record fires missed (sse event, multipart part), not a message", function (assert) {
  var s = connectedOffer({eventSource: true}, {transports: ["sse", "longpoll"]}), env = s.env, seen = [];
  s.jug.on("missed", function (n) { seen.push("missed:" + n); });
  s.jug.on("message", function (m) { seen.push("id:" + m.id); });
  var es = env.sources[0];
  es.fireOpen();
  es.emit("missed", '{"event":"missed","missed":3}');
  es.message('{"id":12,"channel":"a","data":1}', "12");
  assert.eq(seen, ["missed:3", "id:12"], "sse");
  assert.ok(!es.closed, "the stream goes on");
  s = connectedOffer({}, {transports: ["multipart", "longpoll"]});
  seen = [];
  s.jug.on("missed", function (n) { seen.push("missed:" + n); });
  var x = only(assert, s.env, "multipart");
  x.chunk('--jugpart\r\nContent-Type: application/json\r\n\r\n{"event":"missed","missed":true}\r\n');
  assert.eq(seen, ["missed:null"], "multipart");
  assert.ok(!x.aborted, "the stream goes on");
});

test("a handler of missed may disconnect: nothing delivered or polled after", function (assert) {
  var s = connectedOffer({}, {transports: ["longpoll"]}), env = s.env;
  s.jug.on("missed", function () { s.jug.disconnect(); });
  only(assert, env, "poll").respond(200, '{"messages":[{"id":9,"channel":"a","data":1}],"missed":1}');
  env.advance(60000);
  assert.eq(s.received, [], "not delivered");
  assert.eq(open(env, "poll").length, 0, "no poll");
});

test("a stream endpoint answering 503 with transports falls over to long-poll at once", function (assert) {
  var s = connectedOffer({}, {transports: ["multipart", "longpoll"]}), env = s.env, errors = [];
  s.jug.on("error", function (e) { errors.push(e.code); });
  only(assert, env, "multipart").respond(503, '{"error":"unavailable","message":"no slot","retry":800,"transports":["longpoll","jsonp"]}');
  assert.eq(s.jug.transport, "longpoll", "switched");
  assert.eq(s.jug._transports, ["longpoll"], "the new offer (no DOM: no jsonp)");
  env.advance(0);
  assert.eq(qs(only(assert, env, "poll").url).timeout, "25", "long poll without waiting");
  assert.eq(errors, [], "not reported as an error");
  assert.eq(s.log, ["connect"], "no disconnect");
  s = connectedOffer({}, {transports: ["multipart", "longpoll"]});
  only(assert, s.env, "multipart").respond(503, '{"error":"unavailable","retry":800}');
  s.env.advance(0);
  assert.eq(s.jug.transport, "longpoll", "retry alone: the next offered transport");
  only(assert, s.env, "poll");
});

run();
