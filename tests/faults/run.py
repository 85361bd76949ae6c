#!/usr/bin/env python3
# run.py -- the fault suite ("make faults"): does the promise "nothing lost,
# nothing repeated" hold when things break?
#
# For each fault, a private stack (redis-server, lighttpd + juggernaut.fcgi,
# poller(s)) in a temporary directory runs under steady load: CLIENTS browser
# sessions on channel "load" (half long-poll with ack, half SSE resuming with
# Last-Event-ID; each drops a delivery whose id is not above the last one it
# handled, as the browser client does) and a publisher at RATE messages/s.
# The fault is injected, the stack recovers, publishing stops, clients
# drain; then one row is printed:
#
#   published    messages published on the app channel (valid ones)
#   delivered    deliveries the application saw (a delivery = a message x a client)
#   lost: nopoller   PUBLISH reached no poller (no poller subscribed)
#         pubfail    PUBLISH failed (Redis down)
#         data       the client's session vanished with Redis's data (it got 410
#                    and connected again) or the client was told it missed them
#                    or Redis came back without them (an older snapshot)
#         killed     in the memory of the only poller when it was killed -9
#                    (published within a second of the kill, delivered to nobody)
#         other      every other loss: the target is 0
#   dup          deliveries of one message the application saw twice: target 0
#   order        deliveries that came after a later message
#   recovery     fault -> the first message after it that every client received
#
# Only the HTTP protocol is used (no Redis internals), so the suite works
# whatever the key schema or the id scheme. It takes a few minutes; every
# wait is bounded. Exit status 1 if a row misses the target.
#
# Usage: run.py [--only NAME[,NAME]] [--clients N] [--rate R] [--list]
import argparse
import http.client
import json
import os
import random
import signal
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import jugtest as jt  # noqa: E402

LEASE_MS = 1500
CHANNEL = "load"


# ---------------------------------------------------------------- the load

