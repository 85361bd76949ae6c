# test_check.py -- "juggernaut.fcgi --check [URL]" against a real Redis,
# poller and lighttpd: without a poller it reports the problem and its fix
# (never "ok"), with one it names the lease holder; given the worker's URL
# it finds streams flowing and long-polls held for poll_timeout through
# lighttpd, and names what is wrong with a URL that does not lead to the
# worker. (Through Apache + mod_fcgid, where streams are buffered:
# test_sharedhost.py.)

import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

import jugtest as jt  # noqa: E402
from jugtest import check, diag, equal  # noqa: E402

suite = jt.Suite("test_check", time_limit=120)
test = suite.test


def setup():
    return jt.Env("check", pollers=0).start()


def run_check(env, *args, timeout=60):
    """juggernaut.fcgi -c CONFIG --check ARGS: (exit status, output)."""
    r = subprocess.run([jt.WORKER_BIN, "-c", env.config_path, "--check"] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    out = r.stdout.decode("utf-8", "replace")
    diag(out.strip())
    return r.returncode, out


def line(out, name):
    """The report line of one finding (with its fix line, if any)."""
    lines = out.splitlines()
    for i, text in enumerate(lines):
        if text.startswith(name + ": "):
            fix = lines[i + 1] if i + 1 < len(lines) and lines[i + 1].startswith("  fix: ") else ""
            return text + ("\n" + fix if fix else "")
    raise AssertionError("no '%s:' line in the report:\n%s" % (name, out))


@test
def test_no_poller(env):
    """without a poller: 'poller: PROBLEM' with the cron fix, exit status 1"""
    rc, out = run_check(env)
    equal(rc, 1, "exit status")
    check(line(out, "config").startswith("config: ok"), "config line", out)
    check(line(out, "redis").startswith("redis: ok"), "redis line", out)
    p = line(out, "poller")
    check(p.startswith("poller: PROBLEM: no poller holds the lease jugtest:poller:lease"), "poller line", p)
    check("fix: " in p and "cron" in p, "no fix given", p)
    check("everything checked is fine" not in out, "says fine without a poller", out)


@test
def test_poller_running(env):
    """with a poller: the holder of the lease and its expiry"""
    env.pollers.append(jt.Poller(env.dir, env.config_path, "p1").start())
    env.wait_pollers(1)
    rc, out = run_check(env)
    equal(rc, 0, "exit status")
    p = line(out, "poller")
    check(p.startswith("poller: ok ('p1' holds the lease jugtest:poller:lease"), "poller line", p)
    check("expires in" in p, "no expiry", p)
    check(line(out, "web").startswith("web: not probed"), "web line without a URL", out)
    check(out.rstrip().endswith("everything checked is fine"), "summary", out)


@test
def test_url_through_lighttpd(env):
    """--check URL through lighttpd: connect answers, streams flow, long-polls held poll_timeout"""
    rc, out = run_check(env, env.http.base_url)
    equal(rc, 0, "exit status")
    check(line(out, "web").startswith("web: ok (%s/connect answered in" % env.http.base_url),
          "web line", out)
    streams = line(out, "streams")
    check(streams.startswith("streams: ok (an SSE stream showed its first bytes after"), "streams line", out)
    hold = line(out, "long-poll")
    check(hold.startswith("long-poll: ok (held ") and "poll_timeout 5 s" in hold, "long-poll line", out)
    held = float(hold.split("held ")[1].split(" s")[0])
    check(3.5 <= held <= 8, "held %.1f s, poll_timeout is 5 s" % held)


@test
def test_url_wrong(env):
    """--check with a URL that does not lead to the worker: each problem named with its fix"""
    rc, out = run_check(env, "http://127.0.0.1:%d/elsewhere" % env.web.port)
    equal(rc, 1, "exit status")
    w = line(out, "web")
    check(w.startswith("web: PROBLEM: http://127.0.0.1:%d/elsewhere/connect answers 404 Not Found from "
                       "the web server" % env.web.port), "404 line", w)
    check("\n  fix: check the URL" in w, "404 fix", w)
    port = jt.free_port()
    rc, out = run_check(env, "http://127.0.0.1:%d/juggernaut" % port)
    equal(rc, 1, "exit status (nothing listening)")
    check("cannot connect to 127.0.0.1:%d" % port in line(out, "web"), "connection refused", out)
    rc, out = run_check(env, "https://example.invalid/juggernaut")
    equal(rc, 1, "exit status (https)")
    check("is not an http:// URL" in line(out, "web"), "https refused", out)


if __name__ == "__main__":
    jt.main(suite, setup)
