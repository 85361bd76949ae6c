# webservers.py -- Apache+mod_fcgid, nginx and lighttpd for the integration
# tests, each built from the web-server files shipped in conf/.
#
# Every class has the interface of jugtest.Lighttpd (a WebServer): construct
# with (workdir, worker, config_path[, port]), then start(), stop(),
# restart(), .port, .base_url, .http and .logs. Each runs in the foreground
# with every path (pid, logs, sockets, temp files) inside workdir, and is
# stopped by PID like every process of the harness.
#
# The site-specific values of conf/apache-fcgid.conf, conf/nginx.conf and
# conf/lighttpd.conf (paths, port) are replaced; every other setting is used
# as shipped, so the tests exercise the configurations users install: the
# files make wrote from conf/*.in into the build directory.
#
# When the tests run as root, Apache and nginx switch their workers to an
# unprivileged account (nobody): the work directory is then made readable
# for it, and Redis must be reached over TCP (its unix socket is 0700).

import grp
import os
import pwd
import re
import shutil
import threading
import time

from jugtest import BUILDDIR, Process, Skip, WebServer, check

CONF_DIR = os.path.join(BUILDDIR, "conf")
APACHE_BIN = shutil.which("apache2") or shutil.which("httpd") or "/usr/sbin/apache2"
APACHE_MODULES = "/usr/lib/apache2/modules"
NGINX_BIN = shutil.which("nginx") or "/usr/sbin/nginx"
NGINX_FASTCGI_PARAMS = "/etc/nginx/fastcgi_params"
SPAWN_FCGI_BIN = shutil.which("spawn-fcgi") or "/usr/bin/spawn-fcgi"
LIGHTTPD_BIN = shutil.which("lighttpd") or "/usr/sbin/lighttpd"
LIGHTTPD_MODULES = "/usr/lib/lighttpd"


def read_shipped(name):
    with open(os.path.join(CONF_DIR, name)) as f:
        return f.read()


def replace_line(text, pattern, new, what):
    """Replace the one line matching pattern (a regex, multiline) by new."""
    out, count = re.subn(pattern, lambda m: new, text, count=1, flags=re.M)
    check(count == 1, "conf file no longer has %s (pattern %r)" % (what, pattern))
    return out


def unprivileged_account():
    """(user, group) names for servers that must drop root, else None."""
    if os.geteuid() != 0:
        return None
    for name in ("nobody", "daemon"):
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            continue
        return pw.pw_name, grp.getgrgid(pw.pw_gid).gr_name
    raise Skip("running as root and no unprivileged account (nobody) to run the server as")


def open_for_workers(path):
    """Let an unprivileged server worker reach path (a directory we made)."""
    if os.geteuid() == 0:
        os.chmod(path, 0o755)


def require(*programs):
    for prog in programs:
        if not (os.path.isabs(prog) and os.path.exists(prog)) and not shutil.which(prog):
            raise Skip("%s is not installed" % prog)


# ---------------------------------------------------------------- Apache + mod_fcgid

APACHE_MODULE_NAMES = [
    # module name, file; mpm first
    ("mpm_event_module", "mod_mpm_event.so"),
    ("authz_core_module", "mod_authz_core.so"),
    ("authz_host_module", "mod_authz_host.so"),
    ("alias_module", "mod_alias.so"),
    ("mime_module", "mod_mime.so"),
    ("env_module", "mod_env.so"),
    ("setenvif_module", "mod_setenvif.so"),
    ("dir_module", "mod_dir.so"),
    ("fcgid_module", "mod_fcgid.so"),
]


def start_fcgid_processes(http, redis, prefix, want, timeout=60):
    """Bursts of concurrent connects through http until the worker counts
    want processes alive (<prefix>procs) and the host no longer counts as
    starting them (<prefix>procs:spawning): mod_fcgid starts a process only
    for a request that found all of them busy, slept a second and found
    them busy again, so a burst is wide enough that the sleepers, waking
    together, outnumber the processes (with 8, an optimised worker on two
    processes served them too fast, and no third one came in 60 s).
    Returns how many are alive."""
    deadline = time.monotonic() + timeout
    live = lambda: redis.command("ZCARD", prefix + "procs")  # noqa: E731
    while live() < want and time.monotonic() < deadline:
        burst = [threading.Thread(target=http.post, args=("connect", []), kwargs={"timeout": 30},
                                  daemon=True) for _ in range(16)]
        for t in burst:
            t.start()
        for t in burst:
            t.join(max(1.0, deadline - time.monotonic()))
    while redis.command("EXISTS", prefix + "procs:spawning") and time.monotonic() < deadline:
        time.sleep(0.1)
    return live()


