#!/usr/bin/env python3
# test_holding.py -- held requests (long-polls and streams) on real servers:
# what docs/PROTOCOL.md and the shared-host behaviours promise about them.
#
#  - superseding: a newer request of a session ends the older held one at
#    once, in the same worker process and in another one (two lighttpd on
#    one Redis; Apache + mod_fcgid, where the hold slot passes on), for
#    long-polls and SSE, and the next message reaches the newer request
#    exactly once;
#  - hold slots under Apache + mod_fcgid with a process cap of 3 and
#    max_held 2: 20 clients following the protocol (ack, "retry") get every
#    message exactly once, no 503, and move between held and polling as
#    slots free up, while new connects are answered at once;
#  - a vanished page (held long-poll or SSE stream whose client closed) is
#    reported unsubscribed within session_ttl + a few seconds, behind
#    lighttpd; the status endpoint counts what a worker holds;
#  - which transports the worker offers under mod_fcgid, and with the
#    `transports` setting; a stream not offered is refused at once;
#  - plain CGI: a long-poll is held and a publish answers it; with every
#    slot taken, the retry interval follows the sessions per slot;
#  - 200 held long-polls cost one lighttpd worker process no more threads
#    than `threads` + 2, and one publish answers them all;
#  - one client holding max_held_per_process streams (more than `threads`)
#    starves nobody: short requests are answered at once, a stream beyond
#    the limit gets 503 + Retry-After at once (issue 8, case 3).
#
# Each group of tests runs its own Redis, poller and web server(s) (their
# settings differ), all in temporary directories, stopped by PID. Every wait
# is for a condition (a Redis key, the status endpoint, a response) with a
# time limit.
import json
import os
import sys
import threading
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import jugtest as jt  # noqa: E402
from test_cgi import cgi  # noqa: E402  (runs the worker once as plain CGI)
from webcases import Stream, parse_sse  # noqa: E402
from webservers import Apache, replace_line, start_fcgid_processes  # noqa: E402

suite = jt.Suite("test_holding", time_limit=300)
test = suite.test

SUPERSEDED = {"messages": [], "superseded": True}
FCGID_CAP = 3          # FcgidMaxProcessesPerClass
FCGID_MAX_HELD = 2     # max_held in juggernaut.conf
FCGID_POLL_TIMEOUT = 30     # held polls outlast a burst of connects in mod_fcgid's 1-s steps
VANISH_TTL = 5         # session_ttl of the vanished-page tests (the setting's minimum)
IDLE_POLLS = 200
IDLE_THREADS = 4


# ---------------------------------------------------------------- the stacks

class FcgidHost(Apache):
    """conf/apache-fcgid.conf with a process cap, and mod_fcgid's own
    defaults for output (buffered; the worker is not told that streams
    flow): a stock mod_fcgid host."""

    def __init__(self, workdir, worker, config_path, cap):
        super().__init__(workdir, worker, config_path)
        self.cap = cap

    def jug_config(self):
        text = super().jug_config()
        text = replace_line(text, r"^\s*FcgidMaxProcessesPerClass .*$",
                            "    FcgidMaxProcessesPerClass %d" % self.cap, "FcgidMaxProcessesPerClass")
        text = replace_line(text, r"^\s*FcgidOutputBufferSize .*$", "", "FcgidOutputBufferSize")
        return replace_line(text, r"^\s*FcgidInitialEnv JUGGERNAUT_STREAMS .*$", "",
                            "FcgidInitialEnv JUGGERNAUT_STREAMS")


class Lab:
    """Every stack the tests start, made on first use: the suite's env
    (stop, cleanup and logs cover all of them)."""

    def __init__(self):
        self.envs = {}
        self.webs = []

    def env(self, name, **settings):
        """A started Redis + poller (+ lighttpd unless web=None), made once."""
        if name not in self.envs:
            e = jt.Env("holding-" + name, **settings)
            self.envs[name] = e
            e.start()
        return self.envs[name]

    def web(self, env, name, cls, config_path=None, **kw):
        """Another web server on env's Redis, in its own directory."""
        d = os.path.join(env.dir, name)
        os.makedirs(d, exist_ok=True)
        w = cls(d, jt.WORKER_BIN, config_path or env.config_path, **kw)
        self.webs.append(w)
        w.start()
        return w

    def config(self, env, name, **settings):
        """A juggernaut.conf for env's Redis and poller, with settings changed."""
        values = dict(env.settings)
        values.update(settings)
        return jt.write_config(os.path.join(env.dir, name + ".conf"), env.redis.url, **values)

    def logs(self):
        out = []
        for e in self.envs.values():
            out += e.logs()
        for w in self.webs:
            out += [p for p in w.logs if os.path.exists(p)]
        return out

    def stop(self):
        for w in self.webs:
            w.stop()
        for e in self.envs.values():
            e.stop()

    def cleanup(self, keep=False):
        for e in self.envs.values():
            e.cleanup(keep)


def supersede_stack(lab):
    """lighttpd A and lighttpd B (one worker process each) on one Redis."""
    env = lab.env("supersede", poll_timeout=20, session_ttl=60, keepalive_interval=15,
                  stream_max_duration=60)
    if not hasattr(env, "web_b"):
        env.web_b = lab.web(env, "lighttpd-b", jt.Lighttpd)
    return env


def fcgid_stack(lab):
    """Apache + mod_fcgid (cap 3, stock output buffering), max_held 2, Redis over TCP."""
    env = lab.env("fcgid", redis_tcp=True, web=None, max_held=FCGID_MAX_HELD,
                  poll_timeout=FCGID_POLL_TIMEOUT, session_ttl=60)
    if env.web is None:
        os.chmod(env.dir, 0o755)   # Apache's workers run as nobody when we are root
        os.chmod(env.config_path, 0o644)
        env.web = FcgidHost(os.path.join(env.dir, "apache"), jt.WORKER_BIN, env.config_path,
                            FCGID_CAP)
        os.makedirs(env.web.dir, exist_ok=True)
        env.web.start()
    return env


# ---------------------------------------------------------------- helpers

