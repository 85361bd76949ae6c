# jugtest.py -- the harness of the integration tests (Python 3 standard library only).
#
# A test file is one TAP stream. It registers test functions with @suite.test,
# builds the servers it needs (Redis, a web server running juggernaut.fcgi,
# pollers) in a private temporary directory, and calls suite.run(). Every
# process the harness starts is remembered by PID and stopped by PID (SIGTERM,
# then SIGKILL of its own process group); nothing is ever killed by name.
# A test that raises reports "not ok" with the traceback and the tail of every
# log as TAP diagnostics; a time limit per file (SIGALRM) bails out cleanly so
# that nothing hangs "make check".

import atexit
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

BUILDDIR = os.environ.get("JUG_BUILDDIR") or os.getcwd()
SRCDIR = os.environ.get("JUG_SRCDIR") or os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))
POLLER_BIN = os.path.join(BUILDDIR, "poller", "juggernaut-poller")
WORKER_BIN = os.path.join(BUILDDIR, "fcgi", "juggernaut.fcgi")
LIGHTTPD_BIN = shutil.which("lighttpd") or "/usr/sbin/lighttpd"
LIGHTTPD_MODULES = "/usr/lib/lighttpd"

# Sanitizer reports go to the logs, where the last test point of every file
# looks for them.
os.environ.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
os.environ.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "SUMMARY: UndefinedBehaviorSanitizer")


def sanitizer_reports(paths):
    """An excerpt around the first sanitizer report of each log in paths."""
    hits = []
    for path in paths:
        try:
            with open(path, errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        for mark in SANITIZER_MARKS:
            at = text.find(mark)
            if at >= 0:
                hits.append("%s:\n%s" % (path, text[max(0, at - 200):at + 3000]))
                break
    return hits


class Skip(Exception):
    """Raise in a test to report it as skipped with the given reason."""


class Bail(BaseException):
    """The whole file must stop (time limit or a broken environment)."""


# ---------------------------------------------------------------- TAP output

def emit(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def diag(text):
    for line in str(text).rstrip("\n").split("\n"):
        emit("# " + line)


def check(cond, what, *details):
    """assert with a message that says what was expected and what came."""
    if not cond:
        raise AssertionError(what + ("".join("\n  " + str(d) for d in details)))


def equal(got, want, what="value"):
    if got != want:
        raise AssertionError("%s differs\n  want: %r\n  got:  %r" % (what, want, got))


class Suite:
    """An ordered list of test functions run as one TAP stream."""

    def __init__(self, name, time_limit=120):
        self.name = name
        self.time_limit = time_limit
        self.tests = []
        self.setup = None
        self.env = None
        self.failed = 0

    def test(self, fn):
        self.tests.append(fn)
        return fn

    def run(self, setup):
        """setup() builds and returns an Env; each test gets it as argument."""
        emit("1..%d" % (len(self.tests) + 1))
        signal.signal(signal.SIGALRM, self._alarm)
        signal.alarm(self.time_limit)
        number = 0
        try:
            try:
                self.env = setup()
            except Skip as e:
                for fn in self.tests:
                    number += 1
                    emit("ok %d - %s # SKIP %s" % (number, describe(fn), e))
                emit("ok %d - no sanitizer reports # SKIP %s" % (number + 1, e))
                return 0
            except Exception:
                emit("Bail out! setup failed")
                diag(traceback.format_exc())
                self._tails()
                return 1
            for fn in self.tests:
                number += 1
                self._one(number, fn)
            number += 1
            self._sanitizer_point(number)
        except Bail as e:
            self.failed += 1
            if 0 < number <= len(self.tests):
                emit("not ok %d - %s" % (number, describe(self.tests[number - 1])))
            emit("Bail out! %s" % e)
            diag(traceback.format_exc())
            self._tails()
            return 1
        finally:
            signal.alarm(0)
            if self.env:
                self.env.stop()
                self.env.cleanup(keep=bool(self.failed))
        return 1 if self.failed else 0

    def _alarm(self, signum, frame):
        raise Bail("%s: time limit of %d s exceeded" % (self.name, self.time_limit))

    def _one(self, number, fn):
        started = time.monotonic()
        for attempt in (1, 2):
            sizes = self._log_sizes()
            try:
                fn(self.env)
                break
            except Skip as e:
                emit("ok %d - %s # SKIP %s" % (number, describe(fn), e))
                return
            except (Exception, AssertionError):
                crash = self._web_server_fault(sizes)
                if crash and attempt == 1:
                    # Not this project's code: the web server's own process
                    # died (see WEB_SERVER_FAULTS). Said, and run once more.
                    diag("the web server failed by itself during the test (%s): running it once more"
                         % crash)
                    diag(traceback.format_exc())
                    continue
                self.failed += 1
                emit("not ok %d - %s" % (number, describe(fn)))
                diag(traceback.format_exc())
                self._tails()
                return
        emit("ok %d - %s (%.1f s)" % (number, describe(fn), time.monotonic() - started))

    def _log_sizes(self):
        sizes = {}
        for path in (self.env.logs() if self.env else []):
            try:
                sizes[path] = os.path.getsize(path)
            except OSError:
                pass
        return sizes

    def _web_server_fault(self, sizes):
        """The first line of WEB_SERVER_FAULTS a log gained since sizes, or None."""
        for path in (self.env.logs() if self.env else []):
            try:
                with open(path, "rb") as f:
                    f.seek(sizes.get(path, 0))
                    text = f.read().decode(errors="replace")
            except OSError:
                continue
            for line in text.splitlines():
                if any(p in line for p in WEB_SERVER_FAULTS):
                    return line.strip()
        return None

    def _sanitizer_point(self, number):
        """One last test point: no process logged a sanitizer report."""
        self.env.stop()
        hits = sanitizer_reports(self.env.logs())
        if hits:
            self.failed += 1
            emit("not ok %d - no sanitizer reports in the logs" % number)
            for h in hits:
                diag(h)
        else:
            emit("ok %d - no sanitizer reports in the logs" % number)

    def _tails(self):
        if self.env:
            for path in self.env.logs():
                diag("---- tail of %s" % path)
                diag(tail(path))


# Lines with which a web server reports that one of its own processes died
# for reasons of its own. mod_fcgid 2.3.9 exits an Apache child when
# locking its process table fails; under heavy thread churn the pthread
# mutex can report EDEADLK ("Resource deadlock avoided"), and every
# connection of that child, held requests included, is cut. A test that
# fails with such a line in a log is run once more (a diagnostic says so).
WEB_SERVER_FAULTS = ("mod_fcgid: can't lock process table",)


def describe(fn):
    doc = (fn.__doc__ or fn.__name__).strip().split("\n")[0]
    return doc.replace("#", "no.")


def tail(path, lines=25):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:]) or "(empty)"
    except OSError as e:
        return "(%s)" % e


