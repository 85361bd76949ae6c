#!/usr/bin/env python3
# run_demo.py -- "make demo": the chat/roster/records demo on a private stack.
#
# Starts a private redis-server, juggernaut-poller, lighttpd serving demo/ at
# http://localhost:PORT/ and juggernaut.fcgi at /juggernaut (with the demo-only
# publish endpoint on, and juggernaut.js served from the source client-js/),
# plus the roster (demo/roster.py) as a thread. Ctrl-C stops exactly what it
# started. The browser tests reuse build_stack() through tests/browser/stack.py.
#
#   python3 demo/run_demo.py [--builddir DIR] [--port 8080]
import argparse
import os
import re
import sys

sys.dont_write_bytecode = True
DEMO_DIR = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(DEMO_DIR)
sys.path.insert(0, os.path.join(SRCDIR, "tests", "lib"))
sys.path.insert(0, DEMO_DIR)

# keepalive below the client's 5 s openTimeout: an htmlfile stream shows no
# sign of life before its first record (see the browser tests' idle test).
DEMO_SETTINGS = dict(key_prefix="jugdemo:", session_ttl=20, poll_timeout=15, keepalive=4,
                     stream_max=120, lease_ms=3000)


def render_config(path, redis_url, settings):
    """Fill demo/juggernaut-demo.conf.in into path."""
    with open(os.path.join(DEMO_DIR, "juggernaut-demo.conf.in")) as f:
        text = f.read()
    values = dict(settings, redis_url=redis_url, static_dir=os.path.join(SRCDIR, "client-js"))
    for key, value in values.items():
        text = text.replace("@%s@" % key.upper(), str(value))
    leftover = re.findall(r"^[a-z_]+ .*(@[A-Z_]+@)", text, re.M)
    if leftover:
        raise ValueError("juggernaut-demo.conf.in: no value for %s" % ", ".join(leftover))
    with open(path, "w") as f:
        f.write(text)


def build_stack(jt, docroot, port=None, name="demo", **overrides):
    """An unstarted jugtest.Env for the demo config, and its Roster."""
    from roster import Roster
    settings = dict(DEMO_SETTINGS, **overrides)
    env = jt.Env(name, key_prefix=settings["key_prefix"])
    try:
        render_config(env.config_path, env.redis.url, settings)
    except (OSError, ValueError):
        env.cleanup()
        raise
    env.prefix = settings["key_prefix"]
    env.web.docroot = docroot
    env.web.port = port
    roster = Roster(jt, env.redis.address)
    return env, roster


def main():
    ap = argparse.ArgumentParser(description="Run the juggernaut-fcgi demo until Ctrl-C.")
    ap.add_argument("--builddir", default=os.environ.get("JUG_BUILDDIR", os.getcwd()),
                    help="build directory holding poller/ and fcgi/ (default: current)")
    ap.add_argument("--port", type=int, default=8080, help="HTTP port (default 8080)")
    args = ap.parse_args()

    os.environ["JUG_BUILDDIR"] = os.path.abspath(args.builddir)
    import jugtest as jt  # reads JUG_BUILDDIR when imported

    jt.require_stack_programs("run_demo.py")
    if not jt.port_free(args.port):
        sys.exit("run_demo.py: port %d is busy: choose another with make demo DEMO_PORT=N"
                 % args.port)

    env, roster = build_stack(jt, DEMO_DIR, args.port)
    try:
        env.start()
        roster.start()
        print("""
juggernaut-fcgi demo: open http://localhost:%(port)d/ in two browser windows.

  everything lives in %(dir)s (logs: lighttpd-error.log, poller-p1.log)
  publish yourself:  redis-cli -s %(sock)s PUBLISH juggernaut \\
      '{"channels":["/chat"],"data":{"name":"redis-cli","text":"hello"}}'
  what it is doing:  curl http://localhost:%(port)d/juggernaut/status
                     (or ?format=prometheus)

Press Ctrl-C to stop.""" % dict(port=args.port, dir=env.dir, sock=env.redis.socket_path))
        sys.stdout.flush()
        status = env.watch("run_demo.py")
    except AssertionError as e:
        env.report_start_failure("run_demo.py", e)
        status = 1
    roster.stop()
    env.stop()
    env.cleanup()
    return status


if __name__ == "__main__":
    sys.exit(main())
