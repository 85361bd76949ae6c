# siotest.py -- socket.io protocol 1 (Juggernaut 2.1.1 pages) for the tests:
# a lighttpd that also routes /socket.io/ to the worker, a shared host's
# Apache + mod_fcgid that does so from .htaccess, and a small client that
# speaks the wire format byte for byte (docs/PROTOCOL.md, "socket.io").
import http.client
import json
import os
import re

import jugtest as jt
import webservers

FFFD = "\ufffd"
SID_RE = r"[A-Za-z0-9_-]{22}"


class SioLighttpd(jt.Lighttpd):
    """jugtest's lighttpd, plus /socket.io/ rewritten to the worker (what a
    site adds for unchanged Juggernaut 2.1.1 pages, README "Coming from
    Juggernaut")."""

    def _start(self):
        docroot = self.docroot or os.path.join(self.dir, "htdocs")
        os.makedirs(docroot, exist_ok=True)
        conf = os.path.join(self.dir, "lighttpd.conf")
        error_log = os.path.join(self.dir, "lighttpd-error.log")
        sock = os.path.join(self.dir, "fcgi.sock")
        with open(conf, "w") as f:
            f.write(jt.lighttpd_config(self.port, docroot, error_log, self.worker, sock,
                                       self.config_path))
            f.write('server.modules += ( "mod_rewrite" )\n'
                    'url.rewrite-once = ( "^/socket\\.io/(.*)$" => "/juggernaut/socket.io/$1" )\n')
        log = os.path.join(self.dir, "lighttpd.log")
        self.logs = [log, error_log]
        self.proc = jt.Process("lighttpd", [jt.LIGHTTPD_BIN, "-D", "-f", conf, "-m",
                                            jt.LIGHTTPD_MODULES], log).start()


class SioNginx(webservers.Nginx):
    """nginx with conf/nginx.conf's server block, plus the location README
    ("Coming from Juggernaut") tells a site to add for /socket.io/, taken
    from README itself, and a document root (docroot) for the pages."""

    name = "nginx (socket.io)"
    docroot = None

    def site_config(self, socket_path):
        with open(os.path.join(jt.SRCDIR, "README.md")) as f:
            m = re.search(r"^  \| nginx \| `(location /socket\.io/ \{.*\})` \|$", f.read(), re.M)
        if not m:
            raise AssertionError("README has no nginx location for /socket.io/")
        location = m.group(1).replace("unix:/run/juggernaut/fcgi.sock", "unix:" + socket_path)
        text = super().site_config(socket_path).rstrip()
        if not text.endswith("}"):
            raise AssertionError("conf/nginx.conf does not end with its server block's }")
        return text[:-1] + "    root %s;\n    %s\n}\n" % (self.docroot, location)