def wait_for(cond, timeout, what, interval=0.05):
    """Poll cond() until it returns something true; AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = cond()
            if value:
                return value
        except Exception as e:  # the service may simply not be up yet
            last_error = e
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1f s waiting for %s%s" % (
                timeout, what, " (last error: %r)" % last_error if last_error else ""))
        time.sleep(interval)


def free_port():
    """A TCP port that was free a moment ago (callers retry on collision)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- processes

def port_free(port):
    """True if nothing listens on 127.0.0.1:port (for the fixed demo port)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def require_stack_programs(program):
    """Exit with a clear message if the stack cannot start (make stack/demo)."""
    for path in (POLLER_BIN, WORKER_BIN):
        if not os.access(path, os.X_OK):
            sys.exit("%s: %s is missing: run make first (or pass --builddir)" % (program, path))
    for prog in ("redis-server", LIGHTTPD_BIN):
        if not shutil.which(prog):
            sys.exit("%s: %s is not installed (Debian: apt-get install redis-server lighttpd)"
                     % (program, prog))


class Process:
    """One child process with its log file, in its own process group."""

    def __init__(self, name, argv, log_path, env=None, cwd=None):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.env = env
        self.cwd = cwd
        self.proc = None

    def start(self):
        log = open(self.log_path, "ab")
        log.write(("==== %s: %s\n" % (time.strftime("%H:%M:%S"), " ".join(self.argv))).encode())
        log.flush()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd,
                                     start_new_session=True)
        log.close()
        _live.add(self)
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=5.0):
        """Signal the process, wait, then SIGKILL its process group."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        # Whatever is left of the group we created (e.g. FastCGI children).
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(2)
        except subprocess.TimeoutExpired:
            pass
        _live.discard(self)
        return self.proc.returncode

    def kill(self):
        return self.stop(signal.SIGKILL, 2.0)


