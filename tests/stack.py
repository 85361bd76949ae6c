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
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))


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

    jt.require_stack_programs("stack.py")

    port = args.port
    if not jt.port_free(port):
        port = jt.free_port()
        print("stack.py: port %d is busy; using %d instead (choose one with --port)"
              % (args.port, port))

    env = jt.Env("stack", session_ttl=args.session_ttl, poll_timeout=args.poll_timeout,
                 key_prefix="jug:", threads=64, poller_lease_ms=5000, log_level="info")
    if args.docroot:
        env.web.docroot = os.path.abspath(args.docroot)
    env.web.port = port
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
        status = env.watch("stack.py")
    except AssertionError as e:
        env.report_start_failure("stack.py", e)
        status = 1
    env.stop()
    env.cleanup()
    return status


if __name__ == "__main__":
    sys.exit(main())
