# test_sharedhost.py -- the shared-hosting install, as a user without root:
#
#   ./configure --prefix=$HOME/jug --with-cgi-bin=$HOME/public_html/cgi-bin
#   make install
#
# built out of tree (VPATH) in a temporary $HOME, from the source tree (or
# from a "make distdir" copy of it when the source tree is configured in
# tree: configure refuses a VPATH build of such a tree), then Apache with
# mod_fcgid at its defaults serving that cgi-bin with "AllowOverride All":
# the installed .htaccess alone makes connect + long-poll + publish work.
# With "AllowOverride None" the failure must be visible: the program itself
# is handed out as a download and the endpoints answer 404.
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


def start_apache(env, allow_override):
    old_logs = []
    if env.web:
        env.web.stop()
        old_logs = env.web.logs
    workdir = os.path.join(env.dir, "apache-" + allow_override.lower())
    os.makedirs(workdir, exist_ok=True)
    env.web = SharedHostApache(workdir, env.cgibindir, env.account, allow_override)
    env.web.start()
    env.web.logs += old_logs
    return env.web


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


@suite.test
def test_allow_override_all(env):
    """AllowOverride All: the installed .htaccess makes connect + long-poll + publish work"""
    web = start_apache(env, "All")
    c = jugtest.Client(web.http, ["shared"])
    env.redis.publish(["shared"], "hello")
    got = c.collect(1, within=8)
    equal([m["data"] for m in got], ["hello"], "deliveries")
    env.redis.publish(["shared"], "again")
    got = c.collect(1, within=8)
    equal([m["data"] for m in got], ["again"], "second delivery")


@suite.test
def test_config_not_served(env):
    """AllowOverride All: a juggernaut.conf copied into cgi-bin is refused (403)"""
    web = env.web or start_apache(env, "All")
    stray = os.path.join(env.cgibindir, "juggernaut.conf")
    with open(stray, "w") as f:
        f.write("redis_url redis://:secret@127.0.0.1:1/0\n")
    os.chmod(stray, 0o644)
    try:
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=5)
        conn.request("GET", "/cgi-bin/juggernaut.conf")
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        equal(resp.status, 403, "status of /cgi-bin/juggernaut.conf")
        check(b"secret" not in body, "the configuration was served", body[:200])
    finally:
        os.unlink(stray)


@suite.test
def test_allow_override_none(env):
    """AllowOverride None: the program is served as a download and endpoints 404"""
    web = start_apache(env, "None")
    r = web.http.get("", timeout=5)
    equal(r.status, 200, "status of GET juggernaut.fcgi")
    check(r.body[:4] == b"\x7fELF", "GET juggernaut.fcgi did not hand out the program",
          r.headers, r.body[:64])
    download_type = r.headers.get("content-type", "(none)")
    r = web.http.post("connect", {}, timeout=5)
    equal(r.status, 404, "status of juggernaut.fcgi/connect")
    check(not r.headers.get("content-type", "").startswith("application/json"),
          "connect answered JSON although .htaccess is ignored", r)
    diag("with AllowOverride None a user sees: the browser DOWNLOADS juggernaut.fcgi "
         "(Content-Type %s), and .../juggernaut.fcgi/connect answers an HTML 404 "
         "(%s); the client's connect fails" % (download_type, r.headers.get("content-type")))


if __name__ == "__main__":
    jugtest.main(suite, setup)
