#!/usr/bin/env python3
# test_socketio.py -- socket.io protocol 1 as Juggernaut 2.1.1 pages speak it,
# wire-exact against the original server's transcript, through lighttpd.
#
# Real redis-server, lighttpd routing /juggernaut and /socket.io to
# juggernaut.fcgi, one poller. Short timings: a held GET ends after 2 s,
# htmlfile streams roll over after 3 s with a noop every second. Covers the
# handshake (plain, JSONP, cookie resume), xhr-polling (connect packet, held
# GET, framed answers, noop, framed POSTs with astral characters), the
# Juggernaut messages and their server events, except with the sid the page
# sees, acknowledgement (a lost answer is sent again), jsonp-polling (form
# POST, ASCII-only literals), htmlfile (padding, scripts, rollover), any
# worker answering any request of a session and expiry, errors and CORS.
import json
import os
import re
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import jugtest as jt  # noqa: E402
from siotest import FFFD, SID_RE, Sio, SioLighttpd, frame, message  # noqa: E402

suite = jt.Suite("test_socketio", time_limit=150)
test = suite.test

HOLD = 2
SETTINGS = dict(poll_timeout=HOLD, keepalive_interval=1, stream_max_duration=3, session_ttl=6,
                cors_origins="http://listed.example")
UNKNOWN = "AAAAAAAAAAAAAAAAAAAAAA"
HTMLFILE_HEAD = (b"<html><body><script>var _ = function (msg) { parent.s._(msg, document); };"
                 b"</script>")


def sio(env):
    return Sio(env.web.port)


def publish(env, channel, data, **extra):
    msg = {"channels": [channel], "data": data}
    msg.update(extra)
    env.redis.publish_raw(json.dumps(msg, separators=(",", ":"), ensure_ascii=False))


def subscribed(env, s, channel="channel1", meta=None):
    """A connected xhr-polling session subscribed to channel."""
    sid = s.connected()
    if meta is not None:
        jt.equal(s.post(sid, message({"type": "meta", "data": meta})).body, b"1", "meta POST")
    jt.equal(s.post(sid, message({"type": "subscribe", "channel": channel})).body, b"1",
             "subscribe POST")
    return sid


def queued(env, sid, count):
    env.wait_queued(sid, count)


# ---- handshake

@test
def t_handshake(env):
    """handshake: sid:15:25:transports as text/plain, a session cookie, no websocket"""
    s = sio(env)
    sid, r = s.handshake()
    jt.check(re.fullmatch("%s:15:25:htmlfile,xhr-polling,jsonp-polling" % SID_RE, r.text),
             "handshake body", r)
    jt.equal(r.headers.get("content-type"), "text/plain", "Content-Type")
    jt.equal(r.headers.get("content-length"), str(len(r.body)), "Content-Length")
    jt.equal(r.headers.get("set-cookie"),
             "jug_sio=%s; Path=/socket.io; HttpOnly; SameSite=Lax" % sid, "Set-Cookie")
    jt.check("access-control-allow-origin" not in r.headers, "no CORS without Origin", r)
    jt.check(env.redis.command("EXISTS", env.prefix + "session:" + sid) == 1,
             "the sid is a project session")
    r = s.request("GET", "/1/?t=1", headers={"Origin": "http://other.example"})
    jt.equal(r.headers.get("access-control-allow-origin"), "*", "CORS of the original")
    r = s.request("GET", "/1/?t=1", headers={"Origin": "http://listed.example"})
    jt.equal(r.headers.get("access-control-allow-origin"), "http://listed.example",
             "a listed origin gets the project's grant")


@test
def t_handshake_jsonp(env):
    """JSONP handshake: io.j[N]("..."); the index must be digits"""
    s = sio(env)
    sid, r = s.handshake(jsonp=3)
    jt.check(re.fullmatch(r'io\.j\[3\]\("%s:15:25:htmlfile,xhr-polling,jsonp-polling"\);' % SID_RE,
                          r.text), "JSONP handshake", r)
    jt.check(r.headers.get("content-type", "").split(";")[0] in jt.JAVASCRIPT, "script type", r)
    r = s.request("GET", "/1/?t=1&jsonp=alert(1)")
    jt.equal(r.status, 400, "non-numeric jsonp index")
    jt.check(b"alert" not in r.body, "nothing reflected", r)


