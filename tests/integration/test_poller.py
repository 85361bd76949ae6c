#!/usr/bin/env python3
# test_poller.py -- the poller under faults: exact takeover whatever the
# payloads, fan-outs Redis refuses (maxmemory) kept and retried (and given
# up on, with one error line, after 30 s), one log line for refused
# credentials, SIGHUP (log reopened) and SIGTERM, and the reset event after
# Redis lost writes (docs/PROTOCOL.md, 5 and "Server events").
import json
import os
import signal
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import jugtest as jt  # noqa: E402
from webcases import Stream, parse_sse  # noqa: E402

suite = jt.Suite("test_poller", time_limit=170)
test = suite.test

LEASE_MS = 1500


def exactly_once(got, want, what):
    jt.equal([m["data"] for m in got], want, what + " (in order, once each)")
    ids = [m["id"] for m in got]
    jt.equal(len(set(ids)), len(ids), what + ": distinct ids")


def live_pollers(env, count):
    """Exactly count running pollers, one holding the lease."""
    env.pollers = [p for p in env.pollers if p.alive()]
    while len(env.pollers) < count:
        ident = "p%d" % (len(env.pollers) + 10 * int(time.monotonic() % 1000))
        env.pollers.append(jt.Poller(env.dir, env.config_path, ident).start())
    env.wait_pollers(count)


def active(env):
    leader = env.leader()
    mine = [p for p in env.pollers if p.ident == leader]
    jt.equal(len(mine), 1, "the lease names one of our pollers (%r)" % leader)
    return mine[0]


def oom_errors(env):
    """How many commands Redis refused with OOM so far (INFO errorstats)."""
    for line in env.redis.command("INFO", "errorstats").splitlines():
        if line.startswith("errorstat_OOM:"):
            return int(line.split("count=")[1].split(",")[0])
    return 0


def log_text(poller):
    with open(poller.log_path, errors="replace") as f:
        return f.read()


@test
def t_takeover_repeated_payload(env):
    """takeover after the leader stalls: a payload repeated on both sides of the gap loses nothing"""
    live_pollers(env, 2)
    c = env.client(["tk"])
    same = '{"channels":["tk"],"data":"same"}'
    env.redis.publish_raw(same)
    exactly_once(c.collect(1, settle=0.3), ["same"], "before the stall")
    leader = active(env)
    os.kill(leader.proc.pid, signal.SIGSTOP)   # holds the lease until it lapses
    try:
        for i in range(5):
            env.redis.publish(["tk"], i)
        env.redis.publish_raw(same)              # the old poller:last search stopped here
        env.redis.publish(["tk"], "after")
        got = c.collect(7, within=2 * LEASE_MS / 1000 + 8, settle=0.5)
        exactly_once(got, [0, 1, 2, 3, 4, "same", "after"], "replayed by the standby")
        jt.check(env.leader() not in (None, leader.ident), "the standby holds the lease",
                 env.leader())
    finally:
        os.kill(leader.proc.pid, signal.SIGCONT)
    # The resumed ex-leader had all of them in its socket: it must deliver none.
    env.redis.publish(["tk"], "last")
    exactly_once(c.collect(1, settle=1.5), ["last"], "after the ex-leader resumed")


@test
def t_takeover_only_repeats(env):
    """a takeover where every message has the same payload delivers each exactly once"""
    live_pollers(env, 2)
    c = env.client(["rep"])
    same = '{"channels":["rep"],"data":"tick"}'
    for _ in range(3):
        env.redis.publish_raw(same)
    jt.equal(len(c.collect(3, settle=0.3)), 3, "three ticks before the kill")
    leader = active(env)
    os.kill(leader.proc.pid, signal.SIGSTOP)
    try:
        for _ in range(4):
            env.redis.publish_raw(same)
        got = c.collect(4, within=2 * LEASE_MS / 1000 + 8, settle=0.5)
        exactly_once(got, ["tick"] * 4, "ticks published while the leader stalled")
    finally:
        leader.kill()
    live_pollers(env, 2)


