#!/usr/bin/env python3
# test_delivery.py -- publish -> poller -> Redis lists -> long-poll, end to end.
#
# Real redis-server, lighttpd running juggernaut.fcgi, one poller. Checks exact
# contents, ids and order of deliveries: latency, except, several channels,
# acknowledgement and redelivery of cut-off responses, and that malformed
# publishes are dropped without disturbing the good ones around them.
import glob
import json
import os
import socket
import struct
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import jugtest as jt  # noqa: E402
from webcases import Stream, parse_sse  # noqa: E402

suite = jt.Suite("test_delivery", time_limit=150)
test = suite.test


def data_of(msgs):
    return [m["data"] for m in msgs]


@test
def t_publish_then_poll(env):
    """a published message is delivered by long-poll with its exact content"""
    c = env.client(["d1"])
    env.redis.publish(["d1"], {"x": 1, "s": "h\u00e9llo \u2028"})
    got = c.collect(1)
    jt.equal(len(got), 1, "number of deliveries")
    m = got[0]
    jt.equal(sorted(m.keys()), ["channel", "data", "id"], "delivery keys")
    jt.equal(m["channel"], "d1", "channel")
    jt.equal(m["data"], {"x": 1, "s": "h\u00e9llo \u2028"}, "data")
    jt.check(isinstance(m["id"], int) and m["id"] > 0, "id is a positive integer", m)
    jt.equal(c.poll(timeout=1), [], "after ack, nothing more")


@test
def t_latency(env):
    """a waiting long-poll answers within 1 s of the publish"""
    c = env.client(["lat"])
    result = {}

    def poll():
        result["msgs"] = env.http.poll(c.sid, 0, timeout=5)
        result["at"] = time.monotonic()

    t = threading.Thread(target=poll)
    t.start()
    env.wait_held(c.sid)
    jt.check("at" not in result, "poll answered before anything was published", result)
    published = time.monotonic()
    env.redis.publish(["lat"], "now")
    t.join(10)
    jt.check("at" in result, "poll did not answer")
    delay = result["at"] - published
    jt.equal(data_of(result["msgs"]), ["now"], "delivered data")
    jt.check(delay < 1.0, "latency %.3f s, want < 1 s" % delay)
    jt.diag("latency %.1f ms" % (delay * 1000))


@test
def t_queued_between_polls(env):
    """messages published while no poll waits are kept, in order, for the next poll"""
    c = env.client(["q"])
    for i in range(5):
        env.redis.publish(["q"], i)
    env.wait_queued(c.sid, 5)
    msgs = c.poll(timeout=1)
    jt.equal(data_of(msgs), [0, 1, 2, 3, 4], "data in publish order")
    ids = [m["id"] for m in msgs]
    jt.equal(ids, sorted(set(ids)), "ids strictly increasing")


@test
def t_except_string(env):
    """except (a session id string) skips that session only"""
    a, b = env.client(["ex"]), env.client(["ex"])
    env.redis.publish(["ex"], "not for a", except_=a.sid)
    env.redis.publish(["ex"], "for all")
    jt.equal(data_of(a.collect(1)), ["for all"], "a's deliveries")
    jt.equal(data_of(b.collect(2)), ["not for a", "for all"], "b's deliveries")


@test
def t_except_array(env):
    """except as an array of ids (numbers accepted) skips the listed sessions"""
    a, b, c = env.client(["exa"]), env.client(["exa"]), env.client(["exa"])
    env.redis.publish(["exa"], 1, except_=[a.sid, 12345, c.sid])
    env.redis.publish(["exa"], 2, except_=42)
    env.redis.publish(["exa"], 3, except_=[])
    jt.equal(data_of(a.collect(2)), [2, 3], "a's deliveries")
    jt.equal(data_of(b.collect(3)), [1, 2, 3], "b's deliveries")
    jt.equal(data_of(c.collect(2)), [2, 3], "c's deliveries")