@test
def t_welcome_and_protocol(env):
    """/socket.io/ welcomes, protocol 2 is refused, websocket is not served"""
    s = sio(env)
    r = s.request("GET", "/")
    jt.equal((r.status, r.body), (200, b"Welcome to socket.io."), "welcome")
    r = s.request("GET", "/2/")
    jt.equal((r.status, r.body), (500, b"Protocol version not supported."), "protocol 2")
    sid, _ = s.handshake()
    r = s.get(sid, "websocket")
    jt.equal(r.status, 500, "websocket transport")


# ---- xhr-polling

@test
def t_xhr_connect_packet(env):
    """xhr-polling: the first GET answers 1:: at once, exactly as the original"""
    s = sio(env)
    sid, _ = s.handshake()
    started = time.monotonic()
    r = s.get(sid)
    jt.check(time.monotonic() - started < 1.5, "1:: is not held", r)
    jt.equal(r.body, b"1::", "connect packet")
    jt.equal(r.headers.get("content-type"), "text/plain; charset=UTF-8", "Content-Type")
    jt.equal(r.headers.get("content-length"), "3", "Content-Length")


@test
def t_xhr_noop(env):
    """xhr-polling: a held GET with nothing to send ends with 8:: after the hold"""
    s = sio(env)
    sid = s.connected()
    started = time.monotonic()
    r = s.get(sid)
    took = time.monotonic() - started
    jt.equal(r.body, b"8::", "noop")
    jt.check(HOLD - 0.5 <= took < HOLD + 3, "held about %d s, took %.1f" % (HOLD, took))


@test
def t_xhr_events_and_delivery(env):
    """meta + subscribe POSTs fire juggernaut:subscribe with meta; a publish answers the held GET"""
    s = sio(env)
    events = env.redis.subscribe("juggernaut:subscribe", "juggernaut:unsubscribe", "juggernaut:custom")
    try:
        sid = subscribed(env, s, meta={"user_id": 1})
        got = events.json("juggernaut:subscribe", 1)
        jt.equal(got, [{"channel": "channel1", "meta": {"user_id": 1}, "session_id": sid}],
                 "subscribe event")
        result = {}
        t = threading.Thread(target=lambda: result.update(r=s.get(sid)))
        t.start()
        env.wait_held(sid)
        publish(env, "channel1", "hello from python")
        t.join(10)
        r = result["r"]
        jt.equal(r.body, b'3:::{"data":"hello from python","channel":"channel1"}', "delivery")
        jt.equal(r.headers.get("content-length"), "53", "Content-Length of the transcript")
        jt.equal(s.post(sid, message({"type": "event", "data": {"custom": "from " + sid}})).body,
                 b"1", "event POST")
        jt.equal(events.json("juggernaut:custom", 1),
                 [{"meta": {"user_id": 1}, "session_id": sid, "data": {"custom": "from " + sid}}],
                 "custom event")
        jt.equal(s.post(sid, message({"type": "unsubscribe", "channel": "channel1"})).body, b"1",
                 "unsubscribe POST")
        jt.equal(events.json("juggernaut:unsubscribe", 1),
                 [{"channel": "channel1", "meta": {"user_id": 1}, "session_id": sid}],
                 "unsubscribe event")
    finally:
        events.close()


