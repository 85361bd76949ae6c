#!/usr/bin/env python3
# test_resilience.py -- nothing lost or duplicated across restarts and failover.
#
# Restarts the poller, runs two pollers and kills the active one, and restarts
# Redis (with an append-only file, so its data survives as a production Redis
# would). Counts deliveries exactly: every message once, in order.
import os
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import jugtest as jt  # noqa: E402

suite = jt.Suite("test_resilience", time_limit=170)
test = suite.test

LEASE_MS = 1500


def data_of(msgs):
    return [m["data"] for m in msgs]


def exactly_once(got, want, what):
    jt.equal(data_of(got), want, what + " (in order, once each)")
    ids = [m["id"] for m in got]
    jt.equal(len(set(ids)), len(ids), what + ": distinct ids")


@test
def t_poller_restart(env):
    """restarting the poller loses nothing already queued and delivers later publishes"""
    c = env.client(["pr"])
    env.redis.publish(["pr"], "q1")
    env.redis.publish(["pr"], "q2")
    jt.wait_for(lambda: env.redis.command("LLEN", env.prefix + "session:%s:queue" % c.sid) == 2,
                5, "both messages queued")
    p = env.pollers[0]
    code = p.stop()
    jt.equal(code, 0, "poller exit status after SIGTERM")
    p.start()
    env.wait_pollers(1)
    env.redis.publish(["pr"], "after")
    got = c.collect(3, within=LEASE_MS / 1000 + 5, settle=0.5)
    exactly_once(got, ["q1", "q2", "after"], "deliveries")


@test
def t_poller_killed_restart(env):
    """a poller killed with SIGKILL and started again (new id) takes over the lease"""
    c = env.client(["pk"])
    env.pollers[0].kill()
    fresh = jt.Poller(env.dir, env.config_path, "p1b").start()
    env.pollers.append(fresh)
    env.wait_pollers(1)
    jt.wait_for(lambda: env.leader() == "p1b", LEASE_MS / 1000 + 5, "p1b to hold the lease")
    env.redis.publish(["pk"], "x")
    exactly_once(c.collect(1, settle=0.5), ["x"], "deliveries")


@test
def t_two_pollers(env):
    """two pollers never duplicate; after the active one dies the standby delivers exactly once"""
    env.pollers = [p for p in env.pollers if p.alive()]
    second = jt.Poller(env.dir, env.config_path, "p2").start()
    env.pollers.append(second)
    env.wait_pollers(2)
    c = env.client(["two"])
    n = 30
    for i in range(n):
        env.redis.publish(["two"], i)
    exactly_once(c.collect(n, within=10, settle=1.0), list(range(n)), "with two pollers")

    leader = env.leader()
    active = [p for p in env.pollers if p.ident == leader]
    jt.equal(len(active), 1, "the lease names one of our pollers (%r)" % leader)
    active[0].kill()
    killed_at = time.monotonic()
    for i in range(n, n + 10):   # published during the lease gap
        env.redis.publish(["two"], i)
        time.sleep(0.05)   # pacing: spread the publishes over the lease gap
    got = c.collect(10, within=2 * LEASE_MS / 1000 + 5, settle=1.0)
    exactly_once(got, list(range(n, n + 10)), "published while the active poller was dead")
    jt.diag("takeover delivered within %.1f s" % (time.monotonic() - killed_at))
    jt.check(env.leader() not in (None, leader), "the standby holds the lease", env.leader())
    for i in range(n + 10, n + 15):
        env.redis.publish(["two"], i)
    exactly_once(c.collect(5, settle=1.0), list(range(n + 10, n + 15)), "after the takeover")


