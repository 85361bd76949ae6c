# stacks.py -- the servers the benchmarks run against, each private to a
# temporary directory, on free loopback ports, stopped by PID.
#
#   JugStack    redis-server + poller + N lighttpd, each configured by the
#               shipped conf/lighttpd.conf (only its var.jug_* values
#               replaced) and starting its own juggernaut.fcgi (bin-path);
#               or nginx with the server block of conf/nginx.conf (only
#               listen, server_name, fastcgi_pass and fastcgi_read_timeout
#               replaced) and juggernaut.fcgi started by spawn-fcgi
#   NchanStack  redis-server + nginx with the Debian Nchan module
#               (libnginx-mod-nchan), its Redis store, one subscriber
#               location per transport and a publisher location
#
# Both give: arguments for jugbench (--url/--pub-url, held_args()), pids() of every
# server process on the path (web servers, workers, poller, Redis) for CPU and
# memory, and stop(). Nothing here is installed or started outside the
# temporary directory.

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import jugtest
import webservers

PREFIX = "jugbench:"
NCHAN_MODULE = "/usr/lib/nginx/modules/ngx_nchan_module.so"
NGINX_BIN = shutil.which("nginx") or "/usr/sbin/nginx"


def children(pid):
    """PIDs whose parent is pid (a web server's spawned workers)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
            out.append(int(name))
    return sorted(out)


def stop_pid(pid, timeout=5.0):
    """SIGTERM a process we started indirectly (a spawned worker), then SIGKILL."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not os.path.exists("/proc/%d" % pid):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class BenchRedis(jugtest.Redis):
    """The harness's Redis, with room for twenty thousand clients."""

    def __init__(self, workdir, tcp=False):
        os.makedirs(workdir, exist_ok=True)
        super().__init__(workdir, tcp=tcp)
        self.args = ["--maxclients", "20000"]


# lighttpd's own limits (site settings, not juggernaut's): the shipped
# conf/lighttpd.conf is included as it is.
LIGHTTPD_MAIN = """# written by tests/bench/stacks.py
server.document-root = "%(docroot)s"
server.bind = "127.0.0.1"
server.port = %(port)d
server.errorlog = "%(error_log)s"
server.max-fds = %(max_fds)d
server.max-connections = %(max_conns)d
server.listen-backlog = 4096
server.max-keep-alive-requests = 1000000
server.max-keep-alive-idle = 120
include "%(jug)s"
"""


