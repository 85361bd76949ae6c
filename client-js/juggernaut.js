/*
 * juggernaut.js -- browser client for juggernaut-fcgi (realtime push through
 * FastCGI workers and Redis). One file, no dependencies, ECMAScript 3 so that
 * IE 6-8 load it too. Use it as a plain <script> (global `Juggernaut`), from
 * CommonJS (`require`) or from AMD (`define`).
 *
 *   var jug = new Juggernaut;                 // or new Juggernaut({...})
 *   jug.meta = {user_id: 1};                  // optional, before connecting
 *   jug.on("connect", function () { ... });
 *   jug.subscribe("channel1", function (data) { ... });   // connects lazily
 *
 * Options (all optional):
 *   url         base URL of the worker, e.g. "/juggernaut" or
 *               "http://example.com/cgi-bin/juggernaut.fcgi"; endpoints are
 *               appended to it ("/juggernaut/poll"). `path` is an alias.
 *   host, port, secure
 *               build the base URL as http(s)://host:port + (path or
 *               "/juggernaut") when `url` has no scheme and host.
 *               Without url/path/host: the directory this file was loaded
 *               from if its src ends in "/juggernaut.js" (the worker serves
 *               it), else the page's origin + "/juggernaut".
 *   transports  names in order of preference; default
 *               ["sse", "multipart", "htmlfile", "longpoll", "jsonp"].
 *               Unsupported ones are skipped; give one name to force it.
 *               Once connected, only the transports the server offers
 *               (connect's "transports") are used: by default in the
 *               server's order; a forced one it does not offer gives way at
 *               once to the first one it does.
 *   meta        any JSON value sent with connect (same as jug.meta = ...).
 *   jsonp       true: use JSONP for every request (cross-origin without
 *               CORS); default: automatic (cross-origin and the browser has
 *               no CORS, or the first cross-origin XHR is refused).
 *   actionParam true: send "?action=poll" instead of appending "/poll" (for
 *               hosts that mangle PATH_INFO).
 *   pollTimeout seconds a long poll may block (default: what connect says).
 *   openTimeout ms a stream may take to show a first sign of life before the
 *               next transport is tried (default 5000).
 *   minDelay, maxDelay
 *               reconnection backoff in ms (default 250 doubling to 30000,
 *               with jitter).
 *   disconnectOnUnload
 *               default true: tell the server when the page goes away
 *               (navigator.sendBeacon) so presence is right at once.
 *
 * Methods: subscribe(channel, fn), unsubscribe(channel), on/bind(event, fn),
 * unbind/off(event[, fn]), setMeta(meta), write(data) / sendEvent(data),
 * connect(), disconnect().
 * Properties: sessionID, meta, transport (name in use), channels (names).
 * Events: "connect", "disconnect", "reconnect" ({newSession: bool}),
 * "message" (every delivery {id, channel, data}), "data" (channel, data),
 * "data:<channel>" (data, channel), "error" ({code, message, status}),
 * "missed" (n: deliveries the server dropped for this session before it
 * had them, because its queue overflowed; null: an unknown number, because
 * Redis lost data; reload the page's state).
 * A poll the server could not hold answers with "retry": the next poll
 * waits that long (a connect answer with "retry": the first one). A
 * request "superseded" by a newer one of the same session (the session
 * used elsewhere) stops the client: state becomes
 * "superseded", sessionID null, "disconnect" and an error {code:
 * "superseded"} fire, and disconnect() + connect() start a new session.
 *
 * Guarantees: deliveries reach the page in id order at most once (a repeat
 * with an id not above the last one handed over is dropped), every request
 * acknowledges the last id handed over, at most one poll or stream is in
 * flight per client, failures back off with jitter, an expired session is
 * replaced by a new one subscribed to the same channels, and nothing the
 * server or the network sends makes this code throw into the page.
 */
