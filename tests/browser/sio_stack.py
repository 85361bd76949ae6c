#!/usr/bin/env python3
# sio_stack.py -- the private stack of test_socketio.mjs, driven over stdin/stdout.
#
# Installs the npm package juggernaut@2.1.1 into its temporary directory
# (npm pack; nothing of it is kept), and serves its public/index.html and
# public/application.js UNCHANGED from the document root of a lighttpd that
# also routes /socket.io/ to juggernaut.fcgi, or (--web apache) of a shared
# host's Apache + mod_fcgid where a .htaccess does that, or (--web nginx) of
# an nginx with README's location for /socket.io/, with redis-server and a
# poller.
# It also serves swapped.html: index.html with only its script tag pointing
# at the worker's application.js (this project's client), and copied.html:
# the same with javascripts/juggernaut.js, a copy of the client in the site;
# cross.html: index.html naming host 127.0.0.1, loaded from localhost.
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
import webservers  # noqa: E402
from siotest import SioLighttpd, SioNginx, SioSharedApache  # noqa: E402

# A held GET ends after 4 s; the original client's close timeout is 25 s.
# Debug logs say, on a failure, why a handshake made a new session.
SETTINGS = dict(key_prefix="jugsio:", session_ttl=30, poll_timeout=4, keepalive_interval=2,
                stream_max_duration=20, log_level="debug")
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


def build(web):
    """The Env, and the document root the pages go to."""
    if web == "apache":
        # mod_fcgid: one request per process; its workers run as nobody
        # when we are root, so Redis is reached over TCP.
        env = jt.Env("sio-apache", web=None, redis_tcp=True, threads=1, **SETTINGS)
        os.chmod(env.dir, 0o755)
        env.web = SioSharedApache(os.path.join(env.dir, "apache"), jt.WORKER_BIN, env.config_path,
                                  account=webservers.unprivileged_account())
        return env, env.web.docroot
    env = jt.Env("sio-" + web, web=SioNginx if web == "nginx" else SioLighttpd, **SETTINGS)
    docroot = os.path.join(env.dir, "htdocs")
    os.makedirs(docroot)
    if web == "nginx":
        # Its workers run unprivileged: the pages must be readable to them.
        for d in (env.dir, docroot):
            webservers.open_for_workers(d)
    env.web.docroot = docroot
    return env, docroot


def main():
    env = None
    web = sys.argv[2] if len(sys.argv) > 2 and sys.argv[1] == "--web" else "lighttpd"
    try:
        for prog in ("redis-server", jt.LIGHTTPD_BIN, "npm"):
            if not jt.shutil.which(prog):
                reply({"skip": "%s is not installed" % prog})
                return 0
        try:
            env, docroot = build(web)
        except jt.Skip as e:
            reply({"skip": str(e)})
            return 0
        problem = install_original(env.dir, docroot)
        if problem:
            reply({"skip": problem})
            return 0
        # The page with only its script tag swapped for this project's client,
        # which the worker serves as application.js.
        worker = "/cgi-bin/juggernaut.fcgi" if web == "apache" else "/juggernaut"
        with open(os.path.join(docroot, "index.html")) as f:
            page = f.read()
        tag = '<script src="application.js"'
        if tag not in page:
            raise RuntimeError("index.html of %s has no %s" % (PACKAGE, tag))
        with open(os.path.join(docroot, "swapped.html"), "w") as f:
            f.write(page.replace(tag, '<script src="%s/application.js"' % worker))
        # And with a copy of juggernaut.js kept with the site's files (as
        # shipped: the worker did not write its base path into it).
        copies = os.path.join(docroot, "javascripts")
        os.mkdir(copies)
        jt.shutil.copy(os.path.join(SRCDIR, "client-js", "juggernaut.js"), copies)
        with open(os.path.join(docroot, "copied.html"), "w") as f:
            f.write(page.replace(tag, '<script src="javascripts/juggernaut.js"'))
        # And as a page of another site whose Juggernaut is at 127.0.0.1
        # (loaded from localhost: a cross-origin page).
        host = "host: document.location.hostname"
        if host not in page:
            raise RuntimeError("index.html of %s has no %s" % (PACKAGE, host))
        with open(os.path.join(docroot, "cross.html"), "w") as f:
            f.write(page.replace(host, 'host: "127.0.0.1"'))
        static = os.path.join(env.dir, "static")
        os.mkdir(static)
        jt.shutil.copy(os.path.join(SRCDIR, "client-js", "juggernaut.js"), static)
        for path in (static, os.path.join(static, "juggernaut.js")):
            os.chmod(path, 0o755 if os.path.isdir(path) else 0o644)
        jt.write_config(env.config_path, env.redis.url, static_dir=static,
                        **dict(SETTINGS, **({"threads": 1} if web == "apache" else {})))
        for name in ("index.html", "application.js", "swapped.html", "copied.html", "cross.html",
                     "javascripts/juggernaut.js"):
            os.chmod(os.path.join(docroot, name), 0o644)
        os.chmod(copies, 0o755)
        env.start()
        reply({"url": "http://127.0.0.1:%d" % env.web.port, "redis": env.redis.socket_path,
               "prefix": env.prefix})
        for line in sys.stdin:
            line = line.strip()
            try:
                if line == "restart-web":
                    env.web.restart()
                    reply({"ok": True})
                elif line == "fcgid-processes":
                    # Under mod_fcgid a poll is held only while another live
                    # worker process stays free: have the host start three.
                    live = webservers.start_fcgid_processes(env.http, env.redis, env.prefix, 3)
                    reply({"ok": True, "live": live})
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
            reply({"stopped": True, "sanitizer": jt.sanitizer_reports(env.logs())})
            env.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
