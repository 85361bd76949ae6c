#!/usr/bin/env python3
# test_errors.py -- the documented HTTP errors, JSONP and the common headers.
#
# Every bad request must get the status and error code of docs/PROTOCOL.md
# (Errors), as JSON with the no-cache headers, and change nothing.
import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import jugtest as jt  # noqa: E402

suite = jt.Suite("test_errors", time_limit=120)
test = suite.test

UNKNOWN_SID = "AAAAAAAAAAAAAAAAAAAAAA"   # well-formed, never issued


@test
def t_missing_session_id(env):
    """400 bad_request for a missing session_id on every session endpoint"""
    for ep in ("poll", "subscribe", "unsubscribe", "meta", "event", "disconnect"):
        r = env.http.post(ep, [("channel", "x"), ("meta", "1"), ("data", "1")])
        jt.check_error(r, 400, "bad_request")


@test
def t_invalid_session_id(env):
    """400 bad_request for a malformed session_id"""
    for bad in ("abc", "A" * 21, "A" * 23, "AAAAAAAAAAAAAAAAAAAAA!", "A" * 21 + " ",
                "../../etc/passwd"):
        r = env.http.get("poll", {"session_id": bad, "timeout": 1})
        jt.check_error(r, 400, "bad_request")


@test
def t_unknown_session(env):
    """410 session_expired for a well-formed unknown session, on every session endpoint"""
    jt.check_error(env.http.get("poll", {"session_id": UNKNOWN_SID, "timeout": 1}), 410,
                   "session_expired")
    for ep, extra in (("subscribe", [("channel", "x")]), ("unsubscribe", [("channel", "x")]),
                      ("meta", [("meta", "1")]), ("event", [("data", "1")]),
                      ("disconnect", [])):
        r = env.http.post(ep, [("session_id", UNKNOWN_SID)] + extra)
        jt.check_error(r, 410, "session_expired")
    jt.equal(env.redis.command("EXISTS", env.prefix + "session:" + UNKNOWN_SID), 0,
             "no session was created")


@test
def t_bad_channel(env):
    """400 bad_request for bad channel names, on connect and subscribe"""
    sid = env.http.connect()
    for bad in ("a b", "<x>", "quo\"te", "x" * 129, "tab\there", "caf\u00e9"):
        jt.check_error(env.http.post("connect", [("channel", bad)]), 400, "bad_request")
        jt.check_error(env.http.post("subscribe", [("session_id", sid), ("channel", bad)]),
                       400, "bad_request")
    jt.check_error(env.http.post("subscribe", [("session_id", sid)]), 400, "bad_request")
    jt.check_error(env.http.post("subscribe", [("session_id", sid), ("channel", "")]), 400,
                   "bad_request")
    ok = env.http.post("subscribe", [("session_id", sid), ("channel", "x" * 128)])
    jt.equal(ok.status, 200, "a 128-byte name is fine: %r" % ok)


@test
def t_bad_json(env):
    """400 bad_request for meta/data that is not JSON"""
    for bad in ("{bad", "{\"a\":}", "undefined", "'single'", "[1,2"):
        jt.check_error(env.http.post("connect", [("meta", bad)]), 400, "bad_request")
    sid = env.http.connect()
    jt.check_error(env.http.post("meta", [("session_id", sid), ("meta", "{x")]), 400,
                   "bad_request")
    jt.check_error(env.http.post("event", [("session_id", sid), ("data", "nope")]), 400,
                   "bad_request")


@test
def t_bad_ack(env):
    """400 bad_request for an ack that is not a number"""
    sid = env.http.connect()
    for bad in ("x", "-1", "12abc"):
        jt.check_error(env.http.get("poll", {"session_id": sid, "ack": bad, "timeout": 1}),
                       400, "bad_request")


@test
def t_not_found(env):
    """404 not_found for an unknown endpoint"""
    for ep in ("nope", "poll.php", "admin"):
        jt.check_error(env.http.get(ep), 404, "not_found")


@test
def t_method(env):
    """405 method_not_allowed for PUT, DELETE, PATCH"""
    for method in ("PUT", "DELETE", "PATCH"):
        r = env.http.request(method, "connect", body="x=1")
        jt.check_error(r, 405, "method_not_allowed")


