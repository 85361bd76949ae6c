#!/usr/bin/env python3
# test_socketio_sharedhost.py -- socket.io protocol 1 (Juggernaut 2.1.1 pages)
# on a shared host: Apache + mod_fcgid at its defaults, the worker in the
# site's cgi-bin with its shipped .htaccess, /socket.io/ rewritten to it by
# the site's top .htaccess (README, "Coming from Juggernaut").
#
# There a held request pins a whole worker process, so a poll is held only
# while a hold slot is free (docs/PROTOCOL.md, 4). A page's poll that finds
# none must not pin a process either: the handshake offers jsonp-polling
# first, and such a jsonp-polling GET is answered at once with a script that
# makes the browser wait before it polls again. The host here runs one
# worker process, which a hold must leave free: no poll is ever held.
import json
import os
import re
import sys
import time
import urllib.parse

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import jugtest as jt  # noqa: E402
import webservers  # noqa: E402
from siotest import SID_RE, Sio, SioSharedApache, message  # noqa: E402

suite = jt.Suite("test_socketio_sharedhost", time_limit=120)
test = suite.test

HOLD = 4
SETTINGS = dict(key_prefix="jugsioshared:", poll_timeout=HOLD, keepalive_interval=2, session_ttl=20,
                threads=1)
WAITING = re.compile(r'setTimeout\(function\(\)\{io\.j\[3\]\("8::"\);\},(\d+)\);')


def sio(env):
    return Sio(env.web.port)


def subscribed(env, s):
    """A session past its first jsonp-polling GET, subscribed to channel1."""
    sid, _ = s.handshake()
    jt.equal(s.get(sid, "jsonp-polling", i=3).body, b'io.j[3]("1::");', "first GET")
    r = s.request("POST", s.path("jsonp-polling", sid, 3),
                  body="d=" + urllib.parse.quote(json.dumps(message({"type": "subscribe", "channel": "channel1"}))),
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    jt.equal(r.body, b"1", "subscribe POST")
    return sid


@test
def t_handshake_order(env):
    """the handshake offers jsonp-polling first, then xhr-polling: no htmlfile, no websocket"""
    sid, r = sio(env).handshake()
    jt.check(re.fullmatch("%s:15:25:jsonp-polling,xhr-polling" % SID_RE, r.text), "handshake body", r)


@test
def t_jsonp_waits_in_the_browser(env):
    """a jsonp-polling GET that finds no hold slot is answered at once: the browser waits, not the process"""
    s = sio(env)
    sid = subscribed(env, s)
    for n in range(3):
        started = time.monotonic()
        r = s.get(sid, "jsonp-polling", i=3)
        took = time.monotonic() - started
        m = WAITING.fullmatch(r.text)
        jt.check(m, "GET %d: the noop, called after a wait" % n, r)
        jt.check(0 < int(m.group(1)) <= 10000, "the wait is short of the client's close timeout", m.group(1))
        jt.check(took < HOLD / 2, "GET %d answered in %.2f s, not held nor delayed" % (n, took))
    # The page is still using the session while its browser waits: a
    # handshake naming it (another tab of the site) does not take it over.
    lease = env.redis.command("PTTL", "%ssession:%s:siohold" % (env.prefix, sid))
    jt.check(lease > int(m.group(1)), "the lease (%s ms) lasts past the browser's wait (%s ms)" % (lease, m.group(1)))
    other, _ = s.handshake(cookie="jug_sio=" + sid)
    jt.check(other != sid, "a handshake with the page's cookie meanwhile gets a session of its own")
    # What is pending goes at once, without a wait.
    env.redis.publish_raw(json.dumps({"channels": ["channel1"], "data": "hello"}))
    answers = []
    jt.wait_for(lambda: answers.append(s.get(sid, "jsonp-polling", i=3)) or "hello" in answers[-1].text,
                10, "the message in a jsonp-polling answer")
    r = answers[-1]
    jt.equal(r.text, 'io.j[3]("3:::{\\"data\\":\\"hello\\",\\"channel\\":\\"channel1\\"}");', "message answer")


@test
def t_unknown_session_waits_in_the_browser(env):
    """an unknown session's jsonp-polling GET gets 7:::1+0 after a wait in the browser, at once"""
    started = time.monotonic()
    r = sio(env).get("AAAAAAAAAAAAAAAAAAAAAA", "jsonp-polling", i=3)
    jt.check(time.monotonic() - started < 0.9, "answered at once", r)
    jt.equal(r.text, 'setTimeout(function(){io.j[3]("7:::1+0");},1000);', "answer")


def setup():
    env = jt.Env("sio-shared", web=None, redis_tcp=True, **SETTINGS)
    os.chmod(env.dir, 0o755)
    env.web = SioSharedApache(os.path.join(env.dir, "apache"), jt.WORKER_BIN, env.config_path,
                              account=webservers.unprivileged_account())
    return env.start()


if __name__ == "__main__":
    jt.main(suite, setup)