def held_flags(env, sids):
    """For each of sids, whether its last request was held (one pipelined
    round trip): poll.lua sets the session's holder field when it holds a
    request, and removes it when a later request is not held."""
    c = jt.RedisConnection(env.redis.address)
    try:
        for sid in sids:
            c.send("HEXISTS", env.prefix + "session:" + sid, "holder")
        return [bool(c.read()) for _ in sids]
    finally:
        c.close()


def held_count(env, sids):
    """How many of sids a request holds."""
    return sum(held_flags(env, sids))


def pending(web, endpoint, params):
    """A request left open (HTTP/1.0: the answer ends with the connection)."""
    return Stream(web, endpoint, params, wait_headers=False)


def open_poll(web, sid, ack=0, timeout=20):
    return pending(web, "poll", {"session_id": sid, "ack": ack, "timeout": timeout})


def poll_now(web, sid, ack):
    """A poll that must not wait (timeout 0): the deliveries still pending."""
    r = web.http.get("poll", {"session_id": sid, "ack": ack, "timeout": 0})
    jt.equal(r.status, 200, "status of a poll with timeout 0: %r" % r)
    return r.json()


def status(web):
    r = web.http.get("status")
    jt.equal(r.status, 200, "status endpoint: %r" % r)
    return r.json()


def unsubscribe_events(sub, sid):
    return [json.loads(t) for _, t in sub.wait(0, 0) if json.loads(t).get("session_id") == sid]


# ---------------------------------------------------------------- 1. superseding

def supersede_poll(env, web_old, web_new, channel, timeout=20, slots=False):
    """Hold a poll, send a newer one: the older answers "superseded" at
    once, and the next message reaches the newer one exactly once. slots:
    hold slots are counted (<prefix>holds): the older one's is given back."""
    holds = lambda: env.redis.command("ZCARD", env.prefix + "holds")  # noqa: E731
    sid = web_old.http.connect([channel])
    old = open_poll(web_old, sid, timeout=timeout)
    token = env.wait_held(sid)
    if slots:
        jt.equal(holds(), 1, "hold slots taken by the first poll")
    started = time.monotonic()
    new = open_poll(web_new, sid, timeout=timeout)
    r = old.answer(5, "the superseded poll's answer")
    took = time.monotonic() - started
    jt.equal((r.status, r.json()), (200, SUPERSEDED), "answer of the older poll")
    jt.check(took < 2.0, "the older poll ended %.2f s after the newer one was sent" % took)
    env.wait_held(sid, before=token)
    if slots:
        jt.equal(holds(), 1, "hold slots taken once the newer poll holds")
    env.redis.publish([channel], {"after": channel})
    r = new.answer(5, "the newer poll's answer")
    jt.equal(r.status, 200, "status of the newer poll %r" % r)
    msgs = r.json()["messages"]
    jt.equal([(m["channel"], m["data"]) for m in msgs], [(channel, {"after": channel})],
             "the newer poll's deliveries")
    jt.equal(poll_now(web_new, sid, msgs[0]["id"]), {"messages": []}, "after acknowledging it")
    if slots:
        jt.wait_for(lambda: holds() == 0, 3, "every hold slot given back")


@test
def t_supersede_poll_same_process(lab):
    """a newer poll ends the older held poll of its session at once (same worker process); the next message reaches the newer one exactly once"""
    env = supersede_stack(lab)
    supersede_poll(env, env.web, env.web, "sup-same")


@test
def t_supersede_poll_other_process(lab):
    """a newer poll through another lighttpd (another worker process) ends the older held poll at once; nothing lost or repeated"""
    env = supersede_stack(lab)
    supersede_poll(env, env.web, env.web_b, "sup-other")


def sse_records(stream):
    return parse_sse(stream.body)


def check_superseded_sse(stream, started):
    stream.read_to_end(5, "the end of the superseded stream")
    took = time.monotonic() - started
    stream.close()
    text = stream.body.decode("utf-8", "replace")
    last_block = text.rstrip("\n").split("\n\n")[-1]
    jt.check(last_block.startswith("event: juggernaut-error\n"), "the stream's last block", last_block)
    end = sse_records(stream)[-1]
    jt.equal((end.get("event"), end.get("error")), ("error", "superseded"), "the stream's end record")
    jt.check(took < 2.0, "the older stream ended %.2f s after the newer request was sent" % took)


@test
def t_supersede_sse_same_process(lab):
    """a newer SSE stream ends the older held one with the superseded record (same process); the next message arrives once, on the newer stream"""
    env = supersede_stack(lab)
    sid = env.http.connect(["sup-sse"])
    old = Stream(env.web, "sse", {"session_id": sid, "ack": 0})
    jt.equal(old.status, 200, "status of the first stream")
    token = env.wait_held(sid)
    started = time.monotonic()
    new = Stream(env.web, "sse", {"session_id": sid, "ack": 0})
    check_superseded_sse(old, started)
    env.wait_held(sid, before=token)
    env.redis.publish(["sup-sse"], "after-sse")
    got = new.wait(lambda b: [r for r in parse_sse(b) if "id" in r], 1, 5, "the delivery")
    jt.equal([(m["channel"], m["data"]) for m in got], [("sup-sse", "after-sse")], "deliveries")
    # A poll acknowledging it supersedes the newer stream in turn: what that
    # stream wrote up to its end holds the delivery once, and nothing is left.
    started = time.monotonic()
    jt.equal(poll_now(env.web, sid, got[0]["id"]), {"messages": []}, "after acknowledging it")
    check_superseded_sse(new, started)
    jt.equal([r["id"] for r in sse_records(new) if "id" in r], [got[0]["id"]],
             "deliveries the newer stream wrote")