(function (root, factory) {
  if (typeof define === "function" && define.amd) {
    define([], factory);
  } else if (typeof module === "object" && module && module.exports) {
    module.exports = factory();
  } else {
    root.Juggernaut = factory();
  }
}(typeof window !== "undefined" ? window : this, function () {
  "use strict";

  var GLOBAL = typeof window !== "undefined" ? window :
    typeof global !== "undefined" ? global : {};
  var DEFAULT_TRANSPORTS = ["sse", "multipart", "htmlfile", "longpoll", "jsonp"];
  var DEFAULT_PATH = "/juggernaut";
  var instances = 0;      /* numbers per-client callback names */
  var jsonpSeq = 0;       /* makes every JSONP callback name unique */
  var noop = function () {};

  /* ---- small helpers (ES3 has no forEach/indexOf/trim/Object.keys) ---- */

  function hasOwn(obj, key) {
    return Object.prototype.hasOwnProperty.call(obj, key);
  }

  function isArray(v) {
    return Object.prototype.toString.call(v) === "[object Array]";
  }

  function indexOf(list, v) {
    for (var i = 0; i < list.length; i++) {
      if (list[i] === v) return i;
    }
    return -1;
  }

  /* Rethrows a page handler's exception on its own stack, so the console
   * shows it without breaking the client. */
  function rethrow(env, e) {
    env.setTimeout(function () { throw e; }, 0);
  }

  /* ---- JSON: native when present, else a small validated fallback ---- */

  var ESCAPES = {"\"": "\\\"", "\\": "\\\\", "\b": "\\b", "\f": "\\f",
    "\n": "\\n", "\r": "\\r", "\t": "\\t"};

  function quote(s) {
    return "\"" + s.replace(/[\\"\u0000-\u001f\u2028\u2029]/g, function (c) {
      if (ESCAPES[c]) return ESCAPES[c];
      var hex = c.charCodeAt(0).toString(16);
      return "\\u" + "0000".substring(hex.length) + hex;
    }) + "\"";
  }

  function encode(v) {
    var i, parts, t = typeof v;
    if (v === null || t === "undefined" || t === "function") return "null";
    if (t === "boolean") return v ? "true" : "false";
    if (t === "number") return isFinite(v) ? String(v) : "null";
    if (t === "string") return quote(v);
    if (typeof v.toJSON === "function") return encode(v.toJSON());
    parts = [];
    if (isArray(v)) {
      for (i = 0; i < v.length; i++) parts.push(encode(v[i]));
      return "[" + parts.join(",") + "]";
    }
    for (i in v) {
      if (hasOwn(v, i) && typeof v[i] !== "undefined" && typeof v[i] !== "function") {
        parts.push(quote(i) + ":" + encode(v[i]));
      }
    }
    return "{" + parts.join(",") + "}";
  }

  function decode(text) {
    /* Only JSON tokens may remain once strings, numbers and literals are
     * blanked out, so evaluating it can never run code. */
    var rest = String(text)
      .replace(/"(?:[^"\\\u0000-\u001f]|\\["\\\/bfnrt]|\\u[0-9a-fA-F]{4})*"/g, "0")
      .replace(/-?\d+(?:\.\d+)?(?:[eE][+\-]?\d+)?|true|false|null/g, "0");
    if (!/^[\s\[\]{},:0]*$/.test(rest) || /^\s*$/.test(rest)) {
      throw new SyntaxError("invalid JSON");
    }
    return (new Function("return (" + text + ");"))();
  }

  function jsonStringify(env, v) {
    var J = env.JSON;
    if (J && typeof J.stringify === "function") return J.stringify(v);
    return encode(v);
  }

  function jsonParse(env, text) {
    var J = env.JSON;
    if (J && typeof J.parse === "function") return J.parse(text);
    return decode(text);
  }

  /* ---- URLs ---- */

  function encodeParams(params) {
    var out = [], k, v, i, list;
    for (k in params) {
      if (!hasOwn(params, k)) continue;
      v = params[k];
      if (v === null || typeof v === "undefined") continue;
      list = isArray(v) ? v : [v];
      for (i = 0; i < list.length; i++) {
        out.push(encodeURIComponent(k) + "=" + encodeURIComponent(String(list[i])));
      }
    }
    return out.join("&");
  }

  /* "http://h:80/x" -> "http://h"; relative URLs -> null (same origin). */
  function originOf(url) {
    var m = /^([a-zA-Z][a-zA-Z0-9+.\-]*:)?\/\/([^\/?#]+)/.exec(url);
    if (!m) return null;
    var proto = (m[1] || "").toLowerCase(), host = m[2].toLowerCase();
    if ((proto === "http:" && /:80$/.test(host)) || (proto === "https:" && /:443$/.test(host))) {
      host = host.replace(/:\d+$/, "");
    }
    return proto + "//" + host;
  }

  /* ---- where the worker is (README, "Where the client finds the worker") ---- */

  /* The worker that serves this file (as juggernaut.js, juggernaut.min.js or
   * application.js) writes its own base path over this mark; a copy kept
   * with the site's files still has it, and uses DEFAULT_PATH. */
  var SERVED_FROM = "@JUGGERNAUT_BASE@";

  /* The src of the script element that loaded this file. */
  function ownSrc(doc) {
    var scripts, i, src;
    try {
      if (doc.currentScript && doc.currentScript.src) return doc.currentScript.src;
      scripts = doc.getElementsByTagName("script");
      for (i = scripts.length - 1; i >= 0; i--) {
        src = (scripts[i].src || "").replace(/[?#].*$/, "");
        if (/\/(juggernaut(\.min)?|application)\.js$/.test(src)) return scripts[i].src;
      }
    } catch (e) { /* no DOM */ }
    return null;
  }

  /* The worker's base URL if it served this file: its path, on the origin
   * the file came from. */
  function servedBase(doc, servedFrom) {
    var src;
    if (servedFrom.charAt(0) !== "/") return null;
    src = doc ? ownSrc(doc) : null;
    return ((src && originOf(src)) || "") + servedFrom;
  }

  function pathOf(url) {
    return url.replace(/^([a-zA-Z][a-zA-Z0-9+.\-]*:)?\/\/[^\/?#]+/, "") || "/";
  }

  /* Juggernaut 2.1.1's {host, port, secure} name the server; the path stays
   * the worker's. Its demo page passes port: location.port || 80 also on
   * https, where 80 can only mean the default port. */
  function hostBase(o, env, path) {
    var port = o.port, secure = !!o.secure;
    if (secure && String(port) === "80") port = null;
    if (o.host) {
      return (secure ? "https://" : "http://") + o.host + (port ? ":" + port : "") + path;
    }
    return (secure ? "https://" : env.location.protocol + "//") + env.location.hostname +
      (port ? ":" + port : "") + path;
  }

  var loadedFrom = GLOBAL && GLOBAL.document ? servedBase(GLOBAL.document, SERVED_FROM) : null;

  /* ---- multipart stream parsing (exported for tests) ---- */

  /* Takes every complete part of `text` from `offset` on; returns the JSON
   * texts and the offset to resume from when more text arrives. */
  function parseMultipart(text, offset) {
    var records = [], pos = offset || 0, start, headEnd, bodyEnd;
    for (;;) {
      start = text.indexOf("--jugpart", pos);
      if (start < 0) break;
      if (text.substring(start + 9, start + 11) === "--") {
        pos = start + 11;            /* closing boundary */
        continue;
      }
      headEnd = text.indexOf("\r\n\r\n", start);
      if (headEnd < 0) break;
      bodyEnd = text.indexOf("\r\n", headEnd + 4);
      if (bodyEnd < 0) break;
      records.push(text.substring(headEnd + 4, bodyEnd));
      pos = bodyEnd + 2;
    }
    return {records: records, offset: pos};
  }

  /* ---- HTTP errors ---- */

  function failure(status, code, message) {
    return {status: status, code: code, message: message || code};
  }

  /* Turns a non-200 response (or a JSONP error object) into a failure. */
  function errorFrom(env, status, text) {
    var obj = null;
    if (typeof text === "string") {
      try { obj = jsonParse(env, text); } catch (e) { obj = null; }
    } else {
      obj = text;
    }
    if (obj && typeof obj.error === "string") {
      return serverAdvice(failure(status, obj.error, obj.message), obj);
    }
    return failure(status, status ? "http_" + status : "network");
  }

  /* What a refusal says to do next: "retry" (ms to wait) and "transports"
   * (what this host serves), e.g. a stream endpoint's 503 on a host where
   * streams cannot be held. */
  function serverAdvice(err, obj) {
    if (typeof obj.retry === "number" && obj.retry >= 0) err.retry = obj.retry;
    if (isArray(obj.transports)) err.transports = obj.transports;
    return err;
  }

  function isExpired(err) {
    return err.code === "session_expired" || err.status === 410;
  }

  /* Worth retrying: the network, the server or Redis, not the request. */
  function isTransient(err) {
    return err.status === 0 || err.status >= 500 || err.code === "unavailable" ||
      err.code === "internal" || err.code === "network" || err.code === "timeout" ||
      err.code === "bad_response";
  }

  /* ---- requests: XHR and JSONP ---- */

  function createXHR(env) {
    try {
      if (env.XMLHttpRequest) return new env.XMLHttpRequest();
    } catch (e) { /* fall through to ActiveX */ }
    try {
      if (env.ActiveXObject) return new env.ActiveXObject("Microsoft.XMLHTTP");
    } catch (e2) { /* none */ }
    return null;
  }

  function hasCORS(env) {
    var xhr = null;
    try { xhr = env.XMLHttpRequest ? new env.XMLHttpRequest() : null; } catch (e) { xhr = null; }
    return !!xhr && ("withCredentials" in xhr);
  }

  /* One JSON request; cb(err, obj) exactly once unless aborted. */
  function xhrRequest(jug, method, url, body, cb) {
    var env = jug._env, xhr = createXHR(env), done = false;
    if (!xhr) {
      cb(failure(0, "unsupported", "no XMLHttpRequest"));
      return {abort: noop};
    }
    function finish(err, obj) {
      if (done) return;
      done = true;
      xhr.onreadystatechange = noop;
      cb(err, obj);
    }
    xhr.onreadystatechange = function () {
      var status, text;
      if (xhr.readyState !== 4) return;
      try { status = xhr.status; text = xhr.responseText; } catch (e) { status = 0; }
      if (status === 1223) status = 204;   /* old IE */
      if (status !== 200) {
        finish(errorFrom(env, status || 0, text));
        return;
      }
      var obj;
      try { obj = jsonParse(env, text); } catch (e2) {
        finish(failure(200, "bad_response", "malformed JSON from " + url));
        return;
      }
      if (!obj || typeof obj !== "object") {
        finish(failure(200, "bad_response", "unexpected response from " + url));
        return;
      }
      finish(null, obj);
    };
    try {
      xhr.open(method, url, true);
      if (method === "POST") {
        xhr.setRequestHeader("Content-Type", "application/x-www-form-urlencoded");
      }
      xhr.send(body);
    } catch (e3) {
      done = true;
      jug._later(function () { cb(failure(0, "network", String(e3 && e3.message || e3))); }, 0);
    }
    return {abort: function () {
      if (done) return;
      done = true;
      xhr.onreadystatechange = noop;
      try { xhr.abort(); } catch (e) { /* already gone */ }
    }};
  }

  function removeGlobal(win, name, keep) {
    if (keep) {
      win[name] = noop;                      /* a late answer finds a no-op */
      return;
    }
    try { delete win[name]; } catch (e) { win[name] = undefined; }
  }

  /* A JSONP GET; cb(err, obj) exactly once unless aborted. */
  function jsonpRequest(jug, url, cb) {
    var env = jug._env, doc = env.document, win = env, done = false;
    var name = "jugJsonp" + (++jsonpSeq) + "_" + jug._n;
    var script, head;
    function cleanup(keepStub) {
      removeGlobal(win, name, keepStub);
      if (script) {
        script.onload = script.onerror = script.onreadystatechange = null;
        if (script.parentNode) script.parentNode.removeChild(script);
        script = null;
      }
    }
    function finish(err, obj) {
      if (done) return;
      done = true;
      cleanup(!!err);
      cb(err, obj);
    }
    win[name] = function (obj) {
      if (done) return;
      if (!obj || typeof obj !== "object") {
        finish(failure(200, "bad_response", "unexpected JSONP response"));
      } else if (typeof obj.error === "string") {
        finish(errorFrom(env, obj.error === "session_expired" ? 410 : 400, obj));
      } else {
        finish(null, obj);
      }
    };
    try {
      script = doc.createElement("script");
      script.type = "text/javascript";
      script.async = true;
      script.src = url + (url.indexOf("?") < 0 ? "?" : "&") + "callback=" + name;
      script.onerror = function () { finish(failure(0, "network", "JSONP request failed")); };
      /* Loaded but never called back: not a JSONP answer. */
      script.onload = function () {
        jug._later(function () {
          finish(failure(200, "bad_response", "JSONP answer did not call back"));
        }, 0);
      };
      /* Old IE has no onerror: a script that ran without calling back failed. */
      script.onreadystatechange = function () {
        if (script && /loaded|complete/.test(script.readyState)) {
          jug._later(function () {
            finish(failure(0, "network", "JSONP request failed"));
          }, 0);
        }
      };
      head = doc.getElementsByTagName("head")[0] || doc.documentElement;
      head.insertBefore(script, head.firstChild);
    } catch (e) {
      done = true;
      cleanup(true);
      jug._later(function () { cb(failure(0, "unsupported", "cannot insert a script")); }, 0);
    }
    return {abort: function () {
      if (done) return;
      done = true;
      cleanup(true);
    }};
  }

  /* ---- transports: open(jug, h, opts) -> {abort}; h.opened(), h.text(json),
   *      h.record(obj), h.end(err|null) ---- */

  var TRANSPORTS = {};

  TRANSPORTS.sse = {
    blind: true,            /* cannot see the HTTP status */
    stream: true,
    supported: function (jug) { return !jug._jsonpMode && !!jug._env.EventSource; },
    open: function (jug, h) {
      var es = new jug._env.EventSource(jug._url("sse", {session_id: jug.sessionID, ack: jug._lastId}));
      function closeIt() {
        es.onopen = es.onmessage = es.onerror = null;
        try { es.close(); } catch (e) { /* gone */ }
      }
      /* A named SSE event whose data is a JSON object: a control record. */
      function recordAs(name) {
        return function (ev) {
          var obj;
          try { obj = jsonParse(jug._env, ev.data); } catch (e) { obj = {}; }
          if (!obj || typeof obj !== "object") obj = {};
          obj.event = name;
          h.record(obj);
        };
      }
      es.onopen = function () { h.opened(); };
      es.onmessage = function (ev) { h.text(ev.data, ev.lastEventId); };
      es.addEventListener("keepalive", function () { h.record({event: "keepalive"}); }, false);
      es.addEventListener("reconnect", function () { h.record({event: "reconnect"}); }, false);
      es.addEventListener("missed", recordAs("missed"), false);
      es.addEventListener("juggernaut-error", recordAs("error"), false);
      es.onerror = function () {
        closeIt();                           /* no automatic reconnect: we resume */
        h.end(failure(0, "network", "event stream failed"));
      };
      return {abort: closeIt};
    }
  };

  TRANSPORTS.multipart = {
    stream: true,
    supported: function (jug) { return !jug._jsonpMode && hasCORS(jug._env); },
    open: function (jug, h) {
      var xhr = createXHR(jug._env), offset = 0, done = false;
      function read(atEnd) {
        var status, text, parsed, i;
        if (done) return;
        try { status = xhr.status; } catch (e) { status = 0; }
        if (status !== 200) {
          if (atEnd) {
            done = true;
            try { text = xhr.responseText; } catch (e2) { text = ""; }
            h.end(errorFrom(jug._env, status || 0, text));
          }
          return;
        }
        try { text = xhr.responseText; } catch (e3) { return; }   /* old IE at state 3 */
        if (typeof text !== "string") return;
        if (text.length > 0) h.opened();
        parsed = parseMultipart(text, offset);
        offset = parsed.offset;
        for (i = 0; i < parsed.records.length && !done; i++) h.text(parsed.records[i]);
        if (atEnd && !done) {
          done = true;
          h.end(null);
        }
      }
      xhr.onreadystatechange = function () {
        if (xhr.readyState === 3) read(false);
        else if (xhr.readyState === 4) read(true);
      };
      try { xhr.onprogress = function () { if (xhr.readyState === 3) read(false); }; } catch (e) { /* old */ }
      xhr.open("GET", jug._url("multipart", {session_id: jug.sessionID, ack: jug._lastId}), true);
      xhr.send(null);
      return {abort: function () {
        done = true;
        xhr.onreadystatechange = noop;
        try { xhr.onprogress = null; } catch (e) { /* old */ }
        try { xhr.abort(); } catch (e2) { /* gone */ }
      }};
    }
  };

  TRANSPORTS.htmlfile = {
    blind: true,
    stream: true,
    supported: function (jug) { return !jug._jsonpMode && jug._sameOrigin && !!jug._env.document; },
    open: function (jug, h) {
      var env = jug._env, name = "jugHtmlfile_" + jug._n, win, doc = null, frame, timer = null;
      var src = jug._url("htmlfile", {session_id: jug.sessionID, ack: jug._lastId, callback: name});
      function onRecord(obj) { h.opened(); h.record(obj); }
      function ended() { h.end(null); }
      try {
        /* Old IE: a forever iframe inside an ActiveX document has no
         * "loading" cursor or clicking. */
        doc = new env.ActiveXObject("htmlfile");
        doc.open();
        doc.write("<html><body></body></html>");
        doc.close();
        win = doc.parentWindow;
        win[name] = onRecord;
        frame = doc.createElement("iframe");
        doc.body.appendChild(frame);
        frame.src = src;
        /* old IE fires no load event inside an htmlfile: watch readyState */
        var watch = function () {
          try {
            if (frame.readyState === "complete") { timer = null; ended(); return; }
          } catch (e) { /* keep watching */ }
          timer = env.setTimeout(watch, 1000);
        };
        timer = env.setTimeout(watch, 1000);
      } catch (e) {
        doc = null;
        win = env;
        win[name] = onRecord;
        frame = env.document.createElement("iframe");
        frame.style.position = "absolute";
        frame.style.left = frame.style.top = "-1000px";
        frame.style.width = frame.style.height = "1px";
        if (frame.attachEvent) frame.attachEvent("onload", ended);
        else frame.onload = ended;
        frame.src = src;
        env.document.body.appendChild(frame);
      }
      return {abort: function () {
        if (timer !== null) env.clearTimeout(timer);
        win[name] = noop;
        try {
          if (frame.detachEvent) frame.detachEvent("onload", ended);
          frame.onload = null;
          frame.src = "about:blank";
          frame.parentNode.removeChild(frame);
        } catch (e) { /* gone */ }
        doc = null;
        if (typeof env.CollectGarbage === "function") env.CollectGarbage();
      }};
    }
  };

  /* Long polls (XHR or JSONP): one request answering {"messages":[...]}. */
  function pollOpen(jug, h, opts, useJsonp) {
    var params = {session_id: jug.sessionID, ack: jug._lastId,
      timeout: opts && typeof opts.timeout === "number" ? opts.timeout : jug._pollTimeout};
    function answered(err, obj) {
      var i, list;
      if (err) { h.end(err); return; }
      list = obj.messages;
      if (!isArray(list)) {
        h.end(failure(200, "bad_response", "poll answer without messages"));
        return;
      }
      h.opened();
      if (!h.answer(obj)) return;            /* superseded */
      for (i = 0; i < list.length; i++) {
        if (!h.record(list[i])) return;      /* the client moved on */
      }
      h.end(null);
    }
    if (useJsonp) return jsonpRequest(jug, jug._url("poll", params), answered);
    return xhrRequest(jug, "GET", jug._url("poll", params), null, answered);
  }

  TRANSPORTS.longpoll = {
    supported: function (jug) {
      return !jug._jsonpMode && (jug._sameOrigin ? !!createXHR(jug._env) : hasCORS(jug._env));
    },
    open: function (jug, h, opts) { return pollOpen(jug, h, opts, false); }
  };

  TRANSPORTS.jsonp = {
    supported: function (jug) { return !!jug._env.document; },
    open: function (jug, h, opts) { return pollOpen(jug, h, opts, true); }
  };

  /* ---- the client ---- */

  function Juggernaut(options) {
    if (!(this instanceof Juggernaut)) return new Juggernaut(options);
    var o = options || {}, env = o.env || GLOBAL, base, served, loc, pageOrigin;
    this.options = o;
    this._env = env;
    this._n = ++instances;
    this._handlers = {};
    this._channels = [];          /* what the page wants, in order */
    this.channels = this._channels;
    this.meta = typeof o.meta === "undefined" ? null : o.meta;
    this.sessionID = null;
    this.transport = null;
    this.state = "idle";          /* idle | connecting | connected | superseded */
    this._lastId = 0;
    this._everUp = false;
    this._up = false;
    this._gen = 0;                /* bumps on every new poll/stream; stale callbacks check it */
    this._inflight = null;
    this._timers = {};
    this._queue = [];             /* control requests, sent one at a time */
    this._queueBusy = null;
    this._failures = 0;
    this._strikes = {};
    this._works = {};
    this._probe = false;
    this._offered = null;         /* transports the server serves (connect), in its order */
    this._pollTimeout = typeof o.pollTimeout === "number" ? o.pollTimeout : 25;
    this._keepalive = 0;          /* seconds; told by the server at connect */
    this._openTimeout = typeof o.openTimeout === "number" ? o.openTimeout : 5000;
    this._minDelay = typeof o.minDelay === "number" ? o.minDelay : 250;
    this._maxDelay = typeof o.maxDelay === "number" ? o.maxDelay : 30000;
    this._random = o.random || env.random || Math.random;

    served = (env === GLOBAL ? loadedFrom : null) ||
      (env.document ? servedBase(env.document, SERVED_FROM) : null);
    base = o.url || o.path;
    if (!base && (o.host || o.port || o.secure)) base = served ? pathOf(served) : DEFAULT_PATH;
    if (base && !originOf(base) && (o.host || ((o.port || o.secure) && env.location))) {
      base = hostBase(o, env, (base.charAt(0) === "/" ? "" : "/") + base);
    }
    if (!base) base = served || DEFAULT_PATH;
    this.url = base.replace(/\/+$/, "");
    loc = env.location;
    pageOrigin = loc && loc.protocol && loc.host ? originOf(loc.protocol + "//" + loc.host) : null;
    this._sameOrigin = !originOf(this.url) || originOf(this.url) === pageOrigin;
    this._jsonpMode = o.jsonp === true || (!this._sameOrigin && o.jsonp !== false && !hasCORS(env));
    this._pickTransports();

    if (o.disconnectOnUnload !== false) this._watchUnload();
  }

  var proto = Juggernaut.prototype;

  /* ---- events ---- */

  proto.on = function (name, fn) {
    if (typeof fn !== "function") return this;
    if (!hasOwn(this._handlers, name)) this._handlers[name] = [];
    this._handlers[name].push(fn);
    return this;
  };
  proto.bind = proto.on;

  proto.unbind = function (name, fn) {
    var list, i;
    if (!hasOwn(this._handlers, name)) return this;
    if (!fn) {
      delete this._handlers[name];
      return this;
    }
    list = this._handlers[name];
    for (i = list.length - 1; i >= 0; i--) {
      if (list[i] === fn) list.splice(i, 1);
    }
    return this;
  };
  proto.off = proto.unbind;

  /* A handler that throws must not break the client: its exception is
   * rethrown on its own so the console still shows it. */
  proto.trigger = function (name) {
    var args = Array.prototype.slice.call(arguments, 1), list, i, env = this._env;
    if (!hasOwn(this._handlers, name)) return;
    list = this._handlers[name].slice(0);
    for (i = 0; i < list.length; i++) {
      try {
        list[i].apply(this, args);
      } catch (e) {
        rethrow(env, e);
      }
    }
  };

  proto._error = function (err) {
    this.trigger("error", err);
  };

  /* ---- timers ---- */

  proto._later = function (fn, ms) {
    return this._env.setTimeout(fn, ms);
  };

  /* Named timers: one of each kind at a time. */
  proto._setTimer = function (name, fn, ms) {
    var self = this;
    this._clearTimer(name);
    this._timers[name] = this._env.setTimeout(function () {
      delete self._timers[name];
      fn.call(self);
    }, ms);
  };

  proto._clearTimer = function (name) {
    if (hasOwn(this._timers, name)) {
      this._env.clearTimeout(this._timers[name]);
      delete this._timers[name];
    }
  };

  /* Exponential backoff with jitter: between half and all of min * 2^(n-1). */
  proto._delay = function (n) {
    var d = this._minDelay, i;
    for (i = 1; i < n && d < this._maxDelay; i++) d *= 2;
    if (d > this._maxDelay) d = this._maxDelay;
    return Math.round(d / 2 + this._random() * d / 2);
  };

  /* ---- URLs ---- */

  proto._url = function (endpoint, params) {
    var q = encodeParams(params || {});
    if (this.options.actionParam) {
      return this.url + "?action=" + endpoint + (q ? "&" + q : "");
    }
    return this.url + "/" + endpoint + (q ? "?" + q : "");
  };

  /* ---- channels ---- */

  proto.subscribe = function (channel, callback) {
    if (channel === null || typeof channel === "undefined" || channel === "") throw new Error("Must provide a channel");
    channel = String(channel);
    if (callback) this.on("data:" + channel, callback);
    if (indexOf(this._channels, channel) >= 0) return this;
    this._channels.push(channel);
    if (this.state === "connected") this._enqueue("subscribe", {channel: [channel]});
    else this.connect();
    return this;
  };

  proto.unsubscribe = function (channel) {
    var i = indexOf(this._channels, String(channel));
    this.unbind("data:" + channel);
    this.unbind(channel + ":data");
    if (i < 0) return this;
    this._channels.splice(i, 1);
    if (this.state === "connected") this._enqueue("unsubscribe", {channel: [String(channel)]});
    return this;
  };

  proto.setMeta = function (meta) {
    this.meta = meta;
    if (this.state === "connected") this._enqueue("meta", {meta: jsonStringify(this._env, meta)});
    return this;
  };

  proto.write = function (data) {
    this._enqueue("event", {data: jsonStringify(this._env, typeof data === "undefined" ? null : data)});
    if (this.state === "idle") this.connect();
    return this;
  };
  proto.sendEvent = proto.write;

  /* ---- control requests (connect, subscribe, ...) ---- */

  proto._request = function (endpoint, params, cb) {
    var self = this, url;
    if (this._jsonpMode) return jsonpRequest(this, this._url(endpoint, params), cb);
    return xhrRequest(this, "POST", this._url(endpoint), encodeParams(params), function (err, obj) {
      /* Cross-origin without CORS: the browser hides the answer (status 0). */
      if (err && err.status === 0 && err.code === "network" && !self._sameOrigin &&
          self.options.jsonp !== false && !self._jsonpMode && !self._everUp) {
        self._jsonpMode = true;
        self._pickTransports();
      }
      cb(err, obj);
    });
  };

  proto._enqueue = function (endpoint, params) {
    var last = this._queue.length ? this._queue[this._queue.length - 1] : null;
    /* Subscribes (or unsubscribes) in a row go out as one request: the
     * queue runs from a timer so that a burst of calls is seen whole. */
    if (last && last !== this._queueItem && last.endpoint === endpoint &&
        (endpoint === "subscribe" || endpoint === "unsubscribe")) {
      last.params.channel = last.params.channel.concat(params.channel);
    } else {
      this._queue.push({endpoint: endpoint, params: params, tries: 0});
    }
    if (!this._queueBusy && !hasOwn(this._timers, "queue")) this._setTimer("queue", this._runQueue, 0);
  };

  proto._runQueue = function () {
    var self = this, item = this._queue[0], params, k;
    if (!item || this._queueBusy || this.state !== "connected" || hasOwn(this._timers, "queue")) return;
    params = {session_id: this.sessionID};
    for (k in item.params) {
      if (hasOwn(item.params, k)) params[k] = item.params[k];
    }
    this._queueItem = item;
    this._queueBusy = this._request(item.endpoint, params, function (err) {
      self._queueBusy = null;
      self._queueItem = null;
      if (!err) {
        self._queue.shift();
        self._runQueue();
        return;
      }
      if (isExpired(err)) {
        self._renewSession();
        return;
      }
      if (isTransient(err) && ++item.tries < 8) {
        self._setTimer("queue", self._runQueue, self._delay(item.tries));
        return;
      }
      self._queue.shift();
      self._error(err);
      self._runQueue();
    });
  };

  /* ---- session ---- */

  proto.connect = function () {
    var self = this;
    if (this.state !== "idle") return this;
    this.state = "connecting";
    this._connectTries = 0;
    /* Deferred so that subscribes made right after go out with connect. */
    this._setTimer("connect", function () { self._openSession(); }, 0);
    return this;
  };

  proto._openSession = function () {
    var self = this, params = {channel: this._channels.slice(0)};
    if (this.meta !== null && typeof this.meta !== "undefined") {
      params.meta = jsonStringify(this._env, this.meta);
    }
    this._connectReq = this._request("connect", params, function (err, obj) {
      self._connectReq = null;
      if (!err && typeof obj.session_id !== "string") {
        err = failure(200, "bad_response", "connect answered without session_id");
      }
      if (err) {
        self._linkDown();
        if (!isTransient(err)) self._error(err);
        ++self._connectTries;
        self._setTimer("connect", self._openSession,
          typeof err.retry === "number" ? err.retry : self._delay(self._connectTries));
        return;
      }
      self._sessionOpened(obj);
    });
  };

  proto._sessionOpened = function (obj) {
    var self = this, had = isArray(obj.channels) ? obj.channels : [], i, add = [], drop = [];
    this.sessionID = obj.session_id;
    this.state = "connected";
    this._lastId = 0;         /* ids restart if Redis lost its data */
    this._connectTries = 0;
    this._failures = 0;
    if (typeof obj.poll_timeout === "number" && typeof this.options.pollTimeout !== "number") {
      this._pollTimeout = obj.poll_timeout;
    }
    if (typeof obj.keepalive_interval === "number") this._keepalive = obj.keepalive_interval;
    this._useOffered(obj.transports);
    /* Reconcile with what the page (un)subscribed while connect was out. */
    for (i = 0; i < this._channels.length; i++) {
      if (indexOf(had, this._channels[i]) < 0) add.push(this._channels[i]);
    }
    for (i = 0; i < had.length; i++) {
      if (indexOf(this._channels, had[i]) < 0) drop.push(had[i]);
    }
    if (add.length) this._queue.unshift({endpoint: "subscribe", params: {channel: add}, tries: 0});
    if (drop.length) this._queue.unshift({endpoint: "unsubscribe", params: {channel: drop}, tries: 0});
    this._linkUp(true);
    this._runQueue();
    /* "retry": no hold slot is free on this host now, the first poll would
     * only be refused: wait that long first. */
    if (typeof obj.retry === "number" && obj.retry > 0) {
      this._setTimer("pump", function () { self._pump(); }, obj.retry);
    } else {
      this._pump();
    }
  };

  /* The session is gone (410 / session_expired): open a new one with every
   * channel; pending subscribe/unsubscribe/meta are carried by connect. */
  proto._renewSession = function () {
    var keep = [], i;
    if (this.state !== "connected") return;
    this._stopTransport();
    if (this._queueBusy) { this._queueBusy.abort(); this._queueBusy = null; this._queueItem = null; }
    this._clearTimer("queue");
    for (i = 0; i < this._queue.length; i++) {
      if (this._queue[i].endpoint === "event") keep.push(this._queue[i]);
    }
    this._queue = keep;
    this.sessionID = null;
    this.state = "connecting";
    this._openSession();
  };

  /* newSession: a connect just succeeded (the first, or one replacing a
   * lost session: messages in between may be missing). */
  proto._linkUp = function (newSession) {
    var wasUp = this._up;
    this._up = true;
    if (!this._everUp) {
      this._everUp = true;
      this.trigger("connect");
      return;
    }
    if (!wasUp) this.trigger("connect");
    if (!wasUp || newSession) this.trigger("reconnect", {newSession: newSession});
  };

  proto._linkDown = function () {
    if (!this._up) return;
    this._up = false;
    this.trigger("disconnect");
  };

  proto.disconnect = function () {
    var sid = this.sessionID, wasUp = this._up, k;
    this._stopTransport();
    if (this._queueBusy) { this._queueBusy.abort(); this._queueBusy = null; this._queueItem = null; }
    if (this._connectReq) { this._connectReq.abort(); this._connectReq = null; }
    for (k in this._timers) {
      if (hasOwn(this._timers, k)) this._env.clearTimeout(this._timers[k]);
    }
    this._timers = {};
    this._queue = [];
    this.state = "idle";
    this.sessionID = null;
    this._up = false;
    if (sid) this._request("disconnect", {session_id: sid}, noop);
    if (wasUp) this.trigger("disconnect");
    return this;
  };

  proto._watchUnload = function () {
    var self = this, env = this._env, nav = env.navigator;
    function gone() {
      if (!self.sessionID || !nav || typeof nav.sendBeacon !== "function") return;
      try { nav.sendBeacon(self._url("disconnect", {session_id: self.sessionID})); } catch (e) { /* best effort */ }
    }
    try {
      if (env.addEventListener) env.addEventListener("pagehide", gone, false);
    } catch (e) { /* no DOM */ }
  };

  /* ---- transports: choice and fallback ---- */

  proto._pickTransports = function () {
    var wanted = isArray(this.options.transports) && this.options.transports.length ?
      this.options.transports : DEFAULT_TRANSPORTS, list = [], i, t;
    for (i = 0; i < wanted.length; i++) {
      t = TRANSPORTS[wanted[i]];
      if (t && t.supported(this)) list.push(wanted[i]);
    }
    if (!list.length) {
      for (i = 0; i < DEFAULT_TRANSPORTS.length; i++) {
        if (TRANSPORTS[DEFAULT_TRANSPORTS[i]].supported(this)) list.push(DEFAULT_TRANSPORTS[i]);
      }
    }
    list = this._offeredOnly(list);
    this._transports = list;
    this._tIndex = 0;
    this.transport = list.length ? list[0] : null;
  };

  proto._nextTransport = function () {
    if (this._tIndex + 1 >= this._transports.length) return false;
    this._tIndex++;
    this.transport = this._transports[this._tIndex];
    this._failures = 0;
    return true;
  };

  proto._stopTransport = function () {
    this._gen++;
    this._clearTimer("pump");
    this._clearTimer("open");
    this._clearTimer("idle");
    if (this._inflight) {
      var h = this._inflight;
      this._inflight = null;
      try { h.abort(); } catch (e) { /* gone */ }
    }
  };

  /* Starts the one poll or stream of this client, unless one is out. */
  proto._pump = function () {
    var self = this, name = this.transport, t = TRANSPORTS[name], gen, st, opts = null;
    if (this.state !== "connected" || this._inflight || hasOwn(this._timers, "pump") || !t) return;
    if (this._probe) {
      /* A blind stream failed: a zero-timeout poll shows whether the
       * session still exists (410) and delivers what is pending. */
      this._probe = false;
      name = this._jsonpMode || !TRANSPORTS.longpoll.supported(this) ? "jsonp" : "longpoll";
      t = TRANSPORTS[name];
      opts = {timeout: 0};
    }
    gen = ++this._gen;
    st = {name: name, t: t, opened: false, records: 0, probe: !!opts};
    this._st = st;
    function live() { return gen === self._gen; }
    var handle = null;
    /* Whatever ends a poll or stream also releases it (an iframe, a script
     * tag, an EventSource), so nothing of it outlives it. */
    function release() {
      var x = handle;
      handle = null;
      if (x) { try { x.abort(); } catch (e) { /* gone */ } }
    }
    var h = {
      opened: function () {
        if (!live()) return;
        self._progress(st);
      },
      text: function (json, eventId) {
        var obj;
        if (!live()) return false;
        try { obj = jsonParse(self._env, json); } catch (e) {
          self._error(failure(200, "bad_response", "malformed record"));
          return true;
        }
        if (obj && typeof obj === "object" && typeof obj.id === "undefined" && eventId &&
            typeof obj.event === "undefined" && /^\d+$/.test(eventId)) {
          obj.id = parseInt(eventId, 10);
        }
        return self._record(obj, st);
      },
      record: function (obj) {
        if (!live()) return false;
        return self._record(obj, st);
      },
      answer: function (obj) {
        if (!live()) return false;
        return self._pollAdvice(obj, st) && live();   /* a handler may have disconnected */
      },
      end: function (err) {
        if (!live()) return;
        self._gen++;
        self._inflight = null;
        self._clearTimer("open");
        self._clearTimer("idle");
        release();
        self._ended(st, err);
      }
    };
    if (t.stream && !opts && !this._works[name]) {
      this._setTimer("open", function () { this._openFailed(st); }, this._openTimeout);
    }
    this._armIdle();
    try {
      handle = t.open(this, h, opts) || {abort: noop};
      if (live()) this._inflight = handle;
      else release();                         /* it ended while opening */
    } catch (e) {
      this._inflight = null;
      this._gen++;
      this._clearTimer("open");
      this._clearTimer("idle");
      this._ended(st, failure(0, "unsupported", String(e && e.message || e)));
    }
  };

  /* Nothing at all for longer than a poll or a keepalive may take: the
   * connection is half-open (a stream cut without a close, a dead proxy);
   * drop it. A stream hears a keepalive every keepalive_interval seconds. */
  proto._armIdle = function () {
    var st = this._st, seconds = this._pollTimeout + 15;
    if (st && st.t && st.t.stream && !st.probe && this._keepalive > 0) {
      seconds = Math.min(seconds, 2 * this._keepalive + 5);
    }
    this._setTimer("idle", function () {
      this._stopTransport();
      this._ended(st, failure(0, "timeout", "no answer in time"));
    }, seconds * 1000);
  };

  proto._progress = function (st) {
    if (!st.opened) {
      st.opened = true;
      if (!st.probe) {       /* a probe proves the session, not the stream */
        this._clearTimer("open");
        this._works[st.name] = true;
        this._strikes[st.name] = 0;
        this._failures = 0;
        this._linkUp(false);
      }
    }
    this._armIdle();
  };

  /* A stream that showed nothing within openTimeout (never opened, or a
   * buffering proxy holds it): try the next transport at once. */
  proto._openFailed = function (st) {
    this._stopTransport();
    this._error(failure(0, "timeout", st.name + " did not open in time"));
    if (!this._nextTransport()) {
      this._ended(st, failure(0, "timeout", "stream did not open"));
      return;
    }
    this._pump();
  };

  /* Handles one record; returns false once the poll/stream was dropped. */
  proto._record = function (obj, st) {
    var gen = this._gen, id;
    this._progress(st);
    st.records++;
    if (!obj || typeof obj !== "object") {
      this._error(failure(200, "bad_response", "unexpected record"));
      return true;
    }
    if (typeof obj.event === "string") {
      if (obj.event === "reconnect") {
        this._stopTransport();
        this._pump();
        return false;
      }
      if (obj.event === "missed") {
        this._missed(obj.missed);
        return true;
      }
      if (obj.event === "error") {
        if (obj.error === "superseded") {
          this._superseded(st);
        } else if (obj.error === "session_expired") {
          this._renewSession();
        } else {
          this._stopTransport();
          this._ended(st, failure(0, String(obj.error || "error"), obj.message));
        }
        return false;
      }
      return true;                             /* keepalive or unknown */
    }
    id = obj.id;
    if (typeof id !== "number" || id <= 0 || Math.floor(id) !== id) {
      if (id !== 0) this._error(failure(200, "bad_response", "record without a valid id"));
      return true;
    }
    if (id <= this._lastId) return true;       /* a repeat */
    this._lastId = id;
    this.trigger("message", obj);
    if (typeof obj.channel === "string" && indexOf(this._channels, obj.channel) >= 0) {
      this.trigger("data", obj.channel, obj.data);
      this.trigger("data:" + obj.channel, obj.data, obj.channel);
      if (obj.channel + ":data" !== "data:" + obj.channel) this.trigger(obj.channel + ":data", obj.data);
    }
    return gen === this._gen;
  };

  /* The poll or stream ended: go on at once, or back off, fall back, renew. */
  proto._ended = function (st, err) {
    var self = this, t = st.t;
    if (this.state !== "connected") return;
    if (!err && t && t.stream && !st.records) {
      err = failure(0, "empty_stream", st.name + " ended without a record");
    }
    if (!err) {
      if (!st.probe) this._failures = 0;
      this._setTimer("pump", function () { self._pump(); }, st.retry || 0);
      return;
    }
    if (this._refused(st, err)) return;
    if (isExpired(err)) {
      this._renewSession();
      return;
    }
    this._failures++;
    this._linkDown();
    if (err.code !== "network" && err.code !== "timeout" && err.code !== "empty_stream") this._error(err);
    if (!st.probe && !st.records && !this._works[st.name]) {
      this._strikes[st.name] = (this._strikes[st.name] || 0) + 1;
      if ((this._strikes[st.name] >= 2 || (!isTransient(err) && err.code !== "empty_stream")) &&
          this._nextTransport()) {
        this._setTimer("pump", function () { self._pump(); }, 0);
        return;
      }
    }
    if (t && t.blind && !st.records && !st.probe) this._probe = true;
    this._setTimer("pump", function () { self._pump(); },
      typeof err.retry === "number" ? err.retry : this._delay(this._failures));
  };

  /* ---- what the server says: offered transports, retry, superseded, missed ---- */

  /* connect's "transports": the ones this host serves, in the order to try
   * them. Absent (an older server): the client's own list stands. */
  proto._useOffered = function (names) {
    var keep = this.transport;
    if (!isArray(names) || !names.length) return;
    this._offered = names.slice(0);
    this._pickTransports();
    if (keep && indexOf(this._transports, keep) > this._tIndex) {
      this._tIndex = indexOf(this._transports, keep);   /* a renewal keeps the fallback reached */
      this.transport = keep;
    }
  };

  /* Of the supported transports in `list`, those the server offers: in the
   * server's order, or in the page's order when it chose (options.transports).
   * A forced transport the server does not offer gives way to what it offers. */
  proto._offeredOnly = function (list) {
    var offered = this._offered, from, out = [], i;
    if (!offered) return list;
    from = isArray(this.options.transports) && this.options.transports.length ? list : offered;
    for (i = 0; i < from.length; i++) {
      if (indexOf(offered, from[i]) >= 0 && TRANSPORTS[from[i]] && TRANSPORTS[from[i]].supported(this) &&
          indexOf(out, from[i]) < 0) out.push(from[i]);
    }
    for (i = 0; !out.length && i < offered.length; i++) {
      if (TRANSPORTS[offered[i]] && TRANSPORTS[offered[i]].supported(this)) out.push(offered[i]);
    }
    return out.length ? out : list;
  };

  /* A poll answer's own fields, before its messages: "missed" (deliveries
   * dropped for this session: the page should reload its state), "retry"
   * (not held: wait that long before the next poll), "superseded" (a newer
   * request of this session took over). Returns false to stop here. */
  proto._pollAdvice = function (obj, st) {
    this._missed(obj.missed);
    if (obj.superseded === true) {
      this._superseded(st);
      return false;
    }
    if (typeof obj.retry === "number" && obj.retry > 0) st.retry = obj.retry;
    return true;
  };

  /* "missed" from the server (a poll answer's field, a stream's record): a
   * count of deliveries this session never had, or true when the count is
   * not known (Redis lost data). The page hears "missed" with the count or
   * null, and should reload its state. */
  proto._missed = function (missed) {
    if (typeof missed === "number" && missed > 0) this.trigger("missed", missed);
    else if (missed === true) this.trigger("missed", null);
  };

  /* Another request of this session (another tab using the same session,
   * a copy of the page) now holds it: stop without reconnecting, or the two
   * would end each other's requests forever. connect() after disconnect()
   * starts again. */
  proto._superseded = function (st) {
    this._stopTransport();
    this._st = null;
    this.state = "superseded";
    this.sessionID = null;        /* not ours any more: no disconnect for it */
    this._linkDown();
    this._error(failure(0, "superseded", st.name + " was superseded by a newer request of this session"));
  };

  /* A stream endpoint refused at once (HTTP 503 with "transports" and
   * "retry": it cannot be held on this host now): take the offered list
   * and go on with the next transport without waiting. */
  proto._refused = function (st, err) {
    var self = this;
    if (!st.t || !st.t.stream || st.records || (!err.transports && typeof err.retry !== "number")) return false;
    if (err.transports) this._useOffered(err.transports);
    if (this.transport === st.name && !this._nextTransport()) return false;
    this._setTimer("pump", function () { self._pump(); }, 0);
    return true;
  };

  /* ---- Juggernaut 2.1.1's public surface (pages written for it) ---- */

  Juggernaut.fn = proto;

  proto.proxy = function (fn) {
    var self = this;
    return function () { return fn.apply(self, arguments); };
  };

  proto.writeMeta = function () {
    return this.setMeta(this.meta);
  };

  /* new Juggernaut.Message({type: "event", data: ...}), then jug.write(m). */
  function Message(hash) {
    var k;
    for (k in hash) {
      if (hasOwn(hash, k)) this[k] = hash[k];
    }
  }

  Message.fromJSON = function (json) {
    return new Message(jsonParse(GLOBAL, json));
  };

  Message.prototype.toJSON = function () {
    var out = {}, k;
    for (k in this) {
      if (hasOwn(this, k) && typeof this[k] !== "function") out[k] = this[k];
    }
    return jsonStringify(GLOBAL, out);
  };

  Juggernaut.Message = Message;

  /* What 2.1.1's write(message) sent, done with this client's calls. */
  proto._writeMessage = function (m) {
    var type = m.type;
    if (type === "subscribe") return this.subscribe(m.channel);
    if (type === "unsubscribe") return this.unsubscribe(m.channel);
    if (type === "meta") return this.setMeta(m.data);
    if (type === "event") return this.sendEvent(m.data);
    throw new Error("Juggernaut.Message of type \"" + type + "\" cannot be sent: " +
      "the server takes subscribe, unsubscribe, meta and event");
  };

  var writeData = proto.write;
  proto.write = function (data) {
    if (data instanceof Message) return this._writeMessage(data);
    return writeData.call(this, data);
  };

  /* ---- exported for tests and tools ---- */

  Juggernaut.parseMultipart = parseMultipart;
  Juggernaut.encodeJSON = encode;
  Juggernaut.decodeJSON = decode;
  Juggernaut.transports = TRANSPORTS;
  Juggernaut.version = "0.1.0";

  return Juggernaut;
}));