_live = set()


def _stop_all():
    for p in list(_live):
        p.stop(timeout=2.0)


atexit.register(_stop_all)


def _on_term(signum, frame):
    _stop_all()
    sys.exit(1)


signal.signal(signal.SIGTERM, _on_term)


# ---------------------------------------------------------------- Redis

class RedisError(Exception):
    pass


class RedisConnection:
    """A minimal RESP2 client: one socket, blocking calls with a timeout."""

    def __init__(self, address, timeout=5.0):
        if isinstance(address, str):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(address)
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if not isinstance(a, bytes):
                a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))

    def command(self, *args):
        self.send(*args)
        reply = self.read()
        if isinstance(reply, RedisError):
            raise reply
        return reply

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        """One reply: str, int, None, list, or a RedisError instance."""
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n).decode("utf-8", "replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RedisError("bad reply line %r" % line)


class Subscriber:
    """SUBSCRIBE on its own connection; a thread collects (channel, text)."""

    def __init__(self, address, channels):
        self.conn = RedisConnection(address, timeout=None)
        self.messages = []
        self.cond = threading.Condition()
        self.conn.send("SUBSCRIBE", *channels)
        for _ in channels:
            self.conn.read()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while True:
                reply = self.conn.read()
                if isinstance(reply, list) and reply and reply[0] == "message":
                    with self.cond:
                        self.messages.append((reply[1], reply[2]))
                        self.cond.notify_all()
        except (OSError, ConnectionError, ValueError):
            return

    def wait(self, count, timeout=3.0, channel=None):
        """The first count messages (of channel, if given), waiting up to timeout."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                got = [m for m in self.messages if channel is None or m[0] == channel]
                if len(got) >= count or time.monotonic() > deadline:
                    return got
                self.cond.wait(max(0.01, deadline - time.monotonic()))

    def json(self, channel, count, timeout=3.0):
        return [json.loads(t) for _, t in self.wait(count, timeout, channel)]

    def clear(self):
        with self.cond:
            self.messages = []

    def close(self):
        self.conn.close()


class Redis:
    """A private redis-server on a unix socket (or a TCP port with tcp=True)."""

    def __init__(self, workdir, tcp=False, persistent=False):
        self.dir = workdir
        self.tcp = tcp
        self.persistent = persistent
        self.args = []   # more redis-server options for the next start
        self.socket_path = os.path.join(workdir, "redis.sock")
        self.port = free_port() if tcp else 0
        self.log_path = os.path.join(workdir, "redis.log")
        self.proc = None
        self.started = False   # once it ran, its port stays (configs name it)
        self.retries = 0

    @property
    def address(self):
        return ("127.0.0.1", self.port) if self.tcp else self.socket_path

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port if self.tcp else self.socket_path

    def start(self, wait=True):
        """Start; with wait, until PING answers (not while loading data)."""
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--unixsocket", self.socket_path, "--unixsocketperm", "700",
                "--dir", self.dir, "--save", "", "--daemonize", "no",
                "--logfile", ""]
        if self.persistent:
            argv += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            argv += ["--appendonly", "no"]
        self.proc = Process("redis", argv + self.args, self.log_path).start()
        if wait:
            wait_for(lambda: not self.proc.alive() or self.ping(), 10, "redis-server to answer PING")
            if not self.proc.alive():
                if self.tcp and not self.started and self._port_taken():
                    # free_port's port was taken before redis-server bound
                    # it (tests run in parallel): another one, once more.
                    self.port = free_port()
                    return self.start(wait)
                raise AssertionError("redis-server exited at start (see %s)" % self.log_path)
        self.started = True
        return self

    def _port_taken(self):
        if self.retries >= 5:
            return False
        self.retries += 1
        with open(self.log_path, errors="replace") as f:
            return "Address already in use" in f.read()

    def ping(self):
        c = RedisConnection(self.address, timeout=1)
        try:
            return c.command("PING") == "PONG"
        finally:
            c.close()

    def stop(self):
        if self.proc:
            self.proc.stop()

    def restart(self, down_for=0.0):
        """Stop and start again on the same socket/port (and AOF, if any)."""
        self.stop()
        if down_for:
            time.sleep(down_for)
        return self.start()

    def command(self, *args):
        c = RedisConnection(self.address)
        try:
            return c.command(*args)
        finally:
            c.close()

    def subscribe(self, *channels):
        return Subscriber(self.address, channels)

    def publish(self, channels, data=None, except_=None, channel="juggernaut", **extra):
        """PUBLISH a Juggernaut message; returns the number of receivers."""
        msg = {"channels": list(channels), "data": data}
        if except_ is not None:
            msg["except"] = except_
        msg.update(extra)
        return self.command("PUBLISH", channel, json.dumps(msg))

    def publish_raw(self, text, channel="juggernaut"):
        return self.command("PUBLISH", channel, text)


# ---------------------------------------------------------------- configuration

DEFAULT_SETTINGS = {
    "key_prefix": "jugtest:",
    "channel": "juggernaut",
    "session_ttl": 30,
    "poll_timeout": 5,
    "keepalive_interval": 5,
    "stream_max_duration": 30,
    "max_message_size": 65536,
    "max_request_size": 65536,
    "max_meta_size": 4096,
    "max_queue": 1000,
    "max_channels_per_message": 100,
    "max_channels_per_session": 100,
    "threads": 16,
    "poller_lease_ms": 1500,
    "log": "stderr",
    "log_level": "info",
}


def write_config(path, redis_url, **settings):
    """A juggernaut.conf for the tests: the defaults above, overridden."""
    values = dict(DEFAULT_SETTINGS)
    values.update(settings)
    with open(path, "w") as f:
        f.write("# written by tests/lib/jugtest.py\n")
        f.write("redis_url %s\n" % redis_url)
        for key, value in values.items():
            if value is not None:
                f.write("%s %s\n" % (key, value))
    return path


# ---------------------------------------------------------------- HTTP

class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers      # dict, lower-case names
        self.body = body            # bytes

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            raise AssertionError("response is not JSON: %d %r" % (self.status, self.body[:500]))

    def __repr__(self):
        return "<%d %r %r>" % (self.status, self.headers, self.body[:300])


def encode_params(params):
    """dict or list of pairs -> query text; lists repeat the parameter."""
    if params is None:
        return ""
    items = params.items() if isinstance(params, dict) else params
    pairs = []
    for k, v in items:
        for one in (v if isinstance(v, (list, tuple)) else [v]):
            if not isinstance(one, str):
                one = json.dumps(one) if not isinstance(one, (int, float)) else str(one)
            pairs.append((k, one))
    return urllib.parse.urlencode(pairs)


NO_CACHE = {
    "cache-control": "no-cache, no-store, must-revalidate",
    "pragma": "no-cache",
    "expires": "0",
    "x-content-type-options": "nosniff",
}


# lighttpd >= 1.4.64 rewrites application/javascript to text/javascript
# (RFC 9239 made it the standard name); browsers take either for JSONP.
JAVASCRIPT = ("application/javascript", "text/javascript")


def check_headers(r, content_type="application/json"):
    """The headers PROTOCOL.md promises on every response."""
    for name, want in NO_CACHE.items():
        equal(r.headers.get(name), want, "header %s of %r" % (name, r))
    got = r.headers.get("content-type", "").split(";")[0].strip()
    wanted = (content_type,) if isinstance(content_type, str) else content_type
    check(got in wanted, "Content-Type: want %s" % " or ".join(wanted), r)


def check_error(r, status, code):
    """A JSON error response as PROTOCOL.md 3 (Errors) describes it."""
    equal(r.status, status, "status of %r" % r)
    check_headers(r)
    body = r.json()
    equal(body.get("error"), code, "error code of %r" % r)
    check(isinstance(body.get("message"), str) and body["message"],
          "error without a message", body)
    return body


class Http:
    """Requests to one web server: base URL http://127.0.0.1:port<prefix>."""

    def __init__(self, port, prefix="/juggernaut", host="127.0.0.1"):
        self.host = host
        self.port = port
        self.prefix = prefix

    @property
    def base_url(self):
        return "http://%s:%d%s" % (self.host, self.port, self.prefix)

    def request(self, method, endpoint, params=None, body=None, headers=None, timeout=15):
        path = self.prefix + "/" + endpoint if endpoint else self.prefix
        query = encode_params(params)
        if query:
            path += "?" + query
        hdrs = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = encode_params(body)
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if isinstance(body, str):
            body = body.encode()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=hdrs)
            r = conn.getresponse()
            data = r.read()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        finally:
            conn.close()

    def get(self, endpoint, params=None, **kw):
        return self.request("GET", endpoint, params, **kw)

    def post(self, endpoint, form=None, params=None, **kw):
        return self.request("POST", endpoint, params, body=form if form is not None else "",
                            **kw)

    def ok_json(self, method, endpoint, params=None, body=None, timeout=15):
        r = self.request(method, endpoint, params, body=body, timeout=timeout)
        check(r.status == 200, "%s %s: want 200" % (method, endpoint), r)
        return r.json()

    # -- the Juggernaut session API

    def connect(self, channels=(), meta=None):
        params = [("channel", c) for c in channels]
        if meta is not None:
            params.append(("meta", json.dumps(meta)))
        reply = self.ok_json("POST", "connect", body=params)
        check("session_id" in reply, "connect answered without session_id", reply)
        return reply["session_id"]

    def subscribe(self, sid, *channels):
        return self.ok_json("POST", "subscribe",
                            body=[("session_id", sid)] + [("channel", c) for c in channels])

    def unsubscribe(self, sid, *channels):
        return self.ok_json("POST", "unsubscribe",
                            body=[("session_id", sid)] + [("channel", c) for c in channels])

    def poll(self, sid, ack=0, timeout=1, http_timeout=None):
        """One long-poll; returns the list of deliveries."""
        r = self.get("poll", {"session_id": sid, "ack": ack, "timeout": timeout},
                     timeout=http_timeout or timeout + 10)
        check(r.status == 200, "poll: want 200", r)
        reply = r.json()
        check(isinstance(reply.get("messages"), list), "poll reply without messages", reply)
        return reply["messages"]

    def raw(self, request_bytes, read_bytes=None, timeout=5):
        """Send raw bytes; read read_bytes (None: until EOF) and close."""
        s = socket.create_connection((self.host, self.port), timeout=timeout)
        try:
            s.sendall(request_bytes)
            got = b""
            while read_bytes is None or len(got) < read_bytes:
                try:
                    chunk = s.recv(4096)
                except socket.timeout:
                    break
                if not chunk:
                    break
                got += chunk
            return got
        finally:
            s.close()