class JugLighttpd:
    """One lighttpd with conf/lighttpd.conf; it starts its own worker."""

    def __init__(self, workdir, config, max_fds, backlog=None):
        self.dir = workdir
        self.config = config
        self.max_fds = max_fds
        self.backlog = backlog   # not None: the backend's listen-backlog (a deviation, reported)
        self.proc = None
        self.port = None
        self.worker_pids = []

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        socket_path = os.path.join(self.dir, "fcgi.sock")
        text = webservers.read_shipped("lighttpd.conf")
        for var, value in (("jug_fcgi", jugtest.WORKER_BIN), ("jug_config", self.config),
                           ("jug_socket", socket_path)):
            text = webservers.replace_line(text, r"^var\.%s\s*=.*$" % var,
                                           'var.%s = "%s"' % (var, value), "var.%s" % var)
        if self.backlog:
            text = webservers.replace_line(text, r'^(\s*)"max-procs"(\s*)=>.*$',
                                           '    "max-procs"       => 1,\n    "listen-backlog"  => %d,'
                                           % self.backlog, '"max-procs"')
        jug = os.path.join(self.dir, "juggernaut-lighttpd.conf")
        with open(jug, "w") as f:
            f.write(text)
        docroot = os.path.join(self.dir, "htdocs")
        os.makedirs(docroot, exist_ok=True)
        self.port = jugtest.free_port()
        conf = os.path.join(self.dir, "lighttpd.conf")
        with open(conf, "w") as f:
            f.write(LIGHTTPD_MAIN % dict(docroot=docroot, port=self.port, jug=jug,
                                         error_log=os.path.join(self.dir, "lighttpd-error.log"),
                                         max_fds=self.max_fds,
                                         max_conns=max(1024, self.max_fds // 2 - 50)))
        self.proc = jugtest.Process("lighttpd", [webservers.LIGHTTPD_BIN, "-D", "-f", conf, "-m",
                                                 webservers.LIGHTTPD_MODULES],
                                    os.path.join(self.dir, "lighttpd.log")).start()
        http = jugtest.Http(self.port)
        jugtest.wait_for(lambda: http.get("__ready__", timeout=3).status == 404, 20,
                         "lighttpd + worker to answer")
        self.worker_pids = children(self.proc.pid)
        return self

    def server_pids(self):
        return [self.proc.pid]

    def stop(self):
        if self.proc:
            self.proc.stop()
        for pid in self.worker_pids:   # lighttpd stops them; make sure
            stop_pid(pid)


# nginx's own settings around a server block: the same for both stacks.
NGINX_MAIN = """# written by tests/bench/stacks.py
%(modules)sdaemon off;
master_process on;
worker_processes %(workers)d;
worker_rlimit_nofile %(max_fds)d;
%(user)s
pid %(dir)s/nginx.pid;
error_log %(dir)s/nginx-error.log warn;
events { worker_connections %(conns)d; }
http {
    access_log off;
%(temps)s
%(body)s
}
"""


def start_nginx(name, dirpath, workers, max_fds, body, modules=()):
    """Write dirpath/nginx.conf around body (the http block's contents) and
    start nginx (master + workers) on it; its unprivileged workers may reach
    everything this run made (the temporary directory and below)."""
    os.makedirs(os.path.join(dirpath, "tmp"), exist_ok=True)
    path = os.path.join(dirpath, "tmp")
    while path.startswith(tempfile.gettempdir() + os.sep):
        webservers.open_for_workers(path)
        path = os.path.dirname(path)
    account = webservers.unprivileged_account()
    temps = "\n".join("    %s_temp_path %s/tmp/%s;" % (k, dirpath, k)
                      for k in ("client_body", "fastcgi", "proxy", "scgi", "uwsgi"))
    conf = os.path.join(dirpath, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_MAIN % dict(modules="".join("load_module %s;\n" % m for m in modules),
                                  workers=workers, max_fds=max_fds, dir=dirpath, conns=max_fds - 100,
                                  user="user %s %s;" % account if account else "", temps=temps,
                                  body=body))
    return jugtest.Process(name, [NGINX_BIN, "-p", dirpath, "-c", conf],
                           os.path.join(dirpath, "nginx.log")).start()


class JugNginx:
    """nginx with the server block of conf/nginx.conf, and `procs` worker
    processes on its FastCGI socket (spawn-fcgi -F, as that file says)."""

    def __init__(self, workdir, config, max_fds, backlog=None, workers=3, procs=2, read_timeout_s=None):
        self.dir = workdir
        self.config = config
        self.max_fds = max_fds
        self.backlog = backlog
        self.workers = workers
        self.procs = procs
        self.read_timeout_s = read_timeout_s   # not None: above the stack's poll_timeout
        self.proc = None
        self.port = None
        self.worker_pids = []   # the juggernaut.fcgi processes
        self.nginx_pids = []    # nginx's own workers

    def start(self):
        webservers.require(webservers.NGINX_BIN, webservers.SPAWN_FCGI_BIN)
        os.makedirs(self.dir, exist_ok=True)
        shutil.copy(webservers.NGINX_FASTCGI_PARAMS, os.path.join(self.dir, "fastcgi_params"))
        socket_path = os.path.join(self.dir, "fcgi.sock")
        pidfile = os.path.join(self.dir, "fcgi.pids")
        # Without -n spawn-fcgi forks the workers, writes their PIDs and exits.
        with open(os.path.join(self.dir, "worker.log"), "ab") as log:
            subprocess.run([webservers.SPAWN_FCGI_BIN, "-F", str(self.procs), "-P", pidfile, "-s",
                            socket_path, "-M", "0666", "--", jugtest.WORKER_BIN],
                           env=dict(os.environ, JUGGERNAUT_CONFIG=self.config), stdout=log,
                           stderr=log, check=True, timeout=30)
        with open(pidfile) as f:
            self.worker_pids = sorted(int(x) for x in f.read().split())
        self.port = jugtest.free_port()
        site = webservers.nginx_site(self.port, socket_path, read_timeout_s=self.read_timeout_s,
                                     listen_options="backlog=%d reuseport" % (self.backlog or 4096))
        self.proc = start_nginx("nginx", self.dir, self.workers, self.max_fds, site)
        http = jugtest.Http(self.port)
        jugtest.wait_for(lambda: http.get("__ready__", timeout=3).status == 404, 20,
                         "nginx + worker to answer")
        jugtest.wait_for(lambda: len(children(self.proc.pid)) >= self.workers, 10, "the nginx workers")
        self.nginx_pids = children(self.proc.pid)
        return self

    def server_pids(self):
        return [self.proc.pid] + self.nginx_pids

    def stop(self):
        if self.proc:
            self.proc.stop()
        for pid in self.worker_pids:
            stop_pid(pid)


class JugStack:
    """Redis + poller + `servers` lighttpd instances (each with its worker),
    or (web="nginx") one nginx with three workers of its own and two
    juggernaut.fcgi processes."""

    name = "juggernaut-fcgi"

    def __init__(self, workdir, servers=1, max_fds=20000, backlog=None, web="lighttpd", **settings):
        self.dir = os.path.join(workdir, "jug")
        os.makedirs(self.dir, exist_ok=True)
        self.redis = BenchRedis(os.path.join(self.dir, "redis"))
        self.config = os.path.join(self.dir, "juggernaut.conf")
        values = dict(key_prefix=PREFIX, poll_timeout=25, session_ttl=300, keepalive_interval=15,
                      stream_max_duration=300, log_level="warning", status_allow="127.0.0.1",
                      max_held_per_process=20000)
        values.update(settings)
        self.settings = values
        if web == "nginx":
            # nginx gives up on a backend silent for fastcgi_read_timeout.
            self.webs = [JugNginx(os.path.join(self.dir, "nginx%d" % i), self.config, max_fds, backlog,
                                  read_timeout_s=values["poll_timeout"] + 60) for i in range(servers)]
        else:
            self.webs = [JugLighttpd(os.path.join(self.dir, "web%d" % i), self.config, max_fds, backlog)
                         for i in range(servers)]
        self.web = web
        self.poller = None

    def start(self):
        self.redis.start()
        jugtest.write_config(self.config, self.redis.url, **self.settings)
        self.poller = jugtest.Poller(self.dir, self.config, "bench").start()
        jugtest.wait_for(self._poller_ready, 15, "the poller to subscribe and lead")
        for web in self.webs:
            web.start()
        return self

    def _poller_ready(self):
        subs = self.redis.command("PUBSUB", "NUMSUB", "juggernaut")
        return subs[1] >= 1 and self.redis.command("GET", PREFIX + "poller:lease")

    def url(self, i=0):
        return "http://127.0.0.1:%d/juggernaut" % self.webs[i].port

    def held_args(self):
        """How jugbench counts held polls: the FastCGI connections open in the
        workers (counted the same way for Nchan's nginx workers)."""
        return ["--held-fds", ",".join(str(p) for w in self.webs for p in w.worker_pids)]

    def pids(self):
        out = []
        for w in self.webs:
            out += w.server_pids() + w.worker_pids
        return out + [self.poller.proc.pid, self.redis.proc.pid]

    def describe(self):
        return "; ".join("%s pids %s port %d worker pids %s" % (self.web, w.server_pids(), w.port, w.worker_pids)
                         for w in self.webs) + "; poller pid %d; redis pid %d (unix socket)" % (
                             self.poller.proc.pid, self.redis.proc.pid)

    def jugbench_args(self, transport="poll", i=0):
        """--url ... for the subscriber side (transport: poll, sse, multipart)."""
        return ["--url", self.url(i), "--redis", self.redis.url, "--prefix", PREFIX]

    def stop(self):
        for w in self.webs:
            w.stop()
        if self.poller:
            self.poller.stop()
        self.redis.stop()


NCHAN_SERVER = """    upstream nchan_redis { nchan_redis_server redis://127.0.0.1:%(redis_port)d; }
    server {
        listen 127.0.0.1:%(port)d backlog=4096;
        # Every channel keeps as many messages as juggernaut's max_queue.
        nchan_message_buffer_length %(buffer)d;
        nchan_message_timeout 10m;
        nchan_subscriber_timeout %(sub_timeout)ds;
        location ~ ^/lp/([-\\w]+)$ { nchan_subscriber longpoll; nchan_channel_id $1; nchan_redis_pass nchan_redis; }
        location ~ ^/sse/([-\\w]+)$ { nchan_subscriber eventsource; nchan_channel_id $1; nchan_redis_pass nchan_redis; }
        location ~ ^/multipart/([-\\w]+)$ { nchan_subscriber multipart-mixed; nchan_channel_id $1; nchan_redis_pass nchan_redis; }
        location ~ ^/pub/([-\\w]+)$ { nchan_publisher; nchan_channel_id $1; nchan_redis_pass nchan_redis; }
        location = /nchan_status { nchan_stub_status; }
    }
"""


def nginx_fcgi_missing():
    """None when nginx and spawn-fcgi (for JugNginx) are installed, else what is missing."""
    for prog in (webservers.NGINX_BIN, webservers.SPAWN_FCGI_BIN):
        if not os.path.exists(prog):
            return "%s is not installed" % prog
    return None


def nchan_available():
    """None when nginx, the Nchan module and redis-server are all present, else why not."""
    for path in (NGINX_BIN, NCHAN_MODULE):
        if not os.path.exists(path):
            return "%s is not installed (apt-get install libnginx-mod-nchan)" % path
    if not shutil.which("redis-server"):
        return "redis-server is not installed"
    return None


class NchanStack:
    """nginx + Nchan with its Redis store, both private."""

    name = "Nchan"

    def __init__(self, workdir, workers=2, max_fds=20000, buffer=1000, sub_timeout=60):
        self.dir = os.path.join(workdir, "nchan")
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        self.redis = BenchRedis(os.path.join(self.dir, "redis"), tcp=True)
        self.workers = workers
        self.max_fds = max_fds
        self.buffer = buffer
        self.sub_timeout = sub_timeout   # a long-poll's longest wait (juggernaut's poll_timeout)
        self.proc = None
        self.port = None
        self.worker_pids = []

    def start(self):
        self.redis.start()
        self.port = jugtest.free_port()
        body = NCHAN_SERVER % dict(redis_port=self.redis.port, port=self.port, buffer=self.buffer,
                                   sub_timeout=self.sub_timeout)
        self.proc = start_nginx("nginx (nchan)", self.dir, self.workers, self.max_fds, body,
                                modules=[NCHAN_MODULE])
        http = jugtest.Http(self.port, prefix="")
        jugtest.wait_for(lambda: http.get("nchan_status", timeout=3).status == 200, 20,
                         "nginx + nchan to answer")
        jugtest.wait_for(lambda: len(children(self.proc.pid)) >= self.workers, 10,
                         "the nginx workers")
        self.worker_pids = children(self.proc.pid)
        return self

    def url(self, transport="poll"):
        path = {"poll": "lp", "sse": "sse", "multipart": "multipart"}[transport]
        return "http://127.0.0.1:%d/%s" % (self.port, path)

    def held_args(self):
        """How jugbench counts held polls: the connections open in the nginx
        workers, as for juggernaut's workers."""
        return ["--held-fds", ",".join(str(p) for p in self.worker_pids)]

    def pids(self):
        return [self.proc.pid] + self.worker_pids + [self.redis.proc.pid]

    def describe(self):
        return "nginx pid %d port %d workers %s; redis pid %d (tcp)" % (
            self.proc.pid, self.port, self.worker_pids, self.redis.proc.pid)

    def jugbench_args(self, transport="poll", i=0):
        return ["--nchan", "--url", self.url(transport), "--pub-url",
                "http://127.0.0.1:%d/pub" % self.port, "--redis", self.redis.url]

    def stop(self):
        if self.proc:
            self.proc.stop()
        self.redis.stop()


def module_version(path=NCHAN_MODULE):
    """Nchan's version from the Debian package list, for the report."""
    try:
        with open("/var/lib/dpkg/status") as f:
            text = f.read()
        m = re.search(r"Package: libnginx-mod-nchan\n(?:.+\n)*?Version: (\S+)", text)
        return m.group(1) if m else "?"
    except OSError:
        return "?"
