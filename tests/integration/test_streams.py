#!/usr/bin/env python3
# test_streams.py -- the exact wire format of the streaming transports.
#
# Real redis-server, lighttpd running juggernaut.fcgi, one poller, with short
# timings (keepalive every second, streams end after three) so that every
# record type shows up quickly. Each test reads a stream's raw bytes as
# docs/PROTOCOL.md ("Streaming transports: wire formats", "CORS") writes
# them down: sse, multipart, htmlfile and the Jugglite "stream" endpoint,
# their preambles, framing, keepalives and ends, resuming after the last id
# seen, escaping, error answers, and the life of a session while a stream
# holds it open and after the stream is gone.
import json
import os
import re
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import jugtest as jt  # noqa: E402
from webcases import Stream, parse_jugglite, parse_multipart  # noqa: E402

# About 60 s on an idle machine; the slow-reader test alone may take up to
# 110 s by its own deadlines (30 + 20 + 60), and took 55 s on a loaded one,
# where 90 s for the whole file cut off a distcheck.
suite = jt.Suite("test_streams", time_limit=240)
test = suite.test

KEEPALIVE = 1
MAX_DURATION = 3
POLL_TIMEOUT = 2
SESSION_TTL = 5
NAMESPACE = "app:"
ORIGIN = "http://app.example"
OTHER_ORIGIN = "http://evil.example"
UNKNOWN_SID = "AAAAAAAAAAAAAAAAAAAAAA"   # well-formed, never issued
BIG = 12345678901234567890              # more digits than a double holds
SETTINGS = dict(keepalive_interval=KEEPALIVE, stream_max_duration=MAX_DURATION,
                poll_timeout=POLL_TIMEOUT, session_ttl=SESSION_TTL,
                jugglite_namespace=NAMESPACE, cors_origins=ORIGIN)

SSE_KEEPALIVE = ": keepalive\nevent: keepalive\ndata: {}"
SSE_RECONNECT = "event: reconnect\ndata: {}"
HTML_HEAD = b'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
PART_RE = re.compile(rb"--jugpart\r\nContent-Type: application/json\r\n\r\n([^\r\n]*)\r\n")
DELIVERY_EVENT_RE = re.compile(r"id: (\d+)\ndata: (.*)")
JUGGLITE_ID_RE = re.compile(r"id: ([A-Za-z0-9_-]{22})\.(\d+)")


# ---- helpers

def compact(value):
    """JSON text as the tests publish it: compact, UTF-8 left as it is."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def publish(env, channel, data):
    """PUBLISH a Juggernaut message whose data text the test knows byte for byte."""
    env.redis.publish_raw(compact({"channels": [channel], "data": data}))


def delivery_text(id_, channel, data):
    """The delivery JSON of PROTOCOL.md 2, exactly."""
    return '{"id":%d,"channel":%s,"data":%s}' % (id_, compact(channel), compact(data))


def sse_blocks(body):
    """Complete SSE blocks (the text between blank lines), preamble included."""
    return body.decode("utf-8").split("\n\n")[:-1]


def sse_deliveries(body):
    """[(id, data line)] of the blocks that are deliveries."""
    out = []
    for block in sse_blocks(body):
        m = DELIVERY_EVENT_RE.fullmatch(block)
        if m:
            out.append((int(m.group(1)), m.group(2)))
    return out


def jugglite_events(body):
    """Blocks of a Jugglite stream that carry data (no preamble, no keepalives)."""
    return [b for b in sse_blocks(body) if "\ndata: " in "\n" + b]


def drain(stream, seconds):
    """Keep reading for a while (to catch anything that should not come)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not stream.closed:
        stream._recv(deadline)


def check_stream_headers(stream, content_type):
    jt.equal(stream.status, 200, "status")
    jt.check_headers(stream, content_type)
    jt.equal(stream.headers.get("x-accel-buffering"), "no", "X-Accel-Buffering")


def check_sse_preamble(body):
    """retry: 2000, then one comment line of at least 2 KiB."""
    pre = sse_blocks(body)[0].split("\n")
    jt.equal(pre[0], "retry: 2000", "first line of the preamble")
    jt.equal(len(pre), 2, "lines in the preamble block")
    jt.check(pre[1].startswith(":") and not pre[1][1:].strip(" "),
             "the preamble comment is not ':' and spaces", pre[1][:80])
    size = len(pre[1]) + 1
    jt.check(size >= 2048, "preamble comment of %d bytes, want 2 KiB" % size)


