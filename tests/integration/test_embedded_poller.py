#!/usr/bin/env python3
# test_embedded_poller.py -- the poller's work done by the worker processes
# (setting embedded_poller) where no daemon may run: messages are delivered
# with no juggernaut-poller running, the lease names a worker, a standalone
# poller beside it delivers nothing twice, and when the worker process holding
# the lease stops, the standalone poller takes over with nothing lost.
import os
import signal
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import jugtest as jt  # noqa: E402

suite = jt.Suite("test_embedded_poller", time_limit=120)
test = suite.test


def data_of(msgs):
    return [m["data"] for m in msgs]


def worker_holds_lease(env):
    holder = env.leader()
    return holder is not None and holder.endswith(":worker")


@test
def t_delivers_without_a_poller(env):
    """no juggernaut-poller runs: a worker process takes the lease and delivers"""
    c = env.client(["emb"])   # the first request starts the worker, and its poller thread
    jt.wait_for(lambda: worker_holds_lease(env), 15, "a worker process to take the poller lease")
    env.redis.publish(["emb"], "one")
    env.redis.publish(["emb"], "two")
    jt.equal(data_of(c.collect(2)), ["one", "two"], "deliveries with only the embedded poller")


@test
def t_standalone_beside(env):
    """a standalone poller beside the embedded one: every message exactly once, in order"""
    p = jt.Poller(env.dir, env.config_path, "standalone").start()
    env.pollers.append(p)
    jt.wait_for(lambda: "subscribed" in open(p.log_path).read(), 10, "the standalone poller to subscribe")
    c = env.client(["both"])
    for i in range(30):
        env.redis.publish(["both"], i)
    jt.equal(data_of(c.collect(30, settle=0.5)), list(range(30)), "30 messages, once each, in order")


@test
def t_takeover_from_worker(env):
    """the worker holding the lease stops: the standalone poller takes over, nothing is lost"""
    c = env.client(["over"])
    jt.check(worker_holds_lease(env), "a worker holds the lease", env.leader())
    holder = env.leader()
    pid = int(holder.split(":")[1])
    env.redis.publish(["over"], "before")
    jt.equal(data_of(c.collect(1)), ["before"], "delivered by the worker's poller")
    os.kill(pid, signal.SIGTERM)   # it releases the lease as it stops
    jt.wait_for(lambda: env.leader() not in (None, holder), 15, "another poller to take the lease")
    # lighttpd answers 503 until it has started a new worker process.
    jt.wait_for(lambda: env.http.get("poll", {"session_id": c.sid, "ack": c.ack, "timeout": 0}).status == 200,
                30, "lighttpd to serve again with a new worker process")
    env.redis.publish(["over"], "after")
    jt.equal(data_of(c.collect(1, within=10)), ["after"], "delivered after the takeover")


def setup():
    return jt.Env("embedded", pollers=0, embedded_poller=1, poller_lease_ms=1500).start()


if __name__ == "__main__":
    jt.main(suite, setup)
