#!/usr/bin/env python3
# test_ops.py -- what an operator relies on: --version and --help of both
# programs, log lines with a zoned timestamp in a log file that SIGHUP
# reopens (logrotate), the warning of a poller started with -d and
# "log stderr", and the status endpoint (JSON and Prometheus text, open only
# to the configured addresses or token, never naming a session).
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jugtest as jt  # noqa: E402
from test_cgi import cgi  # noqa: E402  (runs the worker once as a CGI program)

suite = jt.Suite("test_ops", time_limit=150)
test = suite.test

TOKEN = "s3cret-status-token-0123"
# 2026-01-31T13:45:07.123+01:00 juggernaut.fcgi[1234] info: ...
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d "
                      r"(juggernaut\.fcgi|juggernaut-poller)\[(\d+)\] (error|warning|info|debug): ")


def version():
    with open(os.path.join(jt.BUILDDIR, "autoconfig.h")) as f:
        return re.search(r'#define PACKAGE_VERSION "([^"]+)"', f.read()).group(1)


def run(argv, **kw):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=10, **kw)


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


@test
def t_version_help(env):
    """--version and --help of both programs answer on stdout with status 0"""
    want = version()
    for prog, name in ((jt.WORKER_BIN, "juggernaut.fcgi"), (jt.POLLER_BIN, "juggernaut-poller")):
        for flag in ("--version", "-V"):
            r = run([prog, flag])
            jt.equal((r.returncode, r.stdout), (0, "%s %s\n" % (name, want)), prog + " " + flag)
        r = run([prog, "--help"])
        jt.check(r.returncode == 0 and "--version" in r.stdout and "-c" in r.stdout,
                 prog + " --help lists its options", r.stdout)
        r = run([prog, "--no-such-option"])
        jt.check(r.returncode != 0 and "Usage" in r.stderr, prog + " refuses an unknown option",
                 r.returncode, r.stderr)


@test
def t_log_file(env):
    """both programs log to the configured file, each line with a zoned ISO 8601 time"""
    env.http.connect()   # a request: the worker has logged its start by now
    def both_logged():
        names = {m.group(1) for m in map(LOG_LINE.match, read(env.log_file).splitlines()) if m}
        return names == {"juggernaut.fcgi", "juggernaut-poller"}
    jt.wait_for(both_logged, 10, "lines of both programs in " + env.log_file)
    lines = read(env.log_file).splitlines()
    bad = [line for line in lines if not LOG_LINE.match(line)]
    jt.check(not bad, "every line has the timestamp, program[pid] and level", bad[:3])


def rotate_and_check(env, program, pid, make_line):
    rotated = env.log_file + ".1"
    os.rename(env.log_file, rotated)
    os.kill(pid, signal.SIGHUP)
    jt.wait_for(lambda: os.path.exists(env.log_file), 5,
                "%s to reopen %s after SIGHUP" % (program, env.log_file))
    def logged_again():
        make_line()
        return any(m and m.group(1) == program and int(m.group(2)) == pid
                   for m in map(LOG_LINE.match, read(env.log_file).splitlines()))
    jt.wait_for(logged_again, 10, "a new line of %s[%d] in the reopened file" % (program, pid),
                interval=0.3)
    os.kill(pid, 0)   # still running


@test
def t_sighup_reopens(env):
    """SIGHUP makes the worker and the poller reopen the log file (logrotate)"""
    pids = {m.group(1): int(m.group(2))
            for m in map(LOG_LINE.match, read(env.log_file).splitlines()) if m}
    jt.check("juggernaut.fcgi" in pids, "the worker's pid is in its log lines", pids)
    # The worker logs an unknown endpoint, the poller an invalid message.
    rotate_and_check(env, "juggernaut.fcgi", pids["juggernaut.fcgi"],
                     lambda: env.http.get("no-such-endpoint"))
    rotate_and_check(env, "juggernaut-poller", env.pollers[0].proc.pid,
                     lambda: env.redis.publish_raw("not json"))


