/* main.c -- juggernaut-poller: command line, daemon mode, pidfile, signals
 * and the main loop that ties the subscriber, fan-out, lease and reaper
 * together.
 *
 * One thread. poll() on the pub/sub socket wakes the loop for messages and
 * times out for the lease, retry and reaper timers; while Redis is away the
 * loop sleeps between reconnect attempts (100 ms doubling to 5 s; 1 s
 * doubling to 30 s when Redis refuses our password). SIGTERM and SIGINT stop
 * it cleanly (lease released, pidfile removed); SIGHUP reopens a log file. */
#include "autoconfig.h"
#include "config.h"
#include "fanout.h"
#include "leader.h"
#include "log.h"
#include "reaper.h"
#include "reset.h"
#include "redis.h"
#include "sid.h"
#include "subscriber.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROGRAM "juggernaut-poller"
#define COMMAND_TIMEOUT_MS 5000
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000
#define AUTH_BACKOFF_FIRST_MS 1000
#define AUTH_BACKOFF_MAX_MS 30000
#define REAP_INTERVAL_MS 1000

typedef struct poller {
    jugConfig cfg;
    char id[128];
    jugSubscriber sub;
    redisContext *cmd;         /* scripts: fan-out, lease, reap */
    jugLeader leader;
    int connected;             /* both connections open (subscription maybe unconfirmed) */
    int subscribed;            /* Redis confirmed the subscription */
    int lost;                  /* set mid-loop; the connections close after it */
    int attempts;              /* failed connection attempts since the last success */
    int backoff_ms;
    int auth_failing;          /* the last attempt failed on AUTH/NOAUTH */
    int ever_subscribed;
    long long next_connect, next_lease, next_reap;
} poller;

static volatile sig_atomic_t stopSignal;
static volatile sig_atomic_t hangups;   /* SIGHUPs seen, for the log line */

static void onSignal(int sig) {
    stopSignal = sig;
}

/* SIGHUP: reopen the log file for logrotate (async-signal-safe). */
static void onHangup(int sig) {
    (void)sig;
    jugLogReopen();
    hangups++;
}

static long long nowMs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(FILE *out) {
    fprintf(out,
            "Usage: " PROGRAM " [-c FILE] [-d|--daemon] [-p|--pidfile FILE] [-i|--id NAME]\n"
            "       " PROGRAM " -h|--help | -V|--version\n"
            "\n"
            "Subscribes to the Redis pub/sub channel apps publish Juggernaut messages to\n"
            "and pushes each message onto the queues of the subscribed browser sessions.\n"
            "\n"
            "  -c, --config FILE    configuration (default $JUGGERNAUT_CONFIG, else\n"
            "                       " JUG_SYSCONFDIR "/juggernaut.conf)\n"
            "  -d, --daemon         run in the background\n"
            "  -p, --pidfile FILE   write the process id to FILE\n"
            "  -i, --id NAME        poller id for the lease (default host:pid:random)\n"
            "  -h, --help           show this help\n"
            "  -V, --version        show the version\n");
}

/* ---- process setup ---- */

static int installSignals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = onSignal; /* no SA_RESTART: poll() must return at once */
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0) return -1;
    sa.sa_handler = onHangup;
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGHUP, &sa, NULL) < 0) return -1;
    sa.sa_handler = SIG_IGN;  /* a dead Redis socket must not kill us */
    return sigaction(SIGPIPE, &sa, NULL);
}

/* Fork into the background. The parent waits until the child has written its
 * pidfile, so whoever started us can read it as soon as we return. Returns
 * the write end of that pipe in the child (closed by signalReady). */
static int daemonize(void) {
    int ready[2];
    if (pipe(ready) < 0) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid > 0) {
        char byte = 0;
        close(ready[1]);
        ssize_t n;
        do n = read(ready[0], &byte, 1); while (n < 0 && errno == EINTR);
        _exit(n == 1 && byte == 'y' ? 0 : 1);
    }
    close(ready[0]);
    if (setsid() < 0) return -1;
    int null = open("/dev/null", O_RDWR);
    if (null < 0) return -1;
    if (chdir("/") < 0) { /* keep going: only a busy mount point is at stake */ }
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    if (null > STDERR_FILENO) close(null);
    return ready[1];
}

/* stderr goes to /dev/null only once the pidfile is there, so a failure to
 * write it is still reported. */
static void signalReady(int fd, int ok) {
    if (fd < 0) return;
    if (ok) {
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, STDERR_FILENO);
            if (null > STDERR_FILENO) close(null);
        }
    }
    char byte = ok ? 'y' : 'n';
    if (write(fd, &byte, 1) < 0) { /* the parent is gone: nothing to tell */ }
    close(fd);
}