class Ledger:
    """What was published, and when: k -> (time, outcome)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.published = {}      # k -> (t, "ok" | "nopoller" | "pubfail")

    def add(self, k, t, outcome):
        with self.lock:
            self.published[k] = (t, outcome)


class Publisher(threading.Thread):
    """RATE valid messages per second with data {"n": k}; k increases."""

    def __init__(self, address, ledger, rate):
        super().__init__(daemon=True)
        self.address, self.ledger, self.rate = address, ledger, rate
        self.k = 0
        self.running = True
        self.conn = None
        self.lock = threading.Lock()    # burst() and the loop share the connection

    def publish(self, k, text=None):
        text = text or json.dumps({"channels": [CHANNEL], "data": {"n": k}})
        t = time.monotonic()
        try:
            if self.conn is None:
                self.conn = jt.RedisConnection(self.address, timeout=1.0)
            n = self.conn.command("PUBLISH", "juggernaut", text)
            self.ledger.add(k, t, "ok" if n > 0 else "nopoller")
        except (OSError, ConnectionError, jt.RedisError):
            self.ledger.add(k, t, "pubfail")
            if self.conn:
                self.conn.close()
            self.conn = None

    def run(self):
        period = 1.0 / self.rate
        next_at = time.monotonic()
        while self.running:
            with self.lock:
                self.k += 1
                self.publish(self.k)
            next_at += period
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_at = time.monotonic()

    def burst(self, count):
        with self.lock:
            for _ in range(count):
                self.k += 1
                self.publish(self.k)

    def stop(self):
        self.running = False
        self.join(5)


class Client(threading.Thread):
    """One browser session; records what the application would see."""

    def __init__(self, index, target, sse, paused=lambda: 0.0):
        super().__init__(daemon=True)
        self.index, self.target, self.sse, self.paused = index, target, sse, paused
        self.running = True
        self.sid = None
        self.last_id = 0
        self.sessions = []       # [t_connected, t_expired or None]
        self.got = {}            # k -> [times received]
        self.order = []          # k in the order the application saw them
        self.told = 0            # deliveries the server said were missed
        self.undecodable = 0

    # -- plumbing
    def host_port(self):
        return self.target()

    def request(self, path, timeout):
        host, port = self.host_port()
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            conn.request("GET", "/juggernaut/" + path)
            r = conn.getresponse()
            return r.status, r.getheader("Retry-After"), r.read()
        finally:
            conn.close()

    def connect(self):
        while self.running:
            try:
                status, _, body = self.request("connect?channel=" + CHANNEL, 10)
                if status == 200:
                    self.sid = json.loads(body)["session_id"]
                    self.last_id = 0
                    self.sessions.append([time.monotonic(), None])
                    return True
            except (OSError, ValueError, http.client.HTTPException):
                pass
            time.sleep(0.3)
        return False

    def expired(self):
        if self.sessions and self.sessions[-1][1] is None:
            self.sessions[-1][1] = time.monotonic()
        self.sid = None

    def deliver(self, m):
        """One delivery as the browser client handles it."""
        try:
            i = int(m.get("id", 0))
        except (TypeError, ValueError):
            return
        if i <= self.last_id:
            return                # a repeat by id: dropped, as juggernaut.js does
        self.last_id = i
        data = m.get("data")
        if isinstance(data, dict) and isinstance(data.get("n"), int):
            self.got.setdefault(data["n"], []).append(time.monotonic())
            self.order.append(data["n"])

    # -- long-poll
    def poll_once(self):
        pause = self.paused()          # a slow client: no poll for a while
        if pause > 0:
            time.sleep(pause)
        try:
            status, retry, body = self.request(
                "poll?session_id=%s&ack=%d&timeout=5" % (self.sid, self.last_id), 20)
        except (OSError, http.client.HTTPException):
            time.sleep(0.3)
            return
        if status == 410:
            self.expired()
            return
        if status != 200:
            time.sleep(min(float(retry or 0.5), 1.0))
            return
        try:
            reply = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            self.undecodable += 1   # a strict client cannot acknowledge past it
            time.sleep(0.3)
            return
        self.told += int(reply.get("missed", 0) or 0)
        for m in reply.get("messages", []):
            self.deliver(m)
        if reply.get("retry"):
            time.sleep(min(reply["retry"] / 1000.0, 2.0))

    # -- SSE
    def sse_once(self):
        host, port = self.host_port()
        try:
            s = socket.create_connection((host, port), timeout=15)
        except OSError:
            time.sleep(0.3)
            return
        try:
            req = "GET /juggernaut/sse?session_id=%s HTTP/1.0\r\nAccept: text/event-stream\r\n" \
                  % self.sid
            if self.last_id:
                req += "Last-Event-ID: %d\r\n" % self.last_id
            s.sendall((req + "\r\n").encode())
            f = s.makefile("rb")
            status = f.readline().split()
            if len(status) < 2:
                return
            while f.readline() not in (b"\r\n", b"\n", b""):
                pass
            if status[1] == b"410":
                self.expired()
                return
            if status[1] != b"200":
                time.sleep(0.5)
                return
            event, data = None, []
            while self.running:
                line = f.readline()
                if not line:
                    return
                line = line.rstrip(b"\r\n")
                if line == b"":
                    self.sse_event(event, b"\n".join(data))
                    event, data = None, []
                elif line.startswith(b"data:"):
                    data.append(line[5:].lstrip(b" "))
                elif line.startswith(b"event:"):
                    event = line[6:].strip().decode("latin-1")
        except (OSError, ValueError):
            return
        finally:
            s.close()

    def sse_event(self, event, data):
        if not data:
            return
        try:
            obj = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            self.undecodable += 1
            return
        if not isinstance(obj, dict):
            return
        if event == "juggernaut-error" or obj.get("error") == "session_expired":
            if obj.get("error") == "session_expired":
                self.expired()
            return
        if "missed" in obj and "id" not in obj:
            self.told += int(obj.get("missed") or 0)
            return
        if event in (None, "message"):
            self.deliver(obj)

    def run(self):
        while self.running:
            if self.sid is None and not self.connect():
                return
            if self.sse:
                self.sse_once()
                time.sleep(0.05)
            else:
                self.poll_once()

    def stop(self):
        self.running = False


# ---------------------------------------------------------------- the proxy that cuts responses

class CutProxy(threading.Thread):
    """Forwards to the web server; cuts a share of the responses mid-body."""

    def __init__(self, upstream, share=0.3):
        super().__init__(daemon=True)
        self.upstream, self.share = upstream, share
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.running = True
        self.cut = 0

    def run(self):
        while self.running:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        try:
            u = socket.create_connection(self.upstream(), timeout=30)
        except OSError:
            c.close()
            return
        limit = random.randint(40, 3000) if random.random() < self.share else None

        def up():
            try:
                while True:
                    b = c.recv(65536)
                    if not b:
                        break
                    u.sendall(b)
            except OSError:
                pass

        threading.Thread(target=up, daemon=True).start()
        sent, header_done, buf = 0, False, b""
        try:
            while True:
                b = u.recv(65536)
                if not b:
                    break
                if limit is not None:
                    if not header_done:
                        buf += b
                        at = buf.find(b"\r\n\r\n")
                        if at < 0:
                            c.sendall(b)
                            continue
                        header_done = True
                        body = buf[at + 4:]
                        c.sendall(b[:len(b) - len(body)])
                        b = body
                    if sent + len(b) >= limit:
                        c.sendall(b[:max(0, limit - sent)])
                        self.cut += 1
                        break
                    sent += len(b)
                c.sendall(b)
        except OSError:
            pass
        finally:
            for s in (c, u):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def stop(self):
        self.running = False
        self.sock.close()


# ---------------------------------------------------------------- the faults

def worker_pids(env):
    """Processes whose parent is the web server (the FastCGI workers)."""
    parent = env.web.proc.pid
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[1]) == parent and "juggernaut" in stat[:stat.rfind(")")]:
            out.append(int(d))
    return out


def leader_poller(env):
    lease = env.redis.command("GET", env.prefix + "poller:lease")
    for p in env.pollers:
        if p.ident == lease:
            return p
    raise AssertionError("no poller of ours holds the lease (%r)" % lease)


def f_poller_kill(env, run):
    p = leader_poller(env)
    run.killed_only_poller = True
    p.kill()
    time.sleep(1.0)                    # a supervisor restarts it after a while
    p.start()


def f_poller_kill_standby(env, run):
    p = leader_poller(env)
    p.kill()
    time.sleep(2 * LEASE_MS / 1000 + 1)
    p.start()                          # back as a standby


def f_poller_stop(env, run):
    p = leader_poller(env)
    os.kill(p.proc.pid, signal.SIGSTOP)
    time.sleep(2 * LEASE_MS / 1000 + 1)
    os.kill(p.proc.pid, signal.SIGCONT)


def f_worker_kill(env, run):
    pids = worker_pids(env)
    jt.check(pids, "no FastCGI worker found")
    for pid in pids:
        os.kill(pid, signal.SIGKILL)


def f_web_restart(env, run):
    env.web.stop()
    time.sleep(0.5)
    env.web.start()


def f_redis_restart(env, run):
    env.redis.stop()
    time.sleep(1.0)
    env.redis.start()


def f_redis_snapshot(env, run):
    env.redis.command("SAVE")          # the snapshot Redis will come back from
    run.forgotten_from = time.monotonic()
    time.sleep(3.0)
    env.redis.stop()
    time.sleep(0.5)
    env.redis.start()


def f_cut(env, run):
    time.sleep(8.0)                    # the proxy cuts while this runs


def f_malformed(env, run):
    bad = ["not json", '{"channels":["load"],"data":"\xff\xfe"}'.encode("latin-1"),
           '{"channels":["load"],"data":1e999999}', '{"channels":["load"],"data":"\\ud800"}',
           '{"channels":["load"],"data":1,"data":2}', '{"channels":[]}', "[1,2]",
           '{"channels":["load"],"data":"' + "x" * 70000 + '"}', '{"channels":["bad name"]}']
    c = jt.RedisConnection(env.redis.address)
    try:
        end = time.monotonic() + 6.0
        i = 0
        while time.monotonic() < end:
            c.command("PUBLISH", "juggernaut", bad[i % len(bad)])
            i += 1
            time.sleep(0.02)
    finally:
        c.close()


def f_maxmemory(env, run):
    env.redis.command("CONFIG", "SET", "maxmemory", "1")
    time.sleep(4.0)
    env.redis.command("CONFIG", "SET", "maxmemory", "0")


def f_burst(env, run):
    run.slow_until = time.monotonic() + 2.0   # long-poll clients stop polling meanwhile
    run.publisher.burst(400)           # max_queue is 100 in this stack


FAULTS = [
    # name, function, stack options
    ("poller kill -9, no standby", f_poller_kill, {}),
    ("poller kill -9, standby", f_poller_kill_standby, {"pollers": 2}),
    ("poller SIGSTOP/SIGCONT", f_poller_stop, {"pollers": 2}),
    ("worker kill -9", f_worker_kill, {}),
    ("web server restart", f_web_restart, {}),
    ("redis restart, no persistence", f_redis_restart, {}),
    ("redis restart, AOF", f_redis_restart, {"redis_persistent": True}),
    ("redis restart, older snapshot", f_redis_snapshot, {}),
    ("responses cut mid-body (30 %)", f_cut, {"proxy": True}),
    ("malformed + oversized publishes", f_malformed, {}),
    ("redis at maxmemory", f_maxmemory, {}),
    ("burst past max_queue", f_burst, {"max_queue": 100}),
]


# ---------------------------------------------------------------- one run

class Run:
    def __init__(self, name, fault, opts, clients, rate):
        self.name, self.fault, self.opts = name, fault, opts
        settings = dict(poll_timeout=5, poller_lease_ms=LEASE_MS, threads=2 * clients + 16,
                        session_ttl=30, keepalive_interval=5, stream_max_duration=20)
        if "max_queue" in opts:
            settings["max_queue"] = opts["max_queue"]
        self.env = jt.Env("faults", redis_persistent=opts.get("redis_persistent", False),
                          pollers=opts.get("pollers", 1), **settings)
        self.nclients, self.rate = clients, rate
        self.proxy = None

    def target(self):
        if self.proxy:
            return ("127.0.0.1", self.proxy.port)
        return ("127.0.0.1", self.env.web.port)

    def execute(self):
        env = self.env.start()
        if self.opts.get("proxy"):
            self.proxy = CutProxy(lambda: ("127.0.0.1", env.web.port))
            self.proxy.start()
        self.slow_until = 0.0
        self.clients = [Client(i, self.target, sse=(i % 2 == 1),
                               paused=lambda: self.slow_until - time.monotonic())
                        for i in range(self.nclients)]
        for c in self.clients:
            c.start()
        jt.wait_for(lambda: all(c.sessions for c in self.clients), 30, "every client connected")
        time.sleep(1.0)                       # streams and polls are open
        self.ledger = Ledger()
        self.publisher = Publisher(env.redis.address, self.ledger, self.rate)
        self.publisher.start()
        time.sleep(3.0)                       # steady state
        self.fault_at = time.monotonic()
        self.fault(env, self)
        self.fault_end = time.monotonic()
        jt.wait_for(self.recovered, 40, "every client to receive a message published after "
                    "the fault", interval=0.2)
        time.sleep(3.0)                       # steady state again
        self.publisher.stop()
        last = self.publisher.k
        # Drain: every client has what it will get (bounded).
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if all(last in c.got for c in self.clients):
                break
            time.sleep(0.2)
        time.sleep(1.5)
        for c in self.clients:
            c.stop()
        if self.proxy:
            self.proxy.stop()

    def recovered(self):
        with self.ledger.lock:
            after = sorted(k for k, (t, o) in self.ledger.published.items()
                           if t >= self.fault_end and o == "ok")
        for k in after[:200]:
            if all(k in c.got for c in self.clients):
                self.recovery = max(max(c.got[k]) for c in self.clients) - self.fault_at
                return True
        return False

    def row(self):
        pub = dict(self.ledger.published)
        row = dict(published=len(pub), delivered=0, nopoller=0, pubfail=0, data=0, killed=0,
                   other=0, dup=0, order=0, recovery=getattr(self, "recovery", None),
                   undecodable=0)
        nobody = set(k for k in pub if not any(k in c.got for c in self.clients))
        for c in self.clients:
            row["undecodable"] += c.undecodable
            first_session = c.sessions[0][0]
            seen_max = 0
            for k in c.order:
                if k < seen_max:
                    row["order"] += 1
                seen_max = max(seen_max, k)
            other = 0
            for k, (t, outcome) in pub.items():
                if t < first_session:
                    continue
                times = c.got.get(k)
                if times:
                    row["delivered"] += 1
                    row["dup"] += len(times) - 1
                    continue
                if outcome != "ok":
                    row[outcome] += 1
                    continue
                if getattr(self, "killed_only_poller", False) and k in nobody and \
                        self.fault_at - 1.0 <= t <= self.fault_at + 1.0:
                    row["killed"] += 1
                    continue
                if getattr(self, "forgotten_from", None) and \
                        self.forgotten_from <= t <= self.fault_end:
                    row["data"] += 1       # queued after the snapshot: Redis forgot it
                    continue
                # The session in force when k was published: did it vanish?
                sess = [s for s in c.sessions if s[0] <= t]
                if not sess or sess[-1][1] is not None:
                    row["data"] += 1
                else:
                    other += 1
            if other and os.environ.get("JUG_FAULTS_VERBOSE"):
                lost = sorted(k for k, (t, o) in pub.items() if o == "ok" and t >= first_session
                              and k not in c.got)
                print("    client %d: not received: %s" % (c.index, ", ".join(
                    "%d (%+.2f s)" % (k, pub[k][0] - self.fault_at) for k in lost[:10])))
            told = min(other, c.told)
            row["data"] += told
            row["other"] += other - told
        return row


def main():
    ap = argparse.ArgumentParser(description="fault-injection suite (make faults)")
    ap.add_argument("--only", help="comma-separated substrings of fault names")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--rate", type=float, default=50.0)
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    faults = FAULTS
    if args.only:
        wanted = [w.strip() for w in args.only.split(",")]
        faults = [f for f in FAULTS if any(w in f[0] for w in wanted)]
    if args.list:
        for f in FAULTS:
            print(f[0])
        return 0
    def on_alarm(signum, frame):
        raise jt.Bail("time limit of the fault suite exceeded")
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(120 * len(faults) + 60)
    head = "%-32s %9s %9s %8s %8s %6s %6s %6s %5s %6s %9s" % (
        "fault", "published", "delivered", "nopoller", "pubfail", "data", "killed", "other",
        "dup", "order", "recovery")
    print("%d clients (half long-poll, half SSE), %.0f msg/s; lost counts are deliveries" % (
        args.clients, args.rate))
    print(head)
    print("-" * len(head))
    missed = 0
    for name, fn, opts in faults:
        run = Run(name, fn, opts, args.clients, args.rate)
        error = None
        try:
            run.execute()
        except (Exception, jt.Bail) as e:   # report and go on with the next fault
            error = str(e).split("\n")[0]
        finally:
            for c in getattr(run, "clients", []):
                c.stop()
            if getattr(run, "publisher", None):
                run.publisher.running = False
            run.env.stop()
        if not hasattr(run, "ledger"):
            print("%-32s could not run: %s" % (name, error))
            run.env.cleanup(keep=True)
            missed += 1
            continue
        r = run.row()
        rec = "%.1f s" % r["recovery"] if r["recovery"] is not None else "never"
        print("%-32s %9d %9d %8d %8d %6d %6d %6d %5d %6d %9s%s" % (
            name, r["published"], r["delivered"], r["nopoller"], r["pubfail"], r["data"],
            r["killed"], r["other"], r["dup"], r["order"], rec,
            "  (%d undecodable)" % r["undecodable"] if r["undecodable"] else ""))
        if error:
            print("    %s" % error)
        bad = r["other"] or r["dup"] or error
        if bad:
            missed += 1
        run.env.cleanup(keep=bool(bad) and os.environ.get("JUG_KEEP_TMP") == "1")
        sys.stdout.flush()
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