@test
def t_several_channels(env):
    """one message for several channels: one delivery per subscribed channel, distinct ids"""
    c = env.client(["mc1", "mc2"])
    other = env.client(["mc3"])
    env.redis.publish(["mc1", "mc2", "mc3"], "multi")
    got = c.collect(2, settle=0.5)
    jt.equal([(m["channel"], m["data"]) for m in got], [("mc1", "multi"), ("mc2", "multi")],
             "deliveries")
    jt.check(got[0]["id"] < got[1]["id"], "distinct increasing ids", got)
    o = other.collect(1)
    jt.equal([(m["channel"], m["data"]) for m in o], [("mc3", "multi")], "other session")
    jt.check(o[0]["id"] not in (got[0]["id"], got[1]["id"]), "ids unique across channels", o, got)


@test
def t_channel_shorthand_and_types(env):
    """'channel' shorthand and every JSON data type pass through unchanged"""
    c = env.client(["ty", "/observer/42", "user:7"])
    values = ["text", 3.5, -7, True, False, None, [1, "two", {"3": []}], {"deep": {"er": [None]}}]
    for v in values:
        env.redis.publish(["ty"], v)
    env.redis.command("PUBLISH", "juggernaut", '{"channel":"/observer/42","data":"short"}')
    env.redis.command("PUBLISH", "juggernaut", '{"channels":["user:7"]}')
    got = c.collect(len(values) + 2)
    jt.equal(data_of(got), values + ["short", None], "data")
    jt.equal([m["channel"] for m in got][-2:], ["/observer/42", "user:7"], "channels")


@test
def t_many_in_order(env):
    """100 quick publishes arrive exactly once each, in order"""
    c = env.client(["many"])
    for i in range(100):
        env.redis.publish(["many"], i)
    got = c.collect(100, within=10, settle=0.5)
    jt.equal(data_of(got), list(range(100)), "data")


@test
def t_no_ack_redelivers(env):
    """a poll that does not acknowledge gets the same deliveries again; acked ones are gone"""
    c = env.client(["ack"])
    env.redis.publish(["ack"], "a")
    env.redis.publish(["ack"], "b")
    env.wait_queued(c.sid, 2)
    first = env.http.poll(c.sid, 0, timeout=1)
    jt.equal(data_of(first), ["a", "b"], "first poll")
    again = env.http.poll(c.sid, 0, timeout=1)
    jt.equal(again, first, "same deliveries again without ack")
    part = env.http.poll(c.sid, first[0]["id"], timeout=1)
    jt.equal(part, first[1:], "after acking the first")
    env.redis.publish(["ack"], "c")
    rest = env.http.poll(c.sid, first[1]["id"], timeout=2)
    jt.equal(data_of(rest), ["c"], "after acking both")
    jt.equal(env.http.poll(c.sid, rest[0]["id"], timeout=1), [], "all acked")


@test
def t_cut_off_response(env):
    """a response cut off after its headers is delivered again by the next poll"""
    c = env.client(["cut"])
    env.redis.publish(["cut"], "lost on the way")
    env.wait_queued(c.sid, 1)
    req = ("GET /juggernaut/poll?session_id=%s&ack=0&timeout=1 HTTP/1.1\r\n"
           "Host: 127.0.0.1\r\nConnection: close\r\n\r\n" % c.sid).encode()
    head = env.http.raw(req, read_bytes=12)
    jt.check(head.startswith(b"HTTP/1.1 200"), "cut-off request started a 200", head)
    env.redis.publish(["cut"], "after")
    got = c.collect(2)
    jt.equal(data_of(got), ["lost on the way", "after"], "next polls")


@test
def t_abandoned_wait(env):
    """a long-poll abandoned while waiting does not swallow the next message"""
    c = env.client(["aband"])
    req = ("GET /juggernaut/poll?session_id=%s&ack=0&timeout=3 HTTP/1.1\r\n"
           "Host: 127.0.0.1\r\nConnection: close\r\n\r\n" % c.sid).encode()
    # Gives up while it waits (the worker may already have sent its headers).
    got = env.http.raw(req, read_bytes=None, timeout=0.5)
    jt.check(b'"messages"' not in got, "the abandoned poll answered before any publish", got)
    env.redis.publish(["aband"], "x")
    msgs = c.collect(1, within=8)
    jt.equal(data_of(msgs), ["x"], "delivered to the next poll")