@test
def t_too_large(env):
    """413 too_large for an oversized body, meta, data or too many channels"""
    jt.check_error(env.http.post("connect", "meta=" + "1" * 9000), 413, "too_large")
    big_meta = json.dumps("m" * 300)
    jt.check_error(env.http.post("connect", [("meta", big_meta)]), 413, "too_large")
    sid = env.http.connect()
    jt.check_error(env.http.post("meta", [("session_id", sid), ("meta", big_meta)]), 413,
                   "too_large")
    many = ",".join("ch%d" % i for i in range(6))
    jt.check_error(env.http.post("connect", [("channel", many)]), 413, "too_large")
    jt.check_error(env.http.post("subscribe", [("session_id", sid), ("channel", many)]), 413,
                   "too_large")
    ok = env.http.post("subscribe", [("session_id", sid), ("channel", "ch1,ch2,ch3,ch4,ch5")])
    jt.equal(ok.status, 200, "five channels are allowed: %r" % ok)
    jt.check_error(env.http.post("subscribe", [("session_id", sid), ("channel", "ch6")]), 413,
                   "too_large")


@test
def t_jsonp(env):
    """callback= wraps success and errors as JSONP, always 200"""
    r = env.http.get("connect", {"callback": "jug.cb_1", "channel": "jp"})
    jt.equal(r.status, 200, "status")
    jt.check_headers(r, jt.JAVASCRIPT)
    text = r.text.strip()
    jt.check(text.startswith("jug.cb_1(") and text.endswith(");"), "JSONP wrapping", text)
    body = json.loads(text[len("jug.cb_1("):-2])
    jt.equal(body["channels"], ["jp"], "wrapped connect reply")
    r = env.http.get("poll", {"callback": "$cb", "session_id": UNKNOWN_SID, "timeout": 1})
    jt.equal(r.status, 200, "status of a JSONP error")
    jt.check_headers(r, jt.JAVASCRIPT)
    text = r.text.strip()
    jt.check(text.startswith("$cb(") and text.endswith(");"), "JSONP wrapping", text)
    jt.equal(json.loads(text[4:-2]).get("error"), "session_expired", "wrapped error")


@test
def t_bad_callback(env):
    """400 bad_request for a callback name that could run script"""
    for bad in ("alert(1)", "a b", "1abc", "a.b.c.d.e", "x" * 65, "a;b", "a-b", "a..b", "<x>"):
        r = env.http.get("connect", {"callback": bad})
        jt.check_error(r, 400, "bad_request")


@test
def t_action_parameter(env):
    """?action= selects the endpoint for hosts that mangle paths"""
    r = env.http.request("GET", "", {"action": "connect", "channel": "act"})
    jt.equal(r.status, 200, "status of %r" % r)
    jt.equal(r.json().get("channels"), ["act"], "channels")


@test
def t_options_without_cors(env):
    """OPTIONS from an origin that is not listed gets no CORS headers"""
    r = env.http.request("OPTIONS", "connect", headers={"Origin": "http://evil.example"})
    jt.check(r.status in (200, 204), "OPTIONS status", r)
    jt.check("access-control-allow-origin" not in r.headers, "no CORS header", r)
    for name, want in jt.NO_CACHE.items():
        jt.equal(r.headers.get(name), want, "header " + name)


@test
def t_json_browsers_refuse(env):
    """400 bad_request for meta/data cJSON takes but JSON.parse refuses (found by tests/fuzz)"""
    sid = env.http.connect()
    for bad in ("01", "1.", "-.5", "\"a\tb\"", "\ufeff{}", "[1e5,\"\x01\"]"):
        jt.check_error(env.http.post("connect", [("meta", bad)]), 400, "bad_request")
        jt.check_error(env.http.post("meta", [("session_id", sid), ("meta", bad)]), 400,
                       "bad_request")
        jt.check_error(env.http.post("event", [("session_id", sid), ("data", bad)]), 400,
                       "bad_request")
    r = env.http.post("meta", [("session_id", sid), ("meta", '{"n":[-0,1.5E+3,"\\u0000"]}')])
    jt.equal(r.status, 200, "strict JSON still accepted")


