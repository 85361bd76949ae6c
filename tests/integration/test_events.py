#!/usr/bin/env python3
# test_events.py -- server events: juggernaut:subscribe / unsubscribe / custom.
#
# Subscribes to the event channels with a raw Redis connection and checks the
# exact JSON the worker and the poller's reaper publish, including presence
# after a browser vanishes (session_ttl 5 s) and 410 for an expired session.
import json
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import jugtest as jt  # noqa: E402

suite = jt.Suite("test_events", time_limit=120)
test = suite.test

SUB, UNSUB, CUSTOM = "juggernaut:subscribe", "juggernaut:unsubscribe", "juggernaut:custom"


def events(env):
    return env.redis.subscribe(SUB, UNSUB, CUSTOM)


def mine(sub, channel, sid, count, timeout=3.0):
    """The events of one session on one event channel, parsed."""
    deadline = time.monotonic() + timeout
    while True:
        got = [e for e in sub.json(channel, 1000, timeout=0.05) if e.get("session_id") == sid]
        if len(got) >= count or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


@test
def t_connect_subscribe_event(env):
    """connect with meta and channels publishes juggernaut:subscribe with that meta"""
    sub = events(env)
    meta = {"name": "bob", "id": 7}
    sid = env.http.connect(["ev1", "ev2"], meta)
    got = mine(sub, SUB, sid, 2)
    jt.equal(sorted(got, key=lambda e: e["channel"]),
             [{"channel": "ev1", "session_id": sid, "meta": meta},
              {"channel": "ev2", "session_id": sid, "meta": meta}], "subscribe events")
    sub.close()


@test
def t_connect_reply(env):
    """connect answers session_id (22 chars), poll_timeout, session_ttl and channels"""
    r = env.http.post("connect", [("channel", "r1"), ("channel", "r2,r3")])
    jt.equal(r.status, 200, "status")
    jt.check_headers(r)
    body = r.json()
    sid = body.get("session_id", "")
    jt.check(len(sid) == 22 and all(ch.isalnum() or ch in "_-" for ch in sid),
             "session id format", sid)
    jt.equal(body.get("poll_timeout"), 2, "poll_timeout")
    jt.equal(body.get("session_ttl"), 5, "session_ttl")
    jt.equal(sorted(body.get("channels", [])), ["r1", "r2", "r3"], "channels")


@test
def t_subscribe_endpoint(env):
    """subscribe publishes an event per new channel, none for a channel already held"""
    sub = events(env)
    sid = env.http.connect(["s1"])
    reply = env.http.subscribe(sid, "s1", "s2")
    jt.equal(reply.get("ok"), True, "ok")
    jt.check("s1" in reply.get("channels", []) and "s2" in reply.get("channels", []),
             "reply lists the channels", reply)
    got = mine(sub, SUB, sid, 3, timeout=1.5)
    jt.equal(sorted(e["channel"] for e in got), ["s1", "s2"], "one event per new channel")
    jt.equal(got[-1]["meta"], None, "meta without meta is null")
    env.redis.publish(["s2"], "on s2")
    c = jt.Client.attach(env.http, sid)
    jt.equal([m["data"] for m in c.collect(1)], ["on s2"], "delivered on the new channel")
    sub.close()


@test
def t_unsubscribe(env):
    """unsubscribe publishes juggernaut:unsubscribe and stops delivery on that channel"""
    sub = events(env)
    c = env.client(["u1", "u2"], meta="m")
    reply = env.http.unsubscribe(c.sid, "u1")
    jt.equal(reply.get("ok"), True, "ok")
    got = mine(sub, UNSUB, c.sid, 1)
    jt.equal(got, [{"channel": "u1", "session_id": c.sid, "meta": "m"}], "unsubscribe event")
    env.redis.publish(["u1"], "gone")
    env.redis.publish(["u2"], "still")
    jt.equal([(m["channel"], m["data"]) for m in c.collect(1, settle=0.5)], [("u2", "still")],
             "deliveries")
    sub.close()


@test
def t_custom_event(env):
    """event publishes juggernaut:custom with session_id, meta and data"""
    sub = events(env)
    sid = env.http.connect(["cu"], {"who": "me"})
    data = {"typing": True, "list": [1, 2]}
    r = env.http.post("event", [("session_id", sid), ("data", json.dumps(data))])
    jt.equal(r.status, 200, "status of %r" % r)
    jt.equal(r.json(), {"ok": True}, "reply")
    got = mine(sub, CUSTOM, sid, 1)
    jt.equal(got, [{"session_id": sid, "meta": {"who": "me"}, "data": data}], "custom event")
    sub.close()


@test
def t_meta_update(env):
    """meta changes what later events carry"""
    sub = events(env)
    sid = env.http.connect(["mu"], {"v": 1})
    r = env.http.post("meta", [("session_id", sid), ("meta", '{"v":2}')])
    jt.equal((r.status, r.json()), (200, {"ok": True}), "meta reply")
    env.http.unsubscribe(sid, "mu")
    jt.equal(mine(sub, UNSUB, sid, 1), [{"channel": "mu", "session_id": sid, "meta": {"v": 2}}],
             "unsubscribe event")
    sub.close()


@test
def t_disconnect(env):
    """disconnect unsubscribes every channel now; the session is then gone (410)"""
    sub = events(env)
    sid = env.http.connect(["dc1", "dc2", "dc3"])
    r = env.http.post("disconnect", {"session_id": sid})
    jt.equal((r.status, r.json()), (200, {"ok": True}), "disconnect reply")
    got = mine(sub, UNSUB, sid, 3)
    jt.equal(sorted(e["channel"] for e in got), ["dc1", "dc2", "dc3"], "unsubscribe events")
    jt.check_error(env.http.get("poll", {"session_id": sid, "timeout": 1}), 410,
                   "session_expired")
    sub.close()


@test
def t_expiry(env):
    """an idle session expires after session_ttl: unsubscribe per channel, then 410; a polling one lives"""
    sub = events(env)
    idle = env.client(["exp1", "exp2"], meta={"idle": True})
    busy = env.client(["exp1"])
    started = time.monotonic()
    got = []
    while time.monotonic() - started < 20 and len(got) < 2:
        busy.poll(timeout=1)  # keeps busy alive, paces the loop
        got = mine(sub, UNSUB, idle.sid, 2, timeout=0)
    waited = time.monotonic() - started
    jt.equal(sorted(got, key=lambda e: e["channel"]),
             [{"channel": "exp1", "session_id": idle.sid, "meta": {"idle": True}},
              {"channel": "exp2", "session_id": idle.sid, "meta": {"idle": True}}],
             "unsubscribe events of the idle session")
    jt.check(waited >= 4.0, "expired after %.1f s, before session_ttl (5 s)" % waited)
    jt.diag("expired after %.1f s" % waited)
    jt.check_error(env.http.get("poll", {"session_id": idle.sid, "timeout": 1}), 410,
                   "session_expired")
    jt.equal(mine(sub, UNSUB, busy.sid, 1, timeout=0), [], "busy session's events")
    env.redis.publish(["exp1"], "alive")
    jt.equal([m["data"] for m in busy.collect(1)], ["alive"], "busy session still delivered")
    sub.close()


def setup():
    # Redis over TCP here (redis://127.0.0.1:port), a unix socket elsewhere.
    return jt.Env("events", redis_tcp=True, session_ttl=5, poll_timeout=2).start()


if __name__ == "__main__":
    jt.main(suite, setup)
