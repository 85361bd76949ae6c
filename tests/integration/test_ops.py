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
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import jugtest as jt  # noqa: E402

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
    """a poller started with -d and "log stderr" says where its logs go"""
    conf = os.path.join(env.dir, "stderr.conf")
    jt.write_config(conf, env.redis.url, log="stderr")
    pidfile = os.path.join(env.dir, "daemon.pid")
    r = run([jt.POLLER_BIN, "-d", "-c", conf, "-p", pidfile, "-i", "daemon"])
    try:
        jt.equal(r.returncode, 0, "exit status of the starting poller")
        jt.check("-d closes stderr" in r.stderr and "syslog" in r.stderr,
                 "the warning names where the logs go", r.stderr)
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


def setup():
    env = jt.Env("ops")
    env.log_file = os.path.join(env.dir, "juggernaut.log")
    jt.write_config(env.config_path, env.redis.url, log=env.log_file,
                    status_allow="127.0.0.1 ::1", status_token=TOKEN)
    return env.start()


if __name__ == "__main__":
    jt.main(suite, setup)