@test
def t_supersede_sse_by_poll_other_process(lab):
    """a newer poll through another worker process ends a held SSE stream with the superseded record; the next message reaches the poll once"""
    env = supersede_stack(lab)
    sid = env.http.connect(["sup-sse2"])
    old = Stream(env.web, "sse", {"session_id": sid, "ack": 0})
    token = env.wait_held(sid)
    started = time.monotonic()
    new = open_poll(env.web_b, sid)
    check_superseded_sse(old, started)
    env.wait_held(sid, before=token)
    env.redis.publish(["sup-sse2"], "after-sse2")
    r = new.answer(5, "the newer poll's answer")
    msgs = r.json()["messages"]
    jt.equal([(m["channel"], m["data"]) for m in msgs], [("sup-sse2", "after-sse2")], "deliveries")
    jt.equal(poll_now(env.web_b, sid, msgs[0]["id"]), {"messages": []}, "after acknowledging it")


# ---------------------------------------------------------------- 2. hold slots under mod_fcgid

class ProtocolClient(threading.Thread):
    """A browser following the protocol: connect, then poll with ack,
    waiting "retry" ms when told to. The test can pause it (no new poll
    until it is resumed: a page in the background, or gone for a while)."""

    def __init__(self, http, channel, stop):
        super().__init__(daemon=True)
        self.http = http
        self.channel = channel
        self.stop = stop
        self.running = threading.Event()
        self.running.set()
        self.polling = False   # a poll is under way
        self.connect_s = None
        self.raw = []          # every delivery in every answer
        self.sid = None
        self.ack = 0
        self.retries = 0       # answers that carried "retry"
        self.quick = []        # seconds each answer carrying "retry" took
        self.bad = []          # answers other than 200
        self.error = None

    def run(self):
        try:
            started = time.monotonic()
            r = self.http.post("connect", [("channel", self.channel)], timeout=30)
            self.connect_s = time.monotonic() - started
            if r.status != 200:
                self.bad.append(("connect", r.status, r.body[:200]))
                return
            sid = self.sid = r.json()["session_id"]
            while not self.stop.is_set():
                if not self.running.wait(0.05):
                    continue
                self.polling = True
                started = time.monotonic()
                r = self.http.get("poll", {"session_id": sid, "ack": self.ack, "timeout": 10},
                                  timeout=30)
                took = time.monotonic() - started
                self.polling = False
                if r.status != 200:
                    self.bad.append(("poll", r.status, r.body[:200]))
                    self.stop.wait(1)
                    continue
                body = r.json()
                msgs = body["messages"]
                self.raw += msgs
                if msgs:
                    self.ack = max(self.ack, max(m["id"] for m in msgs))
                if "retry" in body:
                    self.retries += 1
                    self.quick.append(took)
                    self.stop.wait(body["retry"] / 1000.0)
        except Exception as e:   # reported by the test
            self.error = repr(e)


class HoldWatcher(threading.Thread):
    """Samples Redis every 20 ms while the clients run: the most hold slots
    taken at once, and for each session the tokens of its requests that were
    held (poll.lua sets the session's holder field only when it holds a
    request; the field stays until the session's next poll, which a client
    sends only after that answer)."""

    def __init__(self, env, clients):
        super().__init__(daemon=True)
        self.env = env
        self.clients = clients
        self.done = threading.Event()
        self.most_held = 0
        self.tokens = {}       # sid -> tokens seen in its holder field

    def run(self):
        conn = jt.RedisConnection(self.env.redis.address)
        try:
            while not self.done.is_set():
                sids = [c.sid for c in self.clients if c.sid]
                conn.send("ZCARD", self.env.prefix + "holds")
                for sid in sids:
                    conn.send("HGET", self.env.prefix + "session:" + sid, "holder")
                self.most_held = max(self.most_held, conn.read())
                for sid in sids:
                    v = conn.read()
                    if v:
                        self.tokens.setdefault(sid, set()).add(v.split(" ")[0])
                self.done.wait(0.02)
        finally:
            conn.close()

    def finish(self):
        self.done.set()
        self.join(10)


def hold_tokens(env):
    """The tokens of the requests that hold a hold slot now."""
    return set(env.redis.command("ZRANGE", env.prefix + "holds", 0, -1))


def sessions_held(env, clients):
    """Those of clients whose last request was held."""
    return [c for c, held in zip(clients, held_flags(env, [c.sid for c in clients])) if held]


