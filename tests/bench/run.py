#!/usr/bin/env python3
# run.py -- run every juggernaut-fcgi benchmark and print the figures.
#
# Builds nothing: expects JUG_BUILDDIR (default: the current directory) to
# hold tests/bench/jugbench, poller/juggernaut-poller and fcgi/juggernaut.fcgi
# ("make bench" does that). Starts, in a private temporary directory, a
# redis-server (unix socket, no persistence, --maxclients 20000), the worker
# under spawn-fcgi (so its PID is known for the memory figures), lighttpd in
# front of it with connection and fd limits raised, and one poller; runs each
# jugbench subcommand with the parameters, echoing the exact command;
# then stops exactly the processes it started (tests/lib/jugtest.py).
#
# Usage: run.py [--only latency,fanout,deliver,stream,hold] [--hold N] [--quick]

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))
import jugtest  # noqa: E402  (after the path is set)

BENCH_BIN = os.path.join(jugtest.BUILDDIR, "tests", "bench", "jugbench")
SPAWN_FCGI = shutil.which("spawn-fcgi") or "/usr/bin/spawn-fcgi"
PREFIX = "jugbench:"


def say(text=""):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


class BenchRedis(jugtest.Redis):
    """The harness's Redis, with room for ten thousand blocked clients."""

    def start(self):
        argv = ["redis-server", "--port", "0", "--unixsocket", self.socket_path,
                "--unixsocketperm", "700", "--dir", self.dir, "--save", "",
                "--appendonly", "no", "--daemonize", "no", "--logfile", "",
                "--maxclients", "20000"]
        self.proc = jugtest.Process("redis", argv, self.log_path).start()
        jugtest.wait_for(self.ping, 10, "redis-server to answer PING")
        return self


LIGHTTPD_CONF = """# written by tests/bench/run.py
server.modules = ( "mod_fastcgi" )
server.document-root = "%(docroot)s"
server.bind = "127.0.0.1"
server.port = %(port)d
server.errorlog = "%(error_log)s"
server.max-fds = %(max_fds)d
server.max-connections = %(max_conns)d
server.listen-backlog = 4096
server.stream-response-body = 2
server.max-keep-alive-requests = 1000000
server.max-keep-alive-idle = 120
server.max-read-idle = 120
server.max-write-idle = 120
fastcgi.server = ( "/juggernaut" => ( (
    "socket" => "%(fcgi_socket)s",
    "check-local" => "disable",
    "disable-time" => 1
) ) )
"""