@test
def t_ended_session_keys_gone(env):
    """an ended session leaves none of its keys in Redis, and a poll for it is a 410"""
    c = env.client(["ended"])
    env.redis.publish(["ended"], "x")
    env.wait_queued(c.sid, 1)
    jt.equal(env.http.get("disconnect", {"session_id": c.sid}).status, 200, "disconnect")
    stem = env.prefix + "session:%s" % c.sid
    jt.equal(env.redis.command("EXISTS", stem, stem + ":channels", stem + ":queue"), 0,
             "keys of the ended session left in Redis")
    jt.check_error(env.http.get("poll", {"session_id": c.sid, "timeout": 1}), 410, "session_expired")


@test
def t_post_poll(env):
    """poll works as a form POST too"""
    c = env.client(["postpoll"])
    env.redis.publish(["postpoll"], "p")
    env.wait_queued(c.sid, 1)
    r = env.http.post("poll", {"session_id": c.sid, "ack": 0, "timeout": 1})
    jt.equal(r.status, 200, "status")
    jt.check_headers(r)
    jt.equal(data_of(r.json()["messages"]), ["p"], "data")


@test
def t_malformed_publishes(env):
    """malformed publishes are dropped without disturbing good ones around them"""
    c = env.client(["mal"])
    bad = [
        "not json",
        "",
        "[1,2]",
        '"mal"',
        '{"channels":"mal","data":1}',
        '{"channels":[],"data":1}',
        '{"channels":[1],"data":1}',
        '{"channels":["mal",7],"data":1}',
        '{"data":1}',
        '{"channels":["mal","bad name"],"data":1}',
        '{"channels":["mal","a,b"],"data":1}',
        '{"channels":["mal","<x>"],"data":1}',
        '{"channels":["mal","' + "x" * 129 + '"],"data":1}',
        '{"channels":["mal"],"data":1,"except":{"a":1}}',
        '{"channels":["mal"],"data":1,"except":[{}]}',
        '{"channels":["mal"],"data":"' + "y" * 5000 + '"}',
        '{"channels":["mal",' + ",".join('"c%d"' % i for i in range(11)) + '],"data":1}',
        '{"channels":["mal"],"data":1',
        '{"channels":["mal"],"data":\x00}',
    ]
    env.redis.publish(["mal"], "first")
    for i, text in enumerate(bad):
        env.redis.publish_raw(text)
        env.redis.publish(["mal"], "good %d" % i)
    env.redis.publish(["mal"], "last")
    want = ["first"] + ["good %d" % i for i in range(len(bad))] + ["last"]
    got = c.collect(len(want), within=10, settle=0.5)
    jt.equal(data_of(got), want, "exact sequence")
    jt.check(all(p.alive() for p in env.pollers), "poller still running")


@test
def t_ids_never_go_backwards(env):
    """Redis forgets its counter (an older snapshot restored): the next ids are still
    higher than every id a client has seen, so nothing new is dropped as a repeat"""
    c = env.client(["ids"])
    env.redis.publish(["ids"], "before")
    before = c.collect(1)
    seen = before[0]["id"]
    # What restoring an older RDB does to the counter: it goes back.
    env.redis.command("SET", env.prefix + "seq", "5")
    env.redis.publish(["ids"], "after")
    after = c.collect(1)
    jt.equal([m["data"] for m in after], ["after"], "the message published after the restore")
    jt.check(after[0]["id"] > seen, "the new id %d is not above the last one seen %d" % (after[0]["id"], seen))
    jt.check(after[0]["id"] < 2 ** 53, "ids stay exact in JavaScript", after[0]["id"])