def htmlfile_scripts(body, callback):
    """The argument text of every <script>parent.<callback>(...);</script>."""
    pattern = re.compile(rb"<script>parent\." + re.escape(callback.encode()) +
                         rb"\((.*?)\);</script>\n", re.S)
    return [m.group(1) for m in pattern.finditer(body)]


def html_deliveries(body, callback="jugHtmlfile"):
    return [json.loads(a) for a in htmlfile_scripts(body, callback) if b'"id"' in a[:6]]


# ---- connect

@test
def t_connect_keepalive(env):
    """the connect response carries keepalive_interval with the other timings, and the
    transports this host offers (all of them behind lighttpd)"""
    r = env.http.post("connect", [("channel", "ka")])
    jt.equal(r.status, 200, "status")
    reply = r.json()
    jt.equal(sorted(reply), ["channels", "keepalive_interval", "poll_timeout", "session_id",
                             "session_ttl", "transports"], "keys of the connect response")
    jt.equal(reply["transports"], ["sse", "multipart", "htmlfile", "longpoll", "jsonp"], "transports")
    jt.equal(reply["keepalive_interval"], KEEPALIVE, "keepalive_interval")
    jt.equal(reply["poll_timeout"], POLL_TIMEOUT, "poll_timeout")
    jt.equal(reply["session_ttl"], SESSION_TTL, "session_ttl")
    jt.equal(reply["channels"], ["ka"], "channels")


# ---- sse

@test
def t_sse_format(env):
    """sse: headers, retry + 2 KiB comment, id/data deliveries, keepalive event, reconnect"""
    c = env.client(["sse1"])
    s = Stream(env.web, "sse", {"session_id": c.sid})
    started = time.monotonic()
    try:
        check_stream_headers(s, "text/event-stream")
        s.wait(sse_blocks, 1, 3, "the preamble")
        check_sse_preamble(s.body)
        sent = ["first", {"n": [1, 2.5, None, True], "s": "h\u00e9"}]
        for data in sent:
            publish(env, "sse1", data)
        got = s.wait(sse_deliveries, 2, 3, "two deliveries")
        for (id_, line), data in zip(got, sent):
            jt.equal(line, delivery_text(id_, "sse1", data), "data line of delivery %d" % id_)
        jt.check(got[0][0] < got[1][0], "ids increase", got)
        s.read_to_end(MAX_DURATION + 4)
        lasted = time.monotonic() - started
    finally:
        s.close()
    blocks = sse_blocks(s.body)[1:]
    jt.check(s.body.endswith(b"\n\n" + SSE_RECONNECT.encode() + b"\n\n"),
             "the stream does not end with event: reconnect", s.body[-200:])
    jt.equal(blocks[-1], SSE_RECONNECT, "last block")
    others = [b for b in blocks[:-1] if not DELIVERY_EVENT_RE.fullmatch(b)]
    jt.check(others and all(b == SSE_KEEPALIVE for b in others),
             "between deliveries only keepalive events (event: keepalive, data: {})", others)
    # Idle for MAX_DURATION - ~0.1 s after the deliveries: one keepalive a second.
    jt.check(MAX_DURATION // KEEPALIVE - 2 <= len(others) <= MAX_DURATION // KEEPALIVE,
             "%d keepalives in a %d s stream, keepalive_interval %d" % (
                 len(others), MAX_DURATION, KEEPALIVE))
    jt.check(MAX_DURATION - 0.5 <= lasted <= MAX_DURATION + 2.5,
             "stream lasted %.1f s, stream_max_duration is %d" % (lasted, MAX_DURATION))


@test
def t_sse_resume(env):
    """sse: Last-Event-ID n resumes after n and acknowledges up to n; ack= does the same"""
    c = env.client(["sse2"])
    s = Stream(env.web, "sse", {"session_id": c.sid})
    try:
        for data in ("a", "b", "c"):
            publish(env, "sse2", data)
        first = s.wait(sse_deliveries, 3, 3, "three deliveries")
    finally:
        s.close()
    ids = [i for i, _ in first]
    s = Stream(env.web, "sse", {"session_id": c.sid}, headers={"Last-Event-ID": str(ids[0])})
    try:
        s.wait(sse_deliveries, 2, 3, "the deliveries after Last-Event-ID")
        drain(s, 0.5)
    finally:
        s.close()
    jt.equal(sse_deliveries(s.body), [(ids[1], delivery_text(ids[1], "sse2", "b")),
                                      (ids[2], delivery_text(ids[2], "sse2", "c"))],
             "deliveries after Last-Event-ID %d" % ids[0])
    # Nothing acknowledged b and c yet; a was acknowledged by the header.
    jt.equal([m["id"] for m in env.http.poll(c.sid, 0, timeout=1)], ids[1:],
             "a poll without ack after the resumed stream")
    s = Stream(env.web, "sse", {"session_id": c.sid, "ack": ids[2]})
    try:
        s.wait(sse_blocks, 1, 3, "the preamble")
        publish(env, "sse2", "d")
        s.wait(sse_deliveries, 1, 3, "a new delivery")
        drain(s, 0.3)
    finally:
        s.close()
    got = sse_deliveries(s.body)
    jt.equal([line for _, line in got], [delivery_text(got[0][0], "sse2", "d")],
             "deliveries after ack=%d" % ids[2])