@test
def t_command_link_lost_repeated_payload(env):
    """the active poller's command link dies in a burst: a payload sent twice loses nothing"""
    env.pollers = [p for p in env.pollers if p.alive()]
    c = env.client(["cl"])
    same = '{"channels":["cl"],"data":"same"}'
    env.redis.publish_raw(same)
    exactly_once(c.collect(1, settle=0.3), ["same"], "before the link dies")
    # One transaction: the pollers' command links die and both messages are
    # already on their way, so the active poller meets the dead link on the
    # first and still holds the lease when it is back. poller:last then names
    # "same", the payload of the last message as well as of the one before.
    r = jt.RedisConnection(env.redis.address)
    try:
        r.command("MULTI")
        r.command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        r.command("PUBLISH", "juggernaut", '{"channels":["cl"],"data":"between"}')
        r.command("PUBLISH", "juggernaut", same)
        r.command("EXEC")
    finally:
        r.close()
    got = c.collect(2, within=LEASE_MS / 1000 + 5, settle=0.5)
    exactly_once(got, ["between", "same"], "published as the link died")


@test
def t_script_flush(env):
    """after SCRIPT FLUSH, a burst of concurrent polls through the worker is answered in full, none with an error (the batch logic itself: tests/unit/test_store_batch)"""
    clients = [env.client(["sf"]) for _ in range(40)]
    env.redis.publish(["sf"], "queued")
    for c in clients:
        jt.wait_for(lambda: env.redis.command("LLEN", env.prefix + "session:%s:queue" % c.sid) == 1,
                    5, "the message in every queue")
    jt.equal(env.redis.command("SCRIPT", "FLUSH"), "OK", "SCRIPT FLUSH")
    answers = [None] * len(clients)

    def poll(i):
        answers[i] = env.http.get("poll", {"session_id": clients[i].sid, "timeout": 5}, timeout=30)

    threads = [threading.Thread(target=poll, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(40)
    for i, r in enumerate(answers):
        jt.check(r is not None and r.status == 200, "poll %d after the flush answered 200" % i, r)
        jt.equal(data_of(r.json()["messages"]), ["queued"], "poll %d: its message" % i)
    for path in env.logs():
        with open(path, errors="replace") as f:
            bad = [line for line in f if "NOSCRIPT" in line]
        jt.equal(bad, [], "lines naming NOSCRIPT in " + os.path.basename(path))


@test
def t_redis_restart(env):
    """Redis restart: worker answers 503 while it is down; queued messages survive; new publishes arrive"""
    c = env.client(["rr"])
    env.redis.publish(["rr"], "before")
    jt.wait_for(lambda: env.redis.command("LLEN", env.prefix + "session:%s:queue" % c.sid) == 1,
                5, "message queued")
    other = env.client(["rr-wait"])
    waiting = {}

    def blocked_poll():
        r = env.http.get("poll", {"session_id": other.sid, "timeout": 3}, timeout=20)
        waiting["r"] = r

    t = threading.Thread(target=blocked_poll)
    t.start()
    env.wait_held(other.sid)
    env.redis.stop()
    t.join(10)
    jt.check("r" in waiting, "a poll waiting while Redis went away never answered")
    jt.check(waiting["r"].status in (200, 503), "the waiting poll's answer", waiting["r"])
    r = env.http.get("poll", {"session_id": c.sid, "ack": c.ack, "timeout": 1})
    jt.check_error(r, 503, "unavailable")
    jt.check(r.headers.get("retry-after", "").isdigit(), "503 carries Retry-After", r)
    r = env.http.post("connect", {"channel": "rr"})
    jt.check_error(r, 503, "unavailable")
    # Pacing, not a condition: Redis stays down a while, so that the pollers
    # and the worker go through their reconnect attempts against nothing.
    time.sleep(1.0)
    env.redis.start()
    live = [p for p in env.pollers if p.alive()]
    jt.check(live, "a poller survived the Redis restart")
    env.pollers = live
    env.wait_pollers(len(live), timeout=15)
    got = c.collect(1, within=10)
    exactly_once(got, ["before"], "queued before the restart")
    env.redis.publish(["rr"], "after")
    exactly_once(c.collect(1, within=5, settle=0.5), ["after"], "published after the restart")
    fresh = env.client(["rr"])
    env.redis.publish(["rr"], "new session")
    exactly_once(fresh.collect(1), ["new session"], "a session made after the restart")


def setup():
    return jt.Env("resilience", redis_persistent=True, poll_timeout=3,
                  poller_lease_ms=LEASE_MS).start()


if __name__ == "__main__":
    jt.main(suite, setup)