@test
def t_older_snapshot(env):
    """Redis restarts from an older RDB snapshot (its counter and queues go back): the
    client's next deliveries are not dropped as repeats, an ack from before is
    understood, and the client is told it missed what went with the data"""
    snap = jt.Env("snapshot", poll_timeout=2, poller_lease_ms=1500).start()
    try:
        c = snap.client(["snap"])
        snap.redis.publish(["snap"], "a")
        jt.equal(data_of(c.collect(1)), ["a"], "before the snapshot")
        snap.redis.command("SAVE")                    # what Redis comes back from
        for d in ("b", "c"):
            snap.redis.publish(["snap"], d)
        jt.equal(data_of(c.collect(2)), ["b", "c"], "after the snapshot")
        snap.redis.publish(["snap"], "d")             # queued, never received: goes with the data
        snap.wait_queued(c.sid, 1)
        seen = c.ack
        snap.redis.proc.kill()                        # kill -9: no save at shutdown
        snap.redis.start()                            # loads the snapshot
        jt.equal(int(snap.redis.command("GET", snap.prefix + "seq")) < seen, True,
                 "the snapshot's counter is below the ids the client saw")
        snap.wait_pollers(1, timeout=15)
        told, again = {}, []

        def missed_told():
            r = snap.http.get("poll", {"session_id": c.sid, "ack": c.ack, "timeout": 0})
            if r.status != 200:
                return False
            reply = r.json()
            # "d" may come back: if the poller lost the answer to its fan-out
            # with the connection, it makes it again (the counter went back:
            # PROTOCOL.md 5), with a new id; the client never had it.
            again.extend(reply["messages"])
            told["missed"] = reply.get("missed")
            return "missed" in reply
        jt.wait_for(missed_told, 10, "the poll that tells the client it missed deliveries")
        jt.equal(told["missed"], True, "missed: an unknown number")
        jt.check(set(data_of(again)) <= {"d"}, "nothing the client had comes again", again)
        jt.check(all(m["id"] > seen for m in again), "a message fanned out again has a new id", again)
        c.ack = max([c.ack] + [m["id"] for m in again])
        snap.redis.publish(["snap"], "e")
        got = c.collect(1, within=5, settle=0.3)
        jt.equal(data_of(got), ["e"], "published after the restart, received once")
        jt.check(got[0]["id"] > seen, "the new id %d is above the last one seen %d" % (got[0]["id"], seen))
    finally:
        snap.stop()
        reports = jt.sanitizer_reports(snap.logs())
        snap.cleanup(keep=bool(reports))
    jt.check(not reports, "sanitizer reports in the logs of the snapshot stack", reports)


def sse_blocks(body):
    return body.split(b"\n\n")[:-1]


def sse_records(body):
    """[(event name or None, data JSON)] of an SSE body's blocks that carry data."""
    out = []
    for block in body.decode("utf-8").split("\n\n")[:-1]:
        event, data = None, None
        for line in block.split("\n"):
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
        if data is not None and event != "keepalive":
            out.append((event, data))
    return out