class Client:
    """One browser-like session: remembers the highest id it acknowledged."""

    def __init__(self, http_, channels=(), meta=None):
        self.http = http_
        self.sid = http_.connect(channels, meta)
        self.ack = 0
        self.seen = []

    @classmethod
    def attach(cls, http_, sid):
        """A Client for a session created some other way."""
        c = cls.__new__(cls)
        c.http, c.sid, c.ack, c.seen = http_, sid, 0, []
        return c

    def poll(self, timeout=1):
        msgs = self.http.poll(self.sid, self.ack, timeout)
        for m in msgs:
            if m["id"] > self.ack:
                self.seen.append(m)
        if msgs:
            self.ack = max(self.ack, max(m["id"] for m in msgs))
        return msgs

    def collect(self, count, within=5.0, settle=0.0):
        """Poll (acking) until count deliveries were seen, then settle seconds
        more to catch extras. Returns every delivery seen (duplicates included,
        as the test wants to count them)."""
        deadline = time.monotonic() + within
        got = []
        while len(got) < count and time.monotonic() < deadline:
            got += self.poll(timeout=1)
        settle_end = time.monotonic() + settle
        while time.monotonic() < settle_end:
            got += self.poll(timeout=1)
        return got


# ---------------------------------------------------------------- web servers

