#!/usr/bin/env python3
# sharedhost.py -- "make bench-sharedhost": the shared-host benchmark (figures,
# not a test). A stock shared host, as issue 7 measured it: Apache + mod_fcgid
# at its module defaults (Debian's fcgid.conf, FcgidOutputBufferSize 65536 and
# all) running juggernaut.fcgi through the built conf/htaccess under
# "AllowOverride FileInfo Options", with the host's process cap
# (FcgidMaxProcessesPerClass) as the only change; a private Redis (TCP) and
# one standalone poller; everything on loopback in a temporary directory.
#
#   longpoll  --browsers (200) long-poll browsers following the protocol
#             (connect, poll with ack, wait "retry" ms when told, back off on
#             503), one message a second for --seconds (60) under a cap of
#             --cap (10) processes: share delivered, duplicated, latency
#             p50/p99 (publish -> received), connect latency p50/p99 (from
#             when each browser opens: a cold host, no process yet), the
#             connect latency of a page opening every 0.5 s meanwhile (a
#             host that serves), HTTP 503 count, peak worker processes,
#             polls a second and the worker processes' CPU time while
#             publishing (what the retry interval costs).
#             --trace adds where connect time went (see trace_report).
#   pages     --pages (40) page views of the automatic client opened over
#             --open-over (20) s under a cap of --page-cap (20): each does
#             what juggernaut.js does (connect; the server's "transports", or
#             the client's default list; each stream given openTimeout 5 s to
#             show its first bytes, a 503 with "retry"/"transports" moving on
#             at once; then long-poll), one message a second from the first
#             page view until --seconds after the last: HTTP 503 count, share
#             delivered, connect p90, first message p50/p90 (publish ->
#             arrival of the first message published once the page had its
#             session) and load -> first message, peak processes.
#
# http_statuses counts every answer by status, plus "timeout" (no answer
# within the client's patience: 120 s for connect, poll_timeout + 15 s for a
# poll), "cut" (refused, reset or cut off), "0" (closed without a status
# line) and "silent" (a stream that showed nothing within openTimeout).
#
# The load generator is asyncio (one connection per request, as a browser
# without keep-alive); every phase has a hard deadline; the worker and poller
# are whatever the build directory holds (configure without sanitizers for
# meaningful figures). Usage: sharedhost.py [--only longpoll,pages] [--quick]

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))
import jugtest  # noqa: E402  (after the path is set)
from webservers import SharedHostApache, unprivileged_account  # noqa: E402

PREFIX = "jugbench:"
CHANNEL = "bench"
DEFAULT_TRANSPORTS = ["sse", "multipart", "htmlfile", "longpoll", "jsonp"]
STREAMS = ("sse", "multipart", "htmlfile")
OPEN_TIMEOUT = 5.0          # the client's openTimeout default
POLL_TIMEOUT = 25           # conf/juggernaut.conf's default poll_timeout
PROBE_EVERY = 0.5           # long-poll phase: a page opening this often while it serves


def say(text=""):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


# ---------------------------------------------------------------- HTTP (asyncio)

