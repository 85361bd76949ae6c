#!/usr/bin/env python3
# stack.py -- the private stack of the browser tests, driven over stdin/stdout.
#
# Starts redis-server, juggernaut-poller, lighttpd + juggernaut.fcgi (the demo
# config of demo/run_demo.py with short timeouts, so demo_publish is on and
# juggernaut.js comes from the source tree) and the demo roster, serving
#   /test.html  tests/browser/test.html     /demo/  demo/
# Prints one JSON line {"url", "redis", "prefix", "dir", "settings"} when ready, then
# answers one JSON line per command line read from stdin:
#   stop-web | start-web | stop-poller | start-poller | ensure | logs | keep
# ("ensure" starts whichever of lighttpd and the poller is not running).
# On EOF it stops everything it started (by PID), prints
# {"stopped": true, "sanitizer": [...reports...]} and removes its temporary
# directory (unless "keep" was sent). test_browser.mjs runs it.
import json
import os
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "lib"))
sys.path.insert(0, os.path.join(SRCDIR, "demo"))

import jugtest as jt  # noqa: E402  (reads JUG_BUILDDIR when imported)
import run_demo  # noqa: E402

# Streams end often enough to exercise their reconnection. session_ttl
# outlives the client's idle timer ((poll_timeout + 15) s), the only way a
# cut htmlfile stream is noticed in Chromium, so sessions survive the
# restart test; closed pages leave at once through the client's beacon.
SETTINGS = dict(key_prefix="jugbr:", session_ttl=25, poll_timeout=3, keepalive=2,
                stream_max=20, lease_ms=1500)


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def command(env, line):
    if line == "stop-web":
        env.web.stop()
    elif line == "start-web":
        env.web.start()
    elif line == "stop-poller":
        env.pollers[0].stop()
    elif line == "start-poller":
        env.pollers[0].start()
        env.wait_pollers(1)
    elif line == "ensure":
        if not env.web.proc.alive():
            env.web.start()
        if not env.pollers[0].alive():
            env.pollers[0].start()
            env.wait_pollers(1)
    elif line == "logs":
        return {"ok": True, "logs": {p: jt.tail(p, 30) for p in env.logs()}}
    else:
        return {"ok": False, "error": "unknown command %r" % line}
    return {"ok": True}


def main():
    env = None
    roster = None
    keep = False
    try:
        for prog in ("redis-server", jt.LIGHTTPD_BIN):
            if not jt.shutil.which(prog):
                reply({"skip": "%s is not installed" % prog})
                return 0
        env, roster = run_demo.build_stack(jt, None, None, name="browser", **SETTINGS)
        htdocs = os.path.join(env.dir, "htdocs")
        os.makedirs(htdocs)
        os.symlink(os.path.join(SRCDIR, "demo"), os.path.join(htdocs, "demo"))
        os.symlink(os.path.join(HERE, "test.html"), os.path.join(htdocs, "test.html"))
        env.web.docroot = htdocs
        env.start()
        roster.start()
        reply({"url": "http://127.0.0.1:%d" % env.web.port, "redis": env.redis.socket_path,
               "prefix": env.prefix, "dir": env.dir, "settings": SETTINGS})
        for line in sys.stdin:
            line = line.strip()
            if line == "keep":
                keep = True
                reply({"ok": True, "dir": env.dir})
                continue
            try:
                reply(command(env, line))
            except Exception as e:  # report, keep serving: the test decides
                reply({"ok": False, "error": "%s: %s" % (type(e).__name__, e)})
    except Exception as e:
        reply({"error": "%s: %s" % (type(e).__name__, e),
               "logs": {p: jt.tail(p, 30) for p in env.logs()} if env else {}})
        keep = True
        return 1
    finally:
        if roster:
            roster.stop()
        if env:
            env.stop()
            reply({"stopped": True, "sanitizer": jt.sanitizer_reports(env.logs())})
            env.cleanup(keep=keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