@test
def t_fcgid_hold_slots(lab):
    """Apache + mod_fcgid, 3 processes, max_held 2: 20 protocol clients get every message exactly once, no 503, move between held and polling as slots free up; connects meanwhile answered at once"""
    env = fcgid_stack(lab)
    stop = threading.Event()
    clients = [ProtocolClient(env.http, "slots", stop) for _ in range(20)]
    watcher = HoldWatcher(env, clients)
    watcher.start()

    def have(n):
        jt.wait_for(lambda: all(len({m["id"] for m in c.raw}) >= n or c.error for c in clients), 20,
                    "every client to have %d messages" % n)

    try:
        for c in clients:
            c.start()
        jt.wait_for(lambda: all(c.connect_s is not None or c.bad or c.error for c in clients), 30,
                    "every client's connect answer")
        # Every session subscribed before the first message.
        jt.wait_for(lambda: env.redis.command("SCARD", env.prefix + "channel:slots") == 20, 10,
                    "20 subscribers of channel slots")
        # One message a second. After each, once polls sent after it hold
        # every hold slot again (they stay held until the next message), a
        # new page connects: it must not wait for them.
        probes = []
        for n in range(10):
            started = time.monotonic()
            before = hold_tokens(env)
            env.redis.publish(["slots"], {"n": n})
            jt.wait_for(lambda: (lambda t: len(t) == FCGID_MAX_HELD and not t & before)(hold_tokens(env)),
                        10, "polls sent after message %d to hold every slot" % n)
            sent = time.monotonic()
            r = env.http.post("connect", [], timeout=30)
            probes.append(time.monotonic() - sent)
            jt.equal(r.status, 200, "a connect while clients hold: %r" % r)
            time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))   # the pace, not a wait
        have(10)

        # Slots free up: every client pauses; a message ends the held polls
        # and their slots are given back.
        for c in clients:
            c.running.clear()
        env.redis.publish(["slots"], {"n": 10})
        jt.wait_for(lambda: not any(c.polling for c in clients), 20, "every client to pause")
        jt.wait_for(lambda: not hold_tokens(env), 10, "every hold slot given back")
        was_held = sessions_held(env, clients)
        jt.check(was_held, "no client's last request was held")
        # The clients that were polling come back first: they take the slots ...
        polling = [c for c in clients if c not in was_held]
        for c in polling:
            c.running.set()
        now_held = jt.wait_for(lambda: (lambda h: h if len(h) == FCGID_MAX_HELD else None)(
            sessions_held(env, polling)), 15, "clients that were polling to hold every slot")
        jt.check(all(c.retries for c in now_held), "the clients now held had been told to retry",
                 [c.retries for c in now_held])
        # ... and those that were held are told to retry when they come back.
        retries = [c.retries for c in was_held]
        for c in was_held:
            c.running.set()
        jt.wait_for(lambda: all(c.retries > r or c.error for c, r in zip(was_held, retries)), 15,
                    "the clients that were held to be told to retry")
        env.redis.publish(["slots"], {"n": 11})
        have(12)
    finally:
        stop.set()
        for c in clients:
            c.running.set()
            c.join(40)
        watcher.finish()
    connects = sorted(c.connect_s or 0 for c in clients)
    probes.sort()
    quick = sorted(t for c in clients for t in c.quick) or [0]
    held = [len(watcher.tokens.get(c.sid, ())) for c in clients]
    jt.diag("first connects (cold mod_fcgid): median %.2f s, slowest %.2f s; connects while "
            "holding: median %.2f s, slowest %.2f s; answers with retry: %d (median %.2f s, "
            "90th %.2f s, slowest %.2f s); held polls %d; most held at once %d"
            % (connects[len(connects) // 2], connects[-1], probes[len(probes) // 2], probes[-1],
               len(quick), quick[len(quick) // 2], quick[len(quick) * 9 // 10], quick[-1],
               sum(held), watcher.most_held))
    jt.diag("(retries, held polls) of each client: %s"
            % " ".join("(%d, %d)" % (c.retries, h) for c, h in zip(clients, held)))
    for i, c in enumerate(clients):
        jt.check(c.error is None, "client %d failed: %s" % (i, c.error))
        jt.equal(c.bad, [], "client %d: answers other than 200" % i)
        jt.equal([m["data"]["n"] for m in c.raw], list(range(12)),
                 "client %d: deliveries (each exactly once, in order)" % i)
    # mod_fcgid hands a request that finds every process busy a process in
    # steps of one second (the third process serves the clients' polls
    # meanwhile): mostly none or one such step, and never many. A connect
    # behind a held poll would wait for the poll's timeout (10 s): the next
    # message is sent only after the connect is answered.
    jt.check(probes[len(probes) // 2] < 1.5 and probes[-1] < 5.0,
             "connects while clients held took %s s" % ", ".join("%.2f" % p for p in probes))
    jt.check(0 < watcher.most_held <= FCGID_MAX_HELD, "most requests held at once: %d" % watcher.most_held)


@test
def t_fcgid_connect_burst(lab):
    """Apache + mod_fcgid, 3 processes, max_held 2: 20 pages connecting at once while two polls hold are all answered, none behind the held polls"""
    env = fcgid_stack(lab)
    holding = [env.http.connect(["burst"]) for _ in range(FCGID_MAX_HELD)]
    polls = [open_poll(env.web, sid, timeout=FCGID_POLL_TIMEOUT) for sid in holding]
    took = [None] * 20
    try:
        for sid in holding:
            env.wait_held(sid)
        start = threading.Barrier(len(took))

        def connect(i):
            start.wait(10)
            started = time.monotonic()
            r = env.http.post("connect", [], timeout=30)
            took[i] = (time.monotonic() - started, r.status)

        threads = [threading.Thread(target=connect, args=(i,), daemon=True) for i in range(len(took))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(40)
        # The held polls have not answered: the connects did not wait for
        # their processes.
        for p in polls:
            p._recv(time.monotonic())
            jt.check(not p.raw and not p.closed, "a held poll answered before the connects were done",
                     p.raw[:300])
    finally:
        # A message ends the held polls (closing them would leave their
        # slots taken until poll_timeout: mod_fcgid does not tell the worker).
        env.redis.publish(["burst"], "end")
        for p in polls:
            p.answer(10, "a held poll's answer")
    jt.check(all(took), "connects that did not finish", took)
    times = sorted(t for t, _ in took)
    jt.diag("20 connects at once while %d polls hold: median %.2f s, slowest %.2f s (%s)"
            % (FCGID_MAX_HELD, times[10], times[-1], ", ".join("%.2f" % t for t in times)))
    jt.equal([s for _, s in took], [200] * len(took), "statuses")


def set_connect_counters(env, n):
    """connect.lua's counters of the last, this and the next second (Redis
    clock) say n each: this second and the last count 2n whenever the next
    request runs. Returns their keys, for DEL."""
    second = int(env.redis.command("TIME")[0])
    keys = [env.prefix + "connects:%d" % s for s in (second - 1, second, second + 1)]
    for key in keys:
        env.redis.command("SET", key, str(n), "EX", "5")
    return keys


@test
def t_fcgid_hold_reserve(lab):
    """Apache + mod_fcgid at its output defaults, 3 processes, max_held auto: each worker process is counted alive in <prefix>procs; a poll is held only while a live process stays unheld (a lone process never), so with 3 live processes the third poll is answered at once with retry and a connect meanwhile finds a process; a crowd is 5 connects a live process (7 in two seconds: a crowd for one process, retry 2.5 s; none for three); an answered hold lets the next poll hold; stopped processes leave the count"""
    env = lab.env("fcgid-reserve", redis_tcp=True, web=None, poll_timeout=FCGID_POLL_TIMEOUT,
                  session_ttl=60)
    os.chmod(env.dir, 0o755)   # Apache's workers run as nobody when we are root
    os.chmod(env.config_path, 0o644)
    web = lab.web(env, "apache-reserve", FcgidHost, cap=FCGID_CAP)
    procs, spawning, holds = (env.prefix + k for k in ("procs", "procs:spawning", "holds"))
    live = lambda: env.redis.command("ZCARD", procs)  # noqa: E731

    def quick_poll(sid, ack=0):
        """A poll that could be held, answered at once with retry: its body."""
        started = time.monotonic()
        r = web.http.get("poll", {"session_id": sid, "ack": ack, "timeout": 20}, timeout=40)
        took = time.monotonic() - started
        jt.equal(r.status, 200, "status of a poll that is not held: %r" % r)
        body = r.json()
        jt.check("retry" in body and body["messages"] == [] and took < 1.5,
                 "a poll that must not be held: answered after %.2f s with %r" % (took, body))
        return body

    # One process (requests one after another never make mod_fcgid start
    # another): holding would pin it, so a poll is never held.
    sid = web.http.connect(["reserve"])
    jt.wait_for(lambda: live() >= 1, 10, "the worker process counted alive")
    jt.equal(live(), 1, "worker processes counted alive after one request at a time")
    quick_poll(sid)

    # 7 connects in two seconds are a crowd on a lone process (5 a process):
    # the next connect and a refused poll wait at least 2.5 s +-20 %.
    crowd = set_connect_counters(env, 3)
    r = web.http.post("connect", [("channel", "reserve")], timeout=40)
    jt.check(r.status == 200 and 2000 <= r.json().get("retry", 0) <= 3000,
             "a connect while 7 connect to a lone process: retry 2500 ms +-20 %%: %r" % r)
    body = quick_poll(sid)
    jt.check(2000 <= body["retry"] <= 3000,
             "a refused poll while 7 connect to a lone process: retry 2500 ms +-20 %", body)
    env.redis.command("DEL", *crowd)

    # Concurrent connects until mod_fcgid runs its 3 processes and the host
    # no longer counts as starting processes.
    jt.equal(start_fcgid_processes(web.http, env.redis, env.prefix, FCGID_CAP), FCGID_CAP,
             "worker processes counted alive after bursts of connects")
    jt.check(not env.redis.command("EXISTS", spawning), "the host still counts as starting processes")

    sids = [web.http.connect(["reserve"]) for _ in range(3)]
    polls = [open_poll(web, s, timeout=FCGID_POLL_TIMEOUT) for s in sids[:2]]
    try:
        for s in sids[:2]:
            env.wait_held(s)
        # max_held (4) has room, but a third hold would leave no process.
        quick_poll(sids[2])
        jt.equal(env.redis.command("ZCARD", holds), 2, "hold slots taken")
        # 7 connects in two seconds are no crowd on 3 processes (15 are).
        crowd = set_connect_counters(env, 3)
        started = time.monotonic()
        r = web.http.post("connect", [], timeout=40)
        took = time.monotonic() - started
        env.redis.command("DEL", *crowd)
        jt.equal(r.status, 200, "a connect while two polls hold: %r" % r)
        jt.check(0 < r.json().get("retry", 0) < 2000,
                 "a connect while two polls hold and 7 connect to 3 processes: retry under 2 s: %r" % r)
        # Behind a held poll it would wait for its timeout (30 s); mod_fcgid
        # may still step once (1 s) if the process was not returned yet.
        jt.check(took < 1.5, "a connect while two polls hold took %.2f s" % took)
        jt.equal(live(), FCGID_CAP, "worker processes counted alive")
    finally:
        env.redis.publish(["reserve"], "free")
        for p in polls:
            p.answer(10, "a held poll's answer")
    jt.wait_for(lambda: env.redis.command("ZCARD", holds) == 0, 5, "the hold slots given back")
    # The third session goes back to holding.
    msgs = poll_now(web, sids[2], 0)["messages"]
    jt.equal([m["data"] for m in msgs], ["free"], "the third session's delivery")
    jt.equal(live(), FCGID_CAP, "worker processes counted alive")
    last = open_poll(web, sids[2], ack=msgs[0]["id"], timeout=FCGID_POLL_TIMEOUT)
    try:
        env.wait_held(sids[2])
    finally:
        env.redis.publish(["reserve"], "end")
        last.answer(10, "the third session's held poll")

    # Stopped processes take themselves out of the count (a process that
    # dies unannounced would take its entry's 7 s to expire).
    web.stop()
    jt.wait_for(lambda: live() == 0, 5, "stopped worker processes leaving the count")


@test
def t_supersede_fcgid(lab):
    """Apache + mod_fcgid: a newer poll ends the older held one (another process) at once and takes over its hold slot; the next message arrives once"""
    env = fcgid_stack(lab)
    supersede_poll(env, env.web, env.web, "sup-fcgid", timeout=5, slots=True)


# ---------------------------------------------------------------- 4. transports

def check_refused(web, endpoint, sid, transports):
    started = time.monotonic()
    params = {"session_id": sid, "ack": 0}   # (htmlfile: its default callback, no JSONP)
    r = web.http.get(endpoint, params, timeout=10)
    took = time.monotonic() - started
    jt.equal(r.status, 503, "status of %s: %r" % (endpoint, r))
    jt.check(r.headers.get("retry-after", "").isdigit(), "%s: Retry-After" % endpoint, r)
    body = r.json()
    jt.equal((body.get("error"), body.get("transports")), ("unavailable", transports),
             "%s: error and transports" % endpoint)
    jt.check(isinstance(body.get("message"), str) and isinstance(body.get("retry"), int),
             "%s: message and retry" % endpoint, body)
    jt.check(took < 2.0, "%s refused after %.2f s" % (endpoint, took))


@test
def t_fcgid_transports_auto(lab):
    """mod_fcgid at its output defaults: connect offers longpoll and jsonp; sse, multipart, htmlfile refused at once (503, Retry-After, transports)"""
    env = fcgid_stack(lab)
    reply = env.http.ok_json("POST", "connect", body=[("channel", "tr")])
    jt.equal(reply.get("transports"), ["longpoll", "jsonp"], "transports offered")
    for endpoint in ("sse", "multipart", "htmlfile"):
        check_refused(env.web, endpoint, reply["session_id"], ["longpoll", "jsonp"])


@test
def t_transports_setting(lab):
    """the transports setting: its list in the connect answer (mod_fcgid and lighttpd), other streams refused naming it"""
    env = fcgid_stack(lab)
    conf = lab.config(env, "transports-fcgid", transports="jsonp longpoll")
    os.chmod(conf, 0o644)
    web = lab.web(env, "apache-transports", FcgidHost, conf, cap=FCGID_CAP)
    reply = web.http.ok_json("POST", "connect", body=[("channel", "tr2")])
    jt.equal(reply.get("transports"), ["jsonp", "longpoll"], "transports under mod_fcgid")
    check_refused(web, "sse", reply["session_id"], ["jsonp", "longpoll"])

    env = supersede_stack(lab)
    conf = lab.config(env, "transports-lighttpd", transports="longpoll,sse")
    web = lab.web(env, "lighttpd-transports", jt.Lighttpd, conf)
    reply = web.http.ok_json("POST", "connect", body=[("channel", "tr3")])
    jt.equal(reply.get("transports"), ["longpoll", "sse"], "transports behind lighttpd")
    check_refused(web, "multipart", reply["session_id"], ["longpoll", "sse"])


# ---------------------------------------------------------------- 3. a vanished page

def vanish_stack(lab):
    # The shipped keepalive_interval (15 s) and a short session_ttl: a page
    # that vanished must be reported within session_ttl + a few seconds
    # whatever the keepalive period is.
    return lab.env("vanish", session_ttl=VANISH_TTL, poll_timeout=4, keepalive_interval=15,
                   stream_max_duration=300, status_allow="127.0.0.1")


def worker_pid(web):
    """The pid of the worker process behind jt.Lighttpd (max-procs 1)."""
    return status(web)["worker"]["pid"]


def sockets_of(pid):
    """How many sockets the process has open (a held request keeps one)."""
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            n += os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:")
        except OSError:
            pass
    return n


def vanish(env, endpoint, channel):
    """Hold a request of a fresh session, close its client's socket, and
    wait for the session's unsubscribe event (and watch when the worker
    closes the request's connection: told in the diagnostics)."""
    sub = env.redis.subscribe("juggernaut:unsubscribe")
    try:
        sid = env.http.connect([channel])
        pid = worker_pid(env.web)
        params = {"session_id": sid, "ack": 0}
        if endpoint == "poll":
            params["timeout"] = 4
        s = pending(env.web, endpoint, params)
        if endpoint == "sse":
            s.read_headers(5)
        env.wait_held(sid)
        holding = sockets_of(pid)
        s.close()
        closed = time.monotonic()
        let_go = [None]

        def reported():
            if let_go[0] is None and sockets_of(pid) < holding:
                let_go[0] = time.monotonic() - closed
            return unsubscribe_events(sub, sid)
        limit = VANISH_TTL + 3
        try:
            events = jt.wait_for(reported, limit, "the unsubscribe event of the vanished page")
        finally:
            jt.diag("%s: the worker closed the request's connection %s; session_ttl %d s" % (
                endpoint, "%.2f s after the client left" % let_go[0] if let_go[0] is not None
                else "not within %d s" % limit, VANISH_TTL))
        jt.diag("%s: unsubscribed %.2f s after the client left" % (endpoint, time.monotonic() - closed))
        jt.equal([e["channel"] for e in events], [channel], "unsubscribe events")
    finally:
        sub.close()


@test
def t_status_counts_held(lab):
    """the status endpoint counts the requests a worker process holds (held.process), and stops counting one that was answered"""
    env = vanish_stack(lab)
    sid = env.http.connect(["counted"])
    last = {}

    def counted(n):
        last["held"] = status(env.web)["held"]
        return last["held"]["process"] == n

    def wait_counted(n, what):
        try:
            jt.wait_for(lambda: counted(n), 3, "held.process %d in the status answer %s" % (n, what))
        except AssertionError as e:
            raise AssertionError("%s; it said %r" % (e, last.get("held"))) from None

    wait_counted(0, "before")
    s = open_poll(env.web, sid, timeout=4)
    env.wait_held(sid)
    wait_counted(1, "while a poll is held")
    env.redis.publish(["counted"], "end")
    s.answer(5, "the held poll's answer")
    wait_counted(0, "once it was answered")


@test
def t_vanished_poll(lab):
    """lighttpd: the session of a held long-poll whose client closed is reported unsubscribed within session_ttl + 3 s"""
    vanish(vanish_stack(lab), "poll", "gone-poll")


@test
def t_vanished_sse(lab):
    """lighttpd: the session of a held SSE stream whose client closed is reported unsubscribed within session_ttl + 3 s (keepalive_interval 15)"""
    vanish(vanish_stack(lab), "sse", "gone-sse")


# ---------------------------------------------------------------- 5. CGI

@test
def t_cgi_held_poll(lab):
    """plain CGI: a long-poll is held (a hold slot taken) and a publish answers it at once, long before its timeout; the slot is given back"""
    env = lab.env("cgi", web=None, poll_timeout=10, session_ttl=30)
    sid = cgi(env, "GET", "/connect", "channel=cgi-held").json()["session_id"]
    result = {}

    def poll():
        result["r"] = cgi(env, "GET", "/poll", "session_id=%s&ack=0&timeout=10" % sid)

    t = threading.Thread(target=poll, daemon=True)
    t.start()
    env.wait_held(sid)
    holds = env.prefix + "holds"
    jt.equal(env.redis.command("ZCARD", holds), 1, "hold slots taken")
    published = time.monotonic()
    env.redis.publish(["cgi-held"], "to-cgi")
    # The held request gives its slot back once it has answered (the
    # process then still has to exit, which a busy machine or the
    # sanitizers can make slow): that is when it answered. Unwoken, it
    # would answer at its timeout, 10 s after it began.
    jt.wait_for(lambda: env.redis.command("ZCARD", holds) == 0, 10, "the hold slot given back")
    took = time.monotonic() - published
    t.join(20)
    jt.check("r" in result, "the CGI poll did not finish")
    body = result["r"].json()
    jt.equal([(m["channel"], m["data"]) for m in body["messages"]], [("cgi-held", "to-cgi")],
             "deliveries (%r)" % body)
    jt.check("retry" not in body, "the poll was not held", body)
    jt.check(took < 3.0, "answered %.2f s after the publish" % took)

    # A newer poll of the session (another CGI process) ends the held one
    # at once: its process is told on its own notify channel, named by the
    # holder token.
    ack = body["messages"][0]["id"]
    first = {}

    def held_poll():
        first["r"] = cgi(env, "GET", "/poll", "session_id=%s&ack=%d&timeout=10" % (sid, ack))

    answered = env.holder(sid)
    t = threading.Thread(target=held_poll, daemon=True)
    t.start()
    token = env.wait_held(sid, before=answered)
    jt.check(not token.startswith("."), "the holder token names its process: %r" % token)
    second = {}

    def newer_poll():
        second["r"] = cgi(env, "GET", "/poll", "session_id=%s&ack=%d&timeout=10" % (sid, ack))

    t2 = threading.Thread(target=newer_poll, daemon=True)
    superseded = time.monotonic()
    t2.start()
    jt.wait_for(lambda: "r" in first, 8, "the older CGI poll's answer")
    jt.check(time.monotonic() - superseded < 5.0, "the older poll ended at once, not at its timeout")
    jt.equal(first["r"].json().get("superseded"), True, "the older poll says it was superseded")
    env.wait_held(sid, before=token)
    env.redis.publish(["cgi-held"], "to-newer")
    t2.join(20)
    jt.check("r" in second, "the newer CGI poll did not finish")
    jt.equal([m["data"] for m in second["r"].json()["messages"]], ["to-newer"], "the newer poll's delivery")


@test
def t_cgi_retry_interval(lab):
    """plain CGI, every hold slot taken: a poll is answered at once with retry, 0.5 s + 40 ms per session per slot up to 2 s, past 167 sessions a slot 12 ms each, never past session_ttl / 3; spread by +-20 %"""
    env = lab.env("retry", web=None, poll_timeout=10, session_ttl=60)
    sid = cgi(env, "GET", "/connect", "channel=cgi-retry").json()["session_id"]
    slots = 4                                     # max_held auto under CGI
    now_ms = int(env.redis.command("TIME")[0]) * 1000
    # The slots taken (tokens of no process, held for a minute) and the
    # other sessions (live, last seen now): the load the interval follows.
    env.redis.command("ZADD", env.prefix + "holds",
                      *[x for i in range(slots) for x in (now_ms + 60000, "other.%d" % i)])
    added = 1
    for sessions, want_ms in ((1, 500), (100, 1500), (400, 2000), (1000, 3000), (8000, 20000)):
        if sessions > added:
            env.redis.command("ZADD", env.prefix + "sessions",
                              *[x for i in range(added, sessions) for x in (now_ms, "load%d" % i)])
            added = sessions
        jt.equal(env.redis.command("ZCARD", env.prefix + "sessions"), sessions, "live sessions")
        body = cgi(env, "GET", "/poll", "session_id=%s&ack=0&timeout=10" % sid).json()
        jt.check(body.get("messages") == [] and isinstance(body.get("retry"), int),
                 "a poll with no slot free: answered at once with retry", body)
        jt.check(want_ms * 0.8 <= body["retry"] <= want_ms * 1.2,
                 "%d sessions on %d slots: retry %d ms, want %d ms +-20 %%" % (sessions, slots, body["retry"], want_ms))


@test
def t_cgi_connect_carries_retry(lab):
    """plain CGI: a connect while every hold slot is taken says when to make the first poll (it would only be refused), with the interval a refused poll gets, at least 2.5 s while a crowd (20 connects in two seconds) connects, as for a refused poll then; with a slot free it says nothing"""
    env = lab.env("retry-connect", web=None, poll_timeout=10, session_ttl=60)
    connect = lambda: cgi(env, "POST", "/connect", "channel=cgi-first").json()  # noqa: E731
    body = connect()
    jt.check("session_id" in body and "retry" not in body, "a slot free: no retry", body)
    now_ms = int(env.redis.command("TIME")[0]) * 1000
    others = ["other.%d" % i for i in range(4)]   # max_held auto under CGI: 4
    env.redis.command("ZADD", env.prefix + "holds", *[x for t in others for x in (now_ms + 60000, t)])
    body = connect()
    jt.check("session_id" in body and isinstance(body.get("retry"), int) and 400 <= body["retry"] <= 600,
             "no slot free, 2 sessions: retry 500 ms +-20 %", body)
    poll = cgi(env, "GET", "/poll", "session_id=%s&ack=0&timeout=10" % body["session_id"]).json()
    jt.check(poll.get("messages") == [] and isinstance(poll.get("retry"), int),
             "its first poll is indeed refused", poll)
    # A crowd: the counters of this second and the last say 30 connects each.
    crowd = set_connect_counters(env, 30)
    body = connect()
    jt.check("session_id" in body and isinstance(body.get("retry"), int) and 2000 <= body["retry"] <= 3000,
             "a crowd connecting, no slot free: retry 2500 ms +-20 %", body)
    poll = cgi(env, "GET", "/poll", "session_id=%s&ack=0&timeout=10" % body["session_id"]).json()
    jt.check(poll.get("messages") == [] and isinstance(poll.get("retry"), int) and 2000 <= poll["retry"] <= 3000,
             "a poll refused while the crowd connects: retry 2500 ms +-20 % too", poll)
    env.redis.command("DEL", *crowd)
    env.redis.command("ZADD", env.prefix + "sessions", *[x for i in range(96) for x in (now_ms, "load%d" % i)])
    body = connect()
    jt.equal(env.redis.command("ZCARD", env.prefix + "sessions"), 100, "live sessions")
    jt.check("session_id" in body and isinstance(body.get("retry"), int) and 1200 <= body["retry"] <= 1800,
             "no slot free, 100 sessions on 4 slots: retry 1500 ms +-20 %", body)
    env.redis.command("ZREM", env.prefix + "holds", others[0])
    body = connect()
    jt.check("session_id" in body and "retry" not in body, "a slot free again: no retry", body)


@test
def t_cgi_answer_carries_retry(lab):
    """plain CGI: a poll answered with deliveries while every hold slot is taken says when to poll again (its next poll would only be refused); with a slot free it does not"""
    env = lab.env("retry-items", web=None, poll_timeout=10, session_ttl=60)
    sid = cgi(env, "GET", "/connect", "channel=cgi-items").json()["session_id"]
    now_ms = int(env.redis.command("TIME")[0]) * 1000
    others = ["other.%d" % i for i in range(4)]   # max_held auto under CGI: 4
    env.redis.command("ZADD", env.prefix + "holds", *[x for t in others for x in (now_ms + 60000, t)])
    env.redis.publish(["cgi-items"], "full")
    env.wait_queued(sid, 1)
    body = cgi(env, "GET", "/poll", "session_id=%s&ack=0&timeout=10" % sid).json()
    jt.equal([m["data"] for m in body["messages"]], ["full"], "the delivery")
    jt.check(isinstance(body.get("retry"), int) and 400 <= body["retry"] <= 2400,
             "no slot free: the answer says when to poll again", body)
    env.redis.command("ZREM", env.prefix + "holds", *others)
    env.redis.publish(["cgi-items"], "free")
    env.wait_queued(sid, 2)
    ack = body["messages"][0]["id"]
    body = cgi(env, "GET", "/poll", "session_id=%s&ack=%d&timeout=10" % (sid, ack)).json()
    jt.equal(body, {"messages": [dict(body["messages"][0], data="free")]}, "a slot free: no retry")


# ---------------------------------------------------------------- 6. idle cost

def threads_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    raise AssertionError("no Threads: line for pid %d" % pid)


@test
def t_idle_cost(lab):
    """200 held long-polls on one lighttpd worker process: at most threads + 2 threads, and one publish answers all of them"""
    env = lab.env("idle", poll_timeout=60, session_ttl=120, threads=IDLE_THREADS,
                  status_allow="127.0.0.1")
    sids = [env.http.connect(["idle"]) for _ in range(IDLE_POLLS)]
    polls = []
    try:
        pid = worker_pid(env.web)
        polls = [open_poll(env.web, sid, timeout=60) for sid in sids]
        jt.wait_for(lambda: held_count(env, sids) == IDLE_POLLS, 30, "%d polls held" % IDLE_POLLS)
        threads = threads_of(pid)
        jt.diag("worker %d holds %d polls with %d threads" % (pid, IDLE_POLLS, threads))
        jt.check(threads <= IDLE_THREADS + 2, "the worker runs %d threads (threads %d)"
                 % (threads, IDLE_THREADS))
        published = time.monotonic()
        env.redis.publish(["idle"], "to-all")
        ids = set()
        for i, p in enumerate(polls):
            r = p.answer(10, "poll %d's answer" % i)
            msgs = r.json()["messages"]
            jt.equal([(m["channel"], m["data"]) for m in msgs], [("idle", "to-all")],
                     "poll %d's deliveries" % i)
            ids.add(msgs[0]["id"])
        took = time.monotonic() - published
        jt.diag("one publish answered %d held polls in %.2f s" % (IDLE_POLLS, took))
        jt.equal(len(ids), 1, "delivery ids")
        jt.check(took < 5.0, "answering them all took %.2f s" % took)
    finally:
        for p in polls:
            p.close()


BOUND_HELD = 6         # max_held_per_process of the bound test


@test
def t_held_bounded(lab):
    """one client holding more streams than the worker has threads, up to max_held_per_process:
    short requests are answered at once, a stream beyond the limit is refused at once
    with 503 + Retry-After, a long-poll told to retry; a freed place is used again"""
    env = lab.env("bound", threads=IDLE_THREADS, max_held_per_process=BOUND_HELD, poll_timeout=20)
    sids = [env.http.connect(["bound"]) for _ in range(BOUND_HELD + 1)]
    streams = []
    try:
        streams = [Stream(env.web, "sse", {"session_id": sid}) for sid in sids[:BOUND_HELD]]
        jt.wait_for(lambda: held_count(env, sids[:BOUND_HELD]) == BOUND_HELD, 20,
                    "%d streams held (threads %d)" % (BOUND_HELD, IDLE_THREADS))

        def quick(what, fn):
            started = time.monotonic()
            r = fn()
            took = time.monotonic() - started
            jt.check(took < 3.0, "%s took %.1f s while the worker holds its limit" % (what, took))
            return r
        for _ in range(3):
            r = quick("connect", lambda: env.http.post("connect", {"channel": "other"}))
            jt.equal(r.status, 200, "connect: %r" % r)
        r = quick("subscribe", lambda: env.http.post("subscribe", {"session_id": sids[-1], "channel": "more"}))
        jt.equal(r.status, 200, "subscribe: %r" % r)
        r = quick("a stream beyond the limit", lambda: env.http.get("sse", {"session_id": sids[-1]}))
        jt.equal(r.status, 503, "status of a stream beyond the limit: %r" % r)
        jt.check(r.headers.get("retry-after", "").isdigit(), "503 carries Retry-After", r.headers)
        jt.equal(r.json().get("error"), "unavailable", "error code")
        r = quick("a long-poll beyond the limit",
                  lambda: env.http.get("poll", {"session_id": sids[-1], "timeout": 20}))
        jt.equal(r.status, 200, "status of a long-poll beyond the limit: %r" % r)
        jt.check(r.json().get("retry", 0) > 0, "the long-poll is told when to poll again", r.json())
        # A place freed is a place to hold again.
        streams.pop().close()

        def held_again():
            s = Stream(env.web, "sse", {"session_id": sids[-1]})
            if s.status == 200:
                streams.append(s)
                return True
            s.close()
            return False
        jt.wait_for(held_again, 10, "a stream held in the freed place", interval=0.2)
    finally:
        for s in streams:
            s.close()


def setup():
    return Lab()


if __name__ == "__main__":
    jt.main(suite, setup)
