#!/usr/bin/env python3
# test_redis_errors.py -- Redis states that pass map to 503, logged once.
#
# A real redis-server is driven into each state the worker must answer with
# 503 and Retry-After rather than 500 "internal" (issue 8): out of memory
# (maxmemory with noeviction), a long script running (BUSY), a read-only
# replica and a replica that lost its master, a password set after start
# (NOAUTH), and loading a data set after a restart (LOADING, kept long by a
# per-key load delay). Each state is
# one episode in the worker's log: one line when it starts, a count at most
# every 10 s while it lasts, one line when Redis answers again -- never a
# line per request.
import os
import time
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import jugtest as jt  # noqa: E402

suite = jt.Suite("test_redis_errors", time_limit=180)
test = suite.test

STARTED = "answering 503 until it recovers"
ONGOING = "more request(s) got 503 since the last line"
BACK = "Redis answers again"
BACK_RE = re.compile(r"Redis answers again \((\d+) request\(s\) got 503 while it (.*)\)")


class WorkerLog:
    """The worker's log lines written since this object was made."""

    def __init__(self, env):
        self.path = env.web.logs[0]
        self.offset = os.path.getsize(self.path) if os.path.exists(self.path) else 0

    def lines(self):
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            text = f.read().decode("utf-8", "replace")
        return [ln for ln in text.splitlines() if "juggernaut.fcgi[" in ln]

    def having(self, text):
        return [ln for ln in self.lines() if text in ln]


def check_503(r, what):
    jt.equal(r.status, 503, "status of %s: %r" % (what, r))
    retry = r.headers.get("retry-after", "")
    jt.check(retry.isdigit() and int(retry) > 0, "%s: Retry-After is not a positive number" % what,
             r.headers)
    jt.equal(r.json().get("error"), "unavailable", "error code of %s" % what)


def failing_requests(env, sid, rounds):
    """connect, poll and subscribe, rounds times: each must be a 503."""
    for _ in range(rounds):
        check_503(env.http.post("connect", [("channel", "e")]), "connect")
        check_503(env.http.get("poll", {"session_id": sid, "timeout": 1}), "poll")
        check_503(env.http.post("subscribe", [("session_id", sid), ("channel", "f")]), "subscribe")
    return 3 * rounds


def wait_served(env):
    """Until connect works again."""
    jt.wait_for(lambda: env.http.post("connect", [("channel", "e")]).status == 200, 20,
                "connect to answer 200 again")


def check_episodes(log, kinds, failed):
    """One start line per kind (in order), one end line counting at least
    failed requests, no line per request, no 500."""
    started = log.having(STARTED)
    jt.equal(len(started), len(kinds), "start lines (one per episode): %r" % started)
    for line, kind in zip(started, kinds):
        jt.check(kind in line, "the start line does not name %s" % kind, line)
    back = log.having(BACK)
    jt.equal(len(back), 1, "end lines: %r" % back)
    m = BACK_RE.search(back[0])
    jt.check(m and int(m.group(1)) >= failed, "the end line counts fewer than %d failures" % failed,
             back[0])
    jt.equal(log.having("store error") + log.having("internal"), [], "500 lines")
    noise = [ln for ln in log.lines() if "Redis" in ln and STARTED not in ln and BACK not in ln
             and ONGOING not in ln]
    jt.equal(noise, [], "other Redis lines (one per request?)")


def admin(env):
    """A connection of the test's own that stays authenticated."""
    return jt.RedisConnection(env.redis.address)


@test
def t_oom(env):
    """maxmemory reached (noeviction): 503 + Retry-After, one log line, then served again"""
    sid = env.http.connect(["x"])
    log = WorkerLog(env)
    env.redis.command("CONFIG", "SET", "maxmemory-policy", "noeviction")
    env.redis.command("CONFIG", "SET", "maxmemory", "1")
    try:
        failed = failing_requests(env, sid, 5)
    finally:
        env.redis.command("CONFIG", "SET", "maxmemory", "0")
    wait_served(env)
    check_episodes(log, ["(OOM)"], failed)
    env.wait_pollers(1, timeout=40)