@test
def t_daemon_warns(env):
    """a poller started with -d and "log stderr" says where its logs go, once: not when cron finds it running"""
    conf = os.path.join(env.dir, "stderr.conf")
    jt.write_config(conf, env.redis.url, log="stderr")
    pidfile = os.path.join(env.dir, "daemon.pid")
    r = run([jt.POLLER_BIN, "-d", "-c", conf, "-p", pidfile, "-i", "daemon"])
    try:
        jt.equal(r.returncode, 0, "exit status of the starting poller")
        jt.check("-d closes stderr" in r.stderr and "syslog" in r.stderr,
                 "the warning names where the logs go", r.stderr)
        # The crontab line runs it every minute: cron would mail any output.
        again = run([jt.POLLER_BIN, "-d", "-c", conf, "-p", pidfile, "-i", "daemon"])
        jt.equal((again.returncode, again.stderr), (0, ""),
                 "a second start while it runs: exit status and stderr")
    finally:
        pid = int(read(pidfile) or 0)
        if pid:
            os.kill(pid, signal.SIGTERM)
            jt.wait_for(lambda: not os.path.exists(pidfile), 5, "the daemon to stop")
    conf2 = os.path.join(env.dir, "file.conf")
    jt.write_config(conf2, env.redis.url, log=os.path.join(env.dir, "daemon.log"))
    r = run([jt.POLLER_BIN, "-d", "-c", conf2, "-p", pidfile, "-i", "daemon2"])
    try:
        jt.equal((r.returncode, r.stderr), (0, ""), "no warning with a log file")
    finally:
        pid = int(read(pidfile) or 0)
        if pid:
            os.kill(pid, signal.SIGTERM)
            jt.wait_for(lambda: not os.path.exists(pidfile), 5, "the daemon to stop")


# ---------------------------------------------------------------- the status endpoint

def redis_truth(env):
    """sessions, subscriptions and channels counted the slow way, from the sets."""
    sets = env.redis.command("KEYS", env.prefix + "channel:*")
    sizes = [env.redis.command("SCARD", k) for k in sets]
    return (env.redis.command("ZCARD", env.prefix + "sessions"), sum(sizes),
            sum(1 for n in sizes if n > 0))


def status_json(env, **params):
    r = env.http.get("status", params)
    jt.equal(r.status, 200, "status answer")
    jt.check(r.headers.get("content-type", "").startswith("application/json"), "JSON", r.headers)
    return r, json.loads(r.text)


@test
def t_status_json(env):
    """status answers JSON: version, uptime, Redis, counts that match Redis, poller lease"""
    a = env.client(["ops-a", "ops-b"])
    b = env.client(["ops-a"])
    _, s = status_json(env)
    jt.equal(s["worker"]["version"], version(), "worker version")
    jt.check(s["worker"]["uptime_s"] >= 0 and s["worker"]["pid"] > 0, "uptime and pid", s["worker"])
    info = env.redis.command("INFO", "server")
    info = info.decode() if isinstance(info, bytes) else info
    want_version = re.search(r"redis_version:([0-9.]+)", info).group(1)
    jt.equal((s["redis"]["reachable"], s["redis"]["version"], s["redis"]["error"]),
             (True, want_version, None), "redis facts")
    jt.equal((s["sessions"], s["subscriptions"], s["channels"]), redis_truth(env),
             "sessions, subscriptions, channels")
    env.http.unsubscribe(b.sid, "ops-a")
    env.http.post("disconnect", [("session_id", a.sid)])
    _, s = status_json(env)
    jt.equal((s["sessions"], s["subscriptions"], s["channels"]), redis_truth(env),
             "the counts after an unsubscribe and a disconnect")
    jt.equal(s["poller"]["holder"], env.leader(), "the lease holder")
    jt.check(0 <= s["poller"]["lease_age_ms"] < 600000 and s["poller"]["lease_expires_in_ms"] > 0,
             "lease age and expiry", s["poller"])
    jt.check(0 < s["held"]["process_limit"] <= 10000, "the per-process hold limit", s["held"])
    jt.equal((s["held"]["host"], s["held"]["host_limit"]), (None, None),
             "no host-wide count under lighttpd")
    jt.check(s["totals"]["requests"] >= 5 and s["totals"]["connects"] >= 2
             and s["rates"]["requests_per_s"] > 0, "request counters", s["totals"], s["rates"])


def open_files_limit(pid):
    """(soft, hard) "Max open files" of a process; None for unlimited."""
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return tuple(None if v == "unlimited" else int(v) for v in (soft, hard))
    raise AssertionError("no open-file limit in /proc/%d/limits" % pid)