class Stack:
    """Redis + poller + worker (spawn-fcgi) + lighttpd in one temp dir."""

    def __init__(self, workdir, redis, threads, max_fds):
        self.dir = workdir
        self.redis = redis
        self.threads = threads
        self.max_fds = max_fds
        self.config = os.path.join(workdir, "juggernaut-%d.conf" % threads)
        jugtest.write_config(self.config, redis.url, key_prefix=PREFIX, threads=threads,
                             poll_timeout=25, session_ttl=120, keepalive_interval=15,
                             stream_max_duration=300, log_level="warning")
        self.worker = self.web = self.poller = None
        self.port = None

    def start(self):
        sock = os.path.join(self.dir, "fcgi-%d.sock" % self.threads)
        env = dict(os.environ, JUGGERNAUT_CONFIG=self.config)
        self.worker = jugtest.Process(
            "worker", [SPAWN_FCGI, "-n", "-s", sock, "-M", "0600", "-b", "4096", "--",
                       jugtest.WORKER_BIN],
            os.path.join(self.dir, "worker.log"), env=env).start()
        jugtest.wait_for(lambda: os.path.exists(sock), 10, "the worker's socket")
        self.poller = jugtest.Poller(self.dir, self.config, "bench").start()
        jugtest.wait_for(self._poller_ready, 10, "the poller to subscribe and lead")
        self.port = jugtest.free_port()
        conf = os.path.join(self.dir, "lighttpd.conf")
        docroot = os.path.join(self.dir, "htdocs")
        os.makedirs(docroot, exist_ok=True)
        with open(conf, "w") as f:
            f.write(LIGHTTPD_CONF % dict(
                docroot=docroot, port=self.port, error_log=os.path.join(self.dir, "lighttpd-error.log"),
                max_fds=self.max_fds, max_conns=max(1024, self.max_fds // 2 - 50), fcgi_socket=sock))
        self.web = jugtest.Process("lighttpd", [jugtest.LIGHTTPD_BIN, "-D", "-f", conf, "-m",
                                                jugtest.LIGHTTPD_MODULES],
                                   os.path.join(self.dir, "lighttpd.log")).start()
        http = jugtest.Http(self.port)
        jugtest.wait_for(lambda: http.get("__ready__", timeout=3).status == 404, 15,
                         "lighttpd + worker to answer")
        return self

    def _poller_ready(self):
        subs = self.redis.command("PUBSUB", "NUMSUB", "juggernaut")
        return subs[1] >= 1 and self.redis.command("GET", PREFIX + "poller:lease")

    @property
    def url(self):
        return "http://127.0.0.1:%d/juggernaut" % self.port

    def stop(self):
        for p in (self.web, self.poller, self.worker):
            if p:
                p.stop()


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return "nproc=%d model=%s" % (os.cpu_count(), model)


def sanitized(path):
    with open(path, "rb") as f:
        return b"__asan_init" in f.read()


def bench(args, timeout):
    """Run jugbench with a hard time limit; echo the command and its output."""
    argv = [BENCH_BIN] + [str(a) for a in args]
    say("$ " + " ".join(argv))
    try:
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
        say(r.stdout.decode(errors="replace").rstrip())
        if r.returncode:
            say("exit_status: %d" % r.returncode)
    except subprocess.TimeoutExpired as e:
        say((e.stdout or b"").decode(errors="replace").rstrip())
        say("exit_status: timeout after %d s" % timeout)
    say()


def run_main_suite(st, redis, only, quick):
    n = 100 if quick else 1000
    if "latency" in only:
        bench(["latency", "--url", st.url, "--redis", redis.url, "--prefix", PREFIX,
               "--samples", 200 if quick else 2000, "--timeout", 60], 90)
    if "fanout" in only:
        for subs, msgs in ((1, 1000), (100, 1000), (10000, 50)):
            bench(["fanout", "--redis", redis.url, "--prefix", PREFIX, "--subscribers", subs,
                   "--messages", msgs, "--timeout", 30], 120)
    if "deliver" in only:
        bench(["deliver", "--url", st.url, "--redis", redis.url, "--prefix", PREFIX,
               "--subscribers", n, "--messages", 200, "--rate", 200, "--timeout", 30], 150)
    if "stream" in only:
        for transport in ("sse", "multipart"):
            bench(["stream", "--url", st.url, "--redis", redis.url, "--prefix", PREFIX,
                   "--subscribers", n, "--messages", 200, "--transport", transport,
                   "--timeout", 30], 150)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--only", default="latency,fanout,deliver,stream,hold")
    ap.add_argument("--hold", type=int, default=0, help="held connections (default: 10000 or what fds allow)")
    ap.add_argument("--quick", action="store_true", help="small parameters, for a smoke run")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    opts = ap.parse_args()
    only = set(opts.only.split(","))
    for prog in (BENCH_BIN, jugtest.WORKER_BIN, jugtest.POLLER_BIN):
        if not os.access(prog, os.X_OK):
            sys.exit("run.py: %s is not built (JUG_BUILDDIR=%s)" % (prog, jugtest.BUILDDIR))
    # Children inherit this: every process may use the whole hard limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    say("jugbench run: machine: %s" % machine())
    say("jugbench run: builddir: %s" % jugtest.BUILDDIR)
    say("jugbench run: rlimit_nofile: %d" % hard)
    for prog in (jugtest.WORKER_BIN, jugtest.POLLER_BIN):
        if sanitized(prog):
            say("jugbench run: WARNING: %s is built with sanitizers; figures are pessimistic" % prog)
    say()
    workdir = tempfile.mkdtemp(prefix="jugbench-")
    redis = BenchRedis(workdir).start()
    stack = None
    try:
        if only & {"latency", "fanout", "deliver", "stream"}:
            threads = 250 if opts.quick else 1100
            stack = Stack(workdir, redis, threads, min(hard, 20000)).start()
            say("jugbench run: stack: worker pid %d threads %d, lighttpd pid %d port %d, poller pid %d"
                % (stack.worker.pid, threads, stack.web.pid, stack.port, stack.poller.proc.pid))
            say()
            run_main_suite(stack, redis, only, opts.quick)
            stack.stop()
            stack = None
        if "hold" in only:
            # lighttpd needs two fds per held request (browser + FastCGI), and
            # so does the worker (FastCGI + its thread's Redis connection).
            n = opts.hold or min(10000, (hard - 200) // 2)
            stack = Stack(workdir, redis, n + 50, hard).start()
            say("jugbench run: stack: worker pid %d threads %d, lighttpd pid %d port %d"
                % (stack.worker.pid, n + 50, stack.web.pid, stack.port))
            say()
            bench(["hold", "--url", stack.url, "--redis", redis.url, "--prefix", PREFIX,
                   "--connections", n, "--worker-pid", stack.worker.pid,
                   "--server-pid", stack.web.pid, "--timeout", 20], 240)
            stack.stop()
            stack = None
    finally:
        if stack:
            stack.stop()
        redis.stop()
        for name in sorted(os.listdir(workdir)):
            if name.endswith(".log"):
                text = jugtest.tail(os.path.join(workdir, name), 5).strip()
                if text and text != "(empty)":
                    say("---- tail of %s\n%s" % (name, text))
        if opts.keep:
            say("jugbench run: kept %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
