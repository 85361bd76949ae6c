#!/usr/bin/env python3
# run.py -- run the juggernaut-fcgi benchmarks and print the figures; with
# --peers, run the same workloads with the same load generator against Nchan
# too, alternating, and print both figures and their ratio.
#
# Builds nothing: expects JUG_BUILDDIR (default: the current directory) to
# hold tests/bench/jugbench, poller/juggernaut-poller and fcgi/juggernaut.fcgi
# ("make bench" and "make bench-peers" do that). The servers (tests/bench/
# stacks.py) run in a private temporary directory on free loopback ports:
# juggernaut behind lighttpd configured by the shipped conf/lighttpd.conf,
# and, with --peers, nginx with the Debian Nchan module and its own Redis.
# Each jugbench run is echoed as a command and has a hard time limit; every
# process started is stopped by PID at the end.
#
# Workloads (issue 9):
#   W1  publish -> long-poll latency, 1 subscriber: p50, p99
#   W2  long-poll, 1,000 subscribers at 200 msg/s and 5,000 at 20 msg/s
#       (200 messages): deliveries/s, missing, duplicated, HTTP 5xx; CPU of
#       every server process and of Redis per delivery
#   W2x the 1,000-subscriber W2 with two web servers on one Redis, every
#       subscriber alternating servers request by request (juggernaut only)
#   W4  SSE and multipart, 1,000 subscribers at 200 msg/s
#   W3  idle long-polls held: memory per held poll over every process on the
#       path, idle CPU, time for one message to reach all of them and the
#       CPU of each process meanwhile (the load generator's too); through
#       lighttpd (4 instances, each with its worker) and through nginx with
#       the server block of conf/nginx.conf (3 nginx workers, 2 worker
#       processes started by spawn-fcgi -F 2), in turn (--w3-web)
#   fanout (juggernaut only, not with --peers): poller pushes per second
#
# Usage: run.py [--peers] [--only w1,w2,w2x,w4,w3,fanout] [--hold N] [--quick]
#               [--w3-web lighttpd,nginx]

import argparse
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))
sys.path.insert(0, HERE)
import jugtest  # noqa: E402  (after the path is set)
import stacks  # noqa: E402

BENCH_BIN = os.path.join(jugtest.BUILDDIR, "tests", "bench", "jugbench")
# W3's longest wait, on both sides and in each poll's timeout=: however long
# a loaded machine takes to make 20,000 polls, none ends before the release.
HOLD_POLL_S = 300


def say(text=""):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    return "nproc=%d model=%s loadavg=%s" % (os.cpu_count(), model, load)


def sanitized(path):
    with open(path, "rb") as f:
        return b"__asan_init" in f.read()


def bench(args, timeout):
    """Run jugbench with a hard time limit; echo the command and its output;
    return its "key: value" lines as a dict."""
    argv = [BENCH_BIN] + [str(a) for a in args]
    say("$ " + " ".join(argv))
    try:
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        out = r.stdout.decode(errors="replace").rstrip()
        if r.returncode:
            out += "\nexit_status: %d" % r.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace").rstrip()
        out += "\nexit_status: timeout after %d s" % timeout
    say(out)
    say()
    fields = {}
    for line in out.splitlines():
        key, sep, value = line.partition(": ")
        if sep and key not in fields:
            fields[key] = value.strip()
    return fields


def run_w1(st, quick):
    return bench(["latency"] + st.jugbench_args() + ["--samples", 200 if quick else 1000,
                                                      "--timeout", 60], 120)


def run_w2(st, subs, rate, quick, extra=()):
    return bench(["deliver"] + st.jugbench_args() + list(extra) +
                 ["--subscribers", subs // 10 if quick else subs, "--messages", 200, "--rate", rate,
                  "--timeout", 90, "--pids", ",".join(map(str, st.pids()))], 300)


def run_w4(st, transport, quick):
    return bench(["stream", "--transport", transport] + st.jugbench_args(transport) +
                 ["--subscribers", 100 if quick else 1000, "--messages", 200, "--rate", 200,
                  "--timeout", 90, "--pids", ",".join(map(str, st.pids()))], 300)


def run_w3(st, n):
    spread = []
    for i in range(1, len(getattr(st, "webs", []))):
        spread += ["--spread-url", st.url(i)]
    return bench(["hold"] + st.jugbench_args() + spread + st.held_args() +
                 ["--connections", n, "--poll-timeout", HOLD_POLL_S, "--timeout", 120,
                  "--pids", ",".join(map(str, st.pids()))], 600)


def run_fanout(st):
    for subs, msgs in ((1, 1000), (100, 1000), (10000, 50)):
        bench(["fanout", "--redis", st.redis.url, "--prefix", stacks.PREFIX, "--subscribers", subs,
               "--messages", msgs, "--timeout", 60], 180)


# ---------------------------------------------------------------- the summary table