def apache_main_config(dirpath, port, account, body, threads_per_child=64, stock_mutexes=False):
    """A complete private httpd.conf: everything in dirpath, body appended.
    Two processes of threads_per_child threads serve connections. Its
    mutexes are files (fcntl), as Debian's apache2.conf has them, except
    mod_fcgid's two unless stock_mutexes: between two threaded processes
    the kernel's fcntl deadlock check can refuse them (EDEADLK, "mod_fcgid:
    can't get pipe mutex", the request cut off) under a burst of requests,
    which is Apache's to fix, not what a test looks at."""
    lines = [
        "# written by tests/lib/webservers.py",
        "ServerRoot %s" % dirpath,
        "ServerName 127.0.0.1",
        "Listen 127.0.0.1:%d" % port,
        "PidFile %s/httpd.pid" % dirpath,
        "DefaultRuntimeDir %s" % dirpath,
        "Mutex file:%s default" % dirpath,
    ] + ([] if stock_mutexes else ["Mutex pthread fcgid-pipe fcgid-proctbl"]) + [
        "ErrorLog %s/apache-error.log" % dirpath,
        "LogLevel warn",
        "Timeout 60",
        # Enough threads for every test's concurrent long-polls and streams.
        "StartServers 1",
        "ServerLimit 2",
        "ThreadLimit %d" % threads_per_child,
        "ThreadsPerChild %d" % threads_per_child,
        "MaxRequestWorkers %d" % (2 * threads_per_child),
    ]
    if account:
        lines += ["User %s" % account[0], "Group %s" % account[1]]
    lines += ["LoadModule %s %s/%s" % (name, APACHE_MODULES, so)
              for name, so in APACHE_MODULE_NAMES]
    lines += [
        "TypesConfig /etc/mime.types",
        "FcgidIPCDir %s/fcgid" % dirpath,
        "FcgidProcessTableFile %s/fcgid-shm" % dirpath,
        "DocumentRoot %s/htdocs" % dirpath,
        "<Directory />",
        "    AllowOverride None",
        "    Require all denied",
        "</Directory>",
        body,
    ]
    return "\n".join(lines) + "\n"


class Apache(WebServer):
    """apache2 -DFOREGROUND with conf/apache-fcgid.conf included.

    output_buffer_size, if not None, overrides FcgidOutputBufferSize (to show
    what the default does to streams)."""

    name = "apache"

    def __init__(self, workdir, worker, config_path, port=None, output_buffer_size=None):
        super().__init__(workdir, worker, config_path, port)
        self.output_buffer_size = output_buffer_size
        require(APACHE_BIN, os.path.join(APACHE_MODULES, "mod_fcgid.so"))

    def jug_config(self):
        """conf/apache-fcgid.conf with this test's worker and config."""
        text = read_shipped("apache-fcgid.conf")
        text = replace_line(text, r"^Define JUG_FCGI .*$", "Define JUG_FCGI %s" % self.worker,
                            "Define JUG_FCGI")
        text = replace_line(text, r"^Define JUG_CONFIG .*$",
                            "Define JUG_CONFIG %s" % self.config_path, "Define JUG_CONFIG")
        if self.output_buffer_size is not None:
            text = replace_line(text, r"^\s*FcgidOutputBufferSize .*$",
                                "FcgidOutputBufferSize %d" % self.output_buffer_size,
                                "FcgidOutputBufferSize")
        # A test box has no RAM for 100 warm processes, nor needs them.
        text = replace_line(text, r"^\s*FcgidMinProcessesPerClass .*$",
                            "FcgidMinProcessesPerClass 0", "FcgidMinProcessesPerClass")
        return text

    def _start(self):
        account = unprivileged_account()
        open_for_workers(self.dir)
        os.makedirs(os.path.join(self.dir, "htdocs"), exist_ok=True)
        jug = os.path.join(self.dir, "apache-juggernaut.conf")
        with open(jug, "w") as f:
            f.write(self.jug_config())
        conf = os.path.join(self.dir, "httpd.conf")
        with open(conf, "w") as f:
            f.write(apache_main_config(self.dir, self.port, account, "Include %s" % jug))
        log = os.path.join(self.dir, "apache.log")
        self.logs = [log, os.path.join(self.dir, "apache-error.log")]
        self.proc = Process("apache", [APACHE_BIN, "-DFOREGROUND", "-f", conf], log).start()


# ---------------------------------------------------------------- nginx + spawn-fcgi