@test
def t_sigterm_releases_lease(env):
    """SIGTERM: the lease is released at once and the standby takes over before it would lapse"""
    live_pollers(env, 2)
    c = env.client(["rel"])
    leader = active(env)
    jt.equal(leader.stop(), 0, "exit status after SIGTERM")
    jt.check(env.leader() != leader.ident, "the lease outlived a clean exit", env.leader())
    env.redis.publish(["rel"], "x")
    exactly_once(c.collect(1, within=LEASE_MS / 1000, settle=0.3), ["x"],
                 "delivered within one lease period")
    jt.check("released the lease" in log_text(leader), "no 'released the lease' in the log",
             jt.tail(leader.log_path))


def pubsub_clients(env):
    """{client id: output buffer bytes} of Redis's pub/sub connections."""
    out = {}
    for line in env.redis.command("CLIENT", "LIST", "TYPE", "pubsub").splitlines():
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        out[fields["id"]] = int(fields.get("omem", "0"))
    return out


@test
def t_active_reconnect_gap(env):
    """the active poller's subscription dropped while Redis stayed up: what was published before it was back (only the standby has it) is delivered once, in order"""
    # A lease longer than the fault takes, so that the poller comes back still holding it.
    for p in env.pollers:
        p.stop()
    env.pollers = []
    long_lease = os.path.join(env.dir, "long-lease.conf")
    jt.write_config(long_lease, env.redis.url, poller_lease_ms=20000)
    env.pollers = [jt.Poller(env.dir, long_lease, ident).start() for ident in ("q1", "q2")]
    env.wait_pollers(2)
    c = env.client(["gap"])
    env.redis.publish(["gap"], "before")
    exactly_once(c.collect(1, settle=0.3), ["before"], "before the fault")
    leader = active(env)
    before = set(pubsub_clients(env))
    os.kill(leader.proc.pid, signal.SIGSTOP)
    try:
        # Fill the stopped leader's socket until Redis holds output for one
        # connection only (every other reader drains its share): that is the
        # leader's subscription; Redis drops it, as it does past
        # client-output-buffer-limit.
        victim, deadline = None, time.monotonic() + 20
        while victim is None and time.monotonic() < deadline:
            env.redis.publish(["nobody"], "x" * 30000)
            seen = []   # the connections holding a whole message, check after check
            for _ in range(20):
                seen.append(frozenset(cid for cid, omem in pubsub_clients(env).items()
                                      if omem >= 30000 and cid in before))
                if len(seen) >= 3 and len(seen[-1]) == 1 and seen[-1] == seen[-2] == seen[-3]:
                    victim = next(iter(seen[-1]))
                    break
                time.sleep(0.05)
        jt.check(victim is not None, "no pub/sub connection backed up within 20 s", pubsub_clients(env))
        env.redis.command("CLIENT", "KILL", "ID", victim)
        for i in range(5):
            env.redis.publish(["gap"], "gap%d" % i)
    finally:
        os.kill(leader.proc.pid, signal.SIGCONT)
    jt.wait_for(lambda: "is active again" in log_text(leader), 15, "the leader back on a new subscription")
    env.redis.publish(["gap"], "after")
    got = c.collect(6, within=20000 / 1000 + 10, settle=1.0)
    exactly_once(got, ["gap0", "gap1", "gap2", "gap3", "gap4", "after"],
                 "published while the leader reconnected, then after")
    jt.check("handing the lease to a standby" in log_text(leader),
             "the leader did not hand the lease over", jt.tail(leader.log_path))
    for p in env.pollers:
        p.stop()
    env.pollers = []
    live_pollers(env, 2)


def hup_pending(pid):
    """SIGHUP still pending for pid (/proc/<pid>/status, SigPnd and ShdPnd)."""
    with open("/proc/%d/status" % pid) as f:
        masks = [int(line.split()[1], 16) for line in f
                 if line.startswith(("SigPnd:", "ShdPnd:"))]
    return any(m & (1 << (signal.SIGHUP - 1)) for m in masks)