def sse_run(env, sid, ack, channel, data, count, headers=None):
    """Open an sse stream of sid with ack= (and headers), publish each data on
    channel, and return its deliveries once count arrived (and 0.5 s more,
    to catch repeats)."""
    s = Stream(env.web, "sse", {"session_id": sid, "ack": ack}, headers=headers)
    try:
        s.wait(sse_blocks, 1, 3, "the preamble")
        for d in data:
            publish(env, channel, d)
        s.wait(sse_deliveries, count, 3, "%d deliveries" % count)
        drain(s, 0.5)
    finally:
        s.close()
    return sse_deliveries(s.body)


@test
def t_sse_header_beats_stale_ack(env):
    """sse: a newer Last-Event-ID wins over the ack= EventSource reconnects with (issue 8)"""
    c = env.client(["sse3"])
    for data in ("a", "b"):
        publish(env, "sse3", data)
    env.wait_queued(c.sid, 2)
    first = [m["id"] for m in env.http.poll(c.sid, 0, timeout=1)]
    jt.equal(len(first), 2, "deliveries before the stream")
    # The page opens EventSource with ack= of what it had; the stream then
    # delivers c and d, and the browser reconnects to the same URL with
    # Last-Event-ID of d.
    seen = sse_run(env, c.sid, first[1], "sse3", ("c", "d"), 2)
    publish(env, "sse3", "e")
    got = sse_run(env, c.sid, first[1], "sse3", (), 1, {"Last-Event-ID": str(seen[1][0])})
    jt.equal([line for _, line in got], [delivery_text(got[0][0], "sse3", "e")],
             "only e after the reconnect, no repeats of c and d")
    # And an ack= newer than the header (a page that acknowledged more by
    # polling) is not undone by it.
    again = sse_run(env, c.sid, got[0][0], "sse3", (), 0, {"Last-Event-ID": str(seen[0][0])})
    jt.equal(again, [], "nothing repeated when ack= is the newer")


@test
def t_sse_errors(env):
    """sse: unknown session is a 410 JSON answer, a bad session id a 400, before any streaming"""
    r = env.http.get("sse", {"session_id": UNKNOWN_SID})
    jt.check_error(r, 410, "session_expired")
    for bad in ("bad", UNKNOWN_SID[:-1] + "!", UNKNOWN_SID + "A"):
        jt.check_error(env.http.get("sse", {"session_id": bad}), 400, "bad_request")
    jt.check_error(env.http.get("sse"), 400, "bad_request")


# ---- multipart

@test
def t_multipart_format(env):
    """multipart: content type, 2 KiB preamble, exact parts, keepalive part, reconnect part"""
    c = env.client(["mp"])
    s = Stream(env.web, "multipart", {"session_id": c.sid})
    try:
        check_stream_headers(s, "multipart/mixed")
        jt.equal(s.headers.get("content-type"), 'multipart/mixed; boundary="jugpart"',
                 "Content-Type")
        sent = ["one", {"big": BIG}]
        for data in sent:
            publish(env, "mp", data)
        s.wait(parse_multipart, 2, 3, "two parts")
        s.read_to_end(MAX_DURATION + 4)
    finally:
        s.close()
    preamble, _, rest = s.body.partition(b"--jugpart")
    jt.check(preamble.endswith(b"\r\n") and not preamble[:-2].strip(b" "),
             "the preamble is not spaces and CRLF", preamble[:80])
    jt.check(len(preamble) - 2 >= 2048, "preamble of %d bytes, want 2 KiB" % (len(preamble) - 2))
    rest = b"--jugpart" + rest
    parts = list(PART_RE.finditer(rest))
    jt.equal(b"".join(m.group(0) for m in parts), rest, "the body after the preamble as parts")
    records = [m.group(1).decode() for m in parts]
    got = [r for r in records if r.startswith('{"id":')]
    jt.equal(len(got), 2, "delivery parts")
    for text, data in zip(got, sent):
        jt.equal(text, delivery_text(json.loads(text)["id"], "mp", data), "delivery part")
    jt.equal(records[-1], '{"event":"reconnect"}', "last part")
    others = [r for r in records[:-1] if r not in got]
    jt.check(others and all(r == '{"event":"keepalive"}' for r in others),
             "besides deliveries only keepalive parts", others)


