#!/usr/bin/env python3
# stack.py -- run a complete local juggernaut-fcgi stack until Ctrl-C.
#
# Starts a private redis-server (unix socket in a temporary directory),
# lighttpd serving juggernaut.fcgi at http://localhost:PORT/juggernaut and one
# juggernaut-poller, prints copy-paste examples, and stops exactly what it
# started when interrupted. "make stack" runs it from a build directory.
#
#   python3 tests/stack.py [--builddir DIR] [--port 8080] [--docroot DIR]
import argparse
import os
import shutil
import signal
import socket
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))


def port_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def main():
    ap = argparse.ArgumentParser(description="Run redis-server + lighttpd/juggernaut.fcgi + "
                                             "juggernaut-poller locally until Ctrl-C.")
    ap.add_argument("--builddir", default=os.environ.get("JUG_BUILDDIR", os.getcwd()),
                    help="build directory holding poller/ and fcgi/ (default: current)")
    ap.add_argument("--port", type=int, default=8080, help="HTTP port (default 8080)")
    ap.add_argument("--docroot", help="directory served at / (default: an empty one)")
    ap.add_argument("--session-ttl", type=int, default=60)
    ap.add_argument("--poll-timeout", type=int, default=25)
    args = ap.parse_args()

    os.environ["JUG_BUILDDIR"] = os.path.abspath(args.builddir)
    import jugtest as jt  # reads JUG_BUILDDIR when imported

    for path in (jt.POLLER_BIN, jt.WORKER_BIN):
        if not os.access(path, os.X_OK):
            sys.exit("stack.py: %s is missing: run make first (or pass --builddir)" % path)
    for prog in ("redis-server", jt.LIGHTTPD_BIN):
        if not shutil.which(prog):
            sys.exit("stack.py: %s is not installed (Debian: apt-get install redis-server "
                     "lighttpd)" % prog)

    port = args.port
    if not port_free(port):
        port = jt.free_port()
        print("stack.py: port %d is busy; using %d instead (choose one with --port)"
              % (args.port, port))

    env = jt.Env("stack", session_ttl=args.session_ttl, poll_timeout=args.poll_timeout,
                 key_prefix="jug:", threads=64, poller_lease_ms=5000, log_level="info")
    if args.docroot:
        env.web.docroot = os.path.abspath(args.docroot)
    env.web.port = port
    stopping = []

    def on_signal(signum, frame):
        stopping.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        env.start()
        redis_cli = "redis-cli -s %s" % env.redis.socket_path
        url = "http://localhost:%d/juggernaut" % port
        print("""
juggernaut-fcgi stack is running (everything lives in %(dir)s)

  web server   http://localhost:%(port)d/      (lighttpd, log: %(dir)s/lighttpd-error.log)
  endpoint     %(url)s/{connect,poll,sse,...}
  redis        %(cli)s
  poller log   %(dir)s/poller-p1.log

Try it in two terminals:

  SID=$(curl -s '%(url)s/connect?channel=demo' | sed 's/.*"session_id":"\\([^"]*\\)".*/\\1/')
  curl -s "%(url)s/poll?session_id=$SID&ack=0"

  %(cli)s PUBLISH juggernaut '{"channels":["demo"],"data":"hello"}'

Presence events:  %(cli)s SUBSCRIBE juggernaut:subscribe juggernaut:unsubscribe

Press Ctrl-C to stop.""" % dict(dir=env.dir, port=port, url=url, cli=redis_cli))
        sys.stdout.flush()
        while True:
            time.sleep(1)
            for name, proc in [("redis-server", env.redis.proc), ("lighttpd", env.web.proc)] + \
                    [("poller", p.proc) for p in env.pollers]:
                if not proc.alive():
                    print("stack.py: %s exited; its log:\n%s" % (name, jt.tail(proc.log_path)))
                    raise KeyboardInterrupt
    except KeyboardInterrupt:
        print("\nstack.py: stopping")
    except AssertionError as e:
        print("stack.py: could not start: %s" % e)
        for path in env.logs():
            print("---- %s\n%s" % (path, jt.tail(path, 10)))
        env.stop()
        env.cleanup()
        return 1
    env.stop()
    env.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