@test
def t_sighup(env):
    """SIGHUP does not stop the poller and reopens its log file (logrotate: the moved file
    is left, a new one written); SIGTERM afterwards leaves no pidfile"""
    pidfile = os.path.join(env.dir, "hup.pid")
    log = os.path.join(env.dir, "poller-hup.log")
    logfile = os.path.join(env.dir, "poller-hup-file.log")
    conf = jt.write_config(os.path.join(env.dir, "hup.conf"), env.redis.url, poller_lease_ms=LEASE_MS,
                           log=logfile)
    p = jt.Process("poller hup", [jt.POLLER_BIN, "-c", conf, "-i", "hup", "-p", pidfile], log).start()

    def read(path):
        return open(path, errors="replace").read() if os.path.exists(path) else ""
    try:
        jt.wait_for(lambda: "subscribed" in read(logfile), 10, "the poller to subscribe")
        os.rename(logfile, logfile + ".1")               # what logrotate does
        os.kill(p.pid, signal.SIGHUP)
        jt.wait_for(lambda: not p.alive() or not hup_pending(p.pid), 5, "SIGHUP to be delivered")
        jt.check(p.alive(), "SIGHUP killed the poller", jt.tail(log))
        jt.check(os.path.exists(pidfile), "pidfile gone after SIGHUP")
        jt.wait_for(lambda: "log reopened" in read(logfile), 5, "a new log file after SIGHUP")
        jt.check("log reopened" not in read(logfile + ".1"), "the moved file got the new lines")
        os.kill(p.pid, signal.SIGTERM)
        p.proc.wait(5)
        jt.equal(p.proc.returncode, 0, "exit status after SIGTERM")
        jt.check(not os.path.exists(pidfile), "stale pidfile after SIGTERM")
        jt.check("stopping on signal" in read(logfile), "the stop is logged in the new file", read(logfile))
    finally:
        p.stop()


@test
def t_maxmemory_retried(env):
    """Redis at maxmemory: PUBLISH reaches the poller, the fan-out is refused, kept, retried, delivered in order"""
    live_pollers(env, 2)
    c = env.client(["oom"])
    env.redis.publish(["oom"], "warm")   # the active poller delivers, its lease fresh
    exactly_once(c.collect(1), ["warm"], "before Redis is full")
    start = oom_errors(env)
    env.redis.command("CONFIG", "SET", "maxmemory", "1")
    try:
        for i in range(5):
            jt.check(env.redis.publish(["oom"], i) >= 1, "PUBLISH reached no poller")
        # Several refusals (the fan-out is retried; the lease lapses meanwhile).
        jt.wait_for(lambda: oom_errors(env) >= start + 5, 10, "Redis to refuse 5 writes")
    finally:
        env.redis.command("CONFIG", "SET", "maxmemory", "0")
    got = c.collect(5, within=2 * LEASE_MS / 1000 + 8, settle=0.5)
    exactly_once(got, list(range(5)), "refused while Redis was full")
    for p in env.pollers:
        text = log_text(p)
        jt.check(text.count("refused a fan-out") <= 2, "one line per refusal episode", text[-2000:])


@test
def t_maxmemory_gives_up(env):
    """Redis full for longer than the poller keeps a refused message (30 s): it drops it with
    one error line saying so, and standbys forget it too (it never comes afterwards)"""
    live_pollers(env, 2)
    # A subscriber, so that the fan-out has work: its session lapses while
    # Redis is full (no request can touch it); another one watches after.
    env.client(["full"])
    env.redis.command("CONFIG", "SET", "maxmemory", "1")
    try:
        jt.check(env.redis.publish(["full"], "refused") >= 1, "PUBLISH reached no poller")

        def gave_up():
            return [p for p in env.pollers if "gave up on 1 message(s) Redis refused" in log_text(p)]
        jt.wait_for(gave_up, 45, "the poller to give up on the refused message", interval=0.5)
    finally:
        env.redis.command("CONFIG", "SET", "maxmemory", "0")
    env.wait_pollers(2, timeout=20)
    c = env.client(["full"])
    env.redis.publish(["full"], "after")
    exactly_once(c.collect(1, within=2 * LEASE_MS / 1000 + 8, settle=1.0), ["after"],
                 "after Redis has room again (the dropped one never comes)")
    lines = [ln for p in env.pollers for ln in log_text(p).splitlines() if "gave up on" in ln]
    jt.equal(len(lines), 1, "error lines about the dropped message: %r" % lines)