# ---- htmlfile

@test
def t_htmlfile_format(env):
    """htmlfile: head, 1 KiB padding, keepalive script at once, delivery scripts, jugHtmlfile"""
    c = env.client(["hf"])
    s = Stream(env.web, "htmlfile", {"session_id": c.sid})
    try:
        check_stream_headers(s, "text/html")
        # Before anything is published: a quiet channel's stream shows life.
        s._read_until(lambda: b"</script>" in s.body, 0.6,
                      "a first script right after the headers (keepalive_interval is %d s)"
                      % KEEPALIVE)
        jt.check(s.body.startswith(HTML_HEAD), "the document does not start with the head",
                 s.body[:120])
        first = s.body.index(b"<script")
        jt.check(first - len(HTML_HEAD) >= 1024, "only %d bytes of padding before the first "
                 "script, want 1 KiB" % (first - len(HTML_HEAD)))
        jt.check(s.body[first:].startswith(
            b'<script>parent.jugHtmlfile({"event":"keepalive"});</script>\n'),
            "the first script is not a keepalive for jugHtmlfile", s.body[first:first + 120])
        publish(env, "hf", "x")
        s.wait(html_deliveries, 1, 3, "a delivery script")
        s.read_to_end(MAX_DURATION + 4)
    finally:
        s.close()
    scripts = [a.decode() for a in htmlfile_scripts(s.body, "jugHtmlfile")]
    got = html_deliveries(s.body)
    jt.equal(len(got), 1, "deliveries")
    jt.check(delivery_text(got[0]["id"], "hf", "x") in scripts, "delivery script", scripts)
    jt.equal(scripts[-1], '{"event":"reconnect"}', "last script")
    others = [a for a in scripts[:-1] if not a.startswith('{"id":')]
    jt.check(len(others) >= 2 and all(a == '{"event":"keepalive"}' for a in others),
             "besides the delivery only keepalive scripts (the first one at once)", others)


@test
def t_htmlfile_escaping(env):
    """htmlfile: </script>, <!--, &, U+2028/U+2029 in data are escaped and decode back"""
    c = env.client(["hfx"])
    data = {"html": "</script><script>alert(1)</script>", "upper": "</SCRIPT >",
            "comment": "<!-- x -->", "amp": "&amp; & <b>", "seps": "a\u2028b\u2029c",
            "plain": "h\u00e9llo"}
    s = Stream(env.web, "htmlfile", {"session_id": c.sid, "callback": "jug.cb"})
    try:
        s.wait(lambda b: htmlfile_scripts(b, "jug.cb"), 1, 3, "the first script")
        publish(env, "hfx", data)
        s.wait(lambda b: [a for a in htmlfile_scripts(b, "jug.cb") if b'"id"' in a[:6]], 1, 3,
               "the delivery script")
    finally:
        s.close()
    arg = [a for a in htmlfile_scripts(s.body, "jug.cb") if b'"id"' in a[:6]][0]
    for bad in (b"<", b">", b"&", "\u2028".encode(), "\u2029".encode()):
        jt.check(bad not in arg, "%r left unescaped in the script" % bad, arg)
    delivery = json.loads(arg)
    jt.equal(delivery["data"], data, "data decoded from the script")
    jt.equal(sorted(delivery), ["channel", "data", "id"], "delivery keys")


@test
def t_htmlfile_bad_callback(env):
    """htmlfile: an invalid callback is a 400"""
    c = env.client(["hfc"])
    for cb in ("alert(1)//", "a-b", "a" * 100, "1abc", "a..b", "a.b.c.d.e"):
        r = env.http.get("htmlfile", {"session_id": c.sid, "callback": cb})
        jt.check_error(r, 400, "bad_request")


# ---- Jugglite stream