@test
def t_trimmed_queue_told(env):
    """more than max_queue deliveries wait: the oldest are dropped, and the next request
    says how many ("missed"), once: a long-poll in its answer, a stream in a first
    record; trimmed deliveries the client had (answered, written to its stream) are
    not reported; the worker logs it without one line per session"""
    small = jt.Env("trim", max_queue=5, stream_max_duration=30).start()   # max_queue 5
    try:
        def publish_and_wait_lost(sids, count, lost, channel="trim"):
            for i in range(count):
                small.redis.publish([channel], i)
            for sid in sids:
                skey = small.prefix + "session:%s" % sid
                jt.wait_for(lambda: small.redis.command("HGET", skey, "lost") == str(lost), 5,
                            "the fan-out to count %d trimmed deliveries" % lost)

        def poll(sid, ack):
            return small.http.get("poll", {"session_id": sid, "ack": ack, "timeout": 0}).json()

        # Long-poll: 8 queued, the first 3 trimmed before the client had them.
        c = small.client(["trim"])
        publish_and_wait_lost([c.sid], 8, 3)
        r = poll(c.sid, 0)
        jt.equal([m["data"] for m in r["messages"]], [3, 4, 5, 6, 7], "the newest max_queue deliveries")
        jt.equal(r.get("missed"), 3, "missed")
        last = r["messages"][-1]["id"]
        r = poll(c.sid, last)
        jt.equal(r, {"messages": []}, "the next poll: nothing more, missed told once")

        # Long-poll: an answer not yet acknowledged, trimmed by what came next:
        # the client had those, so nothing is missed.
        small.redis.publish(["trim"], "a")
        small.wait_queued(c.sid, 1)
        r = poll(c.sid, last)
        jt.equal([m["data"] for m in r["messages"]], ["a"], "one answered delivery")
        publish_and_wait_lost([c.sid], 5, 1)
        r = poll(c.sid, r["messages"][-1]["id"])
        jt.equal([m["data"] for m in r["messages"]], [0, 1, 2, 3, 4], "the five after it")
        jt.check("missed" not in r, "a trimmed delivery the client had is not missed", r)

        # SSE: a first record "missed" before the deliveries, once.
        s1 = small.client(["trim"])
        publish_and_wait_lost([s1.sid], 7, 2)
        st = Stream(small.web, "sse", {"session_id": s1.sid, "ack": 0})
        try:
            st.wait(sse_records, 6, 5, "the missed record and five deliveries")
        finally:
            st.close()
        got = sse_records(st.body)
        jt.equal(got[0], ("missed", {"event": "missed", "missed": 2}), "the first record")
        jt.equal([d["data"] for e, d in got[1:]], [2, 3, 4, 5, 6], "then the deliveries")

        # SSE: a stream that wrote more than max_queue deliveries (the queue
        # trimmed behind it) and resumes after the last: nothing missed.
        st = Stream(small.web, "sse", {"session_id": s1.sid, "ack": got[-1][1]["id"]})
        try:
            st.wait(sse_blocks, 1, 5, "the preamble")
            publish_and_wait_lost([s1.sid], 8, 3)
            st.wait(sse_records, 8, 5, "eight deliveries")
        finally:
            st.close()
        last = sse_records(st.body)[-1][1]["id"]
        st = Stream(small.web, "sse", {"session_id": s1.sid}, headers={"Last-Event-ID": str(last)})
        try:
            st.wait(sse_blocks, 1, 5, "the preamble")
            small.redis.publish(["trim"], "z")
            st.wait(sse_records, 1, 5, "the next delivery")
        finally:
            st.close()
        jt.equal([(e, d["data"]) for e, d in sse_records(st.body)], [(None, "z")],
                 "resumed after the last written: no missed record")

        # Many sessions told at once: not one log line each.
        many = [small.client(["trim2"]).sid for _ in range(6)]
        publish_and_wait_lost(many, 7, 2, "trim2")
        for sid in many:
            jt.equal(poll(sid, 0).get("missed"), 2, "missed for each session")

        def told_lines():
            return sum(open(p, errors="replace").read().count("told the client it missed")
                       for p in small.logs())
        jt.wait_for(lambda: told_lines() >= 1, 5, "the worker's log line about missed deliveries")
        # Eight sessions were told within seconds: a line per 10 s at most.
        jt.check(told_lines() <= 3, "one line per 10 s, the rest counted", told_lines())
    finally:
        small.stop()
        reports = jt.sanitizer_reports(small.logs())
        small.cleanup(keep=bool(reports))
    jt.check(not reports, "sanitizer reports in the logs of the max_queue stack", reports)


# ---- notifications read together, answers that wait for the socket

def notify_together(env, notices):
    """Publish every (channel suffix, line) on <prefix>notify... in one
    MULTI/EXEC: the worker reads them from its subscription in one go."""
    c = jt.RedisConnection(env.redis.address)
    try:
        c.send("MULTI")
        for suffix, line in notices:
            c.send("PUBLISH", env.prefix + "notify" + suffix, line)
        c.send("EXEC")
        for _ in range(len(notices) + 2):
            c.read()
    finally:
        c.close()


def announce(first, channel, data):
    """A fan-out's notification (docs/PROTOCOL.md, 4): one message, no except."""
    return "", "M %d hash\n%s\n\n,\"data\":%s}" % (first, channel, json.dumps(data))


def next_id(env):
    """An id above every delivery so far: a held request skips ids its read covered."""
    return int(env.redis.command("GET", env.prefix + "seq") or 0) + 1000


def held_stream(env, endpoint, channel, params=None):
    sid = env.http.connect([channel])
    s = Stream(env.web, endpoint, dict({"session_id": sid, "ack": 0}, **(params or {})),
               wait_headers=False)
    return sid, s, env.wait_held(sid)