static int writePidfile(const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "%d\n", (int)getpid());
    return fclose(f);
}

/* The pid in path if it names a running juggernaut-poller, else 0. Lets a
 * cron line start the poller every minute without starting a second one;
 * /proc/<pid>/comm guards against a stale pidfile whose pid was reused. */
static int runningPoller(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int pid = 0;
    int found = fscanf(f, "%d", &pid) == 1;
    fclose(f);
    if (!found || pid <= 0 || pid == (int)getpid()) return 0;
    if (kill(pid, 0) < 0 && errno != EPERM) return 0;
    char comm_path[64], comm[32] = "";
    snprintf(comm_path, sizeof(comm_path), "/proc/%d/comm", pid);
    FILE *c = fopen(comm_path, "r");
    if (c) {
        if (!fgets(comm, sizeof(comm), c)) comm[0] = '\0';
        fclose(c);
    }
    /* the kernel keeps 15 bytes of the name: "juggernaut-poll" */
    return strncmp(comm, "juggernaut-poll", 15) == 0 ? pid : 0;
}

/* Remove the pidfile only if it is still ours. */
static void removePidfile(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return;
    int pid = 0;
    if (fscanf(f, "%d", &pid) == 1 && pid == (int)getpid()) unlink(path);
    fclose(f);
}

/* "<hostname>:<pid>:<random>" unless given. */
static void makeId(char *out, size_t outlen, const char *given) {
    if (given) {
        snprintf(out, outlen, "%s", given);
        return;
    }
    char host[64] = "localhost", rnd[JUG_SID_LEN + 1] = "00000000";
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    jugSidGenerate(rnd);
    snprintf(out, outlen, "%s:%d:%.8s", host, (int)getpid(), rnd);
}

/* ---- connections ---- */

static void closeConnections(poller *p) {
    jugSubscriberClose(&p->sub);
    if (p->cmd) redisFree(p->cmd);
    p->cmd = NULL;
    p->connected = 0;
    p->subscribed = 0;
}

static int isAuthError(const char *err) {
    return strstr(err, "NOAUTH") || strstr(err, "WRONGPASS") || strstr(err, "invalid password") ||
           strstr(err, "AUTH:");
}

/* A failed attempt (or a connection that died before Redis confirmed the
 * subscription): log the first one, back off. Refused credentials get one
 * error line and a slower backoff: retrying fast cannot fix a password. */
static void attemptFailed(poller *p, const char *err) {
    int auth = isAuthError(err);
    if (auth && !p->auth_failing) {
        p->backoff_ms = AUTH_BACKOFF_FIRST_MS;
        jugLog(JUG_LOG_ERROR, "Redis refused our credentials: %s; check the password in "
               "redis_url; retrying every %d s at most", err, AUTH_BACKOFF_MAX_MS / 1000);
    } else if (p->attempts == 0 && !auth) {
        jugLog(JUG_LOG_WARNING, "cannot %s Redis: %s; retrying",
               p->ever_subscribed ? "reconnect to" : "connect to", err);
    } else {
        jugLog(JUG_LOG_DEBUG, "connection attempt %d failed: %s", p->attempts + 1, err);
    }
    p->auth_failing = auth;
    p->attempts++;
    p->next_connect = nowMs() + p->backoff_ms;
    int max = auth ? AUTH_BACKOFF_MAX_MS : BACKOFF_MAX_MS;
    p->backoff_ms = p->backoff_ms * 2 > max ? max : p->backoff_ms * 2;
}

/* Drop both connections after a failure and schedule the next attempt. A
 * connection that had been confirmed retries at once and logs the loss; one
 * that never was counts as a failed attempt (no reconnect storm). */
static void connectionLost(poller *p, const char *why) {
    char reason[256];
    snprintf(reason, sizeof(reason), "%s", why);   /* why may be a context's errstr */
    int was_subscribed = p->subscribed;
    closeConnections(p);
    jugLeaderLost(&p->leader);
    p->lost = 0;
    if (!was_subscribed) {
        attemptFailed(p, reason);
        return;
    }
    p->attempts = 0;
    p->backoff_ms = BACKOFF_FIRST_MS;
    p->next_connect = nowMs() + p->backoff_ms;
    jugLog(JUG_LOG_WARNING, "lost connection to Redis: %s; reconnecting", reason);
}

/* Open both connections. The command connection must answer PING: without
 * a password Redis accepts the connection and refuses every command. */