@test
def t_xhr_framed_answer(env):
    """three publishes while no GET is open come framed, byte for byte the transcript"""
    s = sio(env)
    sid = subscribed(env, s)
    for word in ("one", "two", "three"):
        publish(env, "channel1", word)
    queued(env, sid, 3)
    r = s.get(sid)
    want = (FFFD + "39" + FFFD + '3:::{"data":"one","channel":"channel1"}' +
            FFFD + "39" + FFFD + '3:::{"data":"two","channel":"channel1"}' +
            FFFD + "41" + FFFD + '3:::{"data":"three","channel":"channel1"}').encode()
    jt.equal(r.body, want, "framed body")
    jt.equal(r.headers.get("content-length"), "143", "Content-Length")


@test
def t_xhr_astral_lengths(env):
    """frame lengths count UTF-16 units: an astral character counts 2, both ways"""
    s = sio(env)
    events = env.redis.subscribe("juggernaut:subscribe")
    try:
        sid = s.connected()
        meta = {"name": "caf\u00e9 \U0001F600"}
        body = frame(message({"type": "meta", "data": meta}),
                     message({"type": "subscribe", "channel": "astral"}))
        jt.equal(s.post(sid, body).body, b"1", "framed POST")
        jt.equal(events.json("juggernaut:subscribe", 1),
                 [{"channel": "astral", "meta": meta, "session_id": sid}], "meta survived framing")
        publish(env, "astral", "caf\u00e9 \U0001F600")
        publish(env, "astral", "x")
        queued(env, sid, 2)
        r = s.get(sid)
        first = '3:::{"data":"caf\u00e9 \U0001F600","channel":"astral"}'
        jt.check(len(first.encode()) == 44 and len(first.encode("utf-16-le")) // 2 == 41, "sanity")
        want = FFFD + "41" + FFFD + first + FFFD + "35" + FFFD + '3:::{"data":"x","channel":"astral"}'
        jt.equal(r.body.decode(), want, "framed answer with an astral character")
        bad = FFFD + "5" + FFFD + "3:::\U0001F600"   # the length splits the character
        jt.equal(s.post(sid, bad).status, 400, "malformed framing")
    finally:
        events.close()


@test
def t_except_with_page_sid(env):
    """except with the sid of the handshake (jug.sessionID) is honoured"""
    s = sio(env)
    sid = subscribed(env, s)
    other = subscribed(env, s)
    env.redis.publish_raw(json.dumps({"channels": ["channel1"], "data": "not for you",
                                      "except": sid}))
    publish(env, "channel1", "for all")
    queued(env, other, 2)
    jt.equal(s.get(sid).body, b'3:::{"data":"for all","channel":"channel1"}', "excluded session")
    jt.check(b"not for you" in s.get(other).body, "the other session gets both")


@test
def t_ack_resend(env):
    """a GET acknowledges the previous GET; after a resume what was not confirmed comes again"""
    s = sio(env)
    sid, r = s.handshake()
    cookie = r.headers["set-cookie"].split(";")[0]
    jt.equal(s.get(sid).body, b"1::", "connect")
    s.post(sid, message({"type": "subscribe", "channel": "acks"}))
    publish(env, "acks", "a")
    queued(env, sid, 1)
    jt.equal(s.get(sid).body, b'3:::{"data":"a","channel":"acks"}', "a handed out")
    # The page never confirms "a": its connection drops, and it handshakes
    # again once the lease of its last poll has lapsed.
    hold_key = env.prefix + "session:%s:siohold" % sid
    jt.wait_for(lambda: env.redis.command("EXISTS", hold_key) == 0, 10, "the poll lease to lapse")
    sid2, r2 = s.handshake(cookie=cookie)
    jt.equal(sid2, sid, "the cookie resumes the session")
    jt.equal(s.get(sid).body, b"1::", "connect packet again")
    jt.equal(s.get(sid).body, b'3:::{"data":"a","channel":"acks"}', "a sent again")
    publish(env, "acks", "b")
    queued(env, sid, 1)
    jt.equal(s.get(sid).body, b'3:::{"data":"b","channel":"acks"}', "b, and a is not repeated")


@test
def t_resume_refused_while_polled(env):
    """a session that another page holds is never resumed: a new one is made"""
    s = sio(env)
    sid, r = s.handshake()
    cookie = r.headers["set-cookie"].split(";")[0]
    s.get(sid)
    t = threading.Thread(target=lambda: s.get(sid))
    t.start()
    env.wait_held(sid)
    other, _ = s.handshake(cookie=cookie)
    t.join(10)
    jt.check(other != sid, "a page polling its session keeps it to itself")
    jt.equal(s.handshake(cookie="jug_sio=" + UNKNOWN)[0] != UNKNOWN, True, "unknown cookie: new session")


class Loops:
    """Polling loops on one session, each as the original client runs one:
    the next GET the moment an answer has come. Keeps the answers as
    (loop, status, body); each loop stops when told or after `limit` s."""

    def __init__(self, s, sid, count, limit):
        self.answers, self.lock, self.done = [], threading.Lock(), threading.Event()
        until = time.monotonic() + limit
        self.threads = [threading.Thread(target=self._run, args=(s, sid, n, until)) for n in range(count)]
        for t in self.threads:
            t.start()

    def _run(self, s, sid, n, until):
        while not self.done.is_set() and time.monotonic() < until:
            try:
                r = s.get(sid, timeout=HOLD + 10)
            except OSError as e:
                r = jt.Response(0, {}, repr(e).encode())
            with self.lock:
                self.answers.append((n, r.status, r.body))

    def snapshot(self):
        with self.lock:
            return list(self.answers)

    def stop(self):
        self.done.set()
        for t in self.threads:
            t.join(HOLD + 15)
        jt.check(not any(t.is_alive() for t in self.threads), "the polling loops stopped")


@test
def t_two_polling_loops(env):
    """two polling loops on one session (overlapping handshakes that both resumed it) each poll once per hold, and get everything"""
    # A superseded GET that answered at once had the loops supersede each
    # other as fast as the network goes (hundreds of GETs a second).
    s = sio(env)
    sid = subscribed(env, s, channel="loops")
    loops = Loops(s, sid, 2, limit=60)
    try:
        jt.wait_for(lambda: {a[0] for a in loops.snapshot()} == {0, 1}, 2 * HOLD + 10,
                    "an answer in each loop")
        # Every GET lives a whole hold (held, or superseded and unheld):
        # six answers take two holds; a loaded machine only makes it longer.
        start, began = len(loops.snapshot()), time.monotonic()
        jt.wait_for(lambda: len(loops.snapshot()) >= start + 6, 6 * HOLD + 20, "six more answers")
        took = time.monotonic() - began
        jt.diag("six answers of the two loops took %.1f s" % took)
        quiet = loops.snapshot()[start:]
        jt.check(took >= 1.5 * HOLD, "six answers of two loops took %.2f s (want >= %.1f: "
                 "about one GET per loop and hold)" % (took, 1.5 * HOLD), quiet[:12])
        jt.equal({(status, body) for _, status, body in quiet}, {(200, b"8::")}, "quiet answers")
        # The newer GET of the two gets what is published, at once.
        words = ["first", "second", "third"]
        for word in words:
            publish(env, "loops", word)
            jt.wait_for(lambda: any(word.encode() in a[2] for a in loops.snapshot()), 10,
                        "%r in an answer of either loop" % word)
    finally:
        loops.stop()
    got = []
    for _, status, body in loops.snapshot():
        got += re.findall(rb'3:::\{"data":"(\w+)","channel":"loops"\}', body)
    firsts = [w for i, w in enumerate(got) if w not in got[:i]]
    jt.equal(firsts, [w.encode() for w in words], "each message, in order")
    if len(got) > len(firsts):
        # A GET that reads the acknowledgement while the other loop's answer
        # is on its way gets that answer's messages too: two loops on one
        # session cannot tell what the page has read (socket.io has no ids).
        jt.diag("repeated by the race of the two loops: %r" % got)


def ended(events, sid):
    """1 once juggernaut:unsubscribe of session sid has come (events keeps them all)."""
    with events.cond:
        return any(json.loads(text).get("session_id") == sid for _, text in events.messages)


@test
def t_disconnect_and_unknown(env):
    """0:: ends the session at once; an unknown session gets 7:::1+0"""
    s = sio(env)
    events = env.redis.subscribe("juggernaut:unsubscribe")
    try:
        sid = subscribed(env, s)
        jt.equal(s.post(sid, "0::").body, b"1", "disconnect POST")
        # Sessions of earlier cases may lapse meanwhile: count this one's events only.
        jt.wait_for(lambda: ended(events, sid), 3, "juggernaut:unsubscribe of %s" % sid)
        started = time.monotonic()
        jt.equal(s.get(sid).body, b"7:::1+0", "GET of an ended session")
        other = subscribed(env, s)
        r = s.request("GET", "/1/xhr-polling/%s?disconnect" % other)
        jt.equal((r.status, r.body), (200, b""), "forced disconnect (?disconnect)")
        jt.wait_for(lambda: ended(events, other), 3, "juggernaut:unsubscribe of %s" % other)
        jt.check(time.monotonic() - started >= 0.9, "answered after a pause (no hot loop)")
        jt.equal(s.get(UNKNOWN).body, b"7:::1+0", "GET of an unknown session")
        jt.equal(s.post(UNKNOWN, message({"type": "subscribe", "channel": "x"})).body,
                 b"7:::1+0", "POST to an unknown session")
        jt.equal(s.get("not-a-sid").body, b"7:::1+0", "malformed sid")
    finally:
        events.close()


@test
def t_post_cors_and_bad_packets(env):
    """POST answers 1 with CORS for any Origin; packets it does not understand are ignored"""
    s = sio(env)
    sid = s.connected()
    r = s.post(sid, frame("2::", "5:::{}", "9:::x", message({"type": "nope"}),
                          message({"type": "subscribe", "channel": "bad channel"})),
               headers={"Origin": "http://127.0.0.1:18091"})
    jt.equal((r.status, r.body), (200, b"1"), "POST answer")
    jt.equal(r.headers.get("access-control-allow-origin"), "*", "CORS")
    jt.equal(r.headers.get("content-length"), "1", "Content-Length")
    r = s.post(sid, "4:::" + json.dumps({"type": "subscribe", "channel": "json4"}))
    jt.equal(r.body, b"1", "type 4 is a message too")
    jt.check(env.redis.command("SISMEMBER", env.prefix + "session:%s:channels" % sid, "json4") == 1,
             "subscribed through a type-4 packet")


# ---- jsonp-polling

@test
def t_jsonp(env):
    """jsonp-polling: io.j[i](...) answers, ASCII-only literals, form-encoded d= POSTs"""
    s = sio(env)
    sid, _ = s.handshake()
    r = s.get(sid, "jsonp-polling", i=0)
    jt.equal(r.body, b'io.j[0]("1::");', "connect packet")
    jt.equal(r.headers.get("x-xss-protection"), "0", "X-XSS-Protection")
    jt.check(r.headers.get("content-type", "").split(";")[0] in jt.JAVASCRIPT, "script type", r)
    d = "d=%223%3A%3A%3A%7B%5C%22type%5C%22%3A%5C%22subscribe%5C%22%2C%5C%22channel%5C%22%3A%5C%22channel1%5C%22%7D%22"
    r = s.post(sid, d, "jsonp-polling", i=0,
               headers={"Content-Type": "application/x-www-form-urlencoded"})
    jt.equal((r.status, r.body), (200, b"1"), "form POST")
    publish(env, "channel1", "hello")
    publish(env, "channel1", "tricky \u2028\u2029 </script> caf\u00e9 \U0001F600")
    queued(env, sid, 2)
    r = s.get(sid, "jsonp-polling", i=1)
    payload = frame('3:::{"data":"hello","channel":"channel1"}',
                    '3:::{"data":"tricky \u2028\u2029 </script> caf\u00e9 \U0001F600",'
                    '"channel":"channel1"}')
    want = "io.j[1](%s);" % json.dumps(payload).replace("</", "<\\/")
    jt.equal(r.text, want, "framed, escaped answer")
    jt.check("\\u2028\\u2029 <\\/script> caf\\u00e9 \\ud83d\\ude00" in r.text, "escapes", r.text)
    jt.check(all(b < 0x7f for b in r.body), "ASCII only")
    jt.equal(s.get(sid, "jsonp-polling", i="x)").status, 400, "non-numeric index")
    jt.equal(s.post(sid, "d=notjson", "jsonp-polling", i=0).status, 400, "d that is no JSON string")


# ---- htmlfile

def read_html(s, sid, seconds):
    r = s.get(sid, "htmlfile", timeout=seconds + 10)
    return r


@test
def t_htmlfile(env):
    """htmlfile: 256-byte head, <script>_(...)</script> per packet, noops, rollover 7:::1+0"""
    s = sio(env)
    sid, r = s.handshake()
    cookie = r.headers["set-cookie"].split(";")[0]
    s.post(sid, message({"type": "subscribe", "channel": "channel1"}))
    publish(env, "channel1", "hello htmlfile")
    queued(env, sid, 1)
    started = time.monotonic()
    r = read_html(s, sid, 3)
    took = time.monotonic() - started
    jt.check(2.5 <= took < 8, "rolled over after about 3 s, took %.1f" % took)
    jt.equal(r.headers.get("content-type"), "text/html; charset=UTF-8", "Content-Type")
    body = r.body
    jt.equal(len(HTMLFILE_HEAD), 83, "sanity")
    jt.equal(body[:256], HTMLFILE_HEAD + b" " * 173, "padded head of 256 bytes")
    scripts = re.findall(rb"<script>_\((.*?)\);</script>", body[256:])
    jt.equal(b"".join(b"<script>_(%s);</script>" % x for x in scripts), body[256:], "only scripts")
    jt.equal(scripts[:2], [b'"1::"', b'"3:::{\\"data\\":\\"hello htmlfile\\",\\"channel\\":\\"channel1\\"}"'],
             "connect, then the message")
    jt.check(b'"8::"' in scripts[2:-1], "noops keep the client's close timer", scripts)
    jt.equal(scripts[-1], b'"7:::1+0"', "rollover: reconnect, never 0::")
    jt.check(b'"0::"' not in scripts, "no disconnect packet")
    # The client answers the rollover with 0:: for the old sid and a new handshake.
    jt.equal(s.post(sid, "0::", "htmlfile").body, b"1", "its 0:: is accepted")
    sid2, _ = s.handshake(cookie=cookie)
    jt.equal(sid2, sid, "and ignored: the session is resumed")
    r = read_html(s, sid, 3)
    scripts = re.findall(rb"<script>_\((.*?)\);</script>", r.body[256:])
    jt.equal(scripts[0], b'"1::"', "connect again")
    jt.check(not any(b"hello htmlfile" in x for x in scripts), "what was read before the rollover "
             "is not sent again", scripts)


# ---- sessions across workers, expiry

@test
def t_any_worker_and_expiry(env):
    """any worker answers any request of a session (no sticky sessions); a page gone silent leaves at expiry"""
    other = SioLighttpd(os.path.join(env.dir, "second-web"), jt.WORKER_BIN, env.config_path)
    os.makedirs(other.dir)
    events = env.redis.subscribe("juggernaut:unsubscribe")
    try:
        other.start()
        a, b = sio(env), Sio(other.port)
        sid, _ = a.handshake()
        jt.equal(b.get(sid).body, b"1::", "the first GET, through the other web server and worker")
        jt.equal(b.post(sid, message({"type": "subscribe", "channel": "channel1"})).body, b"1", "subscribe POST")
        publish(env, "channel1", "across")
        jt.equal(a.get(sid).body, b'3:::{"data":"across","channel":"channel1"}', "delivery through the first")
        publish(env, "channel1", "and back")
        jt.equal(b.get(sid).body, b'3:::{"data":"and back","channel":"channel1"}', "and through the other")
        # The page goes away without 0:: (a closed tab): its session expires.
        silent = time.monotonic()
        # (Sessions of the tests before expire meanwhile too.)
        mine = lambda: [e for e in (json.loads(t) for _, t in events.wait(0, 0)) if e["session_id"] == sid]  # noqa: E731
        got = jt.wait_for(mine, SETTINGS["session_ttl"] * 3, "the session's unsubscribe event")
        took = time.monotonic() - silent
        jt.equal(got, [{"channel": "channel1", "meta": None, "session_id": sid}], "unsubscribe event at expiry")
        jt.check(took >= SETTINGS["session_ttl"] - 1, "left after %.1f s, not before session_ttl" % took)
        jt.equal(a.get(sid).body, b"7:::1+0", "the expired session is unknown")
    finally:
        events.close()
        other.stop()
        reports = jt.sanitizer_reports(other.logs)
        jt.check(not reports, "sanitizer reports of the second worker", reports)


# ---- Redis unavailable

@test
def t_redis_down(env):
    """Redis down: handshake, GET and POST fail fast (the client reconnects), logged once, then recover"""
    s = sio(env)
    sid = subscribed(env, s, channel="down")
    log = env.web.logs[0]
    with open(log, errors="replace") as f:
        before = f.read().count("Redis")
    env.redis.stop()
    try:
        started = time.monotonic()
        r = s.request("GET", "/1/?t=1")
        jt.check(r.status in (500, 503) and r.body == b"handshake error", "handshake without Redis", r)
        r = s.request("GET", "/1/?t=1&jsonp=2")
        jt.equal(r.body, b'io.j[2](new Error("handshake error"));', "JSONP handshake without Redis")
        for _ in range(5):
            jt.equal(s.get(sid).status, 503, "GET without Redis")
            jt.equal(s.post(sid, message({"type": "subscribe", "channel": "x"})).status, 503,
                     "POST without Redis")
        jt.check(time.monotonic() - started < 10, "answered fast")
    finally:
        env.redis.start()
    with open(log, errors="replace") as f:
        lines = f.read().count("Redis") - before
    jt.check(lines <= 3, "Redis trouble logged once, not per request (%d lines)" % lines)
    env.wait_pollers(1)
    jt.wait_for(lambda: s.get(sid).status == 200, 10, "GETs answered again")


# ---- the client scripts

@test
def t_scripts(env):
    """application.js and juggernaut.min.js are served, with the worker's base path in them"""
    for name in ("juggernaut.js", "application.js", "juggernaut.min.js"):
        r = env.http.get(name)
        jt.equal(r.status, 200, "GET /juggernaut/" + name)
        jt.check(r.headers.get("content-type", "").split(";")[0] in jt.JAVASCRIPT, "script type", r)
        jt.check(b'"/juggernaut"' in r.body and b"@JUGGERNAUT_BASE@" not in r.body,
                 name + ": the base mark is replaced by /juggernaut", r.body[:200])
        jt.equal(r.headers.get("content-length"), str(len(r.body)), "Content-Length")
    r = env.http.get("juggernaut.js", {"action": "x"})
    jt.check(b'"/juggernaut"' in r.body, "a query string does not change the base", r.body[:100])


def setup():
    env = jt.Env("socketio", web=SioLighttpd, **SETTINGS)
    static = os.path.join(env.dir, "static")
    os.mkdir(static)
    jt.shutil.copy(os.path.join(jt.SRCDIR, "client-js", "juggernaut.js"), static)
    built = os.path.join(jt.BUILDDIR, "client-js", "juggernaut.min.js")
    jt.shutil.copy(built if os.path.exists(built) else os.path.join(static, "juggernaut.js"),
                   os.path.join(static, "juggernaut.min.js"))
    jt.write_config(env.config_path, env.redis.url, static_dir=static, **SETTINGS)
    return env.start()


if __name__ == "__main__":
    jt.main(suite, setup)