@test
def t_notifications_together(env):
    """two messages announced in one read: a held long-poll answers both in one answer"""
    sid, p, _ = held_stream(env, "poll", "tog1", {"timeout": 5})
    first = next_id(env)
    notify_together(env, [announce(first, "tog1", "x"), announce(first + 1, "tog1", "y")])
    r = p.answer()
    jt.equal((r.status, [m["data"] for m in json.loads(r.body)["messages"]]), (200, ["x", "y"]),
             "one answer with both")


@test
def t_notifications_then_superseded(env):
    """a message, then "superseded" for the same held long-poll, in one read: it answers the message, superseded"""
    sid, p, token = held_stream(env, "poll", "tog2", {"timeout": 5})
    instance = ":" + token.split(".")[0]
    first = next_id(env)
    notify_together(env, [announce(first, "tog2", "x"), (instance, "S %s %s" % (sid, token)),
                          announce(first + 1, "tog2", "y")])
    r = p.answer()
    jt.equal((r.status, json.loads(r.body)),
             (200, {"messages": [{"id": first, "channel": "tog2", "data": "x"}], "superseded": True}),
             "the message and the reason")


@test
def t_notifications_stream_order(env):
    """SSE: a message, a channel change, a message and the session's end in one read: both messages, then the end"""
    sid, s, token = held_stream(env, "sse", "tog3")
    instance = ":" + token.split(".")[0]
    first = next_id(env)
    notify_together(env, [announce(first, "tog3", "x"), (instance, "C %s" % sid),
                          announce(first + 1, "tog3", "y"), (instance, "E %s" % sid)])
    recs = parse_sse(s.answer().body)
    jt.equal([r["data"] for r in recs if "id" in r], ["x", "y"], "the deliveries")
    jt.equal(recs[-1].get("error"), "session_expired", "the last record")


@test
def t_answer_waits_for_socket(env):
    """an answer at once bigger than the socket takes goes out whole, with its end, as the web server reads it"""
    sid = env.http.connect(["big"])
    for k in range(120):   # about 360 KB: more than a unix socket buffers
        env.redis.publish(["big"], {"k": k, "pad": "x" * 3000})
    env.wait_queued(sid, 120)
    out, ended = fcgi_request(env, "poll", "session_id=%s&ack=0&timeout=0" % sid)
    body = out.split(b"\r\n\r\n", 1)[1]
    jt.equal([m["data"]["k"] for m in json.loads(body)["messages"]], list(range(120)), "every delivery")
    jt.check(ended, "the FastCGI end record came")


def fcgi_request(env, endpoint, query, timeout=10):
    """One GET straight to the worker's FastCGI socket from a client whose
    buffer is small: (the STDOUT bytes, whether END_REQUEST came)."""
    def record(kind, content):
        return struct.pack(">BBHHBB", 1, kind, 1, len(content), 0, 0) + content

    def pair(k, v):
        k, v = k.encode(), v.encode()
        return bytes([len(k)]) + bytes([len(v)]) + k + v
    params = b"".join(pair(k, v) for k, v in (
        ("REQUEST_METHOD", "GET"), ("SCRIPT_NAME", "/juggernaut"), ("PATH_INFO", "/" + endpoint),
        ("REQUEST_URI", "/juggernaut/%s?%s" % (endpoint, query)), ("QUERY_STRING", query),
        ("SERVER_PROTOCOL", "HTTP/1.1"), ("REMOTE_ADDR", "127.0.0.1")))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(timeout)
    try:
        # lighttpd names the socket of its one worker process fcgi.sock-0.
        sock.connect(glob.glob(os.path.join(env.web.dir, "fcgi.sock*"))[0])
        sock.sendall(record(1, struct.pack(">HB5x", 1, 0)) + record(4, params) + record(4, b"") +
                     record(5, b""))
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        sock.close()
    out, ended, i = b"", False, 0
    while i + 8 <= len(data):
        _, kind, _, length, pad = struct.unpack(">BBHHB", data[i:i + 7])
        if kind == 6:
            out += data[i + 8:i + 8 + length]
        ended = ended or kind == 3
        i += 8 + length + pad
    return out, ended


def setup():
    return jt.Env("delivery", session_ttl=30, poll_timeout=5, max_message_size=4096,
                  max_channels_per_message=10).start()


if __name__ == "__main__":
    jt.main(suite, setup)