@test
def t_jugglite_format(env):
    """Jugglite stream: no connect, data is the published data itself, id is sid.n"""
    s = Stream(env.web, "stream", {"channel": "jla,jlb"})
    sent = [("jla", "line one\nline two\n\nline four"),
            ("jlb", {"n": BIG, "f": 1.5e300, "s": "\u00e9\"\\"}),
            ("jla", 42), ("jlb", "plain")]
    try:
        check_stream_headers(s, "text/event-stream")
        s.wait(sse_blocks, 1, 3, "the preamble")
        check_sse_preamble(s.body)
        for channel, data in sent:
            publish(env, channel, data)
        events = s.wait(jugglite_events, len(sent), 3, "%d events" % len(sent))
    finally:
        s.close()
    want_texts = [d if isinstance(d, str) else compact(d) for _, d in sent]
    jt.equal(parse_jugglite(s.body), want_texts, "data texts (data: lines rejoined)")
    sids, ns = set(), []
    for block, text in zip(events, want_texts):
        lines = block.split("\n")
        m = JUGGLITE_ID_RE.fullmatch(lines[0])
        jt.check(m, "first line of the event is not id: <sid>.<n>", block)
        sids.add(m.group(1))
        ns.append(int(m.group(2)))
        jt.equal(lines[1:], ["data: " + t for t in text.split("\n")], "data lines")
    jt.equal(len(sids), 1, "sessions in the ids")
    jt.equal(ns, sorted(ns), "delivery ids in order")
    sid = sids.pop()
    jt.equal(sorted(env.redis.command("SMEMBERS", env.prefix + "session:%s:channels" % sid)),
             ["jla", "jlb"], "channels of the stream's session")


@test
def t_jugglite_resume(env):
    """Jugglite stream: Last-Event-ID sid.n resumes the session with nothing lost or repeated"""
    s = Stream(env.web, "stream", {"channel": "jlr"})
    try:
        s.wait(sse_blocks, 1, 3, "the preamble")
        publish(env, "jlr", "one")
        block = s.wait(jugglite_events, 1, 3, "the first event")[0]
    finally:
        s.close()
    sid, n1 = JUGGLITE_ID_RE.match(block).groups()
    publish(env, "jlr", "two")
    publish(env, "jlr", "three")
    s = Stream(env.web, "stream", {"channel": "jlr"},
               headers={"Last-Event-ID": "%s.%s" % (sid, n1)})
    try:
        s.wait(jugglite_events, 2, 3, "the events published while away")
        # Idle beyond keepalive_interval: the keepalive is a comment.
        drain(s, KEEPALIVE + 0.5)
    finally:
        s.close()
    events = jugglite_events(s.body)
    jt.equal(parse_jugglite(s.body), ["two", "three"], "events after the reconnect")
    ids = [JUGGLITE_ID_RE.match(e).groups() for e in events]
    jt.equal([i[0] for i in ids], [sid, sid], "session of the resumed stream")
    jt.check(int(n1) < int(ids[0][1]) < int(ids[1][1]), "ids increase", n1, ids)
    jt.check(": keepalive" in sse_blocks(s.body), "no ': keepalive' comment",
             sse_blocks(s.body)[1:])
    # An expired session (and one never issued) gets a fresh session.
    jt.equal(env.http.ok_json("POST", "disconnect", body={"session_id": sid}), {"ok": True},
             "disconnect")
    for dead in ("%s.%s" % (sid, ids[1][1]), UNKNOWN_SID + ".5"):
        s = Stream(env.web, "stream", {"channel": "jlr"}, headers={"Last-Event-ID": dead})
        try:
            jt.equal(s.status, 200, "status with a dead Last-Event-ID")
            s.wait(sse_blocks, 1, 3, "the preamble")
            publish(env, "jlr", "fresh")
            block = s.wait(jugglite_events, 1, 3, "an event on the fresh session")[0]
        finally:
            s.close()
        new_sid = JUGGLITE_ID_RE.match(block).group(1)
        jt.check(new_sid not in (sid, UNKNOWN_SID), "Last-Event-ID %s did not get a fresh "
                 "session" % dead, block)
        jt.equal(parse_jugglite(s.body), ["fresh"], "events of the fresh session")


def jugglite_raw(env, channel, payloads, count, headers=None):
    """Open a Jugglite stream on channel, PUBLISH each raw payload on
    <namespace><channel>, and return the body once count events arrived (and
    a moment more, to catch any that should not come)."""
    s = Stream(env.web, "stream", {"channel": channel}, headers=headers)
    try:
        s.wait(sse_blocks, 1, 3, "the preamble")
        for payload in payloads:
            env.redis.publish_raw(payload, channel=NAMESPACE + channel)
        s.wait(jugglite_events, count, 3, "%d event(s)" % count)
        drain(s, 0.3)
    finally:
        s.close()
    return s.body