def nginx_site(port, socket_path, buffering=None, read_timeout_s=None, listen_options=""):
    """The server block of conf/nginx.conf on 127.0.0.1:port, passing to the
    worker on socket_path; only the lines named by the arguments change."""
    text = read_shipped("nginx.conf")
    listen = "    listen 127.0.0.1:%d%s;" % (port, listen_options and " " + listen_options)
    text = replace_line(text, r"^\s*listen .*;$", listen, "a listen line")
    text = replace_line(text, r"^\s*server_name .*;$", "    server_name 127.0.0.1;",
                        "a server_name line")
    text = replace_line(text, r"^\s*fastcgi_pass .*;$",
                        "        fastcgi_pass unix:%s;" % socket_path, "fastcgi_pass")
    if buffering is not None:
        text = replace_line(text, r"^\s*fastcgi_buffering .*;$",
                            "        fastcgi_buffering %s;" % buffering, "fastcgi_buffering")
    if read_timeout_s is not None:
        text = replace_line(text, r"^\s*fastcgi_read_timeout .*;$",
                            "        fastcgi_read_timeout %ds;" % read_timeout_s, "fastcgi_read_timeout")
    return text


class Nginx(WebServer):
    """nginx (daemon off) with the server block of conf/nginx.conf, and the
    worker started by spawn-fcgi -n on a unix socket in workdir."""

    name = "nginx"

    def __init__(self, workdir, worker, config_path, port=None, buffering=None):
        super().__init__(workdir, worker, config_path, port)
        self.buffering = buffering
        self.fcgi = None
        require(NGINX_BIN, SPAWN_FCGI_BIN)

    def site_config(self, socket_path):
        return nginx_site(self.port, socket_path, buffering=self.buffering)

    def _start(self):
        account = unprivileged_account()
        open_for_workers(self.dir)
        ndir = os.path.join(self.dir, "nginx")
        os.makedirs(os.path.join(ndir, "tmp"), exist_ok=True)
        open_for_workers(ndir)
        shutil.copy(NGINX_FASTCGI_PARAMS, os.path.join(ndir, "fastcgi_params"))
        socket_path = os.path.join(self.dir, "nginx-fcgi.sock")
        if os.path.exists(socket_path):
            os.unlink(socket_path)
        with open(os.path.join(ndir, "site.conf"), "w") as f:
            f.write(self.site_config(socket_path))
        conf = os.path.join(ndir, "nginx.conf")
        error_log = os.path.join(self.dir, "nginx-error.log")
        with open(conf, "w") as f:
            f.write("# written by tests/lib/webservers.py\n")
            f.write("daemon off;\nmaster_process on;\nworker_processes 1;\n")
            if account:
                f.write("user %s %s;\n" % account)
            f.write("pid %s/nginx.pid;\nerror_log %s info;\n" % (ndir, error_log))
            f.write("events { worker_connections 512; }\n")
            f.write("http {\n    access_log off;\n")
            for kind in ("client_body", "fastcgi", "proxy", "scgi", "uwsgi"):
                f.write("    %s_temp_path %s/tmp/%s;\n" % (kind, ndir, kind))
            f.write("    include %s/site.conf;\n}\n" % ndir)
        fcgi_log = os.path.join(self.dir, "nginx-worker.log")
        log = os.path.join(self.dir, "nginx.log")
        self.logs = [log, error_log, fcgi_log]
        # -n: spawn-fcgi execs the worker in place, so this PID is the worker's.
        # Mode 0666: nginx's unprivileged worker must connect; the directory
        # is private to the test anyway.
        self.fcgi = Process("juggernaut.fcgi (spawn-fcgi)",
                            [SPAWN_FCGI_BIN, "-n", "-s", socket_path, "-M", "0666", "--",
                             self.worker], fcgi_log,
                            env=dict(os.environ, JUGGERNAUT_CONFIG=self.config_path)).start()
        self.proc = Process("nginx", [NGINX_BIN, "-p", ndir, "-c", conf], log).start()

    def stop(self):
        super().stop()
        if self.fcgi:
            self.fcgi.stop()


# ---------------------------------------------------------------- lighttpd with conf/lighttpd.conf

