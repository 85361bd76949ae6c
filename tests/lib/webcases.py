# webcases.py -- the tests every web server must pass (lighttpd, Apache with
# mod_fcgid, nginx), run through the configurations shipped in conf/.
#
# tests/integration/test_web_<server>.py each call run("<server>"). For each
# server: long-poll and JSONP long-poll receive a publish; every streaming
# transport (sse, multipart, htmlfile, Jugglite stream) delivers a message
# while its response is still open and a later one on the same response; a
# client that goes away mid long-poll or mid stream loses nothing; CORS
# headers go to allowed origins only.

import json
import re
import socket
import time

import jugtest
from jugtest import Env, Suite, check, diag, equal
from webservers import SERVERS

ALLOWED_ORIGIN = "http://app.example"
OTHER_ORIGIN = "http://evil.example"


class Stream:
    """One HTTP/1.0 GET whose body is read piece by piece while it is open.

    HTTP/1.0 keeps the body free of chunked encoding on every server."""

    def __init__(self, web, endpoint, params, headers=None, timeout=10, wait_headers=True):
        path = web.http.prefix + "/" + endpoint + "?" + jugtest.encode_params(params)
        self.sock = socket.create_connection(("127.0.0.1", web.port), timeout=timeout)
        lines = ["GET %s HTTP/1.0" % path, "Host: 127.0.0.1:%d" % web.port]
        lines += ["%s: %s" % kv for kv in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.raw = b""
        self.closed = False
        self.status = None
        self.headers = {}
        if wait_headers:
            self.read_headers(timeout)

    def read_headers(self, timeout):
        self._read_until(lambda: b"\r\n\r\n" in self.raw, timeout, "response headers")
        head, self.body = self.raw.split(b"\r\n\r\n", 1)
        head = head.decode("latin-1").split("\r\n")
        self.status = int(head[0].split()[1])
        for line in head[1:]:
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()

    def _recv(self, deadline):
        self.sock.settimeout(max(0.01, min(0.5, deadline - time.monotonic())))
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return
        if not chunk:
            self.closed = True
        self.raw += chunk
        if hasattr(self, "body"):
            self.body += chunk

    def _read_until(self, cond, timeout, what):
        deadline = time.monotonic() + timeout
        while not cond():
            if self.closed:
                raise AssertionError("response ended while waiting for %s: %r"
                                     % (what, self.raw[-600:]))
            if time.monotonic() > deadline:
                raise AssertionError("no %s within %.1f s; got so far: %r"
                                     % (what, timeout, self.raw[-600:]))
            self._recv(deadline)

    def read_to_end(self, timeout, what="the end of the response"):
        """Read until the server closes the response."""
        self._read_until(lambda: self.closed, timeout, what)

    def answer(self, timeout=5, what="the answer"):
        """A request whose headers come with its answer (a held long-poll,
        wait_headers=False), read to its end: a jugtest.Response."""
        self.read_to_end(timeout, what)
        self.close()
        self.read_headers(0)
        return jugtest.Response(self.status, self.headers, self.body)

    def wait(self, parse, count, timeout, what):
        """Read until parse(body) yields count records; return them."""
        self._read_until(lambda: len(parse(self.body)) >= count, timeout, what)
        return parse(self.body)

    def close(self):
        self.sock.close()


# ---- record parsers: body bytes -> list of JSON records (deliveries and controls)

def parse_sse(body):
    out = []
    for block in body.decode("utf-8", "replace").replace("\r\n", "\n").split("\n\n")[:-1]:
        data = [line[5:].lstrip(" ") for line in block.split("\n") if line.startswith("data:")]
        if data:
            try:
                out.append(json.loads("\n".join(data)))
            except ValueError:
                out.append({"raw": "\n".join(data)})
    return out


def parse_jugglite(body):
    """Jugglite stream: each event's data is the published data itself."""
    out = []
    for block in body.decode("utf-8", "replace").replace("\r\n", "\n").split("\n\n")[:-1]:
        data = [line[5:].lstrip(" ") for line in block.split("\n") if line.startswith("data:")]
        if data:
            out.append("\n".join(data))
    return out


MULTIPART_RE = re.compile(rb"--jugpart\r\nContent-Type: application/json\r\n\r\n(.*?)\r\n",
                          re.S)


def parse_multipart(body):
    return [json.loads(m.group(1)) for m in MULTIPART_RE.finditer(body)]


HTMLFILE_RE = re.compile(rb"<script>parent\.cb\((.*?)\);</script>", re.S)


def parse_htmlfile(body):
    return [json.loads(m.group(1)) for m in HTMLFILE_RE.finditer(body)]


TRANSPORTS = {
    # endpoint: (extra params, parser, content type)
    "sse": ({}, parse_sse, "text/event-stream"),
    "multipart": ({}, parse_multipart, "multipart/mixed"),
    "htmlfile": ({"callback": "cb"}, parse_htmlfile, "text/html"),
}


def deliveries(records):
    return [r for r in records if isinstance(r, dict) and "id" in r]


def publish(env, channel, data):
    env.redis.publish([channel], data)


# ---- the tests

def make_suite(server):
    suite = Suite("web-" + server, time_limit=240)

    @suite.test
    def long_poll(env):
        """long-poll receives a publish"""
        c = env.client(["lp"])
        publish(env, "lp", "one")
        got = c.collect(1, within=6)
        equal([m["data"] for m in got], ["one"], "deliveries")

    @suite.test
    def long_poll_waiting(env):
        """a waiting long-poll is answered by a publish"""
        c = env.client(["lpw"])
        started = time.monotonic()
        # A long-poll's headers come with its answer: do not wait for them.
        stream = Stream(env.web, "poll", {"session_id": c.sid, "ack": 0, "timeout": 4},
                        wait_headers=False)
        env.wait_held(c.sid)
        publish(env, "lpw", "late")
        stream.read_headers(8)
        stream.read_to_end(8, "the end of the long-poll")
        reply = json.loads(stream.body)
        equal([m["data"] for m in reply["messages"]], ["late"], "deliveries")
        check(time.monotonic() - started < 3.5, "the long-poll waited for its timeout")

    @suite.test
    def jsonp_long_poll(env):
        """JSONP long-poll receives a publish"""
        c = env.client(["jp"])
        publish(env, "jp", {"x": 1})
        deadline = time.monotonic() + 6
        while True:
            r = env.http.get("poll", {"session_id": c.sid, "ack": 0, "timeout": 1,
                                      "callback": "jug.cb"})
            equal(r.status, 200, "JSONP status")
            # (PROTOCOL.md says application/javascript; the web server must
            # only pass on whatever the worker sends.)
            check(r.headers.get("content-type", "").split(";")[0] in (
                "application/javascript", "text/javascript"), "JSONP content type", r)
            m = re.match(rb"^jug\.cb\((.*)\);\s*$", r.body, re.S)
            check(m, "JSONP body is not jug.cb(...);", r)
            msgs = json.loads(m.group(1))["messages"]
            if msgs or time.monotonic() > deadline:
                break
        equal([x["data"] for x in msgs], [{"x": 1}], "JSONP deliveries")

    def streaming(endpoint):
        extra, parse, ctype = TRANSPORTS[endpoint]

        def test(env):
            c = env.client([endpoint])
            s = Stream(env.web, endpoint, dict(extra, session_id=c.sid, ack=0))
            try:
                equal(s.status, 200, "status of %s" % endpoint)
                check(s.headers.get("content-type", "").startswith(ctype),
                      "content type of %s" % endpoint, s.headers)
                env.wait_held(c.sid)
                publish(env, endpoint, "first")
                first = deliveries(s.wait(lambda b: deliveries(parse(b)), 1, 5,
                                          "the first delivery while the response is open"))
                check(not s.closed, "the response ended after the first delivery")
                publish(env, endpoint, "second")
                got = deliveries(s.wait(lambda b: deliveries(parse(b)), 2, 5,
                                        "the second delivery on the same response"))
                equal([m["data"] for m in got], ["first", "second"], "deliveries")
                check(first[0]["id"] < got[1]["id"], "ids increase", got)
            finally:
                s.close()
        test.__doc__ = "%s streams: one message while open, a later one on the same response" \
            % endpoint
        test.__name__ = "stream_" + endpoint
        return test

    for endpoint in TRANSPORTS:
        suite.test(streaming(endpoint))

    @suite.test
    def jugglite_stream(env):
        """Jugglite stream streams: one message while open, a later one on the same response"""
        s = Stream(env.web, "stream", {"channel": "jl1,jl2"})
        try:
            equal(s.status, 200, "status of stream")
            # The stream subscribes its own session: publish until it is there.
            deadline = time.monotonic() + 6
            while not parse_jugglite(s.body):
                check(time.monotonic() < deadline, "nothing arrived on the Jugglite stream",
                      s.raw[-400:])
                publish(env, "jl1", "hello")
                try:
                    s.wait(parse_jugglite, 1, 0.5, "a first event")
                except AssertionError:
                    pass
            publish(env, "jl2", "later")
            got = s.wait(lambda b: [d for d in parse_jugglite(b) if d == "later"], 1, 5,
                         "the later event on the same response")
            check(got, "later event missing")
        finally:
            s.close()

    @suite.test
    def long_poll_disconnect(env):
        """a client gone mid long-poll loses nothing: it comes on the next poll"""
        c = env.client(["gone"])
        s = Stream(env.web, "poll", {"session_id": c.sid, "ack": 0, "timeout": 3},
                   wait_headers=False)
        env.wait_held(c.sid)
        s.close()
        publish(env, "gone", "kept")
        env.wait_queued(c.sid, 1)
        # Pacing, not a condition: room for the worker to answer the held
        # request into the closed connection before the next poll takes the
        # session over (that answer must lose nothing). Missed on a loaded
        # machine, the next poll supersedes it instead: the test still holds.
        time.sleep(0.5)
        got = c.collect(1, within=8)
        equal([m["data"] for m in got], ["kept"], "deliveries after the reconnect")

    def disconnect(endpoint):
        extra, parse, _ = TRANSPORTS[endpoint]

        def test(env):
            c = env.client([endpoint + "-gone"])
            s = Stream(env.web, endpoint, dict(extra, session_id=c.sid, ack=0))
            env.wait_held(c.sid)
            publish(env, endpoint + "-gone", "first")
            first = deliveries(s.wait(lambda b: deliveries(parse(b)), 1, 5, "the first delivery"))
            s.close()
            publish(env, endpoint + "-gone", "second")
            env.wait_queued(c.sid, 2)   # nothing acknowledged "first" yet
            # Pacing, not a condition: room for the worker to write "second"
            # into the closed stream (which must lose nothing) before the
            # reconnect below supersedes it.
            time.sleep(0.5)
            s2 = Stream(env.web, endpoint, dict(extra, session_id=c.sid, ack=first[0]["id"]))
            try:
                got = deliveries(s2.wait(lambda b: deliveries(parse(b)), 1, 6,
                                         "the delivery published while away"))
                equal([m["data"] for m in got], ["second"], "deliveries after the reconnect")
            finally:
                s2.close()
        test.__doc__ = "a client gone mid %s stream gets the message on reconnect" % endpoint
        test.__name__ = "disconnect_" + endpoint
        return test

    for endpoint in TRANSPORTS:
        suite.test(disconnect(endpoint))

    @suite.test
    def cors(env):
        """CORS headers for an allowed origin, none for others"""
        r = env.http.post("connect", {}, headers={"Origin": ALLOWED_ORIGIN})
        equal(r.status, 200, "status")
        equal(r.headers.get("access-control-allow-origin"), ALLOWED_ORIGIN, "allowed origin")
        equal(r.headers.get("access-control-allow-credentials"), "true", "credentials")
        r = env.http.post("connect", {}, headers={"Origin": OTHER_ORIGIN})
        equal(r.status, 200, "status")
        check(not any(k.startswith("access-control-") for k in r.headers),
              "CORS headers for an origin not allowed", r.headers)
        r = env.http.request("OPTIONS", "poll", headers={
            "Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "GET"})
        equal(r.status, 204, "preflight status")
        equal(r.headers.get("access-control-allow-origin"), ALLOWED_ORIGIN,
              "preflight allowed origin")

    # What the setting each shipped conf carries for streaming is there for:
    # without it the same stream is held back.
    held_back = {
        "apache": ("FcgidOutputBufferSize 65536 (mod_fcgid's default)",
                   dict(output_buffer_size=65536)),
        "lighttpd": ("server.stream-response-body = 0 (lighttpd's default)",
                     dict(stream_response_body=0)),
    }
    if server in held_back:
        setting, options = held_back[server]

        def buffered(env):
            if server == "apache":
                diag("Apache + mod_fcgid streams only with FcgidOutputBufferSize 0, a "
                     "directive valid in server/virtual-host configuration only (not "
                     ".htaccess); conf/apache-fcgid.conf sets it")
            import os
            workdir = os.path.join(env.dir, server + "-buffered")
            os.makedirs(workdir, exist_ok=True)
            web = SERVERS[server](workdir, env.web.worker, env.config_path, **options)
            try:
                web.start()
                c = jugtest.Client(web.http, ["held"])
                # Headers are held back too: do not wait for them.
                s = Stream(web, "sse", {"session_id": c.sid, "ack": 0}, timeout=3,
                           wait_headers=False)
                env.wait_held(c.sid)
                publish(env, "held", "first")
                try:
                    s._read_until(lambda: b'"first"' in s.raw, 2.5, "a delivery")
                    held = False
                except AssertionError:
                    held = True
                s.close()
                check(held, "the stream was not held back with %s: the setting no longer "
                      "matters?" % setting)
            finally:
                web.stop()
                env.web.logs += web.logs
        buffered.__doc__ = "with %s an sse stream is held back (why the conf changes it)" \
            % setting
        buffered.__name__ = "held_back"
        suite.test(buffered)

    if server == "nginx":
        @suite.test
        def nginx_buffering_on(env):
            """nginx with fastcgi_buffering on still streams (X-Accel-Buffering: no)"""
            import os
            from webservers import Nginx
            workdir = os.path.join(env.dir, "nginx-buffering-on")
            os.makedirs(workdir, exist_ok=True)
            web = Nginx(workdir, env.web.worker, env.config_path, buffering="on")
            try:
                web.start()
                c = jugtest.Client(web.http, ["buffered"])
                s = Stream(web, "sse", {"session_id": c.sid, "ack": 0})
                try:
                    equal(s.headers.get("x-accel-buffering"), None,
                          "nginx consumes X-Accel-Buffering")
                    env.wait_held(c.sid)
                    publish(env, "buffered", "first")
                    got = deliveries(s.wait(lambda b: deliveries(parse_sse(b)), 1, 5,
                                            "a delivery while the response is open"))
                    equal([m["data"] for m in got], ["first"], "deliveries")
                finally:
                    s.close()
            finally:
                web.stop()
                env.web.logs += web.logs

    return suite


def setup_for(server):
    def setup():
        settings = dict(cors_origins=ALLOWED_ORIGIN, poll_timeout=5, keepalive_interval=5,
                        stream_max_duration=30)
        if server == "apache":
            settings["threads"] = 1     # mod_fcgid: one request per process
            # Abandoned streams stay held until a keepalive write fails (mod_fcgid
            # tells no worker that a browser left): room for those of earlier cases.
            settings["max_held"] = 40
        # Redis over TCP: servers running as root switch their workers to
        # nobody, who cannot open the 0700 unix socket.
        env = Env("web-" + server, redis_tcp=True, web=SERVERS[server], **settings)
        return env.start()
    return setup


def run(server):
    jugtest.main(make_suite(server), setup_for(server))