@test
def t_replica(env):
    """a read-only replica (READONLY), then one that lost its master (MASTERDOWN): 503 each"""
    sid = env.http.connect(["x"])
    log = WorkerLog(env)
    # A master nobody listens on: the replica keeps its data and never syncs.
    env.redis.command("REPLICAOF", "127.0.0.1", str(jt.free_port()))
    try:
        failed = failing_requests(env, sid, 3)
        env.redis.command("CONFIG", "SET", "replica-serve-stale-data", "no")
        failed += failing_requests(env, sid, 3)
    finally:
        env.redis.command("CONFIG", "SET", "replica-serve-stale-data", "yes")
        env.redis.command("REPLICAOF", "NO", "ONE")
    wait_served(env)
    started = log.having(STARTED)
    jt.equal(len(started), 2, "one start line per state: %r" % started)
    check_episodes(log, ["(READONLY)", "(MASTERDOWN)"], failed // 2)
    env.wait_pollers(1, timeout=40)


@test
def t_noauth(env):
    """a password set after start (NOAUTH on reconnect): 503, one log line, served once lifted"""
    sid = env.http.connect(["x"])
    log = WorkerLog(env)
    c = admin(env)
    try:
        c.command("CONFIG", "SET", "requirepass", "s3cret")
        # Connections made before keep their login: drop them.
        c.command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        failed = failing_requests(env, sid, 5)
    finally:
        c.command("CONFIG", "SET", "requirepass", "")
        c.close()
    wait_served(env)
    check_episodes(log, ["(NOAUTH"], failed)
    env.wait_pollers(1, timeout=40)


@test
def t_busy(env):
    """Redis busy running a long script (BUSY): 503 + Retry-After, one log line, then served again"""
    sid = env.http.connect(["x"])
    log = WorkerLog(env)
    env.redis.command("CONFIG", "SET", "busy-reply-threshold", "100")
    runner = admin(env)
    runner.send("EVAL", "while true do end", "0")   # never answers until killed
    try:
        jt.wait_for(lambda: "busy" in busy_state(env), 10, "Redis to answer BUSY")
        failed = failing_requests(env, sid, 5)
    finally:
        killer = admin(env)
        try:
            jt.wait_for(lambda: script_killed(killer), 10, "SCRIPT KILL to end the script")
        finally:
            killer.close()
            runner.close()
        env.redis.command("CONFIG", "SET", "busy-reply-threshold", "5000")
    wait_served(env)
    check_episodes(log, ["(BUSY)"], failed)
    env.wait_pollers(1, timeout=40)


def busy_state(env):
    """What a PING answers now: "PONG" or the error text, lower case."""
    try:
        return str(env.redis.command("PING")).lower()
    except jt.RedisError as e:
        return str(e).lower()


def script_killed(conn):
    try:
        conn.command("SCRIPT", "KILL")
        return True
    except jt.RedisError as e:
        return "notbusy" in str(e).lower()


def loading(env):
    return "loading:1" in env.redis.command("INFO", "persistence")


@test
def t_loading(env):
    """Redis loading its data after a restart (LOADING): 503 throughout, one line + one count per 10 s"""
    # About half a megabyte of keys, loaded 1 ms per key: 30 s of LOADING.
    env.redis.command("EVAL", "for i = 1, tonumber(ARGV[1]) do redis.call('SET', 'jugload:' .. i, 'x') end",
                      0, 30000)
    env.redis.command("SAVE")
    env.redis.stop()
    env.redis.args = ["--key-load-delay", "1000", "--loading-process-events-interval-bytes", "1024"]
    log = WorkerLog(env)
    try:
        env.redis.start(wait=False)
        jt.wait_for(lambda: loading(env), 10, "redis-server to be loading its data")
        # Requests for a little over 10 s: the first logs, one more line counts.
        failed = 0
        deadline = time.monotonic() + 11
        while time.monotonic() < deadline:
            check_503(env.http.post("connect", [("channel", "e")]), "connect while loading")
            failed += 1
            time.sleep(0.2)   # pacing: a request every 0.2 s over the 11 s
        jt.check(loading(env), "redis-server stopped loading before the test ended: make the data "
                 "set bigger or the delay longer")
    finally:
        env.redis.stop()
        env.redis.args = []
    env.redis.start()
    wait_served(env)
    ongoing = log.having(ONGOING)
    jt.equal(len(ongoing), 1, "count lines over 11 s: %r" % ongoing)
    jt.check("(LOADING)" in ongoing[0], "the count line does not name LOADING", ongoing[0])
    check_episodes(log, ["(LOADING)"], failed)
    env.wait_pollers(1, timeout=40)


def setup():
    return jt.Env("redis-errors").start()


if __name__ == "__main__":
    jt.main(suite, setup)