class WebServer:
    """What every web server class offers: start, stop, restart, http, logs."""

    name = "webserver"

    def __init__(self, workdir, worker, config_path, port=None):
        self.dir = workdir
        self.worker = worker
        self.config_path = config_path
        self.port = port
        self.proc = None
        self.logs = []

    @property
    def http(self):
        return Http(self.port)

    @property
    def base_url(self):
        return self.http.base_url

    def start(self):
        """Start on self.port, or on a free port, retrying on collisions."""
        fixed = self.port is not None
        for attempt in range(5):
            if not fixed:
                self.port = free_port()
            self._start()
            try:
                wait_for(self._answers, 10, "%s to answer on port %d" % (self.name, self.port))
                return self
            except AssertionError:
                self.stop()
                if fixed or attempt == 4:
                    raise
        return self

    def _answers(self):
        if not self.proc.alive():
            raise AssertionError("%s exited: %s" % (self.name, tail(self.proc.log_path)))
        # Unknown endpoint: the worker itself must answer (404 JSON).
        r = self.http.get("__ready__", timeout=3)
        return r.status == 404 and r.headers.get("content-type", "").startswith(
            "application/json")

    def stop(self):
        if self.proc:
            self.proc.stop()

    def restart(self):
        self.stop()
        return self.start()