@test
def t_jugglite_raw_publish(env):
    """Jugglite stream: raw PUBLISH <namespace><channel> text and JSON with event and id"""
    note = '{"event":"note","id":"x1","v":1}'
    events = jugglite_events(jugglite_raw(env, "jraw", ["plain text", note], 2))
    m = JUGGLITE_ID_RE.fullmatch(events[0].split("\n")[0])
    jt.check(m, "first line of the plain event is not id: <sid>.<n>", events[0])
    jt.equal(events[0].split("\n")[1:], ["data: plain text"], "plain text event")
    lines = events[1].split("\n")
    jt.equal(lines[0], "event: note", "event line of the JSON event")
    m2 = JUGGLITE_ID_RE.fullmatch(lines[1])
    jt.check(m2 and m2.group(1) == m.group(1) and int(m2.group(2)) > int(m.group(2)),
             "the id of a message with its own id is still <sid>.<n>", events[1])
    jt.equal(lines[2:], ["data: " + note], "the message's own id stays in its data")


@test
def t_jugglite_own_id_resume(env):
    """Jugglite stream: after a message with its own id, a reconnect loses nothing (issue 8)"""
    block = jugglite_events(jugglite_raw(env, "jown", ['{"id":"app-7","v":1}'], 1))[0]
    # What EventSource sends back: the id: field of the last event it saw.
    last_id = [ln[4:] for ln in block.split("\n") if ln.startswith("id: ")][-1]
    sid = last_id.split(".")[0]
    env.redis.publish_raw('{"id":"app-8","v":2}', channel=NAMESPACE + "jown")
    env.redis.publish_raw("three", channel=NAMESPACE + "jown")
    body = jugglite_raw(env, "jown", [], 2, headers={"Last-Event-ID": last_id})
    jt.equal(parse_jugglite(body), ['{"id":"app-8","v":2}', "three"],
             "events after reconnecting with Last-Event-ID %s" % last_id)
    jt.equal({JUGGLITE_ID_RE.match(e).group(1) for e in jugglite_events(body)}, {sid},
             "the same session resumed")


# ---- sessions held by streams

@test
def t_stream_keeps_session(env):
    """an open stream keeps its session past session_ttl; it lapses once the client left"""
    conf = jt.write_config(os.path.join(env.dir, "juggernaut-long.conf"), env.redis.url,
                           **dict(SETTINGS, stream_max_duration=SESSION_TTL + 4))
    workdir = os.path.join(env.dir, "long-streams")
    os.makedirs(workdir, exist_ok=True)
    web = jt.Lighttpd(workdir, jt.WORKER_BIN, conf)
    sub = env.redis.subscribe("juggernaut:unsubscribe")
    try:
        web.start()
        c = jt.Client(web.http, ["held"])

        def lapsed():
            events = [json.loads(text) for _, text in sub.wait(0, 0)]
            return [e for e in events if e["session_id"] == c.sid]
        s = Stream(web, "sse", {"session_id": c.sid})
        try:
            drain(s, SESSION_TTL + 1.5)   # nothing but this stream touches the session
            jt.check(not s.closed, "the stream ended early", s.body[-200:])
            jt.equal(lapsed(), [], "unsubscribe events while the stream is open")
            publish(env, "held", "still here")
            got = s.wait(sse_deliveries, 1, 3, "a delivery after session_ttl")
            jt.equal(got[0][1], delivery_text(got[0][0], "held", "still here"), "delivery")
        finally:
            s.close()
        left = time.monotonic()
        events = jt.wait_for(lapsed, SESSION_TTL + 4, "juggernaut:unsubscribe for the session")
        took = time.monotonic() - left
        jt.equal(events, [{"channel": "held", "session_id": c.sid, "meta": None}],
                 "unsubscribe event")
        jt.check(took >= SESSION_TTL - KEEPALIVE - 1, "the session lapsed %.1f s after the "
                 "client left, session_ttl is %d" % (took, SESSION_TTL))
        jt.check_error(env.http.get("sse", {"session_id": c.sid}), 410, "session_expired")
    finally:
        sub.close()
        web.stop()
        env.web.logs += web.logs