def frame(*packets):
    """A framed payload: U+FFFD <UTF-16 length> U+FFFD <packet> ..."""
    return "".join("%s%d%s%s" % (FFFD, len(p.encode("utf-16-le")) // 2, FFFD, p) for p in packets)


def message(obj):
    """The packet Juggernaut 2.1.1's client sends for one of its messages."""
    return "3:::" + json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


class Sio:
    """socket.io requests to one web server."""

    def __init__(self, port, base="/socket.io", host="127.0.0.1"):
        self.host, self.port, self.base = host, port, base

    def request(self, method, path, body=None, headers=None, timeout=15):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            if isinstance(body, str):
                body = body.encode("utf-8")
            conn.request(method, self.base + path, body=body, headers=dict(headers or {}))
            r = conn.getresponse()
            data = r.read()
            return jt.Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        finally:
            conn.close()

    def handshake(self, jsonp=None, cookie=None, headers=None):
        """(sid, response) of GET /socket.io/1/?t=..."""
        h = dict(headers or {})
        if cookie:
            h["Cookie"] = cookie
        path = "/1/?t=1795360828145" + ("&jsonp=%s" % jsonp if jsonp is not None else "")
        r = self.request("GET", path, headers=h)
        jt.check(r.status == 200, "handshake: want 200", r)
        m = re.search("(%s):15:25:" % SID_RE, r.text)
        jt.check(m, "handshake body", r)
        return m.group(1), r

    def path(self, transport, sid, i=None):
        return "/1/%s/%s?t=1795360828296%s" % (transport, sid, "" if i is None else "&i=%s" % i)

    def get(self, sid, transport="xhr-polling", i=None, timeout=15, headers=None):
        return self.request("GET", self.path(transport, sid, i), headers=headers, timeout=timeout)

    def post(self, sid, body, transport="xhr-polling", i=None, headers=None):
        h = {"Content-Type": "text/plain;charset=UTF-8"}
        h.update(headers or {})
        return self.request("POST", self.path(transport, sid, i), body=body, headers=h)

    def connected(self, cookie=False):
        """A session after handshake and its first GET (answered "1::")."""
        sid, r = self.handshake()
        g = self.get(sid)
        jt.equal(g.body, b"1::", "first GET")
        return (sid, r) if cookie else sid


class SioSharedApache(jt.WebServer):
    """A shared host's Apache + mod_fcgid at its defaults, as an unchanged
    Juggernaut 2.1.1 site uses it: the site's document root (AllowOverride
    All) holds the pages, cgi-bin/juggernaut.fcgi with conf/htaccess as its
    .htaccess, and a top .htaccess that rewrites /socket.io/ to the worker
    (README, "Coming from Juggernaut"). The host's part also names the
    worker's configuration (FcgidInitialEnv): a build-tree worker has no
    installed one to read, which test_sharedhost.py covers."""

    name = "apache (shared host, socket.io)"

    def __init__(self, workdir, worker, config_path, port=None, account=None):
        super().__init__(workdir, worker, config_path, port)
        self.account = account
        webservers.require(webservers.APACHE_BIN,
                           os.path.join(webservers.APACHE_MODULES, "mod_fcgid.so"),
                           os.path.join(webservers.APACHE_MODULES, "mod_rewrite.so"))
        self.docroot = os.path.join(workdir, "site")
        cgibin = os.path.join(self.docroot, "cgi-bin")
        os.makedirs(cgibin, exist_ok=True)
        os.makedirs(os.path.join(workdir, "htdocs"), exist_ok=True)   # the main config's default
        jt.shutil.copy(worker, os.path.join(cgibin, "juggernaut.fcgi"))
        with open(os.path.join(cgibin, ".htaccess"), "w") as f:
            f.write(webservers.read_shipped("htaccess"))
        with open(os.path.join(self.docroot, ".htaccess"), "w") as f:
            f.write("RewriteEngine On\n"
                    "RewriteRule ^socket\\.io/(.*)$ cgi-bin/juggernaut.fcgi/socket.io/$1 [L]\n")
        for d in (workdir, self.docroot, cgibin):
            webservers.open_for_workers(d)

    @property
    def http(self):
        return jt.Http(self.port, prefix="/cgi-bin/juggernaut.fcgi")

    def _start(self):
        body = "\n".join([
            "LoadModule rewrite_module %s/mod_rewrite.so" % webservers.APACHE_MODULES,
            "DocumentRoot %s" % self.docroot,
            "<Directory %s>" % self.docroot,
            "    AllowOverride All",
            "    Require all granted",
            "</Directory>",
            '<Files ".ht*">',
            "    Require all denied",
            "</Files>",
            "FcgidInitialEnv JUGGERNAUT_CONFIG %s" % self.config_path,
        ])
        conf = os.path.join(self.dir, "httpd.conf")
        with open(conf, "w") as f:
            f.write(webservers.apache_main_config(self.dir, self.port, self.account, body))
        log = os.path.join(self.dir, "apache.log")
        self.logs = [log, os.path.join(self.dir, "apache-error.log")]
        self.proc = jt.Process("apache", [webservers.APACHE_BIN, "-DFOREGROUND", "-f", conf],
                               log).start()