class Http:
    """Requests through Apache to the worker, counting every status."""

    def __init__(self, port, prefix):
        self.port = port
        self.prefix = prefix
        self.statuses = {}
        self.requests = {}         # label -> requests made, and label + " retry": answered with "retry"
        self.trace = None          # --trace: (endpoint, start, end, status, retry ms) per request

    def _count(self, status):
        self.statuses[status] = self.statuses.get(status, 0) + 1

    async def _open(self, method, endpoint, query=None, form=None):
        path = "%s/%s%s" % (self.prefix, endpoint, "?" + query if query else "")
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        body = form.encode() if form else b""
        head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n" % (method, path, self.port)
        if form is not None:
            head += "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n" % len(body)
        writer.write(head.encode() + b"\r\n" + body)
        await writer.drain()
        return reader, writer

    @staticmethod
    async def _head(reader):
        status_line = await reader.readline()
        m = re.match(rb"HTTP/\d\.\d (\d+)", status_line)
        headers = {}
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            k, _, v = line.decode("latin-1").partition(":")
            headers[k.strip().lower()] = v.strip()
        return (int(m.group(1)) if m else 0), headers

    @staticmethod
    async def _body(reader, headers):
        if headers.get("transfer-encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int((await reader.readline()).split(b";")[0] or b"0", 16)
                if size == 0:
                    return out
                out += await reader.readexactly(size)
                await reader.readline()
        return await reader.read()

    async def request(self, method, endpoint, query=None, form=None, timeout=60, label=None):
        """(status, parsed JSON or None); status 0 when nothing (valid) came back.
        label: what --trace calls the request (default: the endpoint)."""
        writer = None
        started = time.time()
        try:
            async def go():
                nonlocal writer
                reader, writer = await self._open(method, endpoint, query, form)
                status, headers = await self._head(reader)
                return status, await self._body(reader, headers)
            status, body = await asyncio.wait_for(go(), timeout)
            self._count(status)
        except asyncio.TimeoutError:
            status, body = 0, b""
            self._count("timeout")           # no answer within the client's patience
        except (OSError, asyncio.IncompleteReadError, ValueError):
            status, body = 0, b""
            self._count("cut")               # refused, reset or cut off mid-answer
        finally:
            if writer:
                writer.close()
        try:
            obj = json.loads(body) if body else None
        except ValueError:
            obj = None
        retry = obj.get("retry") if isinstance(obj, dict) else None
        for key in [label or endpoint] + ([(label or endpoint) + " retry"] if retry else []):
            self.requests[key] = self.requests.get(key, 0) + 1
        if self.trace is not None:
            self.trace.append((label or endpoint, started, time.time(), status, retry))
        return status, obj

    async def stream(self, endpoint, query, open_timeout, on_text, stop):
        """A stream request: 'refused' (an answer other than 200, or a 503
        with advice; returns the JSON too), 'silent' (no body byte within
        open_timeout: dropped, as the client does), 'ended' or 'stopped'."""
        writer = None
        try:
            reader, writer = await asyncio.wait_for(self._open("GET", endpoint, query), open_timeout)
            status, headers = await asyncio.wait_for(self._head(reader), open_timeout)
            self._count(status)
            if status != 200:
                body = await asyncio.wait_for(self._body(reader, headers), 5)
                try:
                    return "refused", json.loads(body)
                except ValueError:
                    return "refused", None
            first = await asyncio.wait_for(reader.read(65536), open_timeout)
            if not first:
                return "ended", None
            on_text(first.decode("utf-8", "replace"))
            while not stop.is_set():
                chunk = await reader.read(65536)
                if not chunk:
                    return "ended", None
                on_text(chunk.decode("utf-8", "replace"))
            return "stopped", None
        except asyncio.TimeoutError:
            self._count("silent")
            return "silent", None
        except (OSError, asyncio.IncompleteReadError, ValueError):
            self._count("cut")
            return "ended", None
        finally:
            if writer:
                writer.close()


# ---------------------------------------------------------------- one browser

class Browser:
    """One page's session, following the protocol as juggernaut.js does."""

    def __init__(self, http, run):
        self.http = http
        self.run = run
        self.sid = None
        self.ack = 0
        self.seen = {}             # seq -> receive time
        self.duplicated = 0
        self.loaded = time.time()
        self.connected_at = None
        self.connect_s = None
        self.transport = None
        self.silent_streams = 0
        self.superseded = False

    async def connect(self):
        """connect with the client's backoff (250 ms doubling to 30 s, or the
        server's retry), until it succeeds or the run stops; then, as
        juggernaut.js does, the wait the answer's "retry" asks for before
        the first poll (no hold slot is free: that poll would be refused)."""
        tries = 0
        while not self.run.stop.is_set():
            # A browser's XHR waits as long as the server takes (mod_fcgid
            # queues a request up to about a minute before its 503).
            status, obj = await self.http.request("POST", "connect", form="channel=" + CHANNEL, timeout=120)
            if status == 200 and obj and "session_id" in obj:
                self.sid = obj["session_id"]
                self.connected_at = time.time()
                self.connect_s = self.connected_at - self.loaded
                if isinstance(obj.get("retry"), (int, float)) and obj["retry"] > 0:
                    await self.sleep(obj["retry"] / 1000.0)
                return obj
            tries += 1
            await self.sleep(self.wait_ms(obj, tries) / 1000.0)
        return None

    @staticmethod
    def wait_ms(obj, tries):
        if isinstance(obj, dict) and isinstance(obj.get("retry"), (int, float)):
            return obj["retry"]
        step = min(30000, 250 * 2 ** (tries - 1))
        return step / 2 + random.random() * step / 2

    async def sleep(self, seconds):
        try:
            await asyncio.wait_for(self.run.stop.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    def deliver(self, rec):
        if not isinstance(rec, dict) or not isinstance(rec.get("id"), int) or rec["id"] <= self.ack:
            return
        self.ack = rec["id"]
        data = rec.get("data")
        if not isinstance(data, dict) or "seq" not in data:
            return
        if data["seq"] in self.seen:
            self.duplicated += 1
            return
        now = time.time()
        self.seen[data["seq"]] = now
        self.run.latencies.append(now - data["t"])

    def stream_text(self, text, state):
        """Deliveries out of SSE / multipart / htmlfile text: every {"id":...} object."""
        state["buf"] += text
        dec = json.JSONDecoder()
        while True:
            i = state["buf"].find('{"id":')
            if i < 0:
                state["buf"] = state["buf"][-8:]
                return
            try:
                obj, end = dec.raw_decode(state["buf"], i)
            except ValueError:
                state["buf"] = state["buf"][i:]
                return            # incomplete: wait for more
            self.deliver(obj)
            state["buf"] = state["buf"][end:]

    async def longpoll(self):
        tries = 0
        while not self.run.stop.is_set():
            q = "session_id=%s&ack=%d&timeout=%d" % (self.sid, self.ack, POLL_TIMEOUT)
            status, obj = await self.http.request("GET", "poll", q, timeout=POLL_TIMEOUT + 15)
            if status == 200 and isinstance(obj, dict) and isinstance(obj.get("messages"), list):
                tries = 0
                for rec in obj["messages"]:
                    self.deliver(rec)
                if obj.get("superseded"):
                    self.superseded = True
                    return
                if isinstance(obj.get("retry"), (int, float)) and obj["retry"] > 0:
                    await self.sleep(obj["retry"] / 1000.0)
                continue
            if status == 410:
                self.sid = None
                if not await self.connect():
                    return
                continue
            tries += 1
            await self.sleep(self.wait_ms(obj, tries) / 1000.0)

    async def automatic(self):
        """juggernaut.js without options: the server's list, streams first."""
        answer = await self.connect()
        if not answer:
            return
        order = answer.get("transports") if isinstance(answer.get("transports"), list) else DEFAULT_TRANSPORTS
        i = 0
        while i < len(order) and not self.run.stop.is_set():
            name = order[i]
            self.transport = name
            if name not in STREAMS:
                return await self.longpoll()
            state = {"buf": ""}
            q = "session_id=%s&ack=%d" % (self.sid, self.ack)
            if name == "htmlfile":
                q += "&callback=jugHtmlfile_1"
            result, advice = await self.http.stream(name, q, OPEN_TIMEOUT,
                                                    lambda t: self.stream_text(t, state), self.run.stop)
            if result == "silent":
                self.silent_streams += 1
            if isinstance(advice, dict) and isinstance(advice.get("transports"), list):
                order = advice["transports"]
                i = 0 if order and order[0] != name else 1
                continue
            if result == "ended":
                continue          # a stream that worked and ended: open it again
            i += 1


# ---------------------------------------------------------------- the stack

class ProcCounter(threading.Thread):
    """Samples how many worker processes run (every 100 ms); keeps the peak
    and the CPU time they used (cpu_s(): user + system, seconds)."""

    def __init__(self, exe, redis=None):
        super().__init__(daemon=True)
        self.exe = os.path.realpath(exe)
        self.peak = 0
        self.done = threading.Event()
        self.redis = redis         # --trace: also sample the held slots
        self.samples = []          # --trace: (time, processes, held slots)
        self.ticks = {}            # pid -> CPU clock ticks it used when last seen
        self.lock = threading.Lock()

    def count(self):
        n = 0
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    if os.readlink("/proc/%s/exe" % pid) == self.exe:
                        n += 1
                        with open("/proc/%s/stat" % pid) as f:
                            fields = f.read().rpartition(")")[2].split()
                        with self.lock:
                            self.ticks[pid] = int(fields[11]) + int(fields[12])
                except (OSError, ValueError, IndexError):
                    pass
        return n

    def cpu_s(self):
        with self.lock:
            return sum(self.ticks.values()) / float(os.sysconf("SC_CLK_TCK"))

    def run(self):
        while not self.done.wait(0.1):
            n = self.count()
            self.peak = max(self.peak, n)
            if self.redis:
                try:
                    held = self.redis.command("ZCARD", PREFIX + "holds")
                except (OSError, jugtest.RedisError):
                    held = -1
                self.samples.append((time.time(), n, held))


class SharedHost:
    """Redis + poller + Apache/mod_fcgid serving a user's cgi-bin."""

    def __init__(self, workdir, fcgid_env=()):
        self.dir = workdir
        self.fcgid_env = list(fcgid_env)   # more FcgidInitialEnv NAME VALUE (host config)
        self.redis = self.poller = self.web = None

    def start(self):
        """Start Redis and the poller; stop() stops whatever started, even half-way."""
        workdir = self.dir
        os.chmod(workdir, 0o755)
        self.redis = jugtest.Redis(workdir, tcp=True)
        self.redis.start()
        self.config = os.path.join(workdir, "juggernaut.conf")
        # The built-in defaults (those of conf/juggernaut.conf), as a user has them.
        settings = {k: None for k in jugtest.DEFAULT_SETTINGS}
        settings.update(key_prefix=PREFIX, log="stderr", log_level="warning")
        jugtest.write_config(self.config, self.redis.url, **settings)
        os.chmod(self.config, 0o644)
        self.cgibin = os.path.join(workdir, "home", "public_html", "cgi-bin")
        os.makedirs(self.cgibin)
        for d in (os.path.join(workdir, "home"), os.path.dirname(self.cgibin), self.cgibin):
            os.chmod(d, 0o755)
        self.exe = os.path.join(self.cgibin, "juggernaut.fcgi")
        shutil.copy(jugtest.WORKER_BIN, self.exe)
        os.chmod(self.exe, 0o755)
        # conf/htaccess as make writes it from conf/htaccess.in.
        shutil.copy(os.path.join(jugtest.BUILDDIR, "conf", "htaccess"), os.path.join(self.cgibin, ".htaccess"))
        os.chmod(os.path.join(self.cgibin, ".htaccess"), 0o644)
        self.poller = jugtest.Poller(workdir, self.config, "bench")
        self.poller.start()
        jugtest.wait_for(lambda: self.redis.command("GET", PREFIX + "poller:lease"), 10, "the poller's lease")
        return self

    def start_apache(self, cap, trace=False):
        if self.web:
            self.web.stop()
        workdir = os.path.join(self.dir, "apache-cap%d" % cap)
        os.makedirs(workdir, exist_ok=True)
        self.web = SharedHostApache(
            workdir, self.cgibin, unprivileged_account(), "FileInfo Options",
            host_config=["FcgidInitialEnv JUGGERNAUT_CONFIG %s" % self.config,
                         "FcgidMaxProcessesPerClass %d" % cap] +
                        ["FcgidInitialEnv %s %s" % tuple(e.split("=", 1)) for e in self.fcgid_env] +
                        (["LogLevel warn fcgid:info"] if trace else []),
            threads_per_child=256, stock_mutexes=True)
        self.web.start()
        return Http(self.web.port, "/cgi-bin/juggernaut.fcgi")

    def stop(self):
        for p in (self.web, self.poller, self.redis):
            if p:
                p.stop()


class Run:
    """What all browsers of one phase share."""

    def __init__(self):
        self.stop = asyncio.Event()
        self.latencies = []
        self.published = {}          # seq -> publish time


async def publisher(host, run, count, interval=1.0):
    start = time.time()
    for seq in range(count):
        delay = start + seq * interval - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        t = time.time()
        run.published[seq] = t
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: host.redis.publish([CHANNEL], {"seq": seq, "t": t}))


async def until(cond, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline and not cond():
        await asyncio.sleep(0.1)


def finish(run, tasks):
    run.stop.set()
    return asyncio.gather(*tasks, return_exceptions=True)


async def phase_longpoll(host, opts):
    http = host.start_apache(opts.cap, opts.trace)
    counter = ProcCounter(host.exe, host.redis if opts.trace else None)
    if opts.trace:
        http.trace = []
    t0 = time.time()
    counter.start()
    run = Run()
    browsers = [Browser(http, run) for _ in range(opts.browsers)]
    tasks = []
    for b in browsers:
        tasks.append(asyncio.ensure_future(connect_then_poll(b)))
        await asyncio.sleep(2.0 / opts.browsers)      # all open within 2 s
    await until(lambda: all(b.sid for b in browsers), 30)
    connected = sum(1 for b in browsers if b.sid)
    probes = []
    prober = asyncio.ensure_future(connect_probes(http, run, probes))
    before = (time.time(), dict(http.requests), counter.cpu_s(), time.process_time())
    await publisher(host, run, opts.seconds)
    during = (time.time() - before[0], {k: v - before[1].get(k, 0) for k, v in http.requests.items()},
              counter.cpu_s() - before[2], time.process_time() - before[3])
    prober.cancel()
    want = opts.seconds
    await until(lambda: all(len(b.seen) >= want for b in browsers), POLL_TIMEOUT + 5)
    await asyncio.wait_for(finish(run, tasks), 60)
    counter.done.set()
    got = sum(len(b.seen) for b in browsers)
    total = opts.browsers * want
    connects = [b.connect_s for b in browsers if b.connect_s is not None]
    say("sharedhost longpoll: %d browsers, %d messages at 1/s, FcgidMaxProcessesPerClass %d"
        % (opts.browsers, want, opts.cap))
    say("connected: %d of %d (within 30 s)" % (connected, opts.browsers))
    say("delivered: %d of %d (%.1f %%)" % (got, total, 100.0 * got / total if total else 0))
    say("duplicated: %d" % sum(b.duplicated for b in browsers))
    say("latency_ms: p50 %.0f p99 %.0f (%d deliveries)"
        % (pct(run.latencies, 50) * 1000, pct(run.latencies, 99) * 1000, len(run.latencies)))
    say("connect_latency_ms: p50 %.0f p99 %.0f (never connected: %d)"
        % (pct(connects, 50) * 1000, pct(connects, 99) * 1000, opts.browsers - len(connects)))
    say("connect_while_serving_ms: p50 %.0f p99 %.0f (%d more pages, one every %.1f s while the "
        "browsers poll; each disconnects at once)"
        % (pct(probes, 50) * 1000, pct(probes, 99) * 1000, len(probes), PROBE_EVERY))
    say("http_503: %d" % http.statuses.get(503, 0))
    say("http_statuses: %s" % json.dumps({str(k): v for k, v in sorted(http.statuses.items(), key=str)}))
    say("peak_processes: %d" % counter.peak)
    span, made, cpu, own = during
    say("polls_per_s: %.0f while publishing (%.0f answered with retry); worker CPU %.1f s in those %.0f s "
        "(%.0f %% of one core); this load generator's CPU %.0f %% of one core (near 100 %%: the figures "
        "measure it, not the host)" % (made.get("poll", 0) / span, made.get("poll retry", 0) / span, cpu, span,
                                       100.0 * cpu / span, 100.0 * own / span))
    if opts.trace:
        trace_report(http, counter, t0, host.web, sorted(run.published.values()))
    say()


def trace_report(http, counter, t0, web, published=()):
    """--trace: where connect time goes. Connects by when they started (per
    0.5 s): how many, their latency, the worker processes and held slots at
    that moment; mod_fcgid's spawn decisions from Apache's error log."""
    def at(t):
        before = [s for s in counter.samples if s[0] <= t]
        return before[-1][1:] if before else (0, 0)
    connects = [r for r in http.trace if r[0] == "connect"]
    say("trace: connect latency histogram (s): %s" % json.dumps(histogram([r[2] - r[1] for r in connects])))
    say("trace: by start time (s since the first browser): n, latency p50/max, processes/held slots at start")
    buckets = {}
    for r in connects:
        buckets.setdefault(int((r[1] - t0) * 2), []).append(r)
    for k in sorted(buckets):
        lat = [r[2] - r[1] for r in buckets[k]]
        procs, held = at(buckets[k][0][1])
        say("trace:   %5.1f  n %3d  p50 %.2f max %.2f  procs %d held %d"
            % (k / 2.0, len(lat), pct(lat, 50), max(lat), procs, held))
    for r in connects + [r for r in http.trace if r[0] == "probe"]:
        if r[2] - r[1] >= 1.0:
            busy = {}
            for o in http.trace:
                if o is not r and o[1] <= r[1] < o[2]:
                    key = o[0] + (" (retry)" if o[4] else "")
                    busy[key] = busy.get(key, 0) + 1
            say("trace:   a %s at %.2f s took %.2f s; in flight when it started: %s"
                % (r[0], r[1] - t0, r[2] - r[1], json.dumps(busy, sort_keys=True)))
    polls = [r for r in http.trace if r[0] == "poll" and r[1] - t0 < 10]
    say("trace: polls started in the first 10 s: %d (answered with retry: %d, short ones' latency histogram %s)"
        % (len(polls), sum(1 for r in polls if r[4]),
           json.dumps(histogram([r[2] - r[1] for r in polls if r[4]]))))
    later = [r for r in http.trace if r[0] == "poll" and r[1] - t0 >= 10 and r[4]]
    quick = [r[2] - r[1] for r in later if r[2] - r[1] < 1.0]
    say("trace: retry-answered polls after 10 s: %d, latency histogram %s; those under 1 s: p50 %.1f "
        "p90 %.1f p99 %.1f ms" % (len(later), json.dumps(histogram([r[2] - r[1] for r in later])),
                                  pct(quick, 50) * 1000, pct(quick, 90) * 1000, pct(quick, 99) * 1000))
    # Short requests (a connect, a poll answered with "retry") that met every
    # process busy, by how long after the last publish they started: held
    # polls answer at a publish and their browsers poll again at once.
    slow = [r for r in http.trace if r[2] - r[1] >= 1.0 and (r[0] != "poll" or r[4])
            and published and r[1] > published[0]]
    since = [r[1] - max(p for p in published if p <= r[1]) for r in slow]
    say("trace: short requests that waited a second while publishing, by time since the last publish (s): %s"
        % json.dumps(histogram(since, edges=(0.01, 0.05, 0.1, 0.2, 0.5, 1.0))))
    say("trace: processes/held slots every second: %s" % " ".join(
        "%d/%d" % at(t0 + i)[:2] for i in range(0, int(time.time() - t0))))
    spawned, skipped = [], {}
    try:
        with open(web.logs[1], errors="replace") as f:
            for line in f:
                if "mod_fcgid: server" in line and "started" in line:
                    spawned.append(line)
                m = re.search(r"mod_fcgid: .*?(spawn score|too many|total process count)", line)
                if m:
                    skipped[m.group(1)] = skipped.get(m.group(1), 0) + 1
    except OSError:
        pass
    say("trace: mod_fcgid spawned %d processes; spawn requests refused: %s" % (len(spawned), json.dumps(skipped)))


def histogram(values, edges=(0.1, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0)):
    out = {}
    for v in values:
        label = next(("<%g" % e for e in edges if v < e), ">=%g" % edges[-1])
        out[label] = out.get(label, 0) + 1
    return {k: out[k] for k in ["<%g" % e for e in edges] + [">=%g" % edges[-1]] if k in out}


async def connect_probes(http, run, out):
    """A page opening every PROBE_EVERY s while the run serves (on a channel
    nobody publishes to), leaving at once: the connect latency of a host
    that already serves, apart from the cold start of the 200."""
    while not run.stop.is_set():
        started = time.time()
        status, obj = await http.request("POST", "connect", form="channel=probe", timeout=120,
                                         label="probe")
        if status == 200 and isinstance(obj, dict) and "session_id" in obj:
            out.append(time.time() - started)
            await http.request("POST", "disconnect", form="session_id=" + obj["session_id"], timeout=60,
                               label="probe")
        await asyncio.sleep(max(0.0, PROBE_EVERY - (time.time() - started)))


async def connect_then_poll(b):
    b.loaded = time.time()        # this browser opens now (they open over 2 s)
    if await b.connect():
        await b.longpoll()


async def phase_pages(host, opts):
    http = host.start_apache(opts.page_cap)
    counter = ProcCounter(host.exe)
    counter.start()
    run = Run()
    span = opts.open_over + opts.seconds
    pub = asyncio.ensure_future(publisher(host, run, span))
    pages, tasks = [], []
    for i in range(opts.pages):
        b = Browser(http, run)
        pages.append(b)
        tasks.append(asyncio.ensure_future(b.automatic()))
        await asyncio.sleep(float(opts.open_over) / opts.pages)
    await asyncio.wait_for(pub, span + 30)
    await until(lambda: all(expected_seen(b, run) for b in pages), 10)
    await asyncio.wait_for(finish(run, tasks), 60)
    counter.done.set()
    firsts, from_load, got, total = [], [], 0, 0
    inf = float("inf")
    for b in pages:
        since = b.connected_at or time.time()
        expected = sorted(s for s, t in run.published.items() if t >= since)
        total += len(expected)
        got += sum(1 for s in expected if s in b.seen)
        # The first message published once the page had its session (one
        # published before cannot reach it): publish -> arrival.
        if expected:
            s = expected[0]
            firsts.append(b.seen[s] - run.published[s] if s in b.seen else inf)
        from_load.append(min(b.seen.values()) - b.loaded if b.seen else inf)
    used = {}
    for b in pages:
        used[b.transport or "(none)"] = used.get(b.transport or "(none)", 0) + 1
    say("sharedhost pages: %d page views of the automatic client opened over %d s, "
        "FcgidMaxProcessesPerClass %d, 1 message/s for %d s" % (opts.pages, opts.open_over, opts.page_cap, span))
    say("connected: %d of %d" % (sum(1 for b in pages if b.sid), opts.pages))
    say("transport_reached: %s" % json.dumps(used, sort_keys=True))
    say("streams_silent_for_openTimeout: %d" % sum(b.silent_streams for b in pages))
    say("delivered_after_connect: %d of %d (%.1f %%)" % (got, total, 100.0 * got / total if total else 0))
    connects = [b.connect_s for b in pages if b.connect_s is not None]
    say("connect_ms: p50 %s p90 %s (never connected: %d)" % (
        ms(pct(connects, 50)), ms(pct(connects, 90)), opts.pages - len(connects)))
    say("first_message_ms (publish -> arrival of the first message published after connect): "
        "p50 %s p90 %s (never received: %d of %d)" % (
            ms(pct(firsts, 50)), ms(pct(firsts, 90)), sum(1 for f in firsts if f == inf), len(firsts)))
    say("load_to_first_message_ms: p50 %s p90 %s" % (ms(pct(from_load, 50)), ms(pct(from_load, 90))))
    say("http_503: %d" % http.statuses.get(503, 0))
    say("http_statuses: %s" % json.dumps({str(k): v for k, v in sorted(http.statuses.items(), key=str)}))
    say("peak_processes: %d" % counter.peak)
    say()


def ms(v):
    return "inf" if v == float("inf") else "nan" if v != v else "%.0f" % (v * 1000)


def expected_seen(b, run):
    since = b.connected_at
    return since is not None and all(s in b.seen for s, t in run.published.items() if t >= since)


def main():
    ap = argparse.ArgumentParser(description="shared-host benchmark (Apache + mod_fcgid at module defaults)")
    ap.add_argument("--only", default="longpoll,pages")
    ap.add_argument("--browsers", type=int, default=200)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--cap", type=int, default=10)
    ap.add_argument("--pages", type=int, default=40)
    ap.add_argument("--page-cap", type=int, default=20)
    ap.add_argument("--open-over", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="20 browsers, 8 pages, 10 s: a smoke run")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--trace", action="store_true",
                    help="long-poll phase: where connect time goes (connects per 0.5 s with the "
                         "processes and held slots then, mod_fcgid's spawn decisions)")
    ap.add_argument("--fcgid-env", action="append", default=[], metavar="NAME=VALUE",
                    help="also pass this to the worker (FcgidInitialEnv, host config), "
                         "e.g. JUGGERNAUT_HOST=fcgid")
    opts = ap.parse_args()
    for path in (jugtest.WORKER_BIN, jugtest.POLLER_BIN, os.path.join(jugtest.BUILDDIR, "conf", "htaccess")):
        if not os.path.exists(path):
            sys.exit("sharedhost.py: %s is not built (JUG_BUILDDIR=%s): run make" % (path, jugtest.BUILDDIR))
    for e in opts.fcgid_env:
        if "=" not in e:
            ap.error("--fcgid-env wants NAME=VALUE")
    if opts.quick:
        opts.browsers, opts.pages, opts.seconds, opts.open_over = 20, 8, 10, 4
    only = set(opts.only.split(","))
    say("sharedhost run: builddir %s, worker %s%s" % (jugtest.BUILDDIR, jugtest.WORKER_BIN, "".join(
        ", FcgidInitialEnv " + e for e in opts.fcgid_env)))
    with open(jugtest.WORKER_BIN, "rb") as f:
        if b"__asan_init" in f.read():
            say("sharedhost run: WARNING: the worker is built with sanitizers; figures are pessimistic")
    say()
    workdir = tempfile.mkdtemp(prefix="jugbench-sharedhost-")
    host = SharedHost(workdir, opts.fcgid_env)
    try:
        host.start()
        loop = asyncio.new_event_loop()
        budget = 3 * (opts.seconds + opts.open_over) + 240
        if "longpoll" in only:
            loop.run_until_complete(asyncio.wait_for(phase_longpoll(host, opts), budget))
        if "pages" in only:
            loop.run_until_complete(asyncio.wait_for(phase_pages(host, opts), budget))
        loop.close()
    finally:
        host.stop()
        if opts.keep:
            say("sharedhost run: kept %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