@test
def t_stream_outlives_ttl_with_long_keepalive(env):
    """a quiet stream keeps its session even when keepalive_interval exceeds session_ttl"""
    conf = jt.write_config(os.path.join(env.dir, "juggernaut-slowka.conf"), env.redis.url,
                           **dict(SETTINGS, keepalive_interval=SESSION_TTL * 3,
                                  stream_max_duration=SESSION_TTL * 4))
    workdir = os.path.join(env.dir, "slow-keepalive")
    os.makedirs(workdir, exist_ok=True)
    web = jt.Lighttpd(workdir, jt.WORKER_BIN, conf)
    try:
        web.start()
        c = jt.Client(web.http, ["slowka"])
        s = Stream(web, "sse", {"session_id": c.sid})
        try:
            drain(s, SESSION_TTL + 2)   # nothing but this stream touches the session
            jt.check(not s.closed, "the stream ended early", s.body[-200:])
            r = web.http.get("meta", {"session_id": c.sid, "meta": "1"})
            jt.equal(r.status, 200, "meta on the session held by the stream")
        finally:
            s.close()
    finally:
        web.stop()
        env.web.logs += web.logs


# ---- a client that leaves mid stream

@test
def t_stream_not_read(env):
    """sse: a browser that stops reading is cut off once 1 MiB waits in the worker and none of it went for 2 s;
    reconnecting from its last id, it gets every message exactly once"""
    # Its own stack: streams that last (this suite's end after 3 s).
    own = jt.Env("stream-backlog", stream_max_duration=120, keepalive_interval=15).start()
    payload = "x" * 60000
    count = 200   # 12 MB: more than lighttpd's socket buffers (4 MB here) and the worker's 1 MiB
    try:
        c = own.client(["unread"])
        s = Stream(own.web, "sse", {"session_id": c.sid})
        s.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)   # a bounded window: the load piles up
        try:
            s.wait(sse_blocks, 1, 5, "the preamble")
            for i in range(count):
                own.redis.publish(["unread"], {"n": i, "pad": payload})

            def logged():
                return any("does not take its output" in open(p, errors="replace").read()
                           for p in own.logs())
            # The channel stays live (each message makes the worker look again).
            deadline = time.monotonic() + 30
            while not logged():
                jt.check(time.monotonic() < deadline, "the worker to end the stream nobody reads in 30 s")
                own.redis.publish(["unread"], {"n": count})
                count += 1
                time.sleep(0.2)
            s.read_to_end(20, "the end of the cut-off stream")
        finally:
            s.close()
        first = [json.loads(line) for _, line in sse_deliveries(s.body)]
        jt.check(len(first) < count, "the cut-off stream did not carry everything", len(first))
        last = first[-1]["id"] if first else 0
        s = Stream(own.web, "sse", {"session_id": c.sid},
                   headers={"Last-Event-ID": str(last)} if last else None)
        # A slow reader now: the several MB it catches up on wait in the
        # worker for seconds, and the stream must stay open while it reads.
        marker = ('{"n": %d}' % (count - 1)).encode()   # the last, small message
        deadline = time.monotonic() + 60
        try:
            while marker not in s.body[-(65536 + len(marker)):]:
                jt.check(not s.closed, "the resumed stream stays open while its reader keeps reading")
                jt.check(time.monotonic() < deadline, "the rest after Last-Event-ID within 60 s")
                s._recv(deadline)
                time.sleep(0.1)   # pacing: a reader of about 600 KB/s
            drain(s, 0.3)
        finally:
            s.close()
        got = first + [json.loads(line) for _, line in sse_deliveries(s.body)]
        jt.equal([m["data"]["n"] for m in got], list(range(count)), "every message once, in order")
    finally:
        own.stop()
        reports = jt.sanitizer_reports(own.logs())
        own.cleanup(keep=bool(reports))
    jt.check(not reports, "sanitizer reports in the logs of the stream-backlog stack", reports)


def in_queue(env, sid, data):
    """Until the poller has pushed the delivery of data into the session's queue."""
    key = env.prefix + "session:%s:queue" % sid
    jt.wait_for(lambda: any('"data":%s' % compact(data) in item
                            for item in env.redis.command("LRANGE", key, 0, -1)),
                3, "%r in %s" % (data, key))