def num(fields, key, sub=None):
    """A number from jugbench's output; sub picks "p50" out of "p50=1 p99=2"."""
    v = fields.get(key)
    if v is None:
        return None
    if sub:
        for part in v.split():
            k, _, x = part.partition("=")
            if k == sub:
                v = x
                break
        else:
            return None
    try:
        return float(v)
    except ValueError:
        return None


def median(values):
    values = sorted(v for v in values if v is not None)
    return values[len(values) // 2] if values else None


def fmt(x, unit=""):
    if x is None:
        return "-"
    if abs(x) >= 100 or x == int(x):
        return "{:,.0f}{}".format(x, unit)
    return "{:,.2f}{}".format(x, unit)


class Table:
    """Rows of (what, ours, nchan, better) printed with the ratio ours/Nchan."""

    def __init__(self):
        self.rows = []

    def add(self, what, ours, nchan=None, better="", unit=""):
        self.rows.append((what, ours, nchan, better, unit))

    def print(self, peers):
        say("==== summary%s" % (" (ratio = juggernaut / Nchan)" if peers else ""))
        head = "| workload | juggernaut-fcgi |" + (" Nchan | ratio |" if peers else "")
        say(head)
        say("|" + " --- |" * (4 if peers else 2))
        for what, ours, nchan, better, unit in self.rows:
            line = "| %s | %s |" % (what, fmt(ours, unit))
            if peers:
                ratio = "-"
                if ours is not None and nchan:
                    ratio = "%.2fx" % (ours / nchan)
                    if better:
                        ratio += " (%s is better)" % better
                line += " %s | %s |" % (fmt(nchan, unit), ratio)
            say(line)
        say()


def summarize_delivery(t, label, ours, nchan, with_cpu=True):
    o, n = ours or {}, nchan or {}
    t.add(label + ": deliveries/s", num(o, "deliveries_per_s"), num(n, "deliveries_per_s"), "higher")
    t.add(label + ": missing", num(o, "missing"), num(n, "missing"))
    t.add(label + ": duplicated", num(o, "duplicated"), num(n, "duplicated"))
    t.add(label + ": HTTP 5xx", num(o, "http_5xx"), num(n, "http_5xx"))
    if with_cpu:
        t.add(label + ": CPU of all server processes per delivery",
              num(o, "server_cpu_us_per_delivery"), num(n, "server_cpu_us_per_delivery"), "lower", " us")
        t.add(label + ": Redis CPU per delivery", num(o, "redis_cpu_us_per_delivery"),
              num(n, "redis_cpu_us_per_delivery"), "lower", " us")


def summarize_hold(t, ours, nchan, web):
    o, n = ours or {}, nchan or {}
    w3 = "W3 (through %s)" % web
    t.add(w3 + " idle long-polls held", num(o, "held"), num(n, "held"), "higher")
    t.add(w3 + " memory per held poll, every process on the path", num(o, "kib_per_held_request"),
          num(n, "kib_per_held_request"), "lower", " KiB")
    t.add(w3 + " the same, with its session (made before the poll)",
          num(o, "kib_per_held_request_with_session"), num(n, "kib_per_held_request_with_session"),
          "lower", " KiB")
    t.add(w3 + " idle CPU of all server processes", num(o, "idle_server_cpu_pct_of_core"),
          num(n, "idle_server_cpu_pct_of_core"), "lower", " % of a core")
    t.add(w3 + " one message to every held poll", num(o, "release_s"), num(n, "release_s"), "lower", " s")
    t.add(w3 + " polls answered by that message", num(o, "released"), num(n, "released"))
    t.add(w3 + " CPU of all server processes during that release", num(o, "release_server_cpu_s"),
          num(n, "release_server_cpu_s"), "lower", " s")
    t.add(w3 + " the load generator's own CPU meanwhile", num(o, "release_loadgen_cpu_s"),
          num(n, "release_loadgen_cpu_s"), "lower", " s")


# ---------------------------------------------------------------- main

def started(stack):
    stack.start()
    say("jugbench run: %s: %s" % (stack.name, stack.describe()))
    return stack


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--peers", action="store_true", help="also run every workload against Nchan")
    ap.add_argument("--only", default="w1,w2,w2x,w4,w3,fanout")
    ap.add_argument("--hold", type=int, default=0,
                    help="idle long-polls for W3 (default: 20,000 or what fds allow)")
    ap.add_argument("--quick", action="store_true", help="small parameters, for a smoke run")
    ap.add_argument("--backlog", type=int, default=None,
                    help='lighttpd "listen-backlog" for the worker socket (default: as shipped)')
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--w3-web", default="lighttpd,nginx",
                    help="the web servers W3 runs through, in turn (default: lighttpd,nginx)")
    opts = ap.parse_args()
    only = set(opts.only.split(","))
    for prog in (BENCH_BIN, jugtest.WORKER_BIN, jugtest.POLLER_BIN):
        if not os.access(prog, os.X_OK):
            sys.exit("run.py: %s is not built (JUG_BUILDDIR=%s)" % (prog, jugtest.BUILDDIR))
    if opts.peers:
        why = stacks.nchan_available()
        if why:
            say("jugbench run: no peer to compare with: %s; nothing run" % why)
            return
        only.discard("fanout")
    # Children inherit this: every process may use the whole hard limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    say("jugbench run: machine: %s" % machine())
    say("jugbench run: builddir: %s" % jugtest.BUILDDIR)
    say("jugbench run: rlimit_nofile: %d" % hard)
    if opts.backlog:
        say('jugbench run: NOTE: conf/lighttpd.conf changed: "listen-backlog" => %d' % opts.backlog)
    if opts.peers:
        say("jugbench run: peer: Nchan %s (%s), Redis store" % (stacks.module_version(), stacks.NCHAN_MODULE))
    for prog in (jugtest.WORKER_BIN, jugtest.POLLER_BIN):
        if sanitized(prog):
            say("jugbench run: WARNING: %s is built with sanitizers; figures are pessimistic" % prog)
    say()
    workdir = tempfile.mkdtemp(prefix="jugbench-")
    table = Table()
    running = []

    def up(stack):
        running.append(stack)
        return started(stack)

    def down(stack):
        stack.stop()
        running.remove(stack)

    def pair(fn, *args):
        """Run fn(stack, *args) for juggernaut then Nchan (only juggernaut without --peers)."""
        return fn(jug, *args), (fn(nchan, *args) if nchan else None)

    try:
        jug = nchan = None
        if only & {"w1", "w2", "w4", "fanout"}:
            jug = up(stacks.JugStack(workdir, backlog=opts.backlog))
            nchan = up(stacks.NchanStack(workdir)) if opts.peers else None
            say()
            if "w1" in only:
                # Latency is the figure a busy machine moves most: three
                # alternating rounds, the median of each percentile.
                rounds = [pair(run_w1, opts.quick) for _ in range(1 if opts.quick else 3)]
                for p in ("p50", "p99"):
                    table.add("W1 publish -> long-poll latency, 1 subscriber, %s (median of %d)"
                              % (p, len(rounds)),
                              median([num(o, "latency_ms", p) for o, _ in rounds]),
                              median([num(n or {}, "latency_ms", p) for _, n in rounds]), "lower", " ms")
            if "w2" in only:
                summarize_delivery(table, "W2 long-poll 1,000 subs at 200/s",
                                   *pair(run_w2, 1000, 200, opts.quick))
                summarize_delivery(table, "W2 long-poll 5,000 subs at 20/s",
                                   *pair(run_w2, 5000, 20, opts.quick))
            if "w4" in only:
                for transport in ("sse", "multipart"):
                    summarize_delivery(table, "W4 %s 1,000 subs at 200/s" % transport,
                                       *pair(run_w4, transport, opts.quick))
            if "fanout" in only:
                run_fanout(jug)
            down(jug)
            if nchan:
                down(nchan)
            jug = nchan = None
        if "w2x" in only:
            two = up(stacks.JugStack(workdir + "/two", servers=2, backlog=opts.backlog))
            say()
            r = run_w2(two, 1000, 200, opts.quick, ["--url2", two.url(1)])
            summarize_delivery(table, "W2 two web servers, alternating, 1,000 subs at 200/s", r, None,
                               with_cpu=False)
            down(two)
        if "w3" in only:
            # The load generator needs one fd per poll; lighttpd two (browser
            # + FastCGI), so one lighttpd per 6,500 polls.
            n = opts.hold or min(20000, hard - 300)
            if opts.quick:
                n = min(n, 500)
            ours = {}
            for web in opts.w3_web.split(","):
                why = stacks.nginx_fcgi_missing() if web == "nginx" else None
                if why:
                    say("jugbench run: W3 through nginx skipped: %s" % why)
                    continue
                # nginx: three workers (reuseport spreads the polls), two descriptors per poll.
                servers = 1 if web == "nginx" else max(1, math.ceil(n / 6500))
                st = up(stacks.JugStack(workdir + "/hold-" + web, servers=servers, web=web,
                                        max_fds=hard, poll_timeout=HOLD_POLL_S, session_ttl=900,
                                        backlog=opts.backlog))
                say()
                ours[web] = run_w3(st, n)
                down(st)
            n_res = None
            if opts.peers:
                peer = up(stacks.NchanStack(workdir + "/hold", max_fds=hard, sub_timeout=HOLD_POLL_S))
                say()
                n_res = run_w3(peer, n)
                down(peer)
            for web, o in ours.items():
                summarize_hold(table, o, n_res, web)
    finally:
        for stack in reversed(running):
            stack.stop()
        for root, _, files in os.walk(workdir):
            for name in sorted(files):
                if name.endswith(".log"):
                    text = jugtest.tail(os.path.join(root, name), 5).strip()
                    if text and text != "(empty)":
                        say("---- tail of %s\n%s" % (os.path.relpath(os.path.join(root, name), workdir), text))
        if opts.keep:
            say("jugbench run: kept %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    table.print(opts.peers)


if __name__ == "__main__":
    main()