class Lighttpd(WebServer):
    name = "lighttpd"

    docroot = None   # directory served at /; default: an empty one in the temp dir

    def _start(self):
        docroot = self.docroot or os.path.join(self.dir, "htdocs")
        os.makedirs(docroot, exist_ok=True)
        conf = os.path.join(self.dir, "lighttpd.conf")
        error_log = os.path.join(self.dir, "lighttpd-error.log")
        with open(conf, "w") as f:
            f.write(lighttpd_config(self.port, docroot, error_log, self.worker,
                                    os.path.join(self.dir, "fcgi.sock"), self.config_path))
        log = os.path.join(self.dir, "lighttpd.log")
        self.logs = [log, error_log]
        self.proc = Process("lighttpd", [LIGHTTPD_BIN, "-D", "-f", conf, "-m",
                                         LIGHTTPD_MODULES], log).start()


def lighttpd_config(port, docroot, error_log, worker, fcgi_socket, jug_config,
                    bind="127.0.0.1"):
    return """# written by tests/lib/jugtest.py
server.modules = ( "mod_fastcgi" )
server.document-root = "%(docroot)s"
server.bind = "%(bind)s"
server.port = %(port)d
server.errorlog = "%(error_log)s"
server.stream-response-body = 2
server.max-read-idle = 120
server.max-write-idle = 120
index-file.names = ( "index.html" )
mimetype.assign = ( ".html" => "text/html; charset=utf-8", ".js" => "text/javascript",
                    ".css" => "text/css" )
fastcgi.server = ( "/juggernaut" => ( (
    "bin-path" => "%(worker)s",
    "socket" => "%(fcgi_socket)s",
    "bin-environment" => ( "JUGGERNAUT_CONFIG" => "%(jug_config)s" ),
    "check-local" => "disable",
    "max-procs" => 1
) ) )
""" % dict(port=port, docroot=docroot, error_log=error_log, worker=worker,
           fcgi_socket=fcgi_socket, jug_config=jug_config, bind=bind)


# ---------------------------------------------------------------- poller

class Poller:
    def __init__(self, workdir, config_path, ident):
        self.ident = ident
        self.config_path = config_path
        self.log_path = os.path.join(workdir, "poller-%s.log" % ident)
        self.proc = None

    def start(self):
        self.wanted = True
        self.proc = Process("poller " + self.ident,
                            [POLLER_BIN, "-c", self.config_path, "-i", self.ident],
                            self.log_path).start()
        return self

    def alive(self):
        return self.proc is not None and self.proc.alive()

    def died(self):
        """True if it exited although nobody stopped it."""
        return getattr(self, "wanted", False) and not self.alive()

    def stop(self):
        self.wanted = False
        return self.proc.stop() if self.proc else None

    def kill(self):
        self.wanted = False
        return self.proc.kill() if self.proc else None

    def restart(self):
        self.stop()
        return self.start()


# ---------------------------------------------------------------- the whole stack