def mid_close(endpoint):
    """Twice a client leaves with a delivery on its way and reconnects with the
    last id it saw: once closing right after the publish, once after the
    worker took the delivery for this stream. The delivery must come again."""
    def params(sid, last):
        if endpoint == "multipart":
            return {"session_id": sid, "ack": last}, None
        if endpoint == "htmlfile":
            return {"session_id": sid, "ack": last, "callback": "cb"}, None
        return {"session_id": sid}, {"Last-Event-ID": str(last)} if last else None

    def parse(body):
        if endpoint == "sse":
            return [json.loads(line) for _, line in sse_deliveries(body)]
        if endpoint == "multipart":
            return [r for r in parse_multipart(body) if "id" in r]
        return html_deliveries(body, "cb")

    def run(env):
        channel = "gone-" + endpoint
        c = env.client([channel])
        last = 0
        for round_, data in enumerate(("first", "second", "third")):
            p, h = params(c.sid, last)
            s = Stream(env.web, endpoint, p, headers=h)
            try:
                if round_ == 0:
                    publish(env, channel, data)
                seen = s.wait(parse, 1, 3, "the delivery sent while the client left")
                drain(s, 0.3)
                if round_ < 2:
                    publish(env, channel, ("second", "third")[round_])
                if round_ == 1:
                    in_queue(env, c.sid, "third")
            finally:
                s.close()
            jt.equal([m["data"] for m in parse(s.body)], [data],
                     "deliveries of stream %d" % (round_ + 1))
            last = seen[0]["id"]
    run.__doc__ = "%s: a client that closes mid stream gets the delivery on reconnect" % endpoint
    run.__name__ = "t_mid_close_" + endpoint
    return run


for _endpoint in ("sse", "multipart", "htmlfile"):
    test(mid_close(_endpoint))


@test
def t_mid_close_jugglite(env):
    """Jugglite stream: a client that closes mid stream gets the event on reconnect"""
    headers = None
    sid = None
    for round_, data in enumerate(("first", "second", "third")):
        s = Stream(env.web, "stream", {"channel": "gone-jl"}, headers=headers)
        try:
            s.wait(sse_blocks, 1, 3, "the preamble")
            if round_ == 0:
                publish(env, "gone-jl", data)
            block = s.wait(jugglite_events, 1, 3, "the event sent while the client left")[0]
            drain(s, 0.3)
            sid = sid or JUGGLITE_ID_RE.match(block).group(1)
            if round_ < 2:
                publish(env, "gone-jl", ("second", "third")[round_])
            if round_ == 1:
                in_queue(env, sid, "third")
        finally:
            s.close()
        jt.equal(parse_jugglite(s.body), [data], "events of stream %d" % (round_ + 1))
        m = JUGGLITE_ID_RE.match(block)
        jt.equal(m.group(1), sid, "session of stream %d" % (round_ + 1))
        headers = {"Last-Event-ID": m.group(0)[len("id: "):]}


# ---- CORS

@test
def t_stream_cors(env):
    """CORS on streams: headers for an allowed origin only; preflight allows Last-Event-ID"""
    c = env.client(["cors"])
    for endpoint, params in (("sse", {"session_id": c.sid}), ("stream", {"channel": "cors"})):
        s = Stream(env.web, endpoint, params, headers={"Origin": ORIGIN})
        s.close()
        jt.equal(s.status, 200, "status of %s" % endpoint)
        jt.equal(s.headers.get("access-control-allow-origin"), ORIGIN, "allowed origin")
        jt.equal(s.headers.get("access-control-allow-credentials"), "true", "credentials")
        jt.check("origin" in s.headers.get("vary", "").lower(), "Vary: Origin", s.headers)
        s = Stream(env.web, endpoint, params, headers={"Origin": OTHER_ORIGIN})
        s.close()
        jt.equal(s.status, 200, "status of %s" % endpoint)
        jt.check(not any(k.startswith("access-control-") for k in s.headers),
                 "CORS headers for an origin not allowed", s.headers)
    r = env.http.request("OPTIONS", "sse", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "last-event-id"})
    jt.equal(r.status, 204, "preflight status")
    jt.equal(r.headers.get("access-control-allow-origin"), ORIGIN, "preflight origin")
    jt.equal(r.headers.get("access-control-allow-methods"), "GET, POST, OPTIONS", "allowed methods")
    allowed = [h.strip().lower()
               for h in r.headers.get("access-control-allow-headers", "").split(",")]
    for h in ("content-type", "last-event-id", "x-requested-with"):
        jt.check(h in allowed, "preflight does not allow %s" % h, r.headers)
    r = env.http.request("OPTIONS", "sse", headers={
        "Origin": OTHER_ORIGIN, "Access-Control-Request-Method": "GET"})
    jt.check(not any(k.startswith("access-control-") for k in r.headers),
             "preflight grants an origin not allowed", r)


def setup():
    return jt.Env("streams", **SETTINGS).start()


if __name__ == "__main__":
    jt.main(suite, setup)
