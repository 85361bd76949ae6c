# test_sharedhost.py -- the shared-hosting install, as a user without root:
#
#   ./configure --prefix=$HOME/jug --with-cgi-bin=$HOME/public_html/cgi-bin
#   make install
#
# built out of tree (VPATH) in a temporary $HOME, from the source tree (or
# from a "make distdir" copy of it when the source tree is configured in
# tree: configure refuses a VPATH build of such a tree), then Apache with
# mod_fcgid at its defaults and Debian's stock fcgid.conf serving that
# cgi-bin with "AllowOverride FileInfo Options" (what the README tells users
# to ask their host for): the installed .htaccess alone makes connect +
# long-poll + publish work and refuses a stray juggernaut.conf. A host that
# ignores the file must fail visibly, as conf/htaccess describes: 403 with
# the stock fcgid.conf, a download of the program without it; one that
# allows too little answers 500.
#
# Run as root, the install and Apache's workers run as "nobody" (as a host's
# suexec would run them as the site's owner); run as a user, as that user.

import os
import pwd
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

import jugtest  # noqa: E402
from jugtest import Env, Skip, Suite, check, diag, equal  # noqa: E402
from webservers import SharedHostApache  # noqa: E402

# A whole configure + make install under a loaded CI machine: minutes.
suite = Suite("sharedhost", time_limit=900)


def as_user(account):
    """subprocess arguments that run a command as account (None: ourselves)."""
    if account is None:
        return {}
    pw = pwd.getpwnam(account[0])
    return dict(user=pw.pw_uid, group=pw.pw_gid, extra_groups=[])


def run_as(account, argv, cwd, home, timeout):
    env = dict(os.environ, HOME=home)
    for var in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "JUG_BUILDDIR"):
        env.pop(var, None)
    r = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout, **as_user(account))
    return r.returncode, r.stdout.decode("utf-8", "replace")


def setup():
    for prog in ("make", "cc"):
        if not shutil.which(prog):
            raise Skip("%s is not installed" % prog)
    account = None
    if os.geteuid() == 0:
        try:
            pw = pwd.getpwnam("nobody")
        except KeyError:
            raise Skip("running as root and there is no unprivileged account (nobody)")
        import grp
        account = (pw.pw_name, grp.getgrgid(pw.pw_gid).gr_name)
    env = Env("sharedhost", redis_tcp=True, web=None, threads=1)
    env.account = account
    env.home = os.path.join(env.dir, "home")
    os.makedirs(env.home)
    os.chmod(env.dir, 0o755)
    if account:
        pw = pwd.getpwnam(account[0])
        os.chown(env.home, pw.pw_uid, pw.pw_gid)
    env.prefix_dir = os.path.join(env.home, "jug")
    env.cgibindir = os.path.join(env.home, "public_html", "cgi-bin")
    env.start()
    return env


def source_tree(env):
    """A source tree configure can build out of tree: SRCDIR, or a copy of
    what it distributes when SRCDIR is configured in tree."""
    if not os.path.exists(os.path.join(jugtest.SRCDIR, "config.status")):
        return jugtest.SRCDIR
    copy = os.path.join(env.dir, "src")
    rc, out = run_as(None, ["make", "-s", "distdir", "distdir=" + copy], jugtest.BUILDDIR,
                     env.home, 300)
    check(rc == 0, "make distdir (to build from a copy of the in-tree configured source)",
          out[-3000:])
    return copy


def install(env):
    """configure + make install as the user; returns the output."""
    build = os.path.join(env.home, "build")
    env.build = build
    os.makedirs(build, exist_ok=True)
    if env.account:
        pw = pwd.getpwnam(env.account[0])
        os.chown(build, pw.pw_uid, pw.pw_gid)
    rc, out = run_as(env.account, [os.path.join(source_tree(env), "configure"), "-q",
                                   "--prefix=" + env.prefix_dir,
                                   "--with-cgi-bin=" + env.cgibindir], build, env.home, 300)
    check(rc == 0, "configure failed", out[-3000:])
    # The build must not try to regenerate the (read-only) source tree.
    rc, out2 = run_as(env.account, ["make", "-j4", "install", "ACLOCAL=true", "AUTOCONF=true",
                                    "AUTOMAKE=true", "AUTOHEADER=true"],
                      build, env.home, 300)
    check(rc == 0, "make install failed", out2[-3000:])
    return out + out2