@test
def t_json_clients_choke_on(env):
    """400 bad_request for meta/data with invalid UTF-8, 1e999999, a repeated key or a lone \\ud800"""
    sid = env.http.connect()
    for bad in ("%22caf%C3%28%22", "%22%ED%A0%80%22", "%22%C0%AF%22", "%22%F4%90%80%80%22"):
        jt.check_error(env.http.post("connect", "meta=" + bad), 400, "bad_request")
        jt.check_error(env.http.post("event", "session_id=%s&data=%s" % (sid, bad)), 400,
                       "bad_request")
    for bad in ("1e999999", "[-1e309]", '{"a":1,"a":2}', '{"k":{"x":1,"\\u0078":2}}', '"\\ud800"',
                '"\\udc00\\ud800"'):
        r = env.http.post("meta", [("session_id", sid), ("meta", bad)])
        jt.check_error(r, 400, "bad_request")
        jt.check_error(env.http.post("event", [("session_id", sid), ("data", bad)]), 400,
                       "bad_request")
    r = env.http.post("meta", [("session_id", sid),
                               ("meta", '{"e":"caf\\u00e9 \\ud83d\\ude00","n":1e-999999}')])
    jt.equal(r.status, 200, "pairs, UTF-8 and tiny numbers still accepted: %r" % r)


@test
def t_publish_strict(env):
    """bad publishes (invalid UTF-8, 1e999999, repeated keys, \\ud800) logged once, good ones arrive"""
    c = env.client(["strict"])
    log = env.pollers[0].log_path
    offset = os.path.getsize(log)
    bad = [(b'{"channel":"strict","data":"caf\xc3("}', "invalid UTF-8"),
           (b'{"channel":"strict","data":"\xed\xa0\x80"}', "invalid UTF-8"),
           (b'{"channel":"strict","data":"\xc0\xaf"}', "invalid UTF-8"),
           (b'{"channel":"strict","data":"\xf4\x90\x80\x80"}', "invalid UTF-8"),
           (b'{"channel":"strict","data":1e999999}', "number out of range"),
           (b'{"channel":"strict","data":{"a":1,"a":2}}', "duplicate key"),
           (b'{"channel":"strict","channel":"other","data":0}', "duplicate key"),
           (b'{"channel":"strict","data":"\\ud800"}', "escaped lone surrogate")]
    for i, (text, _) in enumerate(bad):
        env.redis.publish(["strict"], i)
        env.redis.publish_raw(text)
    env.redis.publish(["strict"], len(bad))
    got = c.collect(len(bad) + 1, within=10, settle=0.5)
    jt.equal([m["data"] for m in got], list(range(len(bad) + 1)),
             "the good messages, in order, and nothing else")

    def dropped():
        with open(log, "rb") as f:
            f.seek(offset)
            lines = f.read().decode("utf-8", "replace").splitlines()
        return [ln for ln in lines if "dropped invalid message" in ln]
    lines = jt.wait_for(lambda: len(dropped()) >= len(bad) and dropped(), 5,
                        "a log line for each bad publish")
    jt.equal(len(lines), len(bad), "log lines for %d bad publishes: %r" % (len(bad), lines))
    for line, (_, reason) in zip(lines, bad):
        jt.check(reason in line, "the log line does not say %r" % reason, line)


@test
def t_redis_untouched(env):
    """none of the bad requests left a session behind"""
    sessions = env.redis.command("ZRANGE", env.prefix + "sessions", 0, -1)
    keys = env.redis.command("KEYS", env.prefix + "session:*")
    for sid in sessions:
        jt.check(len(sid) == 22, "session ids well formed", sid)
    jt.check(len(keys) <= 4 * len(sessions), "no stray session keys", keys, sessions)


def setup():
    return jt.Env("errors", max_request_size=8192, max_meta_size=256,
                  max_channels_per_session=5, poll_timeout=2).start()


if __name__ == "__main__":
    jt.main(suite, setup)