class Env:
    """Redis + web server + pollers in one temporary directory."""

    def __init__(self, name, redis_tcp=False, redis_persistent=False, web=Lighttpd,
                 pollers=1, **settings):
        for prog in ("redis-server", LIGHTTPD_BIN):
            if not shutil.which(prog):
                raise Skip("%s is not installed" % prog)
        for prog in (POLLER_BIN, WORKER_BIN):
            check(os.access(prog, os.X_OK), "%s is not built (JUG_BUILDDIR=%s)" % (prog, BUILDDIR))
        self.dir = tempfile.mkdtemp(prefix="jug-%s-" % name)
        self.keep = os.environ.get("JUG_KEEP_TMP") == "1"
        self.redis = Redis(self.dir, tcp=redis_tcp, persistent=redis_persistent)
        self.settings = settings
        self.config_path = os.path.join(self.dir, "juggernaut.conf")
        self.prefix = settings.get("key_prefix", DEFAULT_SETTINGS["key_prefix"])
        write_config(self.config_path, self.redis.url, **settings)
        self.web = web(self.dir, WORKER_BIN, self.config_path) if web else None
        self.pollers = [Poller(self.dir, self.config_path, "p%d" % (i + 1))
                        for i in range(pollers)]
        self.stopped = False

    def start(self):
        url = self.redis.url
        self.redis.start()
        if self.redis.url != url:   # another port (see Redis.start)
            write_config(self.config_path, self.redis.url, **self.settings)
        for p in self.pollers:
            p.start()
        if self.pollers:
            self.wait_pollers(len(self.pollers))
        if self.web:
            self.web.start()
        return self

    def wait_pollers(self, count, timeout=10):
        """Until count pollers are subscribed and one holds the lease."""
        def ready():
            for p in self.pollers:
                if p.died():
                    raise AssertionError("poller %s exited with status %s" % (
                        p.ident, p.proc.proc.returncode))
            subs = self.redis.command("PUBSUB", "NUMSUB",
                                      self.settings.get("channel", "juggernaut"))
            return subs[1] >= count and self.leader() is not None
        wait_for(ready, timeout, "%d poller(s) subscribed with a lease holder" % count)

    def wait_queued(self, sid, count, timeout=5):
        """Until the poller has pushed count deliveries into the session's queue."""
        key = self.prefix + "session:%s:queue" % sid
        wait_for(lambda: self.redis.command("LLEN", key) >= count, timeout,
                 "%d deliveries queued for %s" % (count, sid))

    def holder(self, sid):
        """The token ("<instance>.<n>") of the last request of sid that was
        held, or None. poll.lua sets the session's holder field to "<token>
        <until ms>" when it holds a request (long-poll, stream, socket.io GET;
        docs/PROTOCOL.md, 4) and Redis keeps it until a newer request of the
        session replaces it."""
        v = self.redis.command("HGET", self.prefix + "session:" + sid, "holder")
        return v.split(" ")[0] if v else None

    def wait_held(self, sid, before=None, timeout=10):
        """Until a request of sid other than `before` (a token holder() or
        wait_held() gave) holds it; returns its token. What a test waits for
        before publishing to, or stopping something under, a held request:
        a fixed sleep is missed on a loaded machine."""
        def held():
            token = self.holder(sid)
            return token if token and token != before else None
        return wait_for(held, timeout, "a request holding session %s (its holder field%s)" % (
            sid, ", other than %s" % before if before else ""))

    def leader(self):
        return self.redis.command("GET", self.prefix + "poller:lease")

    @property
    def http(self):
        return self.web.http

    def client(self, channels=(), meta=None):
        return Client(self.web.http, channels, meta)

    def logs(self):
        out = [self.redis.log_path] + [p.log_path for p in self.pollers]
        if self.web:
            out += self.web.logs
        extra = os.path.join(self.dir, "cgi.log")
        if os.path.exists(extra):
            out.append(extra)
        return [p for p in out if os.path.exists(p)]

    def watch(self, program):
        """For the long-running scripts (make stack, make demo): wait until
        Ctrl-C or SIGTERM (0), or until a process of the stack exits (1,
        after showing its log)."""
        def on_signal(signum, frame):
            for sig in (signal.SIGTERM, signal.SIGINT):   # one is enough: stop once
                signal.signal(sig, signal.SIG_IGN)
            raise KeyboardInterrupt
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)   # ignored when started in the background
        watched = [("redis-server", self.redis.proc)] + \
            ([("web server", self.web.proc)] if self.web else []) + \
            [("poller " + p.ident, p.proc) for p in self.pollers]
        try:
            while True:
                time.sleep(1)
                for name, proc in watched:
                    if not proc.alive():
                        print("%s: %s exited; its log:\n%s" % (program, name, tail(proc.log_path)))
                        return 1
        except KeyboardInterrupt:
            print("\n%s: stopping" % program)
            return 0

    def report_start_failure(self, program, error):
        print("%s: could not start: %s" % (program, error))
        for path in self.logs():
            print("---- %s\n%s" % (path, tail(path, 10)))

    def stop(self):
        if self.stopped:
            return
        self.stopped = True
        if self.web:
            self.web.stop()
        for p in self.pollers:
            p.stop()
        self.redis.stop()

    def cleanup(self, keep=False):
        """Remove the temporary directory, unless a test failed (or JUG_KEEP_TMP=1)."""
        if keep or self.keep:
            diag("logs and data kept in %s" % self.dir)
        else:
            shutil.rmtree(self.dir, True)


def main(suite, setup):
    sys.exit(suite.run(setup))