def start_apache(env, allow_override, stock_fcgid=True):
    old_logs = []
    if env.web:
        env.web.stop()
        old_logs = env.web.logs
    workdir = os.path.join(env.dir, "apache-%s%s" % (allow_override.lower().replace(" ", "-"),
                                                     "" if stock_fcgid else "-nohandler"))
    os.makedirs(workdir, exist_ok=True)
    env.web = SharedHostApache(workdir, env.cgibindir, env.account, allow_override,
                               stock_fcgid=stock_fcgid)
    env.web.start()
    env.web.logs += old_logs
    return env.web


def fileinfo_apache(env):
    """The Apache of the FileInfo Options test, started again if another
    test (or none: it was skipped or failed) runs now; skips the test when
    Apache or mod_fcgid is missing."""
    if env.web and env.web.allow_override == "FileInfo Options":
        return env.web
    return start_apache(env, "FileInfo Options")


@suite.test
def test_install(env):
    """configure --prefix=$HOME/jug --with-cgi-bin=... && make install, as a user"""
    out = install(env)
    cgi = os.path.join(env.cgibindir, "juggernaut.fcgi")
    check(os.access(cgi, os.X_OK), "no executable %s" % cgi, out[-2000:])
    equal(oct(os.stat(cgi).st_mode & 0o777), oct(0o755), "mode of juggernaut.fcgi")
    # conf/htaccess as make wrote it (with this prefix's paths) from conf/htaccess.in
    with open(os.path.join(env.build, "conf", "htaccess")) as a, \
            open(os.path.join(env.cgibindir, ".htaccess")) as b:
        equal(b.read(), a.read(), ".htaccess content")
    check(not os.path.exists(os.path.join(env.cgibindir, "juggernaut.conf")),
          "a juggernaut.conf in the web space could be downloaded")
    conf = os.path.join(env.prefix_dir, "etc", "juggernaut.conf")
    check(os.path.exists(conf), "no %s" % conf)
    # The user points the installed configuration at their Redis.
    shutil.copy(env.config_path, conf)
    os.chmod(conf, 0o644)
    rc, out = run_as(env.account, [cgi, "--check"], env.home, env.home, 20)
    check(rc == 0 and conf in out, "juggernaut.fcgi --check failed", out)
    diag(out.strip())