class ShippedLighttpd(WebServer):
    """lighttpd -D with conf/lighttpd.conf included (jugtest.Lighttpd writes
    its own minimal configuration instead)."""

    name = "lighttpd"

    def __init__(self, workdir, worker, config_path, port=None, stream_response_body=None):
        super().__init__(workdir, worker, config_path, port)
        self.stream_response_body = stream_response_body
        require(LIGHTTPD_BIN)

    def jug_config(self, socket_path):
        text = read_shipped("lighttpd.conf")
        for var, value in (("jug_fcgi", self.worker), ("jug_config", self.config_path),
                           ("jug_socket", socket_path)):
            text = replace_line(text, r"^var\.%s\s*=.*$" % var,
                                'var.%s = "%s"' % (var, value), "var.%s" % var)
        if self.stream_response_body is not None:
            text = replace_line(text, r"^\s*server\.stream-response-body = .*$",
                                "    server.stream-response-body = %d"
                                % self.stream_response_body, "server.stream-response-body")
        return text

    def _start(self):
        docroot = os.path.join(self.dir, "htdocs")
        os.makedirs(docroot, exist_ok=True)
        jug = os.path.join(self.dir, "lighttpd-juggernaut.conf")
        with open(jug, "w") as f:
            f.write(self.jug_config(os.path.join(self.dir, "lighttpd-fcgi.sock")))
        conf = os.path.join(self.dir, "lighttpd-main.conf")
        error_log = os.path.join(self.dir, "lighttpd-error.log")
        with open(conf, "w") as f:
            f.write('# written by tests/lib/webservers.py\n'
                    'server.document-root = "%s"\nserver.bind = "127.0.0.1"\n'
                    'server.port = %d\nserver.errorlog = "%s"\ninclude "%s"\n'
                    % (docroot, self.port, error_log, jug))
        log = os.path.join(self.dir, "lighttpd.log")
        self.logs = [log, error_log]
        self.proc = Process("lighttpd", [LIGHTTPD_BIN, "-D", "-f", conf, "-m",
                                         LIGHTTPD_MODULES], log).start()


SERVERS = {"lighttpd": ShippedLighttpd, "apache": Apache, "nginx": Nginx}


# ---------------------------------------------------------------- a shared host: Apache + .htaccess

class SharedHostApache(WebServer):
    """Apache serving a user's cgi-bin (as a shared host does) with mod_fcgid
    at its defaults: whatever happens there is decided by the .htaccess that
    "make install" put in cgibindir. allow_override is what the host allows
    ("FileInfo Options", "All", "None", ...). stock_fcgid includes Debian's
    packaged fcgid.conf (it hands every .fcgi to mod_fcgid server-wide), as
    a host with libapache2-mod-fcgid enabled has it.

    Runs as the user who owns the cgi-bin (like suexec) when started by
    root, else as the current user."""

    name = "apache (shared host)"

    STOCK_FCGID_CONF = "/etc/apache2/mods-available/fcgid.conf"

    def __init__(self, workdir, cgibindir, account=None, allow_override="All", port=None,
                 stock_fcgid=True, host_config=(), threads_per_child=64, stock_mutexes=False):
        super().__init__(workdir, os.path.join(cgibindir, "juggernaut.fcgi"), None, port)
        self.cgibindir = cgibindir
        self.account = account
        self.allow_override = allow_override
        self.stock_fcgid = stock_fcgid
        self.host_config = list(host_config)   # more server-config lines (the host's choices)
        self.threads_per_child = threads_per_child
        self.stock_mutexes = stock_mutexes   # apache_main_config
        if stock_fcgid:
            require(self.STOCK_FCGID_CONF)
        require(APACHE_BIN, os.path.join(APACHE_MODULES, "mod_fcgid.so"))

    @property
    def http(self):
        from jugtest import Http
        return Http(self.port, prefix="/cgi-bin/juggernaut.fcgi")

    def _answers(self):
        if self.allow_override in ("All", "FileInfo Options"):
            return super()._answers()
        if not self.proc.alive():
            raise AssertionError("apache exited")
        return self.http.get("", timeout=3).status > 0

    def _start(self):
        open_for_workers(self.dir)
        os.makedirs(os.path.join(self.dir, "htdocs"), exist_ok=True)
        body = "\n".join([
            "# The host's part: a cgi-bin whose .htaccess the user controls.",
            "Include %s" % self.STOCK_FCGID_CONF if self.stock_fcgid else "",
            "Alias /cgi-bin/ %s/" % self.cgibindir,
            "<Directory %s>" % self.cgibindir,
            "    AllowOverride %s" % self.allow_override,
            "    Require all granted",
            "</Directory>",
            '<Files ".ht*">',
            "    Require all denied",
            "</Files>",
        ] + self.host_config)
        conf = os.path.join(self.dir, "httpd.conf")
        with open(conf, "w") as f:
            f.write(apache_main_config(self.dir, self.port, self.account, body, self.threads_per_child,
                                       self.stock_mutexes))
        log = os.path.join(self.dir, "apache.log")
        self.logs = [log, os.path.join(self.dir, "apache-error.log")]
        self.proc = Process("apache", [APACHE_BIN, "-DFOREGROUND", "-f", conf], log).start()
