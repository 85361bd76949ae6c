#!/usr/bin/env python3
# sio_stack.py -- the private stack of test_socketio.mjs, driven over stdin/stdout.
#
# Installs the npm package juggernaut@2.1.1 into its temporary directory
# (npm pack; nothing of it is kept), and serves its public/index.html and
# public/application.js UNCHANGED from the document root of a lighttpd that
# also routes /socket.io/ to juggernaut.fcgi, with redis-server and a poller.
# Prints one JSON line {"url", "redis", "prefix"} when ready (or {"skip"}
# when npm or a server is missing), then answers one JSON line per command:
#   restart-web | logs
# On EOF it stops everything it started (by PID), prints
# {"stopped": true, "sanitizer": [...]} and removes its temporary directory.
import json
import os
import subprocess
import sys
import tarfile

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "lib"))

import jugtest as jt  # noqa: E402
from siotest import SioLighttpd  # noqa: E402

# A held GET ends after 4 s; the original client's close timeout is 25 s.
SETTINGS = dict(key_prefix="jugsio:", session_ttl=30, poll_timeout=4, keepalive_interval=2,
                stream_max_duration=20)
PACKAGE = "juggernaut@2.1.1"


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def install_original(workdir, docroot):
    """public/index.html and public/application.js of the npm package, as shipped."""
    try:
        p = subprocess.run(["npm", "pack", PACKAGE, "--silent", "--pack-destination", workdir],
                           cwd=workdir, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "npm pack %s failed: %s" % (PACKAGE, e)
    if p.returncode != 0:
        return "npm pack %s failed (registry unreachable?): %s" % (PACKAGE, p.stderr.strip()[-300:])
    tgz = os.path.join(workdir, p.stdout.strip().splitlines()[-1])
    with tarfile.open(tgz) as tar:
        for name in ("index.html", "application.js"):
            member = tar.getmember("package/public/" + name)
            with tar.extractfile(member) as src, open(os.path.join(docroot, name), "wb") as dst:
                dst.write(src.read())
    os.remove(tgz)
    return None


def sanitizer_reports(env):
    hits = []
    for path in env.logs():
        try:
            with open(path, errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        for mark in jt.SANITIZER_MARKS:
            at = text.find(mark)
            if at >= 0:
                hits.append("%s:\n%s" % (path, text[max(0, at - 200):at + 2000]))
                break
    return hits


def main():
    env = None
    try:
        for prog in ("redis-server", jt.LIGHTTPD_BIN, "npm"):
            if not jt.shutil.which(prog):
                reply({"skip": "%s is not installed" % prog})
                return 0
        env = jt.Env("sio-browser", web=SioLighttpd, **SETTINGS)
        docroot = os.path.join(env.dir, "htdocs")
        os.makedirs(docroot)
        problem = install_original(env.dir, docroot)
        if problem:
            reply({"skip": problem})
            return 0
        env.web.docroot = docroot
        env.start()
        reply({"url": "http://127.0.0.1:%d" % env.web.port, "redis": env.redis.socket_path,
               "prefix": env.prefix})
        for line in sys.stdin:
            line = line.strip()
            try:
                if line == "restart-web":
                    env.web.restart()
                    reply({"ok": True})
                elif line == "logs":
                    reply({"ok": True, "logs": {p: jt.tail(p, 30) for p in env.logs()}})
                else:
                    reply({"ok": False, "error": "unknown command %r" % line})
            except Exception as e:  # report, keep serving: the test decides
                reply({"ok": False, "error": "%s: %s" % (type(e).__name__, e)})
    except Exception as e:
        reply({"error": "%s: %s" % (type(e).__name__, e),
               "logs": {p: jt.tail(p, 30) for p in env.logs()} if env else {}})
        return 1
    finally:
        if env:
            env.stop()
            reply({"stopped": True, "sanitizer": sanitizer_reports(env)})
            env.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