@test
def t_open_files_limit(env):
    """the worker raises its open-file limit as far as max_held_per_process needs (services start at 1,024)"""
    _, s = status_json(env)
    old_pid = s["worker"]["pid"]
    _, hard = open_files_limit(old_pid)
    room = 64 + 2 * jt.DEFAULT_SETTINGS["threads"]   # a connection and a Redis one per handler thread
    want = 10000 + room   # max_held_per_process, and room for the rest
    if hard is not None and hard < want:
        raise jt.Skip("the hard open-file limit (%d) is below what the worker would raise to (%d)" % (hard, want))
    # lighttpd starts the next worker with its own limit: make that 1,024
    # (as systemd gives a service) and have it start one.
    subprocess.run(["prlimit", "--pid", str(env.web.proc.pid), "--nofile=1024:"], check=True, timeout=10)
    jt.equal(open_files_limit(env.web.proc.pid)[0], 1024, "lighttpd's soft limit now")
    os.kill(old_pid, signal.SIGTERM)
    jt.wait_for(lambda: env.http.get("status").status == 200 and
                status_json(env)[1]["worker"]["pid"] != old_pid, 20, "lighttpd to start a new worker")
    _, s = status_json(env)
    jt.equal(open_files_limit(s["worker"]["pid"])[0], want, "the new worker's soft limit")
    jt.equal(s["held"]["process_limit"], 10000, "the per-process hold limit")


@test
def t_status_held(env):
    """a held long-poll shows in held.process; its message in publishes and deliveries"""
    c = env.client(["ops-held"])
    done = {}
    t = threading.Thread(target=lambda: done.setdefault("r", env.http.poll(c.sid, timeout=5)))
    t.start()
    try:
        jt.wait_for(lambda: status_json(env)[1]["held"]["process"] >= 1, 5,
                    "the held long-poll to be counted")
        text = env.http.get("status", {"format": "prometheus"}).text
        jt.check(re.search(r'^juggernaut_held_requests\{scope="process"\} [1-9]', text, re.M),
                 "held in the Prometheus text", text)
    finally:
        env.redis.publish(["ops-held"], "wake")
        t.join(10)
    jt.wait_for(lambda: status_json(env)[1]["held"]["process"] == 0, 5, "the count to drop")
    r = done.get("r")
    jt.check(r is not None and len(r) == 1, "the held long-poll got the message", r)
    _, s = status_json(env)
    jt.check(s["totals"]["publishes"] >= 1 and s["totals"]["deliveries"] >= 1
             and s["rates"]["deliveries_per_s"] > 0 and s["rates"]["publishes_per_s"] > 0,
             "the message and its delivery are counted", s["totals"], s["rates"])


@test
def t_status_lease_age(env):
    """the lease age grows while one poller holds it"""
    _, s1 = status_json(env)
    jt.wait_for(lambda: status_json(env)[1]["poller"]["lease_age_ms"] >
                s1["poller"]["lease_age_ms"] + 200, 5, "the lease age to grow", interval=0.1)


@test
def t_status_prometheus(env):
    """?format=prometheus and Accept: text/plain answer the Prometheus text format"""
    env.client(["ops-p"])
    for how in ({"params": {"format": "prometheus"}},
                {"headers": {"Accept": "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"}}):
        r = env.http.get("status", how.get("params"), headers=how.get("headers"))
        jt.equal(r.status, 200, "status answer")
        jt.check(r.headers.get("content-type", "").startswith("text/plain; version=0.0.4"),
                 "Prometheus content type", r.headers)
        typed, samples = {}, {}
        for line in r.text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ")
                typed[name] = kind
            elif not line.startswith("#"):
                m = re.match(r'^([a-z_]+)(\{[a-z]+="(?:[^"\\]|\\.)*"\})? (-?[0-9.]+)$', line)
                jt.check(m, "a sample line", line)
                jt.check(m.group(1) in typed, "a TYPE before the sample", line)
                samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
        sessions, subs, chans = redis_truth(env)
        jt.equal((samples["juggernaut_sessions"], samples["juggernaut_subscriptions"],
                  samples["juggernaut_channels"]), (sessions, subs, chans), "counts")
        jt.equal(samples["juggernaut_redis_up"], 1, "redis up")
        jt.equal(samples['juggernaut_info{version="%s"}' % version()], 1, "version")
        jt.equal(samples["juggernaut_poller_lease_up"], 1, "lease up")
        jt.equal(typed["juggernaut_requests_total"], "counter", "requests_total is a counter")
        jt.check(samples["juggernaut_requests_total"] > 0, "requests counted")
        jt.check('juggernaut_held_requests{scope="process"}' in samples, "held requests", samples)
        jt.check(any(k.startswith("juggernaut_poller_lease_age_seconds{holder=") for k in samples),
                 "lease age", samples)