def fetch(env, path):
    """GET path from the running Apache: (status, headers, body)."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", env.web.port, timeout=5)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def error_log(env):
    with open(os.path.join(env.web.dir, "apache-error.log"), errors="replace") as f:
        return f.read()


@suite.test
def test_allow_override_fileinfo_options(env):
    """AllowOverride FileInfo Options: the installed .htaccess makes connect + long-poll + publish work"""
    web = start_apache(env, "FileInfo Options")
    c = jugtest.Client(web.http, ["shared"])
    env.redis.publish(["shared"], "hello")
    got = c.collect(1, within=8)
    equal([m["data"] for m in got], ["hello"], "deliveries")
    env.redis.publish(["shared"], "again")
    got = c.collect(1, within=8)
    equal([m["data"] for m in got], ["again"], "second delivery")


@suite.test
def test_config_not_served(env):
    """AllowOverride FileInfo Options: stray configs, backups and .ht* files are refused (403)"""
    fileinfo_apache(env)
    secret = b"redis_url redis://:secret@127.0.0.1:1/0\n"
    names = ["juggernaut.conf", "juggernaut.conf~", "juggernaut.conf.bak", "worker.log",
             ".htaccess-juggernaut"]
    for name in names:
        with open(os.path.join(env.cgibindir, name), "wb") as f:
            f.write(secret)
        os.chmod(os.path.join(env.cgibindir, name), 0o644)
    try:
        for name in names:
            status, _, body = fetch(env, "/cgi-bin/" + name)
            equal(status, 403, "status of /cgi-bin/%s" % name)
            check(b"secret" not in body, "%s was served" % name, body[:200])
        # The endpoints themselves are not caught by the pattern.
        status, headers, body = fetch(env, "/cgi-bin/juggernaut.fcgi/juggernaut.js")
        equal(status, 200, "status of juggernaut.fcgi/juggernaut.js")
    finally:
        for name in names:
            os.unlink(os.path.join(env.cgibindir, name))


def run_check(env, url):
    """The installed juggernaut.fcgi --check URL, as the user: (status, output)."""
    cgi = os.path.join(env.cgibindir, "juggernaut.fcgi")
    rc, out = run_as(env.account, [cgi, "--check", url], env.home, env.home, 90)
    diag(out.strip())
    return rc, out


@suite.test
def test_check_url_auto(env):
    """--check URL through the .htaccess install at mod_fcgid defaults: long-poll held, no stream offered"""
    fileinfo_apache(env)
    rc, out = run_check(env, env.web.http.base_url)
    check("\nweb: ok (%s/connect answered in" % env.web.http.base_url in out, "web line", out)
    check("\nlong-poll: ok (held " in out or "\nlong-poll: ok (not held" in out, "long-poll line", out)
    # transports auto: under mod_fcgid (output buffered) only long-poll and JSONP.
    check("\nstreams: ok (not offered on this host (transports longpoll jsonp)" in out,
          "the worker offers streams under mod_fcgid", out)
    equal(rc, 0, "exit status")


@suite.test
def test_check_url_buffered(env):
    """--check URL with streams offered under mod_fcgid: reported buffered, with the fix"""
    fileinfo_apache(env)
    conf = os.path.join(env.prefix_dir, "etc", "juggernaut.conf")
    with open(conf) as f:
        original = f.read()
    try:
        with open(conf, "a") as f:
            f.write("transports sse longpoll jsonp\n")
        start_apache(env, "FileInfo Options")
        rc, out = run_check(env, env.web.http.base_url)
        equal(rc, 1, "exit status with streams offered")
        check("transports offered: sse " in out, "the worker did not offer sse", out)
        check("\nstreams: PROBLEM: streams are buffered: nothing of an SSE stream arrived within "
              "5000 ms, not even its headers" in out, "streams not reported buffered", out)
        check('\n  fix: set "transports longpoll jsonp" in the configuration' in out, "no fix", out)
    finally:
        with open(conf, "w") as f:
            f.write(original)
        start_apache(env, "FileInfo Options")


@suite.test
def test_allow_override_none(env):
    """AllowOverride None + Debian's fcgid.conf: every URL of juggernaut.fcgi answers 403"""
    start_apache(env, "None")
    for path in ("/cgi-bin/juggernaut.fcgi", "/cgi-bin/juggernaut.fcgi/connect"):
        status, headers, body = fetch(env, path)
        equal(status, 403, "status of GET %s" % path)
        check(not body.startswith(b"\x7fELF") and b"session_id" not in body,
              "%s was served although .htaccess is ignored" % path, body[:100])
    log = error_log(env)
    check("does not have ExecCGI enabled" in log, "the error log does not say why", log[-2000:])
    rc, out = run_check(env, env.web.http.base_url)
    check(rc == 1 and "answers 403 Forbidden: the host ignores .htaccess" in out and
          "AllowOverride FileInfo Options" in out, "--check does not explain the 403", out)
    diag("with AllowOverride None (stock fcgid.conf) a user sees 403 Forbidden for every URL; "
         "the error log says: mod_fcgid: location of script ... does not have ExecCGI enabled")


@suite.test
def test_allow_override_none_no_handler(env):
    """AllowOverride None, no .fcgi handler: the program is downloaded, connect answers 404"""
    web = start_apache(env, "None", stock_fcgid=False)
    r = web.http.get("", timeout=5)
    equal(r.status, 200, "status of GET juggernaut.fcgi")
    check(r.body[:4] == b"\x7fELF", "GET juggernaut.fcgi did not hand out the program",
          r.headers, r.body[:64])
    r = web.http.post("connect", {}, timeout=5)
    equal(r.status, 404, "status of juggernaut.fcgi/connect")
    check(not r.headers.get("content-type", "").startswith("application/json"),
          "connect answered JSON although .htaccess is ignored", r)


@suite.test
def test_allow_override_too_little(env):
    """AllowOverride Options only: every URL answers 500, the error log names the directive"""
    start_apache(env, "Options")
    status, _, body = fetch(env, "/cgi-bin/juggernaut.fcgi/connect")
    equal(status, 500, "status of juggernaut.fcgi/connect")
    log = error_log(env)
    check("not allowed here" in log, "the error log does not name the refused directive", log[-2000:])


if __name__ == "__main__":
    jugtest.main(suite, setup)
