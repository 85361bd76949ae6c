#!/usr/bin/env python3
# test_cgi.py -- juggernaut.fcgi run as a plain CGI program (no FastCGI server).
#
# Shared hosts without FastCGI run the worker once per request with the CGI
# environment; libfcgi then serves exactly one request on stdin/stdout. This
# drives the binary directly, like Apache's mod_cgi would.
import json
import os
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import jugtest as jt  # noqa: E402

suite = jt.Suite("test_cgi", time_limit=90)
test = suite.test


def cgi(env, method, path_info, query="", body=b"", extra=None, timeout=20):
    """Run the worker once; returns a jt.Response parsed from its CGI output."""
    environ = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_SOFTWARE": "jugtest",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "127.0.0.1",
        "REQUEST_METHOD": method,
        "QUERY_STRING": query,
        "SCRIPT_NAME": "/cgi-bin/juggernaut.fcgi",
        "REQUEST_URI": "/cgi-bin/juggernaut.fcgi" + (path_info or "") + ("?" + query if query else ""),
        "JUGGERNAUT_CONFIG": env.config_path,
    }
    for name in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if name in os.environ:
            environ[name] = os.environ[name]
    if path_info is not None:
        environ["PATH_INFO"] = path_info
    if body:
        environ["CONTENT_LENGTH"] = str(len(body))
        environ["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
    environ.update(extra or {})
    log_path = os.path.join(env.dir, "cgi.log")
    with open(log_path, "ab") as log:
        log.write(("==== %s %s%s?%s\n" % (time.strftime("%H:%M:%S"), method, path_info,
                                            query)).encode())
        log.flush()
        proc = subprocess.run([jt.WORKER_BIN], input=body, stdout=subprocess.PIPE,
                              stderr=log, env=environ, timeout=timeout)
    jt.equal(proc.returncode, 0, "CGI exit status")
    return parse_cgi(proc.stdout)


def parse_cgi(out):
    sep = out.find(b"\r\n\r\n")
    skip = 4
    if sep < 0:
        sep, skip = out.find(b"\n\n"), 2
    jt.check(sep >= 0, "CGI output has a header block", out[:300])
    headers, status = {}, 200
    for line in out[:sep].decode("latin-1").replace("\r\n", "\n").split("\n"):
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "status" in headers:
        status = int(headers["status"].split()[0])
    return jt.Response(status, headers, out[sep + skip:])


def form(pairs):
    return jt.encode_params(pairs).encode()


@test
def t_cgi_connect(env):
    """CGI GET connect answers 200 JSON with the no-cache headers"""
    r = cgi(env, "GET", "/connect", "channel=cgi1")
    jt.equal(r.status, 200, "status of %r" % r)
    jt.check_headers(r)
    body = r.json()
    jt.equal(len(body.get("session_id", "")), 22, "session id length")
    jt.equal(body.get("channels"), ["cgi1"], "channels")


@test
def t_cgi_roundtrip(env):
    """CGI POST subscribe, publish, CGI poll delivers; ack empties"""
    sid = cgi(env, "GET", "/connect").json()["session_id"]
    r = cgi(env, "POST", "/subscribe", body=form([("session_id", sid), ("channel", "cgi2")]))
    jt.equal((r.status, r.json().get("ok")), (200, True), "subscribe reply %r" % r)
    result = {}

    def poll():
        result["r"] = cgi(env, "GET", "/poll", "session_id=%s&ack=0&timeout=4" % sid)
        result["at"] = time.monotonic()

    t = threading.Thread(target=poll)
    t.start()
    env.wait_held(sid)
    jt.check("r" not in result, "CGI poll answered before anything was published", result)
    published = time.monotonic()
    env.redis.publish(["cgi2"], {"via": "cgi"})
    t.join(15)
    jt.check("r" in result, "CGI poll did not finish")
    msgs = result["r"].json()["messages"]
    jt.equal([(m["channel"], m["data"]) for m in msgs], [("cgi2", {"via": "cgi"})], "delivered")
    jt.check(result["at"] - published < 1.5, "CGI poll answered %.2f s after the publish"
             % (result["at"] - published))
    r = cgi(env, "GET", "/poll", "session_id=%s&ack=%d&timeout=1" % (sid, msgs[0]["id"]))
    jt.equal(r.json(), {"messages": []}, "after ack")


@test
def t_cgi_action_param(env):
    """without PATH_INFO, ?action= picks the endpoint"""
    r = cgi(env, "GET", None, "action=connect&channel=cgi3")
    jt.equal(r.status, 200, "status of %r" % r)
    jt.equal(r.json().get("channels"), ["cgi3"], "channels")


@test
def t_cgi_errors(env):
    """CGI errors carry Status: lines: 404, 405, 410, 400"""
    jt.check_error(cgi(env, "GET", "/nope"), 404, "not_found")
    jt.check_error(cgi(env, "PUT", "/connect"), 405, "method_not_allowed")
    jt.check_error(cgi(env, "GET", "/poll", "session_id=AAAAAAAAAAAAAAAAAAAAAA&timeout=1"),
                   410, "session_expired")
    jt.check_error(cgi(env, "GET", "/poll", "session_id=bad"), 400, "bad_request")


@test
def t_cgi_jsonp(env):
    """CGI JSONP connect"""
    r = cgi(env, "GET", "/connect", "callback=cb")
    jt.equal(r.status, 200, "status")
    jt.check_headers(r, "application/javascript")
    text = r.text.strip()
    jt.check(text.startswith("cb(") and text.endswith(");"), "JSONP", text)
    jt.equal(len(json.loads(text[3:-2])["session_id"]), 22, "session id")


def setup():
    return jt.Env("cgi", web=None, poll_timeout=5).start()


if __name__ == "__main__":
    jt.main(suite, setup)