@test
def t_wrong_password(env):
    """a wrong or missing Redis password: one clear error line, slow retries, never 'subscribed'"""
    os.makedirs(os.path.join(env.dir, "auth"), exist_ok=True)
    r = jt.Redis(os.path.join(env.dir, "auth"), tcp=True).start()
    try:
        r.command("CONFIG", "SET", "requirepass", "right")
        for url, ident in (("redis://127.0.0.1:%d/0" % r.port, "nopass"),
                           ("redis://:wrong@127.0.0.1:%d/0" % r.port, "wrongpass")):
            conf = jt.write_config(os.path.join(env.dir, "%s.conf" % ident), url,
                                   poller_lease_ms=LEASE_MS)
            log = os.path.join(env.dir, "poller-%s.log" % ident)
            p = jt.Process("poller " + ident, [jt.POLLER_BIN, "-c", conf, "-i", ident], log).start()
            try:
                jt.wait_for(lambda: "credentials" in open(log).read(), 5, "the error line")
                time.sleep(4.0)   # what the issue measured: 49 reconnects in 5 s
                text = open(log).read()
                lines = [x for x in text.splitlines() if not x.startswith("====")]
                jt.check(len(lines) <= 2, "%s: at most 2 log lines in 4 s" % ident, text)
                jt.check("subscribed" not in text, "%s: logged 'subscribed'" % ident, text)
            finally:
                p.stop()
    finally:
        r.stop()


@test
def t_reset_after_lost_writes(env):
    """Redis lost writes: juggernaut:reset, then a subscribe event for each surviving session's
    channels; each survivor's client is told it missed deliveries ("missed": true)"""
    live_pollers(env, 1)
    c = env.client(["room1", "room2"], meta={"name": "ann"})
    streaming, polling = env.http.connect(["room3"]), env.http.connect(["room3"])
    sub = env.redis.subscribe("juggernaut:reset", "juggernaut:subscribe")
    stream = Stream(env.web, "sse", {"session_id": streaming})
    held = Stream(env.web, "poll", {"session_id": polling, "timeout": 3}, wait_headers=False)
    try:
        env.wait_held(polling)
        # What a restart from an older snapshot does to the renewal counter
        # (once the poller has seen it above 1, whichever test ran before).
        jt.wait_for(lambda: int(env.redis.command("GET", env.prefix + "alive") or 0) >= 3,
                    LEASE_MS / 1000 + 5, "the poller to renew its lease twice")
        env.redis.command("SET", env.prefix + "alive", "1")
        def ours():
            got = sub.wait(1, timeout=0)
            mine = [json.loads(t) for ch, t in got[1:]
                    if ch == "juggernaut:subscribe" and json.loads(t)["session_id"] == c.sid]
            return (got, mine) if len(mine) >= 2 else None
        got, mine = jt.wait_for(ours, LEASE_MS / 1000 + 5, "the reset and the re-announcement")
        jt.check(got[0][0] == "juggernaut:reset", "the first event is the reset", got)
        jt.equal(json.loads(got[0][1]), {"reason": "redis_lost_data"}, "reset payload")
        jt.equal(sorted((m["channel"], m["meta"]) for m in mine),
                 [("room1", {"name": "ann"}), ("room2", {"name": "ann"})], "re-announced")
        # Deliveries queued for the session may have gone with the data: its
        # client is told, once, that it missed an unknown number.
        def poll():
            return env.http.get("poll", {"session_id": c.sid, "ack": 0, "timeout": 0}).json()
        jt.equal(poll(), {"messages": [], "missed": True}, "the survivor's next poll")
        jt.equal(poll(), {"messages": []}, "told once")
        # Requests held meanwhile are told at once: a stream in a record, a
        # long-poll answered before its timeout.
        def missed_records(body):
            return [r for r in parse_sse(body) if r.get("event") == "missed"]
        rec = stream.wait(missed_records, 1, 3, "the stream's missed record")
        jt.equal(rec, [{"event": "missed", "missed": True}], "the held stream's missed records")
        answer = held.answer(2, "the held long-poll's answer")
        jt.equal(answer.json(), {"messages": [], "missed": True}, "the held long-poll's answer")
        sub.clear()
        # Two more renewals, however slow the machine: no second reset.
        alive = int(env.redis.command("GET", env.prefix + "alive"))
        jt.wait_for(lambda: int(env.redis.command("GET", env.prefix + "alive")) >= alive + 2,
                    LEASE_MS / 1000 + 5, "two more renewals")
        jt.equal(sub.wait(1, timeout=0.1), [], "no second reset without a new loss")
    finally:
        sub.close()
        stream.close()
        held.close()


def setup():
    return jt.Env("poller", poll_timeout=3, poller_lease_ms=LEASE_MS, pollers=2).start()


if __name__ == "__main__":
    jt.main(suite, setup)