@test
def t_status_no_session_ids(env):
    """no session id appears in either format"""
    sids = [env.client(["ops-s"]).sid for _ in range(3)]
    sids += env.redis.command("ZRANGE", env.prefix + "sessions", 0, -1)
    sids = [s.decode() if isinstance(s, bytes) else s for s in sids]
    for params in ({}, {"format": "prometheus"}):
        text = env.http.get("status", params).text
        leaked = [sid for sid in sids if sid in text]
        jt.check(not leaked, "no session id in the status", leaked)


class CgiSite:
    """The worker run as a CGI program with its own juggernaut.conf."""
    def __init__(self, env, name, **settings):
        self.dir = env.dir
        self.config_path = os.path.join(env.dir, name + ".conf")
        jt.write_config(self.config_path, settings.pop("redis_url", env.redis.url), **settings)

    def status(self, addr="127.0.0.1", query="", headers=None):
        extra = {"REMOTE_ADDR": addr}
        extra.update(headers or {})
        return cgi(self, "GET", "/status", query, extra=extra)


@test
def t_status_access(env):
    """off unless configured; open only to the listed addresses and to the token"""
    off = CgiSite(env, "off")
    jt.check_error(off.status(), 404, "not_found")
    jt.check_error(off.status(query="token=" + TOKEN), 404, "not_found")
    site = CgiSite(env, "guarded", status_allow="10.0.0.0/8, fd00::/8", status_token=TOKEN)
    for addr in ("10.1.2.3", "fd00::7"):
        jt.equal(site.status(addr).status, 200, "listed address " + addr)
    for addr in ("127.0.0.1", "11.0.0.1", "::1", ""):
        jt.check_error(site.status(addr), 403, "forbidden")
    jt.equal(site.status(query="token=" + TOKEN).status, 200, "the token in the query")
    jt.equal(site.status(headers={"HTTP_AUTHORIZATION": "Bearer " + TOKEN}).status, 200,
             "the token as a bearer")
    for bad in (TOKEN[:-1], TOKEN + "x", "", TOKEN.upper()):
        jt.check_error(site.status(query="token=" + bad), 403, "forbidden")
        jt.check_error(site.status(headers={"HTTP_AUTHORIZATION": "Bearer " + bad}), 403,
                       "forbidden")
    only_allow = CgiSite(env, "allow-only", status_allow="10.0.0.1")
    jt.check_error(only_allow.status(query="token=" + TOKEN), 403, "forbidden")
    r = site.status("10.1.2.3", query="callback=steal")
    jt.check(r.status == 200 and r.text.startswith("{"), "never JSONP", r.text[:40])


@test
def t_status_redis_down(env):
    """with Redis unreachable, status still answers: reachable false, counts unknown"""
    port = jt.free_port()
    site = CgiSite(env, "down", redis_url="redis://127.0.0.1:%d/0" % port,
                   status_allow="127.0.0.1")
    r = site.status()
    jt.equal(r.status, 200, "status answers")
    s = json.loads(r.text)
    jt.check(s["redis"]["reachable"] is False and s["redis"]["error"], "unreachable, with why",
             s["redis"])
    jt.equal((s["sessions"], s["subscriptions"], s["channels"], s["poller"]["holder"]),
             (None, None, None, None), "unknown counts")
    r = site.status(query="format=prometheus")
    jt.check("juggernaut_redis_up 0\n" in r.text and "juggernaut_sessions " not in r.text,
             "redis_up 0, no session gauge", r.text)


def setup():
    env = jt.Env("ops")
    env.log_file = os.path.join(env.dir, "juggernaut.log")
    jt.write_config(env.config_path, env.redis.url, log=env.log_file,
                    status_allow="127.0.0.1 ::1", status_token=TOKEN)
    return env.start()


if __name__ == "__main__":
    jt.main(suite, setup)