static void tryConnect(poller *p) {
    char err[256];
    p->cmd = jugRedisConnect(&p->cfg.redis, COMMAND_TIMEOUT_MS, err, sizeof(err));
    if (p->cmd) {
        redisReply *r = redisCommand(p->cmd, "PING");
        if (!r) snprintf(err, sizeof(err), "PING: %s", p->cmd->errstr);
        else if (r->type == REDIS_REPLY_ERROR) snprintf(err, sizeof(err), "%s", r->str);
        int ok = r && r->type != REDIS_REPLY_ERROR;
        if (r) freeReplyObject(r);
        if (ok && jugSubscriberConnect(&p->sub, &p->cfg, err, sizeof(err)) == 0) {
            p->connected = 1;
            long long now = nowMs();
            p->next_lease = now;  /* take or check the lease before anything else */
            p->next_reap = now + REAP_INTERVAL_MS;
            return;
        }
    }
    closeConnections(p);
    attemptFailed(p, err);
}

/* Redis confirmed the subscription: only now are we listening. */
static void subscribed(poller *p) {
    p->subscribed = 1;
    if (p->ever_subscribed)
        jugLog(JUG_LOG_INFO, "reconnected, resubscribed to %s%s%s after %d attempt(s)",
               p->cfg.channel, p->cfg.jugglite_namespace[0] ? " and Jugglite " : "",
               p->cfg.jugglite_namespace, p->attempts + 1);
    else
        jugLog(JUG_LOG_INFO, "subscribed to %s%s%s as poller %s", p->cfg.channel,
               p->cfg.jugglite_namespace[0] ? " and Jugglite " : "", p->cfg.jugglite_namespace,
               p->id);
    p->ever_subscribed = 1;
    p->attempts = 0;
    p->auth_failing = 0;
    p->backoff_ms = BACKOFF_FIRST_MS;
}

/* ---- work ---- */

/* Lease every poller_lease_ms/3, reaper every second (active poller only).
 * Nothing before the subscription is confirmed: a takeover marker published
 * earlier could not come back to us. */
static void serviceTimers(poller *p) {
    long long now = nowMs();
    if (p->lost || !p->connected || !p->subscribed) return;
    if (now >= p->next_lease) {
        p->next_lease = now + p->cfg.poller_lease_ms / 3;
        if (jugLeaderTick(&p->leader, p->cmd, now) < 0) {
            p->lost = 1;
            return;
        }
        if (p->leader.data_lost) {
            p->leader.data_lost = 0;
            if (jugResetAnnounce(p->cmd, &p->cfg) < 0) {
                p->lost = 1;
                return;
            }
        }
    }
    if (now >= p->next_reap) {
        p->next_reap = now + REAP_INTERVAL_MS;
        if (p->leader.role == JUG_ROLE_ACTIVE && jugReaperRun(p->cmd, &p->cfg) < 0) p->lost = 1;
    }
}

static void onMessage(void *ctx, jugSubscriberKind kind, const char *channel, const char *payload,
                      size_t len) {
    poller *p = ctx;
    if (kind == JUG_SUB_NOTIFY) {
        jugLeaderNotification(&p->leader, payload, len);
        return;
    }
    char hash[JUG_HASH_LEN + 1];
    jugFanoutHash(hash, channel, payload, len);
    jugLeaderRemember(&p->leader, channel, payload, len, hash, nowMs());
}

/* Deliver what is due; 1 if more is due at once. */
static int pump(poller *p) {
    if (p->lost || !p->connected || !p->subscribed) return 0;
    int rc = jugLeaderPump(&p->leader, p->cmd, nowMs());
    if (rc < 0) p->lost = 1;
    return rc > 0;
}

static int msUntil(long long when, long long now) {
    long long d = when - now;
    return d < 0 ? 0 : d > 1000 ? 1000 : (int)d;
}

/* One turn of the loop: connect, keep timers, deliver, wait, read. */
static void step(poller *p) {
    char err[256];
    if (!p->connected) {
        long long now = nowMs();
        if (now < p->next_connect) {
            poll(NULL, 0, msUntil(p->next_connect, now));
            return;
        }
        tryConnect(p);
        if (!p->connected) return;
    }
    serviceTimers(p);
    int more = pump(p);
    if (!p->lost) {
        long long now = nowMs();
        long long next = p->next_lease < p->next_reap ? p->next_lease : p->next_reap;
        long long wake = jugLeaderWakeAt(&p->leader);
        if (wake < next) next = wake;
        struct pollfd pfd = {jugSubscriberFd(&p->sub), POLLIN, 0};
        int n = poll(&pfd, 1, more ? 0 : msUntil(next, now));
        if (n > 0 && jugSubscriberRead(&p->sub, onMessage, p, err, sizeof(err)) < 0) {
            connectionLost(p, err);
            return;
        }
        if (p->sub.confirmed && !p->subscribed) subscribed(p);
        pump(p);
    }
    if (p->lost)
        connectionLost(p, p->cmd && p->cmd->err ? p->cmd->errstr : "command connection failed");
}

static int run(poller *p) {
    jugLeaderInit(&p->leader, &p->cfg, p->id);
    p->backoff_ms = BACKOFF_FIRST_MS;
    p->next_connect = nowMs();
    sig_atomic_t logged_hangups = 0;
    while (!stopSignal) {
        step(p);
        if (hangups != logged_hangups) {
            logged_hangups = hangups;
            jugLog(JUG_LOG_INFO, "SIGHUP: log reopened");
        }
    }
    jugLog(JUG_LOG_INFO, "stopping on signal %d", (int)stopSignal);
    /* Release the lease so a standby takes over at its next tick instead
     * of waiting for it to lapse; what we had not delivered it replays. */
    if (p->connected && !p->lost) jugLeaderRelease(&p->leader, p->cmd);
    if (p->leader.role == JUG_ROLE_ACTIVE && p->leader.count > p->leader.next)
        jugLog(JUG_LOG_WARNING, "stopping with %zu message(s) not delivered yet: a standby "
               "delivers them, if one runs", p->leader.count - p->leader.next);
    jugLeaderSummary(&p->leader, nowMs(), 1);
    closeConnections(p);
    jugLeaderFree(&p->leader);
    return 0;
}

int main(int argc, char **argv) {
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"daemon", no_argument, NULL, 'd'},
        {"pidfile", required_argument, NULL, 'p'}, {"id", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},          {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    const char *config = NULL, *pidfile = NULL, *id = NULL;
    int daemon_mode = 0, opt;
    while ((opt = getopt_long(argc, argv, "c:dp:i:hV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 'd': daemon_mode = 1; break;
        case 'p': pidfile = optarg; break;
        case 'i': id = optarg; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf(PROGRAM " " PACKAGE_VERSION "\n"); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, PROGRAM ": unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (id && (!*id || strlen(id) >= 128)) {
        fprintf(stderr, PROGRAM ": --id must be 1 to 127 bytes\n");
        return 2;
    }

    static poller p;
    char err[JUG_CONFIG_ERRLEN + 64];
    if (jugConfigLoad(&p.cfg, config, JUG_SYSCONFDIR "/juggernaut.conf", err, sizeof(err)) < 0) {
        fprintf(stderr, PROGRAM ": %s\n", err);
        return 1;
    }
    if (jugLogInit(PROGRAM, p.cfg.log, p.cfg.log_level, err, sizeof(err)) < 0) {
        fprintf(stderr, PROGRAM ": %s\n", err);
        return 1;
    }
    /* -d closes stderr: a poller started from cron would log into the void. */
    if (daemon_mode && !strcmp(p.cfg.log, "stderr")) {
        fprintf(stderr, PROGRAM ": warning: -d closes stderr, where \"log stderr\" would send the logs;"
                        " logging to syslog instead (set log to syslog or a file path in the"
                        " configuration to choose)\n");
        jugLogInit(PROGRAM, "syslog", p.cfg.log_level, err, sizeof(err));
    }

    /* The pidfile path must survive the chdir("/") of daemon mode. */
    char pidpath[PATH_MAX];
    if (pidfile && pidfile[0] != '/') {
        char cwd[PATH_MAX - 256];
        if (!getcwd(cwd, sizeof(cwd))) {
            jugLog(JUG_LOG_ERROR, "cannot resolve pidfile path: %s", strerror(errno));
            return 1;
        }
        snprintf(pidpath, sizeof(pidpath), "%s/%.255s", cwd, pidfile);
        pidfile = pidpath;
    }

    int running = pidfile ? runningPoller(pidfile) : 0;
    if (running) {
        jugLog(JUG_LOG_DEBUG, "already running as pid %d (%s): nothing to do", running, pidfile);
        return 0;
    }

    int ready = -1;
    if (daemon_mode && (ready = daemonize()) < 0) {
        jugLog(JUG_LOG_ERROR, "cannot run as a daemon: %s", strerror(errno));
        return 1;
    }
    if (pidfile && writePidfile(pidfile) < 0) {
        jugLog(JUG_LOG_ERROR, "cannot write pidfile %s: %s", pidfile, strerror(errno));
        signalReady(ready, 0);
        return 1;
    }
    if (installSignals() < 0) {
        jugLog(JUG_LOG_ERROR, "cannot install signal handlers: %s", strerror(errno));
        if (pidfile) removePidfile(pidfile);
        signalReady(ready, 0);
        return 1;
    }
    makeId(p.id, sizeof(p.id), id);
    signalReady(ready, 1);

    int rc = run(&p);
    if (pidfile) removePidfile(pidfile);
    return rc;
}
